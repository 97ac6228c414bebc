"""GIW: importance weighting inside the training support, test labels outside it."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.svm import OneClassSVM

from adiw.deep.weighting import NearestNeighborSupport
from adiw.deep.weighting.giw import support_features
from conftest import import_benchmark, make_net


def fit(net, X, y, X_val, y_val):
    torch.manual_seed(0)
    return net.fit(X, y, X_val=X_val, y_val=y_val)


class Nothing(NearestNeighborSupport):
    def decision_function(self, X):
        return -np.ones(len(X))


class Everything(NearestNeighborSupport):
    def decision_function(self, X):
        return np.ones(len(X))


@pytest.mark.parametrize("train_on_val", [False, True])
def test_inside_the_support_giw_is_adiw(digits, train_on_val):
    """alpha = 1 (every test point inside): weights and parameters equal ADIW's."""
    common = dict(max_epochs=4, warmup_epochs=1, train_on_val=train_on_val, val_holdout=0.0)
    X_val, y_val = digits.X_train[:80], digits.y_train[:80]         # the training distribution
    giw = fit(make_net(solver="giw", support_estimator=Everything(), **common),
              digits.X_train, digits.y_train, X_val, y_val)
    adiw = fit(make_net(**common), digits.X_train, digits.y_train, X_val, y_val)
    assert giw.support_fraction_ == 1.0 and giw.in_support_.all()
    np.testing.assert_array_equal(giw.sample_weights(), adiw.sample_weights())
    for p, q in zip(giw.module_.parameters(), adiw.module_.parameters()):
        assert torch.equal(p, q)
    assert np.std(giw.sample_weights()) > 0


def test_outside_the_support_the_loss_is_the_test_sample_alone(digits):
    """alpha = 0: training batches get no weight in the loss."""
    losses = []

    class Spy(type(make_net())):
        def get_loss(self, y_pred, y_true, X=None, training=False):
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
            if training and len(self.history) > 1:
                w = self.batch_weights_
                n = len(w) - 64 if len(w) > 64 else None
                losses.append((w, n))
            return loss

    net = Spy(module=make_net().module, max_epochs=3, batch_size=64, lr=0.05, verbose=0,
              solver="giw", warmup_epochs=1, support_estimator=Nothing(), val_holdout=0.0,
              train_on_val=False)
    fit(net, digits.X_train, digits.y_train, digits.X_val, digits.y_val)
    assert net.support_fraction_ == 0.0
    assert losses
    for w, _ in losses:
        # val2 rows come last, with factor (1 - 0) * rows / m; training rows 0
        n_val2 = min(64, len(digits.y_val))
        assert torch.all(w[:-n_val2] == 0)
        torch.testing.assert_close(w[-n_val2:], torch.full((n_val2,), len(w) / n_val2))


def test_the_split_is_the_support_estimator_run_by_hand(digits):
    est = OneClassSVM(nu=0.1, gamma=2.0)
    net = fit(make_net(solver="giw", support_estimator=est, max_epochs=2, warmup_epochs=1,
                       val_holdout=0.0, hidden_layer="hidden"),
              digits.X_train, digits.y_train, digits.X_val, digits.y_val)
    # the same representations: a net trained as the warm-up trains (uniform
    # weights, also on the test batches), features in the same 64-row chunks
    ref = fit(make_net(solver="none", max_epochs=1, val_holdout=0.0, hidden_layer="hidden"),
              digits.X_train, digits.y_train, digits.X_val, digits.y_val)
    chunks = lambda X: [torch.as_tensor(X[s:s + 64]) for s in range(0, len(X), 64)]  # noqa
    Z_tr = support_features(ref, chunks(digits.X_train))
    Z_val = support_features(ref, chunks(digits.X_val))
    np.testing.assert_allclose(np.linalg.norm(Z_tr, axis=1), 1.0)
    by_hand = clone(est).fit(Z_tr).decision_function(Z_val) >= 0
    np.testing.assert_array_equal(net.in_support_, by_hand)
    assert net.support_fraction_ == pytest.approx(by_hand.mean())
    assert net.history[1, "support_fraction"] == net.support_fraction_


def test_nearest_neighbor_support_is_scale_free_and_separates_disjoint_supports():
    r = np.random.default_rng(0)
    X = r.normal(size=(500, 5))
    inside = NearestNeighborSupport().fit(X)
    assert (inside.decision_function(r.normal(size=(200, 5))) >= 0).mean() > 0.8
    assert (inside.decision_function(r.normal(size=(200, 5)) + 10) >= 0).mean() == 0
    scaled = NearestNeighborSupport().fit(X * 1000)
    np.testing.assert_array_equal(scaled.predict(X[:50] * 1000), inside.predict(X[:50]))


