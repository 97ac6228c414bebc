"""Ratio estimators off the happy path: truthful solvers, validated and
invariant inputs, sound extensions to new points (issue 9)."""

import time
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.tree import DecisionTreeClassifier

from adiw._core.objectives import QuadraticObjective
from adiw._core.solver import fista
from adiw.datasets import make_gaussian_shift
from adiw.estimators import (
    ClassifierRatio, ImportanceWeightedEstimator, KLIEPRatio, KMMRatio, NearestNeighborRatio,
    RuLSIFRatio, ULSIFRatio, WassersteinRatio,
)
from conftest import gaussian_shift, nmse
from test_estimators import ALL


# ---- solvers tell the truth ------------------------------------------------
class _UphillGradient(QuadraticObjective):
    """A quadratic whose gradient points the wrong way: no step decreases
    it, so the line search halves the step until it no longer moves w."""

    def value_and_grad(self, w):
        value, grad = super().value_and_grad(w)
        return value, -grad

    def grad(self, w):
        return -super().grad(w)


def test_a_step_below_resolution_is_a_stall_not_convergence():
    H = torch.eye(3, dtype=torch.float64)
    h = torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64)
    res = fista(_UphillGradient(H, h), torch.ones(3, dtype=torch.float64), lambda w: w)
    assert res.status == "stalled" and not res.converged and res.n_iter == 1
    good = fista(QuadraticObjective(H, h), torch.zeros(3, dtype=torch.float64), lambda w: w)
    assert good.converged
    np.testing.assert_allclose(good.w.numpy(), [5.0, -2.0, 1.0], atol=1e-5)


def test_kliep_with_unreachable_test_points_solves_for_real():
    # 10 % of the test sample 30 standard deviations away: those kernel
    # centres have no training mass, and the line search used to shrink the
    # step to nothing and report convergence after one iteration.
    r = np.random.default_rng(0)
    X_tr, X_te = r.normal(size=(200, 1)), r.normal(size=(200, 1))
    X_te[:20] += 30
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = KLIEPRatio(gamma=1.0, n_centers=200).fit(X_tr, X_te)
    assert est.n_iter_ > 1
    far = np.abs(est.centers_[:, 0]) > 20
    assert np.all(est.coef_[far] == 0) and np.all(np.isfinite(est.coef_))
    assert est.weights_.mean() == pytest.approx(1.0, abs=1e-6)
    # the weights follow the near part of the shift: flat, as it is
    assert np.std(est.weights_) < 0.5


@pytest.mark.parametrize("make", [lambda: KMMRatio(reg=0.0, max_iter=3),
                                  lambda: KLIEPRatio(gamma=1.0, max_iter=2)])
def test_solves_that_stop_early_warn_and_report_n_iter(make):
    X_tr, X_te, _ = gaussian_shift(200, 2)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        est = make().fit(X_tr, X_te)
    assert est.n_iter_ == est.max_iter


def test_non_finite_hyperparameters_and_data_fail_fast():
    X_tr, X_te, _ = gaussian_shift(200, 2)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="finite number > 0"):
        KLIEPRatio(gamma=[0.1, np.nan]).fit(X_tr, X_te)
    with pytest.raises(ValueError, match="overflow torch.float64"):
        KLIEPRatio().fit(X_tr * 1e200, X_te * 1e200)
    with pytest.raises(ValueError, match="float32.*dtype='float64'"):
        KMMRatio().fit(X_tr * 1e25, X_te * 1e25)
    assert time.perf_counter() - start < 5          # used to spin 110 s and 370 s


