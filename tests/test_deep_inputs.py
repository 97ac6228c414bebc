"""DynamicIWClassifier off the happy path: bad options and data fail before
training, and the net pickles, copies and checkpoints (issue 9)."""

import copy
import pickle

import numpy as np
import pytest
import torch
from skorch.callbacks import Checkpoint

from adiw.datasets import load_digits_shift
from adiw.deep import DynamicIWClassifier
from adiw.estimators import KMMRatio, WassersteinRatio
from adiw.models import MLP


@pytest.fixture(scope="module")
def d():
    return load_digits_shift(random_state=0)


def make_net(**kw):
    base = dict(module=MLP, max_epochs=1, batch_size=64, lr=0.05, verbose=0)
    base.update(kw)
    return DynamicIWClassifier(**base)


class Untrained(DynamicIWClassifier):
    """Fails the test if training starts."""

    def train_step(self, *args, **kwargs):
        raise AssertionError("training started")


def fit_untrained(d, X=None, y=None, X_val=None, y_val=None, **options):
    net = Untrained(MLP, max_epochs=1, verbose=0, **options)
    return net.fit(d.X_train if X is None else X, d.y_train if y is None else y,
                   X_val=d.X_val if X_val is None else X_val,
                   y_val=d.y_val if y_val is None else y_val)


@pytest.mark.parametrize("options, match", [
    (dict(n_steps=0), "n_steps"), (dict(eps=-0.1), "eps"),
    (dict(width_quantile=0.0), "width_quantile"), (dict(width_quantile=1.5), "width_quantile"),
    (dict(val_batch_size=0), "val_batch_size"), (dict(B=np.nan), "B must"),
    (dict(B=0.5), "B must"), (dict(step_scale=np.inf), "step_scale"),
    (dict(val_holdout=1.0), "val_holdout"), (dict(solver="qp"), "solver"),
    (dict(ratio_estimator=KMMRatio(gamma=-1.0)), "gamma"),
    (dict(ratio_estimator=KMMRatio(gamma=[0.1, 1.0])), "one value per"),
    (dict(ratio_estimator=WassersteinRatio(reg=np.nan)), "reg"),
])
def test_bad_options_fail_before_training(d, options, match):
    with pytest.raises(ValueError, match=match):
        fit_untrained(d, **options)


def test_a_ratio_estimator_class_is_refused(d):
    with pytest.raises(TypeError, match="an instance"):
        fit_untrained(d, ratio_estimator=KMMRatio)


def test_non_finite_data_fail_before_training(d):
    X = d.X_train.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fit_untrained(d, X=X)
    X_val = d.X_val.copy()
    X_val[0, 0] = np.inf
    with pytest.raises(ValueError, match="X_val contains NaN or infinity"):
        fit_untrained(d, X_val=X_val)


def test_labels_are_checked(d):
    y_val = d.y_val.copy()
    y_val[0] = 12
    with pytest.raises(ValueError, match="label 12.*outputs 10"):
        fit_untrained(d, y_val=y_val)
    with pytest.raises(ValueError, match="LabelEncoder"):
        fit_untrained(d, y_val=d.y_val.astype(str))
    with pytest.raises(ValueError, match="LabelEncoder"):
        fit_untrained(d, y=d.y_train.astype(str))


def test_x_val_forms(d):
    pd = pytest.importorskip("pandas")
    net = make_net()
    net.fit(d.X_train, d.y_train, X_val=pd.DataFrame(d.X_val), y_val=pd.Series(d.y_val))
    assert np.all(np.isfinite(net.sample_weights()))
    with pytest.raises(TypeError, match="X_val must be an array"):
        fit_untrained(d, X_val={"X": d.X_val})


def test_device_auto_is_explained(d):
    with pytest.raises(ValueError, match='device="auto"'):
        make_net(device="auto").fit(d.X_train, d.y_train, X_val=d.X_val, y_val=d.y_val)


def test_training_batches_are_shuffled_by_default():
    assert make_net().get_params()["iterator_train__shuffle"] is True
    assert make_net(iterator_train__shuffle=False).get_params()["iterator_train__shuffle"] is False


def test_hidden_representation_pickles_copies_and_checkpoints(d, tmp_path):
    net = make_net(representation="hidden", hidden_layer="hidden", max_epochs=2,
                   callbacks=[Checkpoint(dirname=str(tmp_path), f_pickle="net.pkl")])
    net.fit(d.X_train, d.y_train, X_val=d.X_val, y_val=d.y_val)
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net),
                  pickle.loads((tmp_path / "net.pkl").read_bytes())):
        np.testing.assert_array_equal(other.predict(d.X_test), net.predict(d.X_test))
        # the restored hook still feeds the representation: training goes on
        other.partial_fit(d.X_train, d.y_train, X_val=d.X_val, y_val=d.y_val)
        assert np.all(np.isfinite(other.sample_weights()))


def test_pickled_state_holds_no_fit_time_device_tensors(d):
    net = make_net()
    net.fit(d.X_train, d.y_train, X_val=d.X_val, y_val=d.y_val)
    state = net.__getstate__()
    # skorch moves the registered attributes between devices on load; any
    # other tensor would stay on the device it was pickled on (CUDA -> CPU)
    stray = [k for k, v in state.items() if isinstance(v, torch.Tensor)
             or (isinstance(v, tuple) and any(isinstance(t, torch.Tensor) for t in v))]
    assert stray == []
