"""RGDLoss and PolyTailedLoss against direct formulas (values and gradients)."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from adiw.losses import PolyTailedLoss, RGDLoss
from conftest import make_net


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(32, 5, generator=g, dtype=torch.float64) * 3).requires_grad_()
    y = torch.randint(0, 5, (32,), generator=g)
    return logits, y


@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_rgd_against_the_formula(batch, tau):
    logits, y = batch
    got = RGDLoss(tau=tau, reduction="none")(logits, y)
    l = F.cross_entropy(logits, y, reduction="none")
    g = torch.exp(torch.minimum(l, torch.tensor(tau, dtype=l.dtype)) / (tau + 1)).detach()
    torch.testing.assert_close(got, g * l)
    assert torch.all((g >= 1) & (g < math.e))
    # the gradient flows through l only: that of sum(g * l) with g constant
    grad, = torch.autograd.grad(got.sum(), logits)
    ref, = torch.autograd.grad((g * l).sum(), logits)
    torch.testing.assert_close(grad, ref)
    torch.testing.assert_close(RGDLoss(tau=tau)(logits, y), (g * l).mean())


@pytest.mark.filterwarnings("ignore:size_average and reduce args")   # the legacy form, on purpose
def test_rgd_refuses_batch_reduced_criteria(batch):
    logits, y = batch
    with pytest.raises(ValueError, match="per-sample criterion"):
        RGDLoss(criterion=nn.CrossEntropyLoss(reduce=True))
    with pytest.raises(ValueError, match="per-sample criterion"):
        RGDLoss(criterion=nn.CrossEntropyLoss())

    class BatchMean(nn.Module):
        reduction = "none"                  # says so, but is not

        def forward(self, input, target):
            return F.cross_entropy(input, target)

    with pytest.raises(ValueError, match="one loss per sample"):
        RGDLoss(criterion=BatchMean())(logits, y)


def margin_loss_by_hand(logits, y, alpha):
    out = []
    for z, t in zip(logits.tolist(), y.tolist()):
        v = z[t] - max(z[k] for k in range(len(z)) if k != t)
        out.append(math.log1p(math.exp(-v)) / math.log1p(math.exp(-1)) if v <= 1 else v ** -alpha)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_poly_tailed_against_the_formula(batch, alpha):
    logits, y = batch
    got = PolyTailedLoss(alpha=alpha, reduction="none")(logits, y)
    torch.testing.assert_close(got, margin_loss_by_hand(logits, y, alpha))
    # gradient against finite differences of the per-sample formula
    grad, = torch.autograd.grad(got.sum(), logits)
    h = 1e-6
    for i, k in [(0, 0), (3, 2), (7, 4)]:
        up, down = logits.detach().clone(), logits.detach().clone()
        up[i, k] += h
        down[i, k] -= h
        fd = (margin_loss_by_hand(up, y, alpha).sum() - margin_loss_by_hand(down, y, alpha).sum())
        assert grad[i, k].item() == pytest.approx(fd.item() / (2 * h), rel=1e-4, abs=1e-7)


def test_poly_tailed_is_continuous_and_binary_logits_work():
    v = torch.tensor([1.0 - 1e-9, 1.0, 1.0 + 1e-9, -50.0, 0.0], dtype=torch.float64)
    two = torch.stack([torch.zeros_like(v), v], 1)
    loss = PolyTailedLoss(reduction="none")(two, torch.ones(5, dtype=torch.long))
    assert torch.all(torch.isfinite(loss))
    assert loss[:3].tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-8)
    binary = PolyTailedLoss(reduction="none")(v, torch.ones(5, dtype=torch.long))
    torch.testing.assert_close(binary, loss)
    torch.testing.assert_close(PolyTailedLoss(reduction="none")(v[:, None],
                                                                torch.zeros(5, 1)),
                               PolyTailedLoss(reduction="none")(-v, torch.ones(5, dtype=torch.long)))


@pytest.mark.parametrize("criterion, params", [(RGDLoss, {"criterion__tau": 0.5}),
                                               (PolyTailedLoss, {"criterion__alpha": 2.0})])
def test_losses_plug_into_skorch_and_compose_with_weights(digits, criterion, params):
    net = make_net(criterion=criterion, max_epochs=2, **params)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    assert net.criterion_.reduction == "none"         # weights multiply per-sample losses
    w = net.sample_weights()
    assert np.all(np.isfinite(w)) and np.std(w) > 0
    assert np.all(np.isfinite(net.history[:, "train_loss"]))


# ---- known weights and weight powers (issue 10, part 2) ---------------------
def _train_by_hand(digits, weights, epochs=2, lr=0.05, batch=64):
    """Plain torch: the same initialisation, batches and SGD, with the loss
    mean(w_i * l_i) -- the independent reference for sample_weight."""
    from adiw.models import MLP

    torch.manual_seed(0)
    module = MLP()
    opt = torch.optim.SGD(module.parameters(), lr=lr)
    X, y = torch.as_tensor(digits.X_train), torch.as_tensor(digits.y_train)
    w = torch.as_tensor(weights, dtype=torch.float32)
    for _ in range(epochs):
        for s in range(0, len(y), batch):
            opt.zero_grad()
            losses = F.cross_entropy(module(X[s:s + batch]), y[s:s + batch], reduction="none")
            (w[s:s + batch] * losses).mean().backward()
            opt.step()
    return module


def _fixed_weight_net(digits, weights, **kw):
    torch.manual_seed(0)
    net = make_net(solver="none", iterator_train__shuffle=False, val_holdout=0.0, **kw)
    return net.fit(digits.X_train, digits.y_train, sample_weight=weights)


def test_sample_weight_is_the_weighted_loss(digits):
    w = np.random.default_rng(0).uniform(0, 3, size=len(digits.y_train)).astype(np.float32)
    net = _fixed_weight_net(digits, w)                   # no X_val needed
    ref = _train_by_hand(digits, w)
    for p, q in zip(net.module_.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.sample_weights(), w)


def test_weight_power_is_the_explicit_power(digits):
    w = np.random.default_rng(1).uniform(0, 2, size=len(digits.y_train)).astype(np.float32)
    powered = _fixed_weight_net(digits, w, weight_power=1.5)
    explicit = _fixed_weight_net(digits, w ** 1.5)
    for p, q in zip(powered.module_.parameters(), explicit.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_known_weights_need_solver_none(digits):
    with pytest.raises(ValueError, match='needs solver="none"'):
        make_net().fit(digits.X_train, digits.y_train, X_val=digits.X_val,
                       y_val=digits.y_val, sample_weight=np.ones(len(digits.y_train)))
    with pytest.raises(ValueError, match="shape"):
        _fixed_weight_net(digits, np.ones(5))
    with pytest.raises(ValueError, match="non-negative"):
        _fixed_weight_net(digits, -np.ones(len(digits.y_train)))


def test_history_shows_when_the_training_data_are_separated(digits):
    net = make_net(solver="none", max_epochs=60, lr=0.1, optimizer=torch.optim.SGD,
                   optimizer__momentum=0.9)
    net.fit(digits.X_train[:200], digits.y_train_clean[:200])
    acc, margin = net.history[:, "iw_train_acc"], net.history[:, "iw_margin_min"]
    assert acc[0] < 0.9 and acc[-1] == 1.0
    assert margin[0] < 0 < margin[-1]          # separated: every margin positive


def test_importance_weighted_estimator_weight_power():
    from sklearn.linear_model import Ridge

    from adiw.estimators import ImportanceWeightedEstimator, KMMRatio

    r = np.random.default_rng(0)
    X, X_te = r.normal(size=(100, 2)), r.normal(0.5, 1, size=(80, 2))
    y = X[:, 0] + r.normal(size=100)
    base = ImportanceWeightedEstimator(KMMRatio(), Ridge(), weight_power=1.0).fit(
        X, y, X_test=X_te)
    squared = ImportanceWeightedEstimator(KMMRatio(), Ridge(), weight_power=2.0)
    squared.fit(X, y, X_test=X_te)
    np.testing.assert_allclose(squared.weights_, base.weights_ ** 2)
    ref = Ridge().fit(X, y, sample_weight=base.weights_ ** 2)
    np.testing.assert_allclose(squared.estimator_.coef_, ref.coef_)


# ---- static importance weighting (issue 10, part 3) -------------------------
def test_static_weights_are_a_standalone_fit_on_the_representations(digits):
    from adiw.estimators import KMMRatio

    # lr=0: the network never changes, so the representations the static fit
    # saw after the warm-up epoch are those of the initial network
    torch.manual_seed(0)
    net = make_net(solver="static", warmup_epochs=1, max_epochs=2, lr=0.0,
                   ratio_estimator=KMMRatio(), val_holdout=0.0)
    net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
    module = net.module_.eval()
    with torch.no_grad():
        def losses(X, y):
            return F.cross_entropy(module(torch.as_tensor(X)), torch.as_tensor(y),
                                   reduction="none").numpy()[:, None]
        ref = KMMRatio().fit(losses(digits.X_train, digits.y_train),
                             losses(digits.X_val, digits.y_val)).weights_
    np.testing.assert_allclose(net.sample_weights(), ref, rtol=1e-4, atol=1e-5)
    assert np.std(ref) > 0.01
    assert "iw_objective" not in net.history[-1]          # no per-batch update ran


def test_static_weights_without_a_seed_are_reproduced_by_torch_manual_seed(digits):
    """A ratio estimator with random_state=None (KLIEP's CV folds and centres;
    on MNIST -> optdigits the default KMM's too) drew from numpy's global
    generator: the net now seeds it from torch's, so one torch seed gives
    one set of static weights."""
    from adiw.estimators import KLIEPRatio

    def weights():
        torch.manual_seed(0)
        np.random.seed(None)                  # numpy's stream differs between the fits
        net = make_net(solver="static", warmup_epochs=1, max_epochs=2, val_holdout=0.0,
                       representation="hidden", hidden_layer="hidden",
                       ratio_estimator=KLIEPRatio())
        net.fit(digits.X_train, digits.y_train, X_val=digits.X_val, y_val=digits.y_val)
        return net

    a, b = weights(), weights()
    np.testing.assert_array_equal(a.sample_weights(), b.sample_weights())
    assert np.std(a.sample_weights()) > 0.01
    assert a.ratio_estimator.random_state is None         # the user's estimator untouched


def test_poly_tailed_checks_shapes_and_values_as_bce_does():
    """(n,) logits with (n, 1) targets once broadcast to an (n, n) loss."""
    z = torch.tensor([0.5, -1.0, 2.0])
    expected = PolyTailedLoss()(z, torch.tensor([1.0, 0.0, 1.0]))
    v = torch.tensor([0.5, 1.0, 2.0])                 # the margins by hand
    head = torch.nn.functional.softplus(-v) / np.log1p(np.exp(-1.0))
    by_hand = torch.where(v <= 1, head, v.clamp_min(1) ** -1.0).mean()
    torch.testing.assert_close(expected, by_hand)
    for target, match in ((torch.ones(3, 1), "same as input size"),
                          (torch.tensor([2.0, 0.0, 1.0]), "0 or 1"),
                          (torch.tensor([0.7, 0.0, 1.0]), "0 or 1")):
        with pytest.raises(ValueError, match=match):
            PolyTailedLoss()(z, target)
    with pytest.raises(ValueError, match="floating-point"):
        PolyTailedLoss()(torch.ones(3, 2, dtype=torch.long), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="n class indices"):
        PolyTailedLoss()(torch.ones(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="soft labels"):
        PolyTailedLoss()(torch.ones(3, 2), torch.tensor([0.5, 1.0, 0.0]))


def test_rgd_tau_is_bounded():
    with pytest.raises(ValueError, match="float32"):
        RGDLoss(tau=1e300)


@pytest.mark.parametrize("criterion", [RGDLoss, PolyTailedLoss])
def test_predict_proba_is_probabilities_with_adiw_losses(digits, criterion):
    from skorch import NeuralNetClassifier
    from adiw.losses import output_probabilities
    from adiw.models import MLP

    net = make_net(criterion=criterion, solver="none", max_epochs=2).fit(
        digits.X_train, digits.y_train)
    p = net.predict_proba(digits.X_test)
    assert p.min() >= 0 and np.allclose(p.sum(1), 1, atol=1e-5)
    logits = net.forward(digits.X_test)
    np.testing.assert_allclose(p, torch.softmax(logits, 1).numpy(), rtol=1e-5)
    plain = NeuralNetClassifier(MLP, criterion=criterion, max_epochs=1, train_split=None,
                                verbose=0, predict_nonlinearity=output_probabilities)
    assert np.allclose(plain.fit(digits.X_train, digits.y_train)
                       .predict_proba(digits.X_test).sum(1), 1, atol=1e-5)


def test_string_criterion_is_named(digits):
    with pytest.raises(TypeError, match="not the string 'cross_entropy'"):
        make_net(criterion="cross_entropy").initialize()


@pytest.mark.parametrize("criterion", [RGDLoss, PolyTailedLoss, torch.nn.CrossEntropyLoss])
def test_a_per_sample_reduction_cannot_train_and_says_why(digits, criterion):
    net = make_net(criterion=criterion, criterion__reduction="none", solver="none",
                   max_epochs=1)
    with pytest.raises(ValueError, match="reduction is 'none'.*'mean'"):
        net.fit(digits.X_train[:64], digits.y_train[:64])
