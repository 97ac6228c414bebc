"""WeightInterpolation (DaWin / WiSE-FT) and its Beta mixture, against direct formulas."""

import copy
import warnings

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import entropy
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetClassifier

from adiw.datasets import corrupt_digits
from adiw.deep import BetaMixture, WeightInterpolation, fit_temperature
from adiw.models import MLP


class FixedLogits(ClassifierMixin, BaseEstimator):
    """A 'fitted' classifier whose logits are X @ W: known probabilities."""

    def __init__(self, W):
        self.W = W

    def fit(self, X=None, y=None):
        self.classes_ = np.arange(self.W.shape[1])
        return self

    def predict_proba(self, X):
        return softmax(np.asarray(X) @ self.W, axis=1)


@pytest.fixture(scope="module")
def logit_models():
    r = np.random.default_rng(1)
    X = r.normal(size=(200, 5))
    return X, FixedLogits(2 * r.normal(size=(5, 4))).fit(), FixedLogits(r.normal(size=(5, 4))).fit()


def dawin_formula(X, a, b, T=(1.0, 1.0)):
    h_a = entropy(softmax(X @ a.W / T[0], axis=1), axis=1)
    h_b = entropy(softmax(X @ b.W / T[1], axis=1), axis=1)
    return np.exp(-h_b) / (np.exp(-h_a) + np.exp(-h_b)), h_a, h_b


@pytest.mark.parametrize("T", [1.0, 2.5, (0.5, 3.0)])
def test_coefficients_follow_the_entropy_formula(logit_models, T):
    X, a, b = logit_models
    lam = WeightInterpolation(a, b, mode="outputs", temperature=T).fit().coefficients(X)
    pair = T if isinstance(T, tuple) else (T, T)
    np.testing.assert_allclose(lam, dawin_formula(X, a, b, pair)[0], rtol=1e-10)
    assert lam.std() > 0.05          # the inputs really disagree


def test_offset_adjustment_follows_its_formula(logit_models):
    X, a, b = logit_models
    _, h_a, h_b = dawin_formula(X, a, b)
    c = (h_a.std() / h_a.mean() + h_b.std() / h_b.mean()) / 2
    s = (h_a.mean() + h_b.mean()) / h_a.mean()
    expected = (np.exp(-h_b) + c / s) / (np.exp(-h_a) + np.exp(-h_b) + c)
    merged = WeightInterpolation(a, b, mode="outputs", offset=True).fit(X)
    np.testing.assert_allclose(merged.offset_, (c, s), rtol=1e-10)
    np.testing.assert_allclose(merged.coefficients(X), expected, rtol=1e-8)


def test_outputs_mode_is_the_explicit_mixture(logit_models):
    X, a, b = logit_models
    lam = dawin_formula(X, a, b)[0][:, None]
    merged = WeightInterpolation(a, b, mode="outputs").fit()
    expected = (1 - lam) * a.predict_proba(X) + lam * b.predict_proba(X)
    np.testing.assert_allclose(merged.predict_proba(X), expected, rtol=1e-12)
    np.testing.assert_array_equal(merged.predict(X), expected.argmax(1))
    static = WeightInterpolation(a, b, coefficient=0.3, mode="outputs").fit()
    np.testing.assert_allclose(static.predict_proba(X),
                               0.7 * a.predict_proba(X) + 0.3 * b.predict_proba(X))


def _skorch_net(seed, X, y, epochs, warm_from=None, n_hidden=32):
    torch.manual_seed(seed)
    net = NeuralNetClassifier(MLP, module__n_hidden=n_hidden, criterion=torch.nn.CrossEntropyLoss,
                              max_epochs=epochs, lr=0.1, batch_size=64, train_split=None,
                              verbose=0)
    net.initialize()
    if warm_from is not None:        # fine-tuning starts from the general model
        net.module_.load_state_dict(warm_from.module_.state_dict())
    return net.partial_fit(X, y)


@pytest.fixture(scope="module")
def net_pair(digits):
    X, y = digits.X_train, digits.y_train
    base = _skorch_net(0, X, y, 20)
    tuned = _skorch_net(1, digits.X_val, digits.y_val, 30, warm_from=base)
    return digits.X_test, base, tuned


def _by_hand(base, tuned, lam, x):
    """The network whose state dict was interpolated by hand, on one input."""
    sa, sb = base.module_.state_dict(), tuned.module_.state_dict()
    module = copy.deepcopy(tuned.module_).eval()
    module.load_state_dict({k: (1 - lam) * sa[k] + lam * sb[k] for k in sa})
    with torch.no_grad():
        return torch.softmax(module(torch.as_tensor(x[None])), 1)[0].numpy()


