"""DynamicIWClassifier as skorch and scikit-learn users expect it (issue 16)."""

import numpy as np
import pytest
import sklearn
import torch
from scipy.stats import spearmanr
from sklearn.model_selection import GridSearchCV, cross_val_score
from skorch.callbacks import Checkpoint
from skorch.dataset import ValidSplit
from torch.utils.data import TensorDataset

from adiw.deep import DynamicIWClassifier, HeldOutTestScore
from adiw.models import MLP
from adiw.utils import Unsliced
from conftest import make_net


class SoftmaxMLP(MLP):
    """skorch's own convention: the module returns probabilities."""

    def forward(self, X):
        return torch.softmax(super().forward(X), dim=-1)


def fit(net, digits, **kw):
    return net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val, **kw)


def accuracy(net, digits):
    return float(np.mean(net.predict(digits.X_test) == digits.y_test))


def test_nllloss_on_probabilities_takes_the_log_under_adiw(digits):
    torch.manual_seed(0)
    net = fit(make_net(module=SoftmaxMLP, criterion=torch.nn.NLLLoss, max_epochs=15,
                       optimizer__momentum=0.9), digits)
    torch.manual_seed(0)
    ce = fit(make_net(max_epochs=15, optimizer__momentum=0.9), digits)
    assert min(net.history[:, "train_loss"]) > 0          # a log was taken
    # same network, probabilities + NLL == logits + cross-entropy
    assert accuracy(net, digits) == pytest.approx(accuracy(ce, digits), abs=0.02)
    assert accuracy(net, digits) > 0.8


def test_get_loss_override_is_called_with_skorch_signature_in_every_step(digits):
    calls = []

    class Net(DynamicIWClassifier):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            calls.append((training, self.batch_weights_ is not None))
            return 2.0 * super().get_loss(y_pred, y_true, X=X, training=training)

    net = fit(Net(MLP, max_epochs=2, batch_size=64, lr=0.05, verbose=0), digits)
    n_train_batches = 2 * int(np.ceil(len(digits.y_train) / 64))
    assert sum(t for t, _ in calls) == n_train_batches
    assert all(weighted for t, weighted in calls if t)        # weights reached it
    assert np.std(net.sample_weights()) > 0


def test_train_split_is_honoured_and_fit_params_reach_the_module(digits):
    seen = []

    class Flagged(MLP):
        def forward(self, X, scale=1.0):
            seen.append(scale)
            return super().forward(X) * scale

    fit(make_net(module=Flagged), digits, scale=0.5)     # as skorch: to every forward
    assert set(seen) == {0.5}
    net = fit(make_net(train_split=ValidSplit(4, stratified=True), val_holdout=0.0), digits)
    assert "valid_loss" in net.history[-1] and "valid_acc" in net.history[-1]
    assert len(net.sample_weights()) == int(round(0.75 * len(digits.y_train)))
    with pytest.raises(ValueError, match="Both train_split and val_holdout"):
        fit(make_net(train_split=ValidSplit(4)), digits)


def test_dataframe_x_and_dataset_x_val(digits):
    pd = pytest.importorskip("pandas")
    torch.manual_seed(0)
    a = fit(make_net(max_epochs=3), digits)
    torch.manual_seed(0)
    b = make_net(max_epochs=3).fit(
        pd.DataFrame(digits.X_train).to_numpy(), digits.y_train,
        X_val=TensorDataset(torch.as_tensor(digits.X_val), torch.as_tensor(digits.y_val)))
    # a Dataset's holdout is a plain shuffle, not stratified: other rows, same size
    assert len(b.sample_weights()) == len(a.sample_weights())
    assert "valid_acc" in b.history[-1] and np.std(b.sample_weights()) > 0
    # a DataFrame is a dict of columns, as in skorch: same fit as plain skorch
    from skorch import NeuralNetClassifier

    class Columns(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 10)

        def forward(self, a, b):
            return self.lin(torch.cat([a, b], 1))   # each column is (n, 1)

    df = pd.DataFrame({"a": digits.X_train[:, 10], "b": digits.X_train[:, 20]})
    nets = []
    for cls, kw in ((NeuralNetClassifier, dict(criterion=torch.nn.CrossEntropyLoss)),
                    (DynamicIWClassifier, dict(solver="none"))):
        torch.manual_seed(0)
        nets.append(cls(Columns, max_epochs=2, lr=0.1, train_split=None, verbose=0,
                        iterator_train__shuffle=False, **kw).fit(df, digits.y_train))
    np.testing.assert_array_equal(nets[0].predict_proba(df), nets[1].predict_proba(df))


def test_cuda_without_cuda_names_the_fix(digits):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    from adiw.estimators import KMMRatio

    with pytest.raises(ValueError, match="CUDA is not available.*device='cpu'"):
        make_net(device="cuda").initialize()
    with pytest.raises(ValueError, match="CUDA is not available"):
        KMMRatio(device="cuda").fit(digits.X_train[:50], digits.X_val[:20])


