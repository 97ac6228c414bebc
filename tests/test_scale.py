"""The large-n code paths, run at small n against dense references.

The sizes where these paths switch on (N * b > 2e6 for LSIF, n > 8000 for the
KMM extension, m > 1e5 for KLIEP's CV, 5e6 rows for the incremental
classifier) are lowered here so that each path is checked against a direct
computation; benchmarks/bench_scale.py runs them at n = 1e6.
"""

import numpy as np
import pytest
import torch
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import adiw.estimators.classifier as classifier_module
import adiw.estimators.kliep as kliep_module
import adiw.estimators.kmm as kmm_module
import adiw.estimators.lsif as lsif_module
from adiw._core.kernels import rbf_kernel
from adiw._core.nystroem import nystroem_features, nystroem_map, nystroem_mean
from adiw.estimators import (
    ClassifierRatio, IncrementalLogisticRegression, KLIEPRatio, KMMRatio, RuLSIFRatio,
    ULSIFRatio,
)
from adiw.estimators._lsif_kfold import fold_sums, kfold_scores

from conftest import gaussian_shift, nmse


def _dense_kfold(Phi_tr, Phi_te, f_tr, f_te, reg, alpha, K):
    """Brute-force K-fold LSIF criterion: refit on the other folds' rows."""
    crit = []
    for k in range(K):
        A, B = Phi_tr[f_tr != k], Phi_te[f_te != k]
        H = (1 - alpha) * A.T @ A / len(A) + alpha * B.T @ B / len(B) + reg * np.eye(A.shape[1])
        beta = np.linalg.solve(H, B.mean(0))
        r_tr = np.maximum(Phi_tr[f_tr == k] @ beta, 0)
        r_te = np.maximum(Phi_te[f_te == k] @ beta, 0)
        crit.append((1 - alpha) / 2 * np.mean(r_tr**2) + alpha / 2 * np.mean(r_te**2)
                    - np.mean(r_te))
    return np.mean(crit)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_kfold_scores_from_fold_sums_equal_brute_force(alpha, rng):
    X_tr, X_te, _ = gaussian_shift(300, 2)
    C = torch.as_tensor(X_te[:20])
    Xtr, Xte = torch.as_tensor(X_tr), torch.as_tensor(X_te)
    K, g, regs = 4, 0.5, [1e-3, 0.1]
    f_tr, f_te = torch.as_tensor(rng.permutation(300) % K), torch.as_tensor(rng.permutation(300) % K)
    sums_tr = fold_sums(Xtr, C, g, f_tr, K, chunk=37)
    sums_te = fold_sums(Xte, C, g, f_te, K, chunk=37)
    got = kfold_scores(Xtr, Xte, C, g, f_tr, f_te, sums_tr, sums_te, regs, alpha, chunk=41)
    Phi_tr, Phi_te = rbf_kernel(Xtr, C, g).numpy(), rbf_kernel(Xte, C, g).numpy()
    want = [_dense_kfold(Phi_tr, Phi_te, f_tr.numpy(), f_te.numpy(), r, alpha, K) for r in regs]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("cls", [ULSIFRatio, RuLSIFRatio])
