"""Ratio estimators against known density ratios and brute-force references."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from adiw._core.kernels import rbf_kernel
from adiw.datasets import make_gaussian_shift
from adiw.estimators import (
    ClassifierRatio, KLIEPRatio, KMMRatio, NearestNeighborRatio, RuLSIFRatio,
    ULSIFRatio, WassersteinRatio,
)
from adiw.estimators._lsif_loo import lsif_loo_score
from conftest import gaussian_shift, nmse

ALL = {
    "kmm": lambda: KMMRatio(),
    "kliep": lambda: KLIEPRatio(random_state=0),
    "ulsif": lambda: ULSIFRatio(random_state=0),
    "rulsif": lambda: RuLSIFRatio(random_state=0),
    "wasserstein": lambda: WassersteinRatio(random_state=0),
    "wasserstein_max_sliced": lambda: WassersteinRatio(projection="max-sliced", random_state=0),
    "wasserstein_input_space": lambda: WassersteinRatio(projection=None, random_state=0),
    "classifier": lambda: ClassifierRatio(),
    "knn": lambda: NearestNeighborRatio(),
}

# NMSE of the default weights on N(0, I) vs N(e_1, I), n = 1000 per side.
# Bounds sit a margin above what each method measures (docs/benchmarks.md);
# uniform weights score exactly 1.
NMSE_BOUND = {
    2: {"kmm": 0.15, "kliep": 0.2, "ulsif": 0.2, "rulsif": 0.25,
        "wasserstein": 0.25, "wasserstein_max_sliced": 0.25, "wasserstein_input_space": 0.25,
        "classifier": 0.05,
        "knn": 0.4},
    10: {"kmm": 0.45, "kliep": 0.7, "ulsif": 0.5, "rulsif": 0.55,
         "wasserstein": 0.3, "wasserstein_max_sliced": 0.3,
         # transport in the input space: noise from the nine unshifted
         # coordinates (the reason the default projects)
         "wasserstein_input_space": 0.99, "classifier": 0.1,
         "knn": 0.65},
}


@pytest.fixture(scope="module", params=[2, 10])
def shift(request):
    return request.param, gaussian_shift(1000, request.param)


@pytest.mark.parametrize("name", ALL)
def test_default_weights_recover_the_true_ratio(name, shift):
    d, (X_tr, X_te, w) = shift
    est = ALL[name]().fit(X_tr, X_te)
    target = w
    if name == "rulsif":      # it estimates the alpha-relative ratio
        a = est.alpha
        target = w / (a * w + 1 - a)
    assert nmse(est.weights_, target) < NMSE_BOUND[d][name]
    assert np.all(np.isfinite(est.weights_)) and np.all(est.weights_ >= 0)
    w_new = est.predict_weights(X_te[:50])
    assert w_new.shape == (50,) and np.all(np.isfinite(w_new)) and np.all(w_new >= 0)
    assert est.transform(X_tr[:5]).shape == (5, 1)


def test_classic_kmm_overfits_and_ridge_fixes_it():
    X_tr, X_te, w = gaussian_shift(400, 2)
    # classic KMM solved to convergence (float64; it needs tens of
    # thousands of steps, and says so below that) is worse than uniform
    X_tr, X_te, w = X_tr[:300], X_te[:300], w[:300]
    with pytest.warns(ConvergenceWarning, match="max_iter=2000"):
        KMMRatio(reg=0.0, dtype="float64", max_iter=2000).fit(X_tr, X_te)
    classic = KMMRatio(reg=0.0, dtype="float64", max_iter=100_000).fit(X_tr, X_te)
    assert classic.n_iter_ < 100_000
    assert nmse(classic.weights_, w) > 1.0
    kmm = KMMRatio().fit(X_tr, X_te)
    assert nmse(kmm.weights_, w) < 0.15
    assert 0 <= kmm.weights_.min() and kmm.weights_.max() <= kmm.B
    assert abs(kmm.weights_.mean() - 1) <= kmm.eps_ + 1e-9


def test_kmm_nystroem_is_close_to_exact():
    X_tr, X_te, w = gaussian_shift(1000, 2)
    exact = KMMRatio(n_components=None).fit(X_tr, X_te).weights_
    approx = KMMRatio(n_components=200, random_state=0).fit(X_tr, X_te).weights_
    assert nmse(approx, w) < 0.15
    assert np.corrcoef(exact, approx)[0, 1] > 0.95


def _brute_force_loo(Phi_tr, Phi_te, reg, alpha):
    n, m, b = Phi_tr.shape[0], Phi_te.shape[0], Phi_tr.shape[1]
    total = 0.0
    for i in range(min(n, m)):
        tr = np.delete(Phi_tr, i, 0)
        te = np.delete(Phi_te, i, 0)
        H = (1 - alpha) * tr.T @ tr / (n - 1) + alpha * te.T @ te / (m - 1)
        beta = np.linalg.solve(H + reg * np.eye(b), te.mean(0))
        r_tr = max(Phi_tr[i] @ beta, 0.0)
        r_te = max(Phi_te[i] @ beta, 0.0)
        total += (1 - alpha) / 2 * r_tr**2 + alpha / 2 * r_te**2 - r_te
    return total / min(n, m)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("reg", [1e-3, 0.1])
def test_lsif_loo_equals_brute_force(alpha, reg, rng):
    X_tr, X_te = rng.normal(size=(40, 2)), rng.normal(0.7, 1, size=(33, 2))
    C = torch.tensor(X_te[:8])
    Phi_tr = rbf_kernel(torch.tensor(X_tr), C, 0.5)
    Phi_te = rbf_kernel(torch.tensor(X_te), C, 0.5)
    fast = lsif_loo_score(Phi_tr, Phi_te, reg, alpha)
    assert fast == pytest.approx(_brute_force_loo(Phi_tr.numpy(), Phi_te.numpy(), reg, alpha),
                                 abs=1e-8)


def test_ulsif_selects_the_loo_minimiser():
    X_tr, X_te, _ = gaussian_shift(300, 2)
    est = ULSIFRatio(random_state=0).fit(X_tr, X_te)
    i, j = np.unravel_index(np.argmin(est.loo_scores_), est.loo_scores_.shape)
    assert est.reg_ == (1e-3, 1e-2, 1e-1, 1.0)[j]
    assert len(np.unique(np.round(est.loo_scores_, 6))) > 1


# None is GridSearchCV's default, an unshuffled KFold: on a sorted sample
# most held-out folds hold one domain (they used to score NaN).
@pytest.mark.parametrize("cv", [StratifiedKFold(5, shuffle=True, random_state=0), None],
                         ids=["stratified", "default"])
def test_grid_search_picks_a_width_near_the_best(cv):
    X_tr, X_te, w = gaussian_shift(500, 2, seed=3)
    X = np.vstack([X_tr, X_te])
    domain = np.r_[np.zeros(500), np.ones(500)]
    grid = [0.01, 0.1, 1.0, 3.0]
    errors = [nmse(KLIEPRatio(gamma=g, random_state=0).fit(X_tr, X_te).weights_, w)
              for g in grid]
    search = GridSearchCV(KLIEPRatio(random_state=0), {"gamma": grid}, cv=cv)
    search.fit(X, domain)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.ptp(scores) > 1e-3   # not constant
    chosen = grid.index(search.best_params_["gamma"])
    assert errors[chosen] <= 1.5 * min(errors)
    assert errors[chosen] < np.max(errors)
    assert np.all(np.isfinite(cross_val_score(KLIEPRatio(random_state=0), X, domain, cv=cv)))


@pytest.mark.parametrize("name", ALL)
def test_one_domain_folds_score_finitely_and_add_up(name):
    X_tr, X_te, _ = gaussian_shift(100, 2)
    X = np.vstack([X_tr, X_te])
    domain = np.r_[np.zeros(100), np.ones(100)]
    est = ALL[name]().fit(X, domain)
    s_tr, s_te = est.score(X[:100], domain[:100]), est.score(X[100:], domain[100:])
    assert np.isfinite(s_tr) and np.isfinite(s_te)
    # two one-domain halves average to the score of the whole, as the folds
    # of an unshuffled KFold on sorted domains do
    assert (s_tr + s_te) / 2 == pytest.approx(est.score(X, domain), rel=1e-9, abs=1e-12)
    # ... and to the two-sample form of the same criterion
    assert est.score(X, domain) == pytest.approx(est.score(X_tr, X_te), rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="StratifiedKFold"):
        for train, _ in KFold(2).split(X):
            clone(est).fit(X[train], domain[train])


@pytest.mark.parametrize("name", ALL)
def test_pipeline_clone_pickle(name):
    X_tr, X_te, _ = gaussian_shift(200, 3)
    X = np.vstack([X_tr, X_te])
    domain = np.r_[np.zeros(200), np.ones(200)]
    pipe = make_pipeline(StandardScaler(), ALL[name]()).fit(X, domain)
    w = pipe.transform(X_tr)
    assert w.shape == (200, 1) and np.all(w >= 0)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(restored.transform(X_tr), w)
    again = clone(pipe).fit(X, domain)
    np.testing.assert_allclose(again.transform(X_tr), w, rtol=1e-6, atol=1e-9)


def test_two_call_forms_agree():
    X_tr, X_te, _ = gaussian_shift(200, 2)
    a = KLIEPRatio(random_state=0).fit(X_tr, X_te)
    b = KLIEPRatio(random_state=0).fit(np.vstack([X_tr, X_te]), np.r_[np.zeros(200), np.ones(200)])
    np.testing.assert_allclose(a.weights_, b.weights_)


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_named(name):
    X_tr, X_te, _ = gaussian_shift(50, 2)
    est = ALL[name]()
    bad = X_tr.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(bad, X_te)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        est.fit(X_tr, bad)
    with pytest.raises(ValueError, match="features"):
        est.fit(X_tr, X_te[:, :1])
    with pytest.raises(ValueError, match="minimum of 2"):
        est.fit(X_tr, X_te[:1])
    with pytest.raises(ValueError, match=r"0 point\(s\) of the test \(1\) domain"):
        est.fit(np.vstack([X_tr, X_te]), np.zeros(100))
    with pytest.raises(ValueError, match="needs a test sample"):
        est.fit(X_tr)
    with pytest.raises(TypeError, match="[Ss]parse"):
        est.fit(sp.csr_matrix(X_tr), X_te)
    with pytest.raises(ValueError):
        est.fit(np.array([["a", "b"]] * 10), X_te)
    with pytest.raises(Exception, match="not fitted"):
        ALL[name]().predict_weights(X_tr)
    fitted = ALL[name]().fit(X_tr, X_te)
    with pytest.raises(ValueError, match="features"):
        fitted.predict_weights(X_tr[:, :1])


@pytest.mark.parametrize("name", ALL)
def test_identical_points_give_finite_uniformish_weights(name):
    X = np.ones((30, 2))
    w = ALL[name]().fit(X, X + 0.0).weights_
    assert np.all(np.isfinite(w)) and np.all(w >= 0)
    assert np.allclose(w, w[0])


def test_classifier_ratio_removes_the_sample_size_prior():
    X_tr, X_te, w = gaussian_shift(2000, 1)
    few_test = ClassifierRatio().fit(X_tr, X_te[:400])
    assert few_test.prior_ratio_ == pytest.approx(0.2)
    assert nmse(few_test.weights_, w) < 0.05
    assert abs(few_test.weights_.mean() - 1) < 0.15      # not 0.2-scaled
    cal = ClassifierRatio(calibration="sigmoid", clip=5.0).fit(X_tr, X_te)
    assert cal.weights_.max() <= 5.0


def test_nearest_neighbors_matches_brute_force_counts():
    r = np.random.default_rng(0)
    X_tr, X_te = r.normal(size=(60, 2)), r.normal(0.5, 1, size=(40, 2))
    X_new = r.normal(size=(15, 2))
    k = 7
    est = NearestNeighborRatio(n_neighbors=k).fit(X_tr, X_te)

    def brute(x, own):
        d_tr = np.linalg.norm(X_tr - x, axis=1)
        radius = np.sort(d_tr)[k - 1 + own]          # k-th other training point
        c_tr = np.sum(d_tr <= radius) - own
        c_te = np.sum(np.linalg.norm(X_te - x, axis=1) <= radius)
        return 60 / 40 * c_te / c_tr

    np.testing.assert_allclose(est.weights_, [brute(x, 1) for x in X_tr])
    np.testing.assert_allclose(est.predict_weights(X_new), [brute(x, 0) for x in X_new])


def test_nearest_neighbors_auto_k_is_the_leave_one_out_domain_likelihood_maximum():
    r = np.random.default_rng(3)
    X_tr, X_te = r.normal(size=(80, 3)), r.normal(0.7, 1, size=(50, 3))
    est = NearestNeighborRatio().fit(X_tr, X_te)
    n, m = len(X_tr), len(X_te)
    share_te = m / (n + m)

    def p_test(x, k, own_tr, own_te):     # the ratio at x from the other points
        d_tr = np.linalg.norm(X_tr - x, axis=1)
        radius = np.sort(d_tr)[k - 1 + own_tr]
        c_tr = np.sum(d_tr <= radius) - own_tr
        c_te = np.sum(np.linalg.norm(X_te - x, axis=1) <= radius) - own_te
        w = n / m * c_te / c_tr
        return np.clip(m / n * w / (m / n * w + 1), 1e-15, 1 - 1e-15)

    scores = [(1 - share_te) * np.mean([np.log1p(-p_test(x, k, 1, 0)) for x in X_tr])
              + share_te * np.mean([np.log(p_test(x, k, 0, 1)) for x in X_te])
              for k in est.n_neighbors_grid_]
    np.testing.assert_allclose(est.loo_scores_, scores)
    assert est.n_neighbors_ == est.n_neighbors_grid_[np.argmax(scores)]
    assert len(est.n_neighbors_grid_) > 3 and 1 < est.n_neighbors_ < 79   # a real choice
    fixed = NearestNeighborRatio(n_neighbors=est.n_neighbors_).fit(X_tr, X_te)
    np.testing.assert_allclose(est.weights_, fixed.weights_)


@pytest.mark.parametrize("n, m", [(1000, 1000), (1000, 10), (10, 1000)])
def test_nearest_neighbors_mean_is_one_without_shift(n, m):
    r = np.random.default_rng(1)
    means = []
    for _ in range(20):
        X_tr, X_te = r.normal(size=(n, 2)), r.normal(size=(m, 2))
        means.append(NearestNeighborRatio().fit(X_tr, X_te).weights_.mean())
    # the old count ratio gave 26 for (1000, 10) and 0.0004 for (10, 1000)
    assert np.mean(means) == pytest.approx(1.0, abs=0.25)


def test_nearest_neighbors_with_ties():
    r = np.random.default_rng(2)
    X_tr = r.integers(0, 5, size=(1000, 1)).astype(float)
    X_te = r.integers(0, 5, size=(1000, 1)).astype(float)
    w = NearestNeighborRatio().fit(X_tr, X_te).weights_
    assert w.mean() == pytest.approx(1.0, abs=0.05)
    # within one value every training point sees the same ball
    for v in range(5):
        assert np.ptp(w[X_tr[:, 0] == v]) < 1e-12
    # ~70 copies per value: runs of ties longer than the window searched
    # past the k-th neighbour, counted in full (brute force as above)
    X_tr, X_te = r.integers(0, 3, size=(200, 1)) * 1.0, r.integers(0, 3, size=(90, 1)) * 1.0
    for k in (1, 5, 150):
        d = np.abs(X_tr - X_tr.T)
        radius = np.sort(d, axis=1)[:, k]
        c_tr = (d <= radius[:, None]).sum(1) - 1
        c_te = (np.abs(X_tr - X_te.T) <= radius[:, None]).sum(1)
        np.testing.assert_allclose(NearestNeighborRatio(n_neighbors=k).fit(X_tr, X_te).weights_,
                                   200 / 90 * c_te / c_tr)


def test_random_state_and_float32():
    X_tr, X_te, w = gaussian_shift(400, 2)
    a = KLIEPRatio(random_state=1, n_centers=50).fit(X_tr, X_te).weights_
    b = KLIEPRatio(random_state=1, n_centers=50).fit(X_tr, X_te).weights_
    np.testing.assert_array_equal(a, b)
    w32 = KMMRatio(dtype="float32").fit(X_tr, X_te).weights_
    w64 = KMMRatio(dtype="float64").fit(X_tr, X_te).weights_
    assert np.corrcoef(w32, w64)[0, 1] > 0.99


def test_kmm_rejects_infeasible_bounds():
    X_tr, X_te, _ = gaussian_shift(50, 2)
    with pytest.raises(ValueError, match="no weight vector"):
        KMMRatio(B=0.5, eps=0.1).fit(X_tr, X_te)


def test_max_sliced_direction_is_the_shift_direction():
    from adiw.estimators._slicing import max_sliced_direction

    X_tr, X_te, _ = gaussian_shift(1000, 10)
    theta = max_sliced_direction(X_tr, X_te)
    assert np.linalg.norm(theta) == pytest.approx(1.0)
    assert abs(theta[0]) > 0.95                      # the shift is along e_1
    # rotated data: the direction rotates with it
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 10)))
    assert abs(max_sliced_direction(X_tr @ Q, X_te @ Q) @ (Q.T @ np.eye(10)[0])) > 0.95
    est = WassersteinRatio(projection="max-sliced").fit(X_tr, X_te)
    assert est.directions_.shape == (10, 1)
    assert np.allclose(est.directions_[:, 0], theta)
    # weights depend on the projection only
    x = np.zeros((2, 10)); x[1, 1:] = 3.0
    w = est.predict_weights(x)
    assert w[0] == pytest.approx(w[1], rel=0.05)
    assert WassersteinRatio(projection=None).fit(X_tr, X_te).directions_ is None


def test_wasserstein_auto_projection_takes_the_space_that_scores_better():
    # A mean shift in 10 dimensions: one direction carries it.
    X_tr, X_te, _ = gaussian_shift(1000, 10)
    est = WassersteinRatio(random_state=0).fit(X_tr, X_te)
    assert est.projection_ == "subspace" and est.directions_.shape == (10, 1)
    # A scale change of two of five coordinates: the input space is more
    # accurate there (benchmarks page), and the held-out score sees it.
    scale = np.ones(5)
    scale[[1, 3]] = 0.6
    X_tr, X_te, w = make_gaussian_shift(1000, 1000, 5, shift=0.0, scale=scale, random_state=0)
    est = WassersteinRatio(random_state=0).fit(X_tr, X_te)
    sub = WassersteinRatio(projection="subspace", random_state=0).fit(X_tr, X_te)
    assert est.projection_ is None and est.directions_ is None
    # measured 0.29 against 0.49
    assert nmse(est.weights_, w) < 0.8 * nmse(sub.weights_, w)
    assert len(est.cv_scores_) == len(est.cv_candidates_) == 5


def test_wasserstein_without_enough_points_for_folds_says_what_it_took():
    rng = np.random.default_rng(0)
    X_tr, X_te = rng.normal(size=(40, 2)), rng.normal(1.0, 1.0, size=(2, 2))
    with pytest.warns(UserWarning, match="2 points .* too few for cv=3 folds.*'subspace'"):
        est = WassersteinRatio(random_state=0).fit(X_tr, X_te)
    assert est.projection_ == "subspace" and est.reg_ == 0.1 and est.cv_scores_ is None
    assert np.all(np.isfinite(est.weights_)) and np.all(est.weights_ >= 0)
    # one candidate: nothing to choose, nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WassersteinRatio(projection="subspace", random_state=0).fit(X_tr, X_te)


def test_wasserstein_fold_scores_equal_a_clone_per_candidate():
    """The shared-distance folds give what fitting a clone per candidate on
    each fold and calling ``score`` gives (the generic route)."""
    from adiw.estimators._slicing import sliced_subspace

    rng = np.random.default_rng(3)
    X_tr, X_te = rng.normal(size=(120, 3)), rng.normal(0.7, 1.0, size=(90, 3))
    est = WassersteinRatio(reg=[0.05, 0.3], random_state=0).fit(X_tr, X_te)
    X = np.vstack([X_tr, X_te])
    domain = np.r_[np.zeros(120), np.ones(90)]
    center = X.mean(0)
    subspace = sliced_subspace(X_tr - center, X_te - center, random_state=0)
    expected = []
    for cand in est.cv_candidates_:
        view = subspace if cand["projection"] else np.eye(3)
        folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, domain)
        one = WassersteinRatio(projection=None, reg=cand["reg"])
        expected.append(np.mean([clone(one).fit(X[a] @ view, domain[a]).score(X[b] @ view, domain[b])
                                 for a, b in folds]))
    assert [c["projection"] for c in est.cv_candidates_] == ["subspace"] * 2 + [None] * 2
    np.testing.assert_allclose(est.cv_scores_, expected, rtol=1e-9)


@pytest.mark.parametrize("shifted, expected", [([1, 3], 2), (list(range(5)), 5)])
def test_subspace_keeps_the_shifted_directions(shifted, expected):
    from adiw.estimators._slicing import sliced_subspace

    scale = np.ones(5)
    scale[shifted] = 0.6
    X_tr, X_te, w = make_gaussian_shift(1000, 1000, 5, shift=0.0, scale=scale, random_state=0)
    U = sliced_subspace(X_tr, X_te, random_state=0)
    assert U.shape == (5, expected)
    assert np.allclose(U.T @ U, np.eye(expected))
    # the kept directions span the shifted coordinates: cosines of the
    # principal angles between the two subspaces near 1 (measured 0.84-0.96
    # over five draws for the two-coordinate case)
    assert np.linalg.svd(U[shifted][:, :2], compute_uv=False).min() > 0.8
    # all five kept: transport in the input space, rotated, gives the same weights
    est = WassersteinRatio(random_state=0).fit(X_tr, X_te)
    if expected == 5:
        full = WassersteinRatio(projection=None, random_state=0).fit(X_tr, X_te)
        assert np.allclose(est.weights_, full.weights_)
    # measured 0.50 (two coordinates; 0.42-0.62 over five draws, where the
    # input space gives 0.23-0.30) and 0.08 (all five)
    assert nmse(est.weights_, w) < 0.7


def test_subspace_of_a_mean_shift_is_one_direction():
    from adiw.estimators._slicing import sliced_subspace

    X_tr, X_te, _ = gaussian_shift(1000, 10)
    U = sliced_subspace(X_tr, X_te, random_state=0)
    assert U.shape == (10, 1) and abs(U[0, 0]) > 0.95




def test_gaussian_shift_ratio_is_the_density_ratio():
    from scipy.stats import multivariate_normal

    mu, s = np.array([0.5, 0.0, -1.0]), np.array([1.0, 0.6, 2.0])
    X_tr, X_te, w = make_gaussian_shift(200, 300, 3, shift=mu, scale=s, random_state=0)
    p_te = multivariate_normal(mu, np.diag(s**2)).pdf(X_tr)
    p_tr = multivariate_normal(np.zeros(3), np.eye(3)).pdf(X_tr)
    assert np.allclose(w, p_te / p_tr)
    assert np.allclose(X_te.mean(0), mu, atol=0.3) and np.allclose(X_te.std(0), s, rtol=0.15)
    # a float shift moves the first coordinate only
    _, _, w1 = make_gaussian_shift(50, 5, 2, shift=1.0, random_state=0)
    X1, _, _ = make_gaussian_shift(50, 5, 2, shift=1.0, random_state=0)
    assert np.allclose(w1, np.exp(X1[:, 0] - 0.5))


def test_classifier_default_keeps_rare_features_from_taking_all_the_weight():
    # optdigits against itself: border pixels are almost always 0. Divided by
    # their spread they reached hundreds of units at the few non-zero rows,
    # whose out-of-fold weights then reached 1e12.
    from sklearn.datasets import load_digits

    X = load_digits().data / 16.0
    perm = np.random.default_rng(0).permutation(len(X))
    w = ClassifierRatio().fit(X[perm[:898]], X[perm[898:]]).weights_
    assert w.max() < 50
    assert w.sum() ** 2 / (len(w) * np.sum(w ** 2)) > 0.5        # Kish's ESS / n
