"""DynamicIWClassifier: exactness, persistence, devices, degenerate batches."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetClassifier

from adiw.deep import DynamicIWClassifier
from adiw.estimators import KLIEPRatio, KMMRatio, ULSIFRatio, WassersteinRatio
from adiw.models import MLP
from adiw.utils import Unsliced
from conftest import make_net


@pytest.mark.parametrize("options", [dict(solver="none"), dict(B=1.0, eps=0.0),
                                     dict(solver="none", iterator_train__shuffle=False)])
def test_without_weighting_it_is_plain_skorch_exactly(digits, options):
    """Also checks that fetching whole batches (DynamicIWClassifier.get_iterator)
    yields skorch's batches, in skorch's order, with skorch's random draws,
    shuffled by default."""
    shuffle = options.get("iterator_train__shuffle", True)
    torch.manual_seed(0)
    plain = NeuralNetClassifier(MLP, criterion=torch.nn.CrossEntropyLoss, max_epochs=3,
                                batch_size=64, lr=0.05, verbose=0, train_split=None,
                                iterator_train__shuffle=shuffle)
    plain.fit(digits.X_train, digits.y_train)
    torch.manual_seed(0)
    net = make_net(max_epochs=3, train_on_val=False, val_holdout=0.0, **options)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    for p, q in zip(plain.module_.parameters(), net.module_.parameters()):
        assert torch.equal(p, q)
    assert np.all(net.sample_weights() == 1.0)


def test_validation_is_reported_on_samples_it_does_not_train_on(digits):
    seen = {}

    class Spy(DynamicIWClassifier):
        def get_split_datasets(self, *args, **kwargs):
            train, valid = super().get_split_datasets(*args, **kwargs)
            seen["valid"], seen["used"] = valid, self.test_sample_.X.numpy()
            return train, valid

    net = Spy(MLP, max_epochs=2, batch_size=64, lr=0.05, verbose=0)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    held = seen["valid"].X
    assert len(held) == 20 and len(seen["used"]) == 80
    # no held-out row is trained on or weighted against
    assert not (held[:, None, :] == seen["used"][None, :, :]).all(-1).any()
    assert set(seen["valid"].y) == set(range(10))          # stratified
    assert "valid_acc" in net.history[-1]


@pytest.mark.parametrize("ratio", [KMMRatio(), KLIEPRatio(), ULSIFRatio(), WassersteinRatio()],
                         ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("solver", ["adiw", "diw"])
def test_weights_stay_in_C_and_move(digits, ratio, solver):
    net = make_net(ratio_estimator=ratio, solver=solver, B=20.0)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    w = net.sample_weights()
    assert w.shape == (len(digits.y_train),)
    assert np.all(np.isfinite(w)) and w.min() >= 0 and w.max() <= 20.0 + 1e-5
    assert np.std(w) > 1e-3
    for key in ("w_mean", "w_max", "w_ess", "iw_objective", "valid_acc"):
        assert np.all(np.isfinite(net.history[:, key]))


@pytest.mark.parametrize("representation", ["loss", "hidden"])
def test_one_stacked_forward_equals_two_forwards(digits, representation, monkeypatch):
    """Training and validation batches share one module call when both are
    trained on; the result must be that of two separate calls."""
    from adiw.deep.weighting import base
    def fit(stack):
        torch.manual_seed(0)
        net = make_net(representation=representation, hidden_layer="hidden")
        if not stack:
            monkeypatch.setattr(base, "_stackable", lambda Xi, xv: False)
        return net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)

    stacked, separate = fit(True), fit(False)
    for p, q in zip(stacked.module_.parameters(), separate.module_.parameters()):
        assert torch.allclose(p, q, atol=1e-5)
    # float32 rounding of the two matrix products differs; the width's order
    # statistic and three solver steps carry it to about 1e-3 in the weights.
    w1, w2 = stacked.sample_weights(), separate.sample_weights()
    assert np.abs(w1 - w2).max() < 0.02 and np.abs(w1 - w2).mean() < 1e-3
    assert np.std(w1) > 0.05


def test_weights_downweight_flipped_labels(digits):
    torch.manual_seed(0)
    net = make_net(max_epochs=10, ratio_estimator=KMMRatio(), optimizer__momentum=0.9)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    w = net.sample_weights()
    # measured 0.04 to 0.07 over three seeds; uniform weights give 1
    assert w[digits.flipped].mean() < 0.2 * w[~digits.flipped].mean()
    assert w.mean() == pytest.approx(1.0, abs=0.05)


def test_warm_start_carries_weights_across_epochs_and_partial_fit(digits):
    net = make_net(max_epochs=1, n_steps=1)
    fit = dict(X_val=digits.X_val, y_val=digits.y_val)
    net.fit(digits.X_train, digits.y_train, **fit)
    w1 = net.sample_weights()
    net.partial_fit(digits.X_train, digits.y_train, **fit)
    w2 = net.sample_weights()
    # one step per visit from the stored weights: the second epoch moves on
    assert not np.allclose(w1, w2)
    fresh = make_net(max_epochs=1, n_steps=1, warmup_epochs=0)
    fresh.fit(digits.X_train, digits.y_train, **fit)
    assert np.abs(w2 - 1).mean() > np.abs(fresh.sample_weights() - 1).mean()


def test_pickle_and_save_params_restore_weights(digits, tmp_path):
    net = make_net()
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.sample_weights(), net.sample_weights())
    net.save_params(f_params=tmp_path / "p.pt", f_weight_store=tmp_path / "w.pt")
    other = make_net().initialize()
    other.load_params(f_params=tmp_path / "p.pt", f_weight_store=tmp_path / "w.pt")
    np.testing.assert_array_equal(other.sample_weights(), net.sample_weights())


def test_missing_validation_sample(digits):
    with pytest.raises(ValueError, match="X_val"):
        make_net().fit(digits.X_train, digits.y_train)
    make_net(solver="none").fit(digits.X_train, digits.y_train)   # ERM is fine


def test_degenerate_batches_do_not_break_the_update(digits):
    X = np.repeat(digits.X_train[:1], 40, 0)          # identical points
    y = np.zeros(40, dtype=np.int64)                  # a single class
    for rep in ("loss", "softmax_label"):
        net = make_net(batch_size=16, representation=rep)
        net.fit(X, y, X_val=digits.X_val[:5], y_val=digits.y_val[:5])  # val < batch
        w = net.sample_weights()
        assert np.all(np.isfinite(w)) and w.min() >= 0


def test_hidden_representation_and_bad_options(digits):
    net = make_net(representation="hidden", hidden_layer="hidden")
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert np.std(net.sample_weights()) > 0
    with pytest.raises(ValueError, match="hidden_layer"):
        make_net(representation="hidden", hidden_layer="nope").initialize()
    with pytest.raises(ValueError, match="representation"):
        make_net(representation="pixels").fit(digits.X_train, digits.y_train,
                                              X_val=digits.X_val, y_val=digits.y_val)
    with pytest.raises(TypeError, match="per-batch divergence"):
        from adiw.estimators import ClassifierRatio
        make_net(ratio_estimator=ClassifierRatio()).fit(
            digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)


def test_clone_params_and_grid_search(digits):
    net = make_net(ratio_estimator=KMMRatio(gamma=1.0))
    assert net.get_params()["ratio_estimator__gamma"] == 1.0
    c = clone(net).set_params(ratio_estimator__gamma=3.0, lr=0.1)
    assert c.ratio_estimator.gamma == 3.0 and net.ratio_estimator.gamma == 1.0
    grid = GridSearchCV(make_net(max_epochs=1, ratio_estimator=KMMRatio()),
                        {"lr": [0.01, 0.1], "ratio_estimator__gamma": [0.5, "auto"]},
                        cv=2, error_score="raise")
    seen = []

    class Spy(DynamicIWClassifier):
        def partial_fit(self, X, y=None, classes=None, X_val=None, y_val=None, **kw):
            seen.append(len(getattr(X_val, "value", X_val)))
            return super().partial_fit(X, y, classes, X_val=X_val, y_val=y_val, **kw)

    grid.estimator = Spy(**grid.estimator.get_params())
    grid.fit(digits.X_train, digits.y_train,
             X_val=Unsliced(digits.X_val), y_val=Unsliced(digits.y_val))
    assert set(seen) == {len(digits.y_val)}
    assert "ratio_estimator__gamma" in grid.best_params_


def test_float64_module_and_device_param(digits):
    net = make_net(device="cpu", module__n_hidden=16)
    net.fit(digits.X_train.astype(np.float32), digits.y_train,
            X_val=digits.X_val, y_val=digits.y_val)
    assert net.weight_store_.weights.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_keeps_everything_on_device(digits):
    net = make_net(device="cuda")
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert net.weight_store_.weights.is_cuda
    w = net.sample_weights()
    assert np.all(np.isfinite(w)) and w.min() >= 0


@pytest.mark.parametrize("ratio", [KMMRatio(), KLIEPRatio(), ULSIFRatio(), WassersteinRatio()],
                         ids=lambda r: type(r).__name__)
def test_batch_update_is_the_shared_solver_on_the_estimators_objective(ratio):
    """The per-batch update is n_steps of the core solver, from the warm
    start, with the divergence's step factor, on its batch objective."""
    from adiw._core.kernels import StackedSqDists
    from adiw._core.projection import project_weights
    from adiw._core.solver import fista
    from adiw.deep.weighting.updater import BatchWeightUpdater

    g = torch.Generator().manual_seed(0)
    Z_tr, Z_val = torch.rand(40, 1, generator=g) * 3, torch.rand(30, 1, generator=g)
    w0 = torch.rand(40, generator=g) + 0.5
    w, value = BatchWeightUpdater(ratio, n_steps=3, step_scale=0.5)(Z_tr, Z_val, w0)
    dists = StackedSqDists(Z_tr, Z_val)
    objective = ratio._batch_objective(dists, dists.quantile_gamma(0.5))
    ref = fista(objective, w0, lambda v: project_weights(v, 50.0, 0.0), n_steps=3,
                step_scale=0.5 * ratio._batch_step_scale).w
    assert torch.allclose(w, ref, atol=1e-6)
    assert value.item() == pytest.approx(objective.value(ref).item(), rel=1e-5, abs=1e-7)
    assert w.mean().item() == pytest.approx(1.0, abs=1e-5)
    # weights move towards the validation losses: small training losses gain
    assert w[Z_tr[:, 0] < 1].mean() > w[Z_tr[:, 0] > 2].mean()


def test_diw_reference_preset(digits):
    from adiw.deep import DIWReferenceClassifier

    net = DIWReferenceClassifier(MLP, max_epochs=2, batch_size=64, lr=0.05, verbose=0)
    params = net.get_params()
    assert (params["solver"], params["width_quantile"], params["eps"], params["warmup_epochs"],
            params["train_on_val"], params["val_holdout"]) == ("diw", 0.01, None, 1, False, 0.0)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    w = net.sample_weights()
    # the validation samples are appended to the training set and weighted
    assert len(w) == len(digits.y_train) + len(digits.y_val)
    assert np.std(w[-len(digits.y_val):]) > 0 and np.all(np.isfinite(w))
    assert clone(net).get_params()["width_quantile"] == 0.01
