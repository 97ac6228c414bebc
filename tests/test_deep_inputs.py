"""DynamicIWClassifier off the happy path: bad options and data fail before
training, and the net pickles, copies and checkpoints (issue 9)."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint

from adiw.deep import DynamicIWClassifier
from adiw.estimators import KMMRatio, WassersteinRatio
from adiw.models import MLP
from conftest import make_net


class Untrained(DynamicIWClassifier):
    """Fails the test if training changes the parameters (the label check
    runs on the first batch's output, before any optimizer step)."""

    def _step_optimizer(self, step_fn):
        step_fn()
        raise AssertionError("training started")


def fit_untrained(digits, X=None, y=None, X_val=None, y_val=None, **options):
    net = Untrained(MLP, max_epochs=1, verbose=0, **options)
    return net.fit(digits.X_train if X is None else X, digits.y_train if y is None else y,
                   X_val=digits.X_val if X_val is None else X_val,
                   y_val=digits.y_val if y_val is None else y_val)


@pytest.mark.parametrize("options, match", [
    (dict(n_steps=0), "n_steps"), (dict(eps=-0.1), "eps"),
    (dict(width_quantile=0.0), "width_quantile"), (dict(width_quantile=1.5), "width_quantile"),
    (dict(val_batch_size=0), "val_batch_size"), (dict(B=np.nan), "B must"),
    (dict(B=0.5), "caps every weight"), (dict(step_scale=np.inf), "step_scale"),
    (dict(val_holdout=1.0), "val_holdout"), (dict(solver="qp"), "solver"),
    (dict(ratio_estimator=KMMRatio(gamma=-1.0)), "gamma"),
    (dict(ratio_estimator=KMMRatio(gamma=[0.1, 1.0])), "one value per"),
    (dict(ratio_estimator=WassersteinRatio(reg=np.nan)), "reg"),
])
def test_bad_options_fail_before_training(digits, options, match):
    with pytest.raises(ValueError, match=match):
        fit_untrained(digits, **options)


def test_a_ratio_estimator_class_is_refused(digits):
    with pytest.raises(TypeError, match="an instance"):
        fit_untrained(digits, ratio_estimator=KMMRatio)


def test_non_finite_data_fail_before_training(digits):
    X = digits.X_train.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fit_untrained(digits, X=X)
    X_val = digits.X_val.copy()
    X_val[0, 0] = np.inf
    with pytest.raises(ValueError, match="X_val contains NaN or infinity"):
        fit_untrained(digits, X_val=X_val)


def test_non_finite_inputs_to_predict_are_refused(digits):
    # A NaN row's output is NaN, and argmax called it class 0, silently.
    net = DynamicIWClassifier(MLP, max_epochs=1, verbose=0, solver="none")
    net.fit(digits.X_train, digits.y_train)
    X = digits.X_test[:40].copy()
    expected = net.predict(X)
    X[7, 2] = np.nan
    for call in (net.predict, net.predict_proba, lambda X: net.score(X, digits.y_test[:40])):
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            call(X)
    X[7, 2] = -np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.predict(torch.as_tensor(X))
    np.testing.assert_array_equal(net.predict(torch.as_tensor(digits.X_test[:40])), expected)


def test_x_val_with_other_features_fails_before_training_naming_it(digits):
    # it surfaced as "mat1 and mat2 shapes cannot be multiplied" inside forward
    with pytest.raises(ValueError, match=r"X_val's rows have shape \(40,\) but X's have \(64,\)"):
        fit_untrained(digits, X_val=digits.X_val[:, :40])
    with pytest.raises(ValueError, match="X_val's rows"):
        fit_untrained(digits, X_val=torch.as_tensor(digits.X_val)[:, None, :])


def test_labels_are_checked(digits):
    y_val = digits.y_val.copy()
    y_val[0] = 12
    with pytest.raises(ValueError, match="label 12.*outputs 10"):
        fit_untrained(digits, y_val=y_val)
    with pytest.raises(ValueError, match="LabelEncoder"):
        fit_untrained(digits, y_val=digits.y_val.astype(str))
    with pytest.raises(ValueError, match="LabelEncoder"):
        fit_untrained(digits, y=digits.y_train.astype(str))


def test_x_val_forms(digits):
    pd = pytest.importorskip("pandas")
    net = make_net()
    net.fit(digits.X_train, digits.y_train, X_val=pd.DataFrame(digits.X_val), y_val=pd.Series(digits.y_val))
    assert np.all(np.isfinite(net.sample_weights()))
    with pytest.raises(TypeError, match="X_val must be an array"):
        fit_untrained(digits, X_val={"X": digits.X_val})


def test_device_auto_is_explained(digits):
    with pytest.raises(ValueError, match='device="auto"'):
        make_net(device="auto").fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)