def test_lsif_from_fold_sums_matches_the_dense_fit(cls, monkeypatch):
    X_tr, X_te, _ = gaussian_shift(3000, 2)
    dense = cls(gamma=0.3, reg=0.01, random_state=0).fit(X_tr, X_te)
    loo = cls(random_state=0).fit(X_tr, X_te)
    monkeypatch.setattr(lsif_module, "LOO_MAX_ELEMENTS", 0)
    chunked = cls(gamma=0.3, reg=0.01, random_state=0).fit(X_tr, X_te)
    assert dense.selection_ == "loo" and chunked.selection_ == "kfold"
    np.testing.assert_allclose(chunked.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
    kfold = cls(random_state=0).fit(X_tr, X_te)           # the default grid, by K-fold
    assert kfold.loo_scores_.shape == (5, 4) and np.isfinite(kfold.loo_scores_).all()
    # the two criteria pick neighbouring widths (factors of 2 apart) and one ridge
    assert 0.49 < kfold.gamma_ / loo.gamma_ < 2.01 and kfold.reg_ == loo.reg_


def test_chunked_nystroem_features_equal_the_direct_product(rng):
    X, L = torch.as_tensor(rng.normal(size=(500, 3))), torch.as_tensor(rng.normal(size=(40, 3)))
    fmap = nystroem_map(L, 0.7)
    direct = rbf_kernel(X, L, 0.7) @ fmap
    np.testing.assert_allclose(nystroem_features(X, L, 0.7, fmap, chunk=64), direct, rtol=1e-12)
    np.testing.assert_allclose(nystroem_mean(X, L, 0.7, fmap, chunk=64), direct.mean(0),
                               rtol=1e-10)


def test_kmm_extension_above_the_exact_size_smooths_from_its_subsample(monkeypatch, rng):
    monkeypatch.setattr(kmm_module, "EXACT_KMM_MAX_N", 100)
    monkeypatch.setattr(kmm_module, "EXTENSION_POINTS", 80)
    X_tr, X_te, w = gaussian_shift(400, 2)
    kmm = KMMRatio(random_state=0, dtype="float64").fit(X_tr, X_te)
    assert kmm.X_train_.shape == (80, 2)
    assert np.all(np.isin(kmm.extension_weights_, kmm.weights_))
    Q = rng.normal(size=(7, 2))
    # Nadaraya-Watson over the 80 points, by hand
    d = ((Q[:, None, :] - kmm.X_train_[None]) ** 2).sum(-1)
    want = softmax(-kmm.smoothing_gamma_ * d, axis=1) @ kmm.extension_weights_
    np.testing.assert_allclose(kmm.predict_weights(Q), want, rtol=1e-8)
    assert nmse(kmm.predict_weights(X_tr + 1e-9), w) < 0.5


def test_kliep_compares_widths_on_a_subsample_holding_every_centre(monkeypatch):
    X_tr, X_te, w = gaussian_shift(400, 2)
    full = KLIEPRatio(n_centers=30, random_state=0).fit(X_tr, X_te)
    monkeypatch.setattr(kliep_module, "CV_MAX_TEST", 200)
    calls = []
    original = KLIEPRatio._cross_validate

    def spy(self, Xtr, Xte, C, is_center, *args):
        calls.append((Xte.shape[0], int(is_center.sum())))
        return original(self, Xtr, Xte, C, is_center, *args)

    monkeypatch.setattr(KLIEPRatio, "_cross_validate", spy)
    sub = KLIEPRatio(n_centers=30, random_state=0).fit(X_tr, X_te)
    assert calls == [(200, 30)]
    assert sub.weights_.shape == (400,) and nmse(sub.weights_, w) < 2 * nmse(full.weights_, w) + 0.05


def test_train_mass_in_chunks_equals_the_dense_mean(rng):
    X, C = torch.as_tensor(rng.normal(size=(300, 2))), torch.as_tensor(rng.normal(size=(9, 2)))
    np.testing.assert_allclose(kliep_module.train_mass(X, C, 0.4, chunk=17),
                               rbf_kernel(X, C, 0.4).mean(0), rtol=1e-12)


def test_incremental_logistic_regression_matches_the_batch_solver(monkeypatch):
    X_tr, X_te, w = gaussian_shift(20000, 3)
    X, y = np.vstack([X_tr, X_te]), np.r_[np.zeros(20000), np.ones(20000)]
    batch = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    inc = IncrementalLogisticRegression(chunk_size=5000, random_state=0).fit(X, y)
    assert np.abs(inc.predict_proba(X) - batch.predict_proba(X)).max() < 0.02
    monkeypatch.setattr(classifier_module, "INCREMENTAL_MIN_ROWS", 1000)
    ratio = ClassifierRatio(random_state=0).fit(X_tr, X_te)
    assert isinstance(ratio.estimator_, IncrementalLogisticRegression)
    assert nmse(ratio.weights_, w) < 0.01


def test_incremental_classifier_ratio_is_unbiased_under_domain_imbalance():
    from sklearn.linear_model import LogisticRegression
    from adiw.datasets import make_gaussian_shift
    from adiw.estimators import ClassifierRatio, IncrementalLogisticRegression

    X_tr, X_te, w_true = make_gaussian_shift(100_000, 1_000, 2, random_state=1)
    inc = ClassifierRatio(IncrementalLogisticRegression(random_state=0), cv=2).fit(X_tr, X_te)
    batch = ClassifierRatio(LogisticRegression(), cv=2).fit(X_tr, X_te)
    assert inc.weights_.mean() == pytest.approx(1.0, abs=0.05)     # was 3.55 at 1e6 : 1e3
    assert nmse(inc.weights_, w_true) < nmse(batch.weights_, w_true) + 0.01
    # no shift, 100 : 1 -> mean weight 1
    r = np.random.default_rng(0)
    same = ClassifierRatio(IncrementalLogisticRegression(random_state=0), cv=2).fit(
        r.normal(size=(50_000, 2)), r.normal(size=(500, 2)))
    assert same.weights_.mean() == pytest.approx(1.0, abs=0.05)


def test_incremental_logistic_regression_checks_its_input():
    from adiw.estimators import IncrementalLogisticRegression

    X, y = np.zeros((10, 2)), np.r_[np.zeros(5), np.ones(5)]
    for bad in (dict(chunk_size=1.5), dict(n_epochs=2.7)):
        with pytest.raises(ValueError, match="chunk_size|n_epochs"):
            IncrementalLogisticRegression(**bad).fit(X, y)
    with pytest.raises(ValueError, match="minimum of 2|0 sample"):
        IncrementalLogisticRegression().fit(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        IncrementalLogisticRegression().fit(X, y[:-1])