def test_giw_pickles_clones_and_refreshes(digits):
    net = fit(make_net(solver="giw", max_epochs=3, warmup_epochs=1, support_refresh=1),
              digits.X_train, digits.y_train, digits.X_val, digits.y_val)
    assert len([r for r in net.history if "support_fraction" in r]) == 2    # epochs 2 and 3
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.sample_weights(), net.sample_weights())
    np.testing.assert_array_equal(restored.predict(digits.X_test), net.predict(digits.X_test))
    assert clone(net).get_params()["solver"] == "giw"
    with pytest.raises(TypeError, match="outlier detector"):
        make_net(solver="giw", support_estimator=object()).initialize()


class NaNScores(NearestNeighborSupport):
    def decision_function(self, X):
        return np.full(len(X), np.nan)


class OneScoreShort(NearestNeighborSupport):
    def decision_function(self, X):
        return np.ones(len(X) - 1)


@pytest.mark.parametrize("support, message", [
    (NaNScores(), "NaNScores.decision_function returned .* non-finite"),
    (OneScoreShort(), r"OneScoreShort.decision_function returned shape"),
])
def test_a_support_estimator_with_bad_scores_is_named(digits, support, message):
    """NaN scores would compare false and silently give alpha 0."""
    net = make_net(solver="giw", support_estimator=support, max_epochs=2, warmup_epochs=1)
    with pytest.raises(ValueError, match=message):
        fit(net, digits.X_train, digits.y_train, digits.X_val, digits.y_val)


def test_a_support_estimator_without_a_seed_is_reproduced_by_torch_manual_seed(digits):
    """random_state=None would draw from numpy's global generator: the same
    torch seed must give the same split, and the estimator's own parameter
    is left as the user set it."""
    from sklearn.ensemble import IsolationForest

    def split():
        net = make_net(solver="giw", support_estimator=IsolationForest(n_estimators=20),
                       max_epochs=2, warmup_epochs=1, hidden_layer="hidden")
        np.random.seed(None)                  # numpy's stream differs between the fits
        return fit(net, digits.X_train, digits.y_train, digits.X_val, digits.y_val)

    a, b = split(), split()
    np.testing.assert_array_equal(a.in_support_, b.in_support_)
    assert a.support_estimator_.random_state == b.support_estimator_.random_state
    assert a.support_estimator.random_state is None


def test_the_channel_shared_model_of_the_colour_study_cannot_tell_the_channels_apart():
    # bench_colour_channels.py rests on this: a digit's hidden layer is the
    # same in every channel, so GIW's split there finds every digit inside
    from adiw.datasets import load_colour_digits_shift

    ChannelSharedMLP = import_benchmark("bench_colour_channels").ChannelSharedMLP

    d = load_colour_digits_shift(random_state=0)
    net = ChannelSharedMLP().eval()
    X = torch.as_tensor(d.X_test[:20])
    moved = X.reshape(20, 3, 64).roll(1, dims=1).reshape(20, 192)    # channel c -> c + 1
    assert not torch.equal(X, moved)
    torch.testing.assert_close(net(X), net(moved))
    with pytest.raises(ValueError, match="not 3 equal channels"):
        ChannelSharedMLP(n_features=100)


def test_the_default_support_estimator_is_seeded_from_torch_too(digits, monkeypatch):
    # above 5,000 training points the default draws whose gaps set its radius;
    # a cap below the digits' size makes it draw here
    import adiw.deep.weighting.giw as giw

    class Capped(NearestNeighborSupport):
        def __init__(self, quantile=0.99, max_samples=50, random_state=None):
            super().__init__(quantile, max_samples, random_state)

    monkeypatch.setattr(giw, "NearestNeighborSupport", Capped)

    def split():
        net = make_net(solver="giw", max_epochs=2, warmup_epochs=1, hidden_layer="hidden")
        np.random.seed(None)
        return fit(net, digits.X_train, digits.y_train, digits.X_val, digits.y_val)

    a, b = split(), split()
    assert isinstance(a.support_estimator_, Capped) and a.support_estimator is None
    assert a.support_estimator_.random_state is not None
    assert a.support_estimator_.radius_ == b.support_estimator_.radius_
    np.testing.assert_array_equal(a.in_support_, b.in_support_)