def test_training_batches_are_shuffled_by_default():
    assert make_net().get_params()["iterator_train__shuffle"] is True
    assert make_net(iterator_train__shuffle=False).get_params()["iterator_train__shuffle"] is False


def test_hidden_representation_pickles_copies_and_checkpoints(digits, tmp_path):
    net = make_net(representation="hidden", hidden_layer="hidden", max_epochs=2,
                   callbacks=[Checkpoint(dirname=str(tmp_path), f_pickle="net.pkl")])
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net),
                  pickle.loads((tmp_path / "net.pkl").read_bytes())):
        np.testing.assert_array_equal(other.predict(digits.X_test), net.predict(digits.X_test))
        # the restored hook still feeds the representation: training goes on
        other.partial_fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
        assert np.all(np.isfinite(other.sample_weights()))


def test_pickled_state_holds_no_fit_time_device_tensors(digits):
    net = make_net()
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    state = net.__getstate__()
    # skorch moves the registered attributes between devices on load; any
    # other tensor would stay on the device it was pickled on (CUDA -> CPU)
    stray = [k for k, v in state.items() if isinstance(v, torch.Tensor)
             or (isinstance(v, tuple) and any(isinstance(t, torch.Tensor) for t in v))]
    assert stray == []


def test_collapsed_kl_batch_stays_finite_in_the_core():
    """Training losses bunched near zero and test losses far away: the KL
    kernel underflows to 0, its curvature bound is 0, and c / 0 once made
    every weight NaN (issue 17, seed 1 at epoch 15)."""
    from adiw.deep.weighting.updater import BatchWeightUpdater
    from adiw.estimators import KLIEPRatio, ULSIFRatio

    g = torch.Generator().manual_seed(0)
    Z_tr = torch.rand(64, 1, generator=g) * 1e-6 + 0.01
    Z_val = torch.rand(16, 1, generator=g) * 1e-6 + 0.5
    w0 = torch.rand(64, generator=g) + 0.5
    for ratio in (KLIEPRatio(), KMMRatio(), ULSIFRatio(), WassersteinRatio()):
        for solver in ("adiw", "diw"):
            w, value = BatchWeightUpdater(ratio, solver=solver)(Z_tr, Z_val, w0)
            assert torch.isfinite(w).all() and torch.isfinite(value)
    # flat KL objective: no information, so the warm start is kept
    w, _ = BatchWeightUpdater(KLIEPRatio())(Z_tr, Z_val, w0 / w0.mean())
    torch.testing.assert_close(w, w0 / w0.mean())


def test_a_non_finite_update_never_reaches_the_store(digits):
    class Broken(KMMRatio):
        def _batch_objective(self, dists, gamma):
            objective = super()._batch_objective(dists, gamma)
            grad = objective.grad
            objective.grad = lambda w: grad(w) * float("nan")
            return objective

    net = make_net(ratio_estimator=Broken(), max_epochs=2)
    with pytest.warns(UserWarning, match="were not finite and were skipped"):
        net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert np.all(net.sample_weights() == 1.0)              # every update was refused
    assert net.history[-1, "iw_skipped"] == net.history[-1, "train_batch_count"]
    assert np.all(np.isfinite(net.history[:, "train_loss"]))


