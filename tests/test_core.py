"""The shared core against independent references."""

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from adiw._core.kernels import (
    StackedSqDists, exp_floor, median_gamma, rbf_from_sq_dists, rbf_kernel, rbf_matvec,
    sq_dist_quantile,
)
from adiw._core.objectives import (
    LogLikelihoodObjective, WassersteinObjective, mmd_objective,
)
from adiw._core.projection import (
    _newton_shift, _project_box_sum_sorted, project_box_sum, project_weights,
)
from adiw._core.solver import fista


def _slsqp_projection(v, upper, lo, hi, b):
    cons = [{"type": "ineq", "fun": lambda w: b @ w - lo, "jac": lambda w: b},
            {"type": "ineq", "fun": lambda w: hi - b @ w, "jac": lambda w: -b}]
    res = minimize(lambda w: 0.5 * np.sum((w - v) ** 2), np.clip(v, 0, upper),
                   jac=lambda w: w - v, bounds=[(0, upper)] * len(v),
                   constraints=cons, method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 500})
    return res.x


@pytest.mark.parametrize("project", [project_box_sum, _project_box_sum_sorted],
                         ids=["cpu-clip-first", "sorted"])
@pytest.mark.parametrize("case", range(12))
def test_projection_matches_slsqp(case, project):
    r = np.random.default_rng(case)
    n = r.integers(2, 30)
    v = r.normal(scale=r.choice([0.1, 1, 5]), size=n) + r.choice([0, 1, 3])
    upper = float(r.choice([0.8, 2.0, 50.0]))
    b = r.uniform(0.2, 2.0, size=n) if case % 3 == 0 else np.ones(n)
    lo = float(r.uniform(0, 0.5) * n * min(upper, 1) * b.mean())
    hi = lo + float(r.uniform(0, 2.0)) * n * b.mean()
    got = project(torch.tensor(v), upper, lo, hi, torch.tensor(b)).numpy()
    ref = _slsqp_projection(v, upper, lo, hi, b)
    assert np.allclose(got, ref, atol=1e-6)
    assert np.all(got >= 0) and np.all(got <= upper + 1e-12)
    assert lo - 1e-9 <= b @ got <= hi + 1e-9


@pytest.mark.parametrize("case", range(20))
def test_weight_projection_newton_path_is_exact(case):
    """b = 1 and a scalar bound: the CPU path takes Newton steps on the shift
    (here forced from t = 0); whenever they settle, the result is the exact
    projection."""
    r = np.random.default_rng(100 + case)
    n = int(r.integers(2, 80))
    v = r.gamma(1.0, 1.0 + 2 * r.random(), size=n) + r.normal(scale=0.3, size=n)
    upper = float(r.choice([1.5, 3.0, 50.0]))
    eps = float(r.choice([0.0, 0.0, 0.1]))
    lo, hi = n * max(1 - eps, 0), n * (1 + eps)
    if n * upper < lo:
        pytest.skip("infeasible draw")
    ref = _slsqp_projection(v, upper, lo, hi, np.ones(n))
    vt = torch.tensor(v)
    w0 = vt.clamp(0, upper)
    s0 = float(w0.sum())
    settled = _newton_shift(vt, upper, w0, s0, hi if s0 > hi else lo)
    if settled is not None:
        assert np.allclose(settled.numpy(), ref, atol=1e-6)
    for project in (project_box_sum, _project_box_sum_sorted):
        got = project(vt, upper, lo, hi).numpy()
        assert np.allclose(got, ref, atol=1e-6)
        assert lo - 1e-9 <= got.sum() <= hi + 1e-9


@pytest.mark.parametrize("project", [project_box_sum, _project_box_sum_sorted])
def test_projection_equality_and_infinite_upper(project):
    r = np.random.default_rng(1)
    v = r.normal(size=20)
    b = r.uniform(0.5, 1.5, size=20)
    got = project(torch.tensor(v), float("inf"), 1.0, 1.0, torch.tensor(b)).numpy()
    ref = _slsqp_projection(v, 1e6, 1.0, 1.0, b)
    assert np.allclose(got, ref, atol=1e-6)
    assert b @ got == pytest.approx(1.0)