def test_data_too_small_for_the_dtype_are_named_and_float64_recovers_the_weights():
    # (1e-25)^2 is below float32's smallest normal: every distance was 0 and
    # KMM's solver failed with "initial step is 0.0"
    X_tr, X_te, _ = gaussian_shift(200, 2)
    with pytest.raises(ValueError, match="underflow torch.float32.*dtype='float64'"):
        KMMRatio().fit(X_tr * 1e-25, X_te * 1e-25)
    # the median-heuristic width follows the scale: the same weights
    small = KMMRatio(dtype="float64").fit(X_tr * 1e-25, X_te * 1e-25).weights_
    np.testing.assert_allclose(small, KMMRatio(dtype="float64").fit(X_tr, X_te).weights_,
                               rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="underflow torch.float64"):
        KLIEPRatio().fit(X_tr * 1e-160, X_te * 1e-160)
    # identical points have no spread at all: uniform weights, no error (up to
    # float32 rounding: the rows of a float32 matrix-vector product may be
    # summed in different orders, 3e-6 apart with AVX-512)
    same = np.ones((30, 2))
    np.testing.assert_allclose(KMMRatio().fit(same, same).weights_, 1.0, rtol=1e-5)
    obj = QuadraticObjective(torch.eye(2, dtype=torch.float64),
                             torch.tensor([np.nan, 1.0], dtype=torch.float64))
    with pytest.raises(FloatingPointError, match="non-finite"):
        fista(obj, torch.ones(2, dtype=torch.float64), lambda w: w)


# ---- inputs: validated, invariant, aligned ---------------------------------
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("offset", [1e3, 1e8])
def test_translation_invariance(name, offset):
    X_tr, X_te, _ = gaussian_shift(300, 2)
    w = ALL[name]().fit(X_tr, X_te).weights_
    w_far = ALL[name]().fit(X_tr + offset, X_te + offset).weights_
    # float32 precision (KMM's default dtype); the others agree to 1e-6
    assert np.linalg.norm(w_far - w) <= 1e-3 * np.linalg.norm(w)


@pytest.mark.parametrize("name", ALL)
def test_negative_strides_and_fit_transform(name):
    X_tr, X_te, _ = gaussian_shift(200, 2)
    est = ALL[name]().fit(X_tr[::-1], X_te[::-1])
    ref = ALL[name]().fit(X_tr[::-1].copy(), X_te[::-1].copy())
    np.testing.assert_allclose(est.weights_, ref.weights_)
    np.testing.assert_allclose(est.transform(X_tr[::-1]), ref.transform(X_tr[::-1].copy()))
    np.testing.assert_allclose(ALL[name]().fit_transform(X_tr, X_te)[:, 0],
                               ALL[name]().fit(X_tr, X_te).weights_)


@pytest.mark.parametrize("make, name", [(KMMRatio, "gamma"), (KLIEPRatio, "gamma"),
                                        (KMMRatio, "reg"), (WassersteinRatio, "reg")])
def test_list_hyperparameters_are_checked_element_by_element(make, name):
    X_tr, X_te, _ = gaussian_shift(100, 2)
    with pytest.raises(ValueError, match=f"candidate in {name}"):
        make(**{name: [0.5, -0.5]}).fit(X_tr, X_te)
    with pytest.raises(ValueError, match=f"{name} is an empty list"):
        make(**{name: []}).fit(X_tr, X_te)
    as_list = make(**{name: [0.1, 0.5]}, random_state=0).fit(X_tr, X_te)
    as_array = make(**{name: np.array([0.1, 0.5])}, random_state=0).fit(X_tr, X_te)
    np.testing.assert_allclose(as_array.weights_, as_list.weights_)


def test_a_domain_column_is_not_taken_as_x_test():
    r = np.random.default_rng(0)
    X = r.normal(size=(100, 1))
    column = (np.arange(100) >= 50).astype(float)[:, None]
    with pytest.raises(ValueError, match="domain column"):
        KMMRatio().fit(X, column)
    # the same vector 1-D is a domain
    KMMRatio().fit(X, column.ravel())


def test_a_test_sample_of_one_binary_feature_reaches_callers_that_hold_two_samples():
    # As long as X_train, it reads like a domain column: fit refuses it and
    # names the pooled call. ImportanceWeightedEstimator and shift_report hold
    # two samples by construction, so they fit it, as the pooled call does.
    from sklearn.linear_model import LogisticRegression

    from adiw.diagnostics import shift_report

    r = np.random.default_rng(0)
    X_tr = (r.random((300, 1)) < 0.3).astype(float)
    X_te = (r.random((300, 1)) < 0.7).astype(float)
    with pytest.raises(ValueError, match=r"pool the two samples"):
        ULSIFRatio(random_state=0).fit(X_tr, X_te)
    pooled = ULSIFRatio(random_state=0).fit(np.vstack([X_tr, X_te]), np.r_[np.zeros(300),
                                                                           np.ones(300)])
    iw = ImportanceWeightedEstimator(ULSIFRatio(random_state=0), LogisticRegression(),
                                     weight_power=1.0)
    iw.fit(X_tr, (X_tr[:, 0] > 0).astype(int), X_test=X_te)
    np.testing.assert_allclose(iw.weights_, pooled.weights_)
    # the true ratio is 0.7 / 0.3 at 1 and 0.3 / 0.7 at 0
    assert iw.weights_[X_tr[:, 0] == 1].mean() > 1 > iw.weights_[X_tr[:, 0] == 0].mean()
    assert shift_report(X_tr, X_te, random_state=0).verdict != "no shift"