def test_weight_power_beyond_float32_is_refused(digits):
    with pytest.raises(ValueError, match="weight_power=1000000.0 with B=50"):
        fit_untrained(digits, weight_power=1e6)
    with pytest.raises(ValueError, match="weight_power=50 with B=50"):
        fit_untrained(digits, weight_power=50)
    w = np.full(len(digits.y_train), 10.0)
    with pytest.raises(ValueError, match="max\\(sample_weight\\)"):
        make_net(solver="none", weight_power=40).fit(digits.X_train, digits.y_train,
                                                     sample_weight=w)
    with pytest.raises(ValueError, match="beyond 1e"):
        make_net(solver="none").fit(digits.X_train, digits.y_train, sample_weight=w * 1e39)
    net = make_net(weight_power=5, max_epochs=2).fit(
        digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert np.all(np.isfinite(net.history[:, "train_loss"]))


def test_fits_that_do_nothing_warn(digits):
    net = make_net(solver="none", max_epochs=1)
    for w in (np.zeros(len(digits.y_train)), np.full(len(digits.y_train), 1e-46)):
        with pytest.warns(UserWarning, match="Every sample_weight is 0"):
            net.fit(digits.X_train, digits.y_train, sample_weight=w)
    for solver in ("adiw", "static"):
        net = make_net(solver=solver, warmup_epochs=2, max_epochs=2)
        with pytest.warns(UserWarning, match="never weights anything"):
            net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
        # a partial_fit goes on to epochs 3 and 4, past the warm-up: weighted
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            net.partial_fit(digits.X_train, digits.y_train, X_val=digits.X_val,
                            y_val=digits.y_val)
        w = net.sample_weights()
        assert not np.allclose(w, w[0])


class MeanOnly(torch.nn.Module):
    """A criterion that reduces to one number and has no 'reduction'."""

    def forward(self, y_pred, y):
        return torch.nn.functional.cross_entropy(y_pred, y)


def test_weights_with_a_batch_mean_criterion_are_refused(digits):
    w = np.where(np.arange(len(digits.y_train)) % 2, 10.0, 0.0)
    with pytest.raises(ValueError, match="one number per batch"):
        make_net(solver="none", criterion=MeanOnly).fit(digits.X_train, digits.y_train,
                                                        sample_weight=w)
    with pytest.raises(ValueError, match="not one loss per sample"):
        make_net(criterion=MeanOnly).fit(digits.X_train, digits.y_train, X_val=digits.X_val,
                                         y_val=digits.y_val)
    # unweighted, any criterion works, as in skorch
    make_net(solver="none", criterion=MeanOnly, max_epochs=1).fit(digits.X_train,
                                                                  digits.y_train)


def test_diw_reference_holds_nothing_out_and_refuses_what_it_cannot_append(digits):
    from adiw.deep import DIWReferenceClassifier

    with pytest.raises(ValueError, match="val_holdout=0.5"):
        DIWReferenceClassifier(MLP, val_holdout=0.5, max_epochs=1, verbose=0).fit(
            digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    net = DIWReferenceClassifier(MLP, max_epochs=1, verbose=0)
    with pytest.raises(TypeError, match="appends X_val to X"):
        net.fit({"X": digits.X_train}, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    with pytest.raises(ValueError, match="one label per row"):
        net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val[:-1])
    with pytest.raises(ValueError, match="must match"):
        net.fit(digits.X_train, digits.y_train, X_val=digits.X_val[:, :10], y_val=digits.y_val)


def test_x_val_in_another_dtype_and_tiny_holdouts(digits):
    net = make_net(max_epochs=1).fit(digits.X_train, digits.y_train,
                                     X_val=digits.X_val.astype(np.float64), y_val=digits.y_val)
    assert net.test_sample_ is None and "valid_acc" in net.history[-1]
    for m in (1, 2, 5, 10):
        with pytest.raises(ValueError, match="at least 2 must remain|at least 2 samples"):
            make_net(val_holdout=0.99, max_epochs=1).fit(
                digits.X_train, digits.y_train, X_val=digits.X_val[:m], y_val=digits.y_val[:m])


def test_static_weighting_accepts_any_ratio_estimator(digits):
    from adiw.estimators import ClassifierRatio

    net = make_net(solver="static", ratio_estimator=ClassifierRatio(), max_epochs=2).fit(
        digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert isinstance(net.static_estimator_, ClassifierRatio)
    np.testing.assert_allclose(net.sample_weights(), net.static_estimator_.weights_, rtol=1e-6)
    with pytest.raises(TypeError, match="solver='adiw' needs"):
        make_net(ratio_estimator=ClassifierRatio()).initialize()