def test_project_weights_keeps_feasible_points_and_float32():
    w = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float32)
    assert torch.equal(project_weights(w, 2.0, 0.1), w)
    out = project_weights(torch.tensor([5.0, -1.0, 0.0, 10.0]), 3.0, 0.0)
    assert out.dtype == torch.float32
    assert out.mean().item() == pytest.approx(1.0, abs=1e-6)
    assert out.min() >= 0 and out.max() <= 3.0


def test_rbf_matvec_chunked_equals_dense(rng):
    A = torch.tensor(rng.normal(size=(37, 3)))
    B = torch.tensor(rng.normal(size=(11, 3)))
    v = torch.tensor(rng.normal(size=11))
    ref = np.exp(-0.3 * ((A.numpy()[:, None] - B.numpy()[None]) ** 2).sum(-1)) @ v.numpy()
    assert np.allclose(rbf_matvec(A, B, v, 0.3, chunk=5).numpy(), ref)
    assert np.allclose(rbf_kernel(A, B, 0.3).numpy() @ v.numpy(), ref)


def test_median_gamma_and_degenerate_fallbacks(rng):
    X = rng.normal(size=(200, 2))
    d = ((X[:, None] - X[None]) ** 2).sum(-1)[np.triu_indices(200, 1)]
    assert median_gamma(X) == pytest.approx(1 / (2 * np.median(d)))
    assert median_gamma(np.ones((5, 3))) == 0.5               # all identical
    X2 = np.vstack([np.zeros((8, 1)), np.ones((2, 1))])       # median 0
    assert np.isfinite(median_gamma(X2)) and median_gamma(X2) > 0
    g = StackedSqDists(torch.ones(4, 2), torch.ones(3, 2)).quantile_gamma(0.1)
    assert g.item() == 0.5                                    # all identical


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9])
def test_batch_width_quantile_is_an_order_statistic_of_the_pairs(rng, q):
    Z_tr, Z_te = rng.normal(size=(30, 3)), rng.normal(1.0, 1.0, size=(20, 3))
    Z = np.vstack([Z_tr, Z_te])
    pairs = ((Z[:, None] - Z[None]) ** 2).sum(-1)[np.triu_indices(50, 1)]
    dists = StackedSqDists(torch.tensor(Z_tr), torch.tensor(Z_te))
    ref = np.sort(pairs)[int(q * (len(pairs) - 1))]
    assert sq_dist_quantile(dists.full, q).item() == pytest.approx(ref, rel=1e-9)
    assert dists.quantile_gamma(q).item() == pytest.approx(0.5 / ref, rel=1e-9)
    assert np.allclose(dists.tr_te.numpy(), ((Z_tr[:, None] - Z_te[None]) ** 2).sum(-1))
    # a larger batch is read at a stride: still a quantile of its pairs
    big = sq_dist_quantile(torch.tensor(((Z[:, None] - Z[None]) ** 2).sum(-1)), q, max_rows=10)
    assert pairs.min() <= big.item() <= pairs.max()


def test_kernel_values_below_the_floor_are_exact_zeros():
    D = torch.tensor([[0.0, 1.0, 20.0, 25.0, 1e4]], dtype=torch.float32)
    K = rbf_from_sq_dists(D, 2.0)
    assert K[0, :3].tolist() == pytest.approx(np.exp([0.0, -2.0, -40.0]).tolist(), rel=1e-5,
                                              abs=0)
    assert K[0, 3:].tolist() == [0.0, 0.0]       # below exp(-43.7): zero, never subnormal
    assert exp_floor(torch.float32) < -40 and exp_floor(torch.float64) < -300