def test_partial_fit_on_other_data_restarts_the_weights(digits):
    net = fit(make_net(max_epochs=3), digits)
    before = net.sample_weights()
    net.partial_fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert not np.allclose(net.sample_weights(), 1.0)          # continued
    other = digits.X_train[::-1].copy()                         # same length, other rows
    net.set_params(max_epochs=1)
    net.partial_fit(other, digits.y_train[::-1].copy(), X_val=digits.X_val, y_val=digits.y_val)
    after_restart = net.sample_weights()
    # one epoch from w = 1 moves the weights far less than four epochs did
    assert np.abs(after_restart - 1).mean() < np.abs(before - 1).mean()


def test_fine_tuning_on_the_test_sample_goes_on_from_the_weighted_net(digits):
    """The recipe of the docs (weighted pretraining, then fine-tuning on the
    labelled test sample): switching the solver keeps the trained module."""
    net = fit(make_net(max_epochs=2, train_on_val=False), digits)
    trained = [p.detach().clone() for p in net.module_.parameters()]
    epochs = len(net.history)
    net.set_params(solver="none", max_epochs=1, lr=0.0, optimizer__momentum=0.0)
    net.partial_fit(digits.X_val, digits.y_val)
    assert len(net.history) == epochs + 1
    for p, q in zip(net.module_.parameters(), trained):
        assert torch.equal(p, q)              # lr 0: the same module, not a new one
    net.set_params(lr=0.05, max_epochs=5)
    net.partial_fit(digits.X_val, digits.y_val)
    assert not all(torch.equal(p, q) for p, q in zip(net.module_.parameters(), trained))


def test_checkpoint_keeps_the_weights_by_default(digits, tmp_path):
    cp = Checkpoint(dirname=str(tmp_path), monitor=None)
    net = fit(make_net(max_epochs=2, callbacks=[cp]), digits)
    fresh = make_net().initialize()
    fresh.load_params(checkpoint=cp)
    np.testing.assert_allclose(fresh.sample_weights(), net.sample_weights())


def test_no_warning_on_plain_fits(digits, recwarn):
    fit(make_net(max_epochs=1), digits)
    X = digits.X_train[:len(digits.X_val)]          # as long as X_val
    make_net(max_epochs=1).fit(X, digits.y_train[:len(X)], X_val=digits.X_val,
                               y_val=digits.y_val)
    assert not [w for w in recwarn if "adiw" in str(w.filename) or "Unsliced" in str(w.message)]


def test_x_val_is_routed_under_metadata_routing(digits):
    with sklearn.config_context(enable_metadata_routing=True):
        scores = cross_val_score(make_net(max_epochs=1), digits.X_train, digits.y_train,
                                 cv=2, scoring=HeldOutTestScore(),
                                 params={"X_val": Unsliced(digits.X_val),
                                         "y_val": Unsliced(digits.y_val)})
    assert np.all((scores >= 0) & (scores <= 1))


def test_held_out_test_score_ranks_a_grid_like_test_accuracy(digits):
    """Each candidate's folds are scored twice: by the scorer, and by their
    accuracy on the digits test set; the rankings must agree (measured
    Spearman 0.93, 0.99, 0.81 on digits seeds 0-2)."""
    def test_accuracy(est, X, y):
        return accuracy(est, digits)

    grid = {"solver": ["adiw", "none"], "lr": [0.003, 0.03, 0.1]}
    torch.manual_seed(0)
    search = GridSearchCV(make_net(max_epochs=12, optimizer__momentum=0.9), grid, cv=2,
                          refit=False, scoring={"held_out": HeldOutTestScore(),
                                                "test": test_accuracy})
    search.fit(digits.X_train, digits.y_train, X_val=Unsliced(digits.X_val),
               y_val=Unsliced(digits.y_val))
    r = search.cv_results_
    rho = spearmanr(r["mean_test_held_out"], r["mean_test_test"]).statistic
    assert rho >= 0.8, (r["mean_test_held_out"], r["mean_test_test"])
    # the folds of the training data themselves would rank the wrong thing
    with pytest.raises(ValueError, match="val_holdout > 0"):
        HeldOutTestScore()(fit(make_net(max_epochs=1, val_holdout=0.0), digits))


def test_the_best_epoch_skips_epochs_that_diverged():
    # a checkpoint never keeps a NaN epoch; np.max returned NaN for the run
    from skorch.history import History

    class Fitted:
        history = History()

    for value in (0.5, 0.7, float("nan")):
        Fitted.history.new_epoch()
        Fitted.history.record("valid_acc", value)
        Fitted.history.record("valid_loss", 1 - value)
    assert HeldOutTestScore(epoch="best")(Fitted) == 0.7
    assert HeldOutTestScore(key="valid_loss", epoch="best")(Fitted) == pytest.approx(-0.3)
    assert np.isnan(HeldOutTestScore()(Fitted))          # the last epoch is the last
    for row in Fitted.history:
        row["valid_acc"] = float("nan")
    assert np.isnan(HeldOutTestScore(epoch="best")(Fitted))
