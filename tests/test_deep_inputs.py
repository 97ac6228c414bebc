"""DynamicIWClassifier off the happy path: bad options and data fail before
training, and the net pickles, copies and checkpoints (issue 9)."""

import copy
import pickle

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