def _kmm_reference(K, kappa, B, eps):
    n = len(K)
    cons = [{"type": "ineq", "fun": lambda w: n * (1 + eps) - w.sum()},
            {"type": "ineq", "fun": lambda w: w.sum() - n * (1 - eps)}]
    res = minimize(lambda w: 0.5 * w @ K @ w / n**2 - kappa @ w / n, np.ones(n),
                   jac=lambda w: K @ w / n**2 - kappa / n, bounds=[(0, B)] * n,
                   constraints=cons, method="SLSQP", options={"ftol": 1e-15, "maxiter": 1000})
    return res.x, res.fun


def test_fista_solves_kmm_qp(rng):
    Xtr, Xte = rng.normal(size=(40, 2)), rng.normal(1.0, 1.0, size=(30, 2))
    K = rbf_kernel(torch.tensor(Xtr), torch.tensor(Xtr), 0.5)
    kappa = rbf_kernel(torch.tensor(Xtr), torch.tensor(Xte), 0.5).mean(1)
    obj = mmd_objective(K, kappa)
    res = fista(obj, torch.ones(40, dtype=torch.float64),
                lambda w: project_weights(w, 10.0, 0.1), tol=1e-9, max_iter=20000)
    w_ref, f_ref = _kmm_reference(K.numpy(), kappa.numpy(), 10.0, 0.1)
    assert res.converged
    assert obj.value(res.w).item() <= f_ref + 1e-7
    assert np.allclose(res.w.numpy(), w_ref, atol=2e-2)


def test_fixed_steps_decrease_objective_from_warm_start(rng):
    Xtr, Xte = rng.normal(size=(64, 3)), rng.normal(0.5, 1.0, size=(32, 3))
    K = rbf_kernel(torch.tensor(Xtr), torch.tensor(Xtr), 0.3)
    kappa = rbf_kernel(torch.tensor(Xtr), torch.tensor(Xte), 0.3).mean(1)
    obj = mmd_objective(K, kappa)
    proj = lambda w: project_weights(w, 50.0, 0.2)  # noqa: E731
    w = torch.ones(64, dtype=torch.float64)
    values = [obj.value(w).item()]
    for _ in range(5):
        w = fista(obj, w, proj, n_steps=3).w
        values.append(obj.value(w).item())
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:]))
    assert values[-1] < values[0]


def test_kl_gradient_matches_finite_differences(rng):
    A = torch.tensor(rng.uniform(0.1, 1.0, size=(7, 5)))
    obj = LogLikelihoodObjective(A)
    w = torch.tensor(rng.uniform(0.5, 1.5, size=5), requires_grad=True)
    val, grad = obj.value_and_grad(w.detach())
    val_ag = obj.value(w)
    val_ag.backward()
    assert torch.allclose(grad, w.grad)
    assert torch.allclose(val, val_ag.detach())


def test_wasserstein_value_and_gradient_against_exact_ot(rng):
    import ot

    Ztr = torch.tensor(rng.normal(size=(12, 2)))
    Zte = torch.tensor(rng.normal(size=(9, 2)) + 1.0)
    obj = WassersteinObjective(torch.cdist(Ztr, Zte), reg=0.005, n_iter=3000)
    w = torch.tensor(rng.uniform(0.5, 1.5, size=12))
    val, grad = obj.value_and_grad(w)
    p = (w / w.sum()).numpy()
    exact = ot.emd2(p, np.full(9, 1 / 9), torch.cdist(Ztr, Zte).numpy())
    assert val.item() == pytest.approx(exact, rel=0.05)
    # a small step along -grad lowers the exact W1
    w2 = torch.clamp(w - 0.5 * grad / grad.abs().max(), min=0)
    exact2 = ot.emd2((w2 / w2.sum()).numpy(), np.full(9, 1 / 9), torch.cdist(Ztr, Zte).numpy())
    assert exact2 < exact