def test_dataframe_columns_must_match():
    pd = pytest.importorskip("pandas")
    X_tr, X_te, _ = gaussian_shift(100, 2)
    tr = pd.DataFrame(X_tr, columns=["a", "b"])
    KMMRatio().fit(tr, pd.DataFrame(X_te, columns=["a", "b"]))
    with pytest.raises(ValueError, match="columns differ"):
        KMMRatio().fit(tr, pd.DataFrame(X_te[:, ::-1], columns=["b", "a"]))
    with pytest.raises(ValueError, match="columns differ"):
        KMMRatio().fit(tr, pd.DataFrame(X_te, columns=["a", "c"]))


def test_wasserstein_checks_feasibility():
    X_tr, X_te, _ = gaussian_shift(100, 2)
    with pytest.raises(ValueError, match="caps every weight"):
        WassersteinRatio(B=0.3).fit(X_tr, X_te)
    with pytest.raises(ValueError, match="no weight vector"):
        WassersteinRatio(B=0.5, eps=0.1).fit(X_tr, X_te)


def test_rulsif_respects_its_bound():
    r = np.random.default_rng(0)
    X_tr, X_te = r.normal(size=(300, 1)), r.normal(4, 0.3, size=(300, 1))
    est = RuLSIFRatio(alpha=0.5, gamma=2.0, reg=1e-3, random_state=0).fit(X_tr, X_te)
    raw = est._design(X_te) @ torch.as_tensor(est.coef_)
    assert float(raw.max()) > 2.0                   # the linear model overshoots ...
    assert est.predict_weights(X_te).max() <= 2.0   # ... the relative ratio does not


def test_overfitting_classifier_gives_out_of_fold_weights():
    X_tr, X_te, w = gaussian_shift(500, 2)
    with pytest.warns(UserWarning, match="too sure of the domain"):
        est = ClassifierRatio(DecisionTreeClassifier(random_state=0)).fit(X_tr, X_te)
    # in-sample, every training point was certain: every weight was 1e-12
    assert np.mean(est.weights_ > 1e-6) > 0.3
    assert np.corrcoef(est.weights_ > 1, w > 1)[0, 1] > 0.2


# ---- weights at new points ---------------------------------------------------
@pytest.mark.parametrize("name", ["kmm", "kliep", "ulsif", "wasserstein", "classifier", "knn"])
def test_weights_at_fresh_points_are_as_good_as_in_sample(name):
    X_tr, X_te, w = make_gaussian_shift(1000, 1000, 2, random_state=0)
    X_new, _, w_new = make_gaussian_shift(1000, 1, 2, random_state=1)
    est = ALL[name]().fit(X_tr, X_te)
    inside, fresh = nmse(est.weights_, w), nmse(est.predict_weights(X_new), w_new)
    # W1 was 33 (largest weight 497) against 0.07; KMM 0.73 against 0.11
    assert fresh <= 2 * inside + 0.02
    assert est.predict_weights(X_new).max() < 20


def test_nearest_neighbors_beats_loog_counts_at_d8():
    # Loog's nearest-neighbour weighting (adapt's NearestNeighborsWeighting):
    # each training point counts the test points with it among their 5 nearest
    # training points.
    from sklearn.neighbors import NearestNeighbors

    X_tr, X_te, w = make_gaussian_shift(1000, 1000, 8, random_state=0)
    idx = NearestNeighbors(n_neighbors=5).fit(X_tr).kneighbors(X_te, return_distance=False)
    loog = np.bincount(idx.ravel(), minlength=1000) + 1e-12
    ours = NearestNeighborRatio().fit(X_tr, X_te).weights_
    assert nmse(ours, w) < nmse(loog, w)