@pytest.mark.parametrize("n_clusters", [None, 3])
def test_weights_mode_equals_hand_interpolated_networks(net_pair, n_clusters):
    X, base, tuned = net_pair
    merged = WeightInterpolation(base, tuned, n_clusters=n_clusters, random_state=0).fit(X)
    lam = merged.coefficients(X)
    proba = merged.predict_proba(X)
    rows = [int(np.argmin(lam)), int(np.argmax(lam)), 0, 1, 2]
    assert lam[rows[1]] - lam[rows[0]] > 0.1
    for i in rows:
        np.testing.assert_allclose(proba[i], _by_hand(base, tuned, lam[i], X[i]),
                                   rtol=1e-5, atol=1e-6)
    if n_clusters:
        assert len(np.unique(lam)) <= n_clusters
        assert set(np.unique(lam)) <= set(merged.mixture_.means_)


@pytest.mark.parametrize("mode", ["weights", "outputs"])
def test_coefficient_zero_and_one_reproduce_the_models(net_pair, mode):
    X, base, tuned = net_pair
    for value, model in ((0.0, base), (1.0, tuned)):
        merged = WeightInterpolation(base, tuned, coefficient=value, mode=mode).fit()
        np.testing.assert_allclose(merged.predict_proba(X), model.predict_proba(X),
                                   rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(merged.predict(X), model.predict(X))
    merged = WeightInterpolation(base, tuned, coefficient=1.0).fit()
    assert merged.score(X, tuned.predict(X)) == 1.0


def test_interpolated_weights_differ_from_mixed_outputs(net_pair):
    # Guards against a weight path that silently mixes outputs instead.
    X, base, tuned = net_pair
    w = WeightInterpolation(base, tuned, coefficient=0.5).fit().predict_proba(X)
    o = WeightInterpolation(base, tuned, coefficient=0.5, mode="outputs").fit().predict_proba(X)
    assert np.abs(w - o).max() > 1e-3


def test_frozen_models_survive_clone_and_grid_search(net_pair, digits):
    X, base, tuned = net_pair
    merged = WeightInterpolation(FrozenEstimator(base), FrozenEstimator(tuned), coefficient=0.5)
    search = GridSearchCV(merged, {"coefficient": [0.0, 0.5, 1.0]}, cv=2)
    search.fit(X, digits.y_test)
    scores = search.cv_results_["mean_test_score"]
    assert np.ptp(scores) > 0
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(WeightInterpolation(base, tuned)).fit(X)


def test_beta_mixture_recovers_a_known_mixture():
    r = np.random.default_rng(0)
    x = np.r_[r.beta(2, 18, 3000), r.beta(10, 10, 2000), r.beta(30, 3, 1000)]
    bm = BetaMixture(3, random_state=0).fit(x)
    order = np.argsort(bm.means_)
    np.testing.assert_allclose(bm.means_[order], [0.1, 0.5, 30 / 33], atol=0.02)
    np.testing.assert_allclose(bm.weights_[order], [0.5, 1 / 3, 1 / 6], atol=0.03)
    assert bm.converged_
    # the fitted values must not be worse than the generating parameters
    from scipy.stats import beta
    xc = np.clip(x, 1e-6, 1 - 1e-6)
    truth = np.log(0.5 * beta.pdf(xc, 2, 18) + beta.pdf(xc, 10, 10) / 3
                   + beta.pdf(xc, 30, 3) / 6).mean()
    assert bm.lower_bound_ > truth - 0.01


def test_beta_mixture_handles_ends_ties_and_warns():
    x = np.r_[np.zeros(50), np.ones(50), np.full(50, 0.5)]
    bm = BetaMixture(3, random_state=0).fit(x)
    assert np.all(np.isfinite(bm.means_)) and np.all((bm.means_ > 0) & (bm.means_ < 1))
    assert len(np.unique(bm.predict(x))) == 3
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        BetaMixture(2, max_iter=1, random_state=0).fit(np.random.default_rng(0).random(100))
    with pytest.raises(ValueError, match="values in"):
        BetaMixture().fit([0.5, 1.5])


def test_clear_errors(net_pair, logit_models, digits):
    X, base, tuned = net_pair
    other = _skorch_net(0, digits.X_train, digits.y_train, 1, n_hidden=16)
    with pytest.raises(ValueError, match="one architecture"):
        WeightInterpolation(base, other).fit()
    lr = LogisticRegression().fit(X, tuned.predict(X))
    with pytest.raises(TypeError, match="mode='outputs'"):
        WeightInterpolation(base, lr).fit()
    y3 = np.minimum(digits.y_train, 2)
    three = _skorch_net(0, digits.X_train, y3, 1)
    with pytest.raises(ValueError, match="different classes"):
        WeightInterpolation(base, three, mode="outputs").fit()
    unfitted = NeuralNetClassifier(MLP)
    with pytest.raises(NotFittedError, match="tuned must be a fitted"):
        WeightInterpolation(base, unfitted).fit()
    for kw, match in [({"coefficient": 1.5}, "coefficient"), ({"coefficient": "max"}, "coefficient"),
                      ({"mode": "logits"}, "mode"), ({"n_clusters": 0}, "n_clusters"),
                      ({"coefficient": 0.5, "n_clusters": 3}, "static"),
                      ({"temperature": 0}, "temperature"), ({"temperature": (1, 2, 3)}, "temperature")]:
        with pytest.raises(ValueError, match=match):
            WeightInterpolation(base, tuned, **kw).fit()
    with pytest.raises(ValueError, match="needs unlabelled test inputs"):
        WeightInterpolation(base, tuned, n_clusters=3).fit()
    merged = WeightInterpolation(base, tuned).fit(X)
    with pytest.raises(ValueError, match="features"):
        merged.predict(X[:, :10])
    bad = X[:5].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        merged.predict(bad)
    with pytest.raises(NotFittedError):
        WeightInterpolation(base, tuned).predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WeightInterpolation(*logit_models[1:], mode="outputs", n_clusters=2,
                            random_state=0).fit(logit_models[0])


def test_fit_temperature_recovers_a_known_overconfidence():
    # Labels drawn from softmax(X W); a model with logits 3 X W is calibrated at T = 3.
    r = np.random.default_rng(0)
    X, W = r.normal(size=(20000, 3)), r.normal(size=(3, 4))
    p = softmax(X @ W, axis=1)
    y = (p.cumsum(1) > r.random((len(X), 1))).argmax(1)
    assert fit_temperature(FixedLogits(3 * W).fit(), X, y) == pytest.approx(3, rel=0.05)
    assert fit_temperature(FixedLogits(W).fit(), X, y) == pytest.approx(1, rel=0.05)
    with pytest.raises(ValueError, match="not among the model's classes_"):
        fit_temperature(FixedLogits(W).fit(), X, y + 7)
    # a label column is the same labels (it once ran to the bound, 20)
    assert fit_temperature(FixedLogits(3 * W).fit(), X, y[:, None]) == \
        pytest.approx(fit_temperature(FixedLogits(3 * W).fit(), X, y))
    with pytest.raises(ValueError, match="one class label per row"):
        fit_temperature(FixedLogits(W).fit(), X, np.c_[y, y])


def test_fit_temperature_warns_when_it_stops_at_a_bound():
    # Every label on the argmax: the likelihood improves as T -> 0 without
    # end; the bound comes back with a ConvergenceWarning, not as an optimum.
    # Labels independent of the logits: it improves as T -> inf.
    r = np.random.default_rng(0)
    X, W = r.normal(size=(2000, 3)), r.normal(size=(3, 4))
    model = FixedLogits(W).fit()
    with pytest.warns(ConvergenceWarning, match="bound T = 0.05"):
        assert fit_temperature(model, X, (X @ W).argmax(1)) == pytest.approx(0.05, rel=1e-2)
    with pytest.warns(ConvergenceWarning, match="bound T = 20"):
        assert fit_temperature(model, X, r.integers(0, 4, len(X))) == pytest.approx(20, rel=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = softmax(X @ W, axis=1)
        fit_temperature(model, X, (p.cumsum(1) > r.random((len(X), 1))).argmax(1))


class Unsorted(FixedLogits):
    def fit(self, X=None, y=None):
        self.classes_ = np.array([3, 1, 2, 0])
        return self


def test_fit_temperature_maps_unsorted_classes():
    r = np.random.default_rng(0)
    X, W = r.normal(size=(5000, 3)), r.normal(size=(3, 4))
    p = softmax(X @ W, axis=1)
    column = (p.cumsum(1) > r.random((len(X), 1))).argmax(1)
    labels = np.array([3, 1, 2, 0])[column]
    assert fit_temperature(Unsorted(3 * W).fit(), X, labels) == pytest.approx(3, rel=0.1)


class RawLogits(FixedLogits):
    def predict_proba(self, X):
        return np.asarray(X) @ self.W          # predict_nonlinearity=None


def test_outputs_that_are_not_probabilities_are_refused(logit_models):
    X, a, _ = logit_models
    bad = RawLogits(a.W).fit()
    with pytest.raises(ValueError, match="does not return probabilities"):
        WeightInterpolation(a, bad, mode="outputs").fit().predict_proba(X)
    with pytest.raises(ValueError, match="does not return probabilities"):
        fit_temperature(bad, X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("kind", ["noise", "shift", "occlusion", "salt_pepper", "blur",
                                  "contrast"])
def test_corruptions_stay_in_range_and_change_the_images(digits, kind):
    X = digits.X_test[:50]
    Xc = corrupt_digits(X, kind, random_state=0)
    assert Xc.shape == X.shape and Xc.dtype == np.float32
    assert Xc.min() >= 0 and Xc.max() <= 1 and np.abs(Xc - X).mean() > 0.01
    np.testing.assert_array_equal(Xc, corrupt_digits(X, kind, random_state=0))


def test_corruptions_do_what_they_say():
    img = np.zeros((1, 8, 8), np.float32)
    img[0, 2:4, 2:4] = 1.0
    X = img.reshape(1, 64)
    shifted = corrupt_digits(np.repeat(X, 200, 0), "shift", 0.5, random_state=0).reshape(-1, 8, 8)
    # a shift by at most one pixel keeps all four lit pixels, moved together
    assert np.all(shifted.sum((1, 2)) == 4)
    assert len({tuple(np.argwhere(s)[0]) for s in shifted}) == 9
    occluded = corrupt_digits(np.ones((100, 64)), "occlusion", 1.0, random_state=0)
    assert np.all((occluded == 0).sum(1) == 9)
    contrast = corrupt_digits(X, "contrast", 1.0)
    np.testing.assert_allclose(np.unique(contrast), [0.3, 0.7], rtol=1e-6)
    with pytest.raises(ValueError, match="kind"):
        corrupt_digits(X, "rain")
    with pytest.raises(ValueError, match="shape"):
        corrupt_digits(X[:, :10], "noise")


def test_beta_mixture_refuses_two_columns_and_corruptions_check_input(digits):
    with pytest.raises(ValueError, match="one value per sample"):
        BetaMixture(2).fit(np.full((10, 2), 0.5))
    BetaMixture(1, random_state=0).fit(np.linspace(0.1, 0.9, 20)[:, None])   # a column is fine
    X = digits.X_test[:5]
    with pytest.raises(ValueError, match="divided by 16"):
        corrupt_digits(X * 16, "noise")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        corrupt_digits(bad, "noise")
    for severity in (1e9, 1e4, "1", np.nan):
        with pytest.raises(ValueError, match="severity"):
            corrupt_digits(X, "blur" if severity == 1e9 else "shift", severity)
    assert corrupt_digits(X[:0], "shift").shape == (0, 64)
    assert np.all(corrupt_digits(X, "blur", 8.0) >= 0)


def test_label_flips_refuse_labels_outside_zero_to_k():
    from adiw.datasets import pair_flip, symmetric_flip

    for flip in (pair_flip, symmetric_flip):
        with pytest.raises(ValueError, match="0\\.\\."):
            flip(np.array([-1, 0, 1, 2]), 0.5, random_state=0)
        with pytest.raises(ValueError, match="0\\.\\.2"):
            flip(np.array([0, 1, 5]), 0.5, n_classes=3, random_state=0)
        with pytest.raises(ValueError, match="integer labels"):
            flip(np.array([0.0, 1.0]), 0.5)
        y_noisy, _ = flip(np.arange(20) % 4, 0.9, random_state=0)
        assert set(np.unique(y_noisy)) <= {0, 1, 2, 3}


def test_weights_mode_converts_inputs_as_the_module_expects(net_pair, digits):
    _, base, tuned = net_pair
    dawin = WeightInterpolation(base, tuned, coefficient=0.5).fit()
    X = digits.X_test[:20]
    ref = dawin.predict_proba(X)
    np.testing.assert_allclose(dawin.predict_proba(X.astype(np.float64)), ref, rtol=1e-6)
    np.testing.assert_allclose(dawin.predict_proba(X.tolist()), ref, rtol=1e-6)
    assert dawin.predict_proba((X * 16).astype(int)).shape == ref.shape
    with pytest.raises(ValueError, match="first layer takes 64"):
        dawin.predict_proba(X[:, :10])


class _FlatConv(torch.nn.Module):
    """A conv net over flat 64-feature rows: its first Linear takes 32."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.MaxPool2d(2))
        self.out = torch.nn.Linear(2 * 4 * 4, 10)

    def forward(self, X):
        return self.out(self.conv(X.view(-1, 1, 8, 8)).flatten(1))


def test_weights_mode_takes_a_module_that_reshapes_its_input(digits):
    # The first Linear's width is a guess at the input's; this module runs on
    # 64 features although its first Linear takes 32, and was once refused.
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(NeuralNetClassifier(_FlatConv, criterion=torch.nn.CrossEntropyLoss,
                                        max_epochs=2, train_split=None, verbose=0)
                    .fit(digits.X_train, digits.y_train))
    X = digits.X_test[:30]
    at_base = WeightInterpolation(*nets, coefficient=0.0).fit().predict_proba(X)
    np.testing.assert_allclose(at_base, nets[0].predict_proba(X), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="first layer takes 32"):
        WeightInterpolation(*nets, coefficient=0.5).fit().predict_proba(X[:, :10])