@pytest.mark.parametrize("reg", [0.2, 0.05])
def test_wasserstein_value_and_gradient_are_one_function(rng, reg):
    """Finite differences at the deep trainer's default blur (0.2), with
    zero-weight atoms among the weights."""
    Ztr = torch.tensor(rng.normal(size=(15, 2)))
    Zte = torch.tensor(rng.normal(size=(11, 2)) + 0.5)
    M = torch.cdist(Ztr, Zte)
    w = torch.tensor(rng.uniform(0.5, 1.5, size=15))
    w[[2, 7]] = 0.0

    def fresh():
        return WassersteinObjective(M, reg=reg, n_iter=2000, scale=M.median())

    grad = fresh().grad(w)
    for i in (0, 2, 7, 11):
        h = 1e-5
        up, down = w.clone(), w.clone()
        up[i] += h
        down[i] -= h
        fd = (fresh().value(up) - fresh().value(down)) / (2 * h) if w[i] > 0 else \
            (fresh().value(up) - fresh().value(w)) / h
        assert grad[i].item() == pytest.approx(fd.item(), rel=1e-3, abs=1e-5)


def test_wasserstein_stays_finite_when_costs_are_many_blurs_apart():
    # A trained network's losses bunch near 0 with a few far ones: the batch
    # median is tiny and most costs are thousands of blurs (float32
    # scalings overflowed and the weights became NaN at epoch 9).
    z_tr = torch.cat([torch.full((60,), 1e-4), torch.tensor([3.0, 5.0, 8.0, 12.0])])
    z_te = torch.cat([torch.full((60,), 2e-4), torch.tensor([0.5, 9.0, 20.0, 40.0])])
    M = (z_tr[:, None] - z_te[None, :]).abs().float()
    obj = WassersteinObjective(M, reg=0.2, n_iter=20, scale=torch.tensor(1e-4))
    value, grad = obj.value_and_grad(torch.ones(64))
    assert torch.isfinite(value) and torch.all(torch.isfinite(grad))


def test_wasserstein_gradient_ignores_the_potentials_shift(rng):
    Ztr = torch.tensor(rng.normal(size=(10, 2)))
    Zte = torch.tensor(rng.normal(size=(8, 2)) + 3.0)
    w = torch.tensor(rng.uniform(0.5, 1.5, size=10))
    w[:3] = 0.0                                        # zero-weight atoms
    obj = WassersteinObjective(torch.cdist(Ztr, Zte), reg=0.2, n_iter=500)
    g1 = obj.grad(w)
    shifted = WassersteinObjective(torch.cdist(Ztr, Zte), reg=0.2, n_iter=500)
    shifted._g = shifted._g + 12.0                      # g + const as the warm start
    g2 = shifted.grad(w)
    assert torch.all(torch.isfinite(g1))
    assert torch.allclose(g1, g2, rtol=1e-6, atol=1e-9)
    # zero weight or not, the atom farthest from the test sample is pushed
    # down harder than the nearest one
    gap = torch.cdist(Ztr, Zte).min(1).values
    assert g1[gap.argmax()] > g1[gap.argmin()]


def test_nystroem_map_reproduces_the_landmark_kernel(rng):
    from adiw._core.nystroem import nystroem_features, nystroem_map

    C = torch.tensor(rng.normal(size=(30, 2)))
    X = torch.tensor(rng.normal(size=(50, 2)))
    fmap = nystroem_map(C, 0.5)
    Phi_C = nystroem_features(C, C, 0.5, fmap)
    Phi_X = nystroem_features(X, C, 0.5, fmap)
    assert Phi_X.shape[1] == Phi_C.shape[1]          # one feature space for every sample
    assert torch.allclose(Phi_C @ Phi_C.T, rbf_kernel(C, C, 0.5), atol=1e-6)
    assert torch.allclose(Phi_X @ Phi_C.T, rbf_kernel(X, C, 0.5), atol=1e-5)
