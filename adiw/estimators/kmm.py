"""Kernel mean matching (Huang et al., 2007)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_random_state

from .._core.backend import to_numpy
from .._core.kernels import rbf_from_sq_dists, rbf_kernel, rbf_matvec, sq_dists
from .._core.nystroem import nystroem_features, nystroem_map, nystroem_mean
from .._core.objectives import (
    QuadraticObjective, mmd_objective, nadaraya_watson, smoother_from_sq_dists,
)
from .._core.projection import check_feasible, mean_band, project_weights
from .._core.solver import fista
from ._base import COMMON_CONSTRAINTS, BaseRatioEstimator, as_candidates, batch_value

#: Above this many training points KMM switches (n_components="auto") from
#: the exact kernel matrix to a Nystroem approximation.
EXACT_KMM_MAX_N = 8000
AUTO_COMPONENTS = 500
#: ``reg="auto"`` for a standalone fit, chosen on the Gaussian-shift NMSE
#: benchmark (docs/index.md, "KMM has a ridge term").
AUTO_REG = 0.003
#: Training points the extension width is chosen on, and, above
#: EXACT_KMM_MAX_N, the points new points are smoothed from (linear-time
#: predict_weights and score).
EXTENSION_POINTS = 2000
#: Multiples of ``gamma_`` tried for the extension to new points.
SMOOTHING_FACTORS = tuple(2.0**k for k in range(9))


class KMMRatio(BaseRatioEstimator):
    """Kernel mean matching: weights that match the test kernel mean embedding.

    Solves ``min_w 1/2 MMD^2(w * p_train, p_test) + reg/(2n) |w - 1|^2`` over
    ``C = {0 <= w <= B, |mean(w) - 1| <= eps}`` with accelerated projected
    gradient (no QP solver). KMM is transductive: ``weights_`` are the
    solution at the training points, and ``predict_weights`` extends
    them to new points by Nadaraya-Watson kernel smoothing with the width
    ``smoothing_gamma_`` that best predicts each training weight from the
    others (leave-one-out, on a subsample of 2000 training points). Above
    8000 training points the extension smooths from that subsample only, so
    that ``predict_weights`` and ``score`` cost O(2000) per point
    instead of O(n). The held-out ``score`` is the squared-loss
    criterion of that extension (see ``BaseRatioEstimator.score``).

    Parameters
    ----------
    gamma : float, list of float or "auto", default="auto"
        RBF width in ``exp(-gamma ||x - y||^2)``. ``"auto"`` is the median
        heuristic on the pooled sample; a list is chosen by stratified
        ``cv``-fold held-out ``score``.
    reg : float, list of float or "auto", default="auto"
        Ridge pull towards uniform weights. ``reg=0`` is classic KMM, whose
        exact solution over-fits the kernel mean (weights near 0 or ``B``).
        ``"auto"`` is 0.003 here and 0 inside ``DynamicIWClassifier``,
        where a few warm-started steps per batch already keep the weights
        from over-fitting (and reg=0 is DIW's own objective).
    B : float >= 1, default=1000.0
        Upper bound on each weight.
    eps : float or None, default=None
        Half-width of the mean band; None means ``(sqrt(n) - 1) / sqrt(n)``.
    n_components : int, "auto" or None, default="auto"
        Nystroem landmarks for large samples: ``"auto"`` uses the exact
        kernel up to 8000 training points and 500 landmarks above; None is
        always exact (O(n^2) memory).
    max_iter : int, default=1000
    tol : float, default=1e-6
    cv : int, default=3
        Folds for choosing among several ``gamma``/``reg`` values.
    device : str, default="cpu"
        Torch device for the computation ("cpu", "cuda", "auto").
    dtype : {"float32", "float64"}, default="float32"
        float32 halves the cost of the n x n kernel products (the benchmarks
        page times n = 4000) with the same weights to about 1e-3; use
        float64 for tight tolerances.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    weights_ : ndarray of shape (n_train,)
    gamma_ : float
    reg_ : float
    eps_ : float
    smoothing_gamma_ : float
        Width of the extension to new points.
    X_train_, extension_weights_ : ndarray
        The points new points are smoothed from, and their weights: the
        training sample up to 8000 points, a subsample of 2000 above.
    n_iter_ : int
        Solver iterations; a solve that stops at ``max_iter`` emits a
        ``ConvergenceWarning`` (classic KMM, ``reg=0``, often does: its
        optimum sits on the box's faces and is found slowly).
    cv_scores_ : ndarray or None
        Mean held-out scores over the (gamma, reg) grid when one was searched.

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import KMMRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(200, 2)), rng.normal(0.5, 1, size=(200, 2))
    >>> kmm = KMMRatio().fit(X_tr, X_te)
    >>> kmm.weights_.shape, bool(abs(kmm.weights_.mean() - 1) < 1)
    ((200,), True)
    """

    _candidate_params = {"gamma": (0.0, "neither"), "reg": (0.0, "left")}
    _parameter_constraints = {
        **BaseRatioEstimator._parameter_constraints,
        "gamma": COMMON_CONSTRAINTS["gamma"],
        "reg": [*COMMON_CONSTRAINTS["reg"], StrOptions({"auto"})],
        "B": [Interval(Real, 0, None, closed="neither")],
        "eps": [Interval(Real, 0, None, closed="left"), None],
        "n_components": [Interval(Integral, 1, None, closed="left"),
                         StrOptions({"auto"}), None],
        "max_iter": COMMON_CONSTRAINTS["max_iter"],
        "tol": COMMON_CONSTRAINTS["tol"],
        "cv": COMMON_CONSTRAINTS["cv"],
    }

    def __init__(self, *, gamma="auto", reg="auto", B=1000.0, eps=None,
                 n_components="auto", max_iter=1000, tol=1e-6, cv=3,
                 device="cpu", dtype="float32", random_state=None):
        self.gamma = gamma
        self.reg = reg
        self.B = B
        self.eps = eps
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _fit(self, X_tr, X_te):
        n = X_tr.shape[0]
        self.eps_ = mean_band(n, self.eps)
        check_feasible(self.B, self.eps_)
        grid = [{"gamma": g, "reg": r}
                for g in self._gamma_candidates(X_tr, X_te)
                for r in as_candidates(self.reg, auto=AUTO_REG)]
        best, self.cv_scores_ = self._select_by_cv(X_tr, X_te, grid, self.cv)
        self.gamma_, self.reg_ = float(best["gamma"]), float(best["reg"])
        Xtr, Xte = self._points(X_tr), self._points(X_te)
        objective = self._objective(Xtr, Xte, n)
        result = fista(
            objective, torch.ones(n, dtype=Xtr.dtype, device=Xtr.device),
            lambda w: project_weights(w, self.B, self.eps_),
            tol=self.tol, max_iter=self.max_iter,
            # A quadratic with a valid curvature bound (Gershgorin, or the
            # exact top eigenvalue with Nystroem) needs no line search: one
            # kernel product per step.
            line_search=False,
        )
        self.n_iter_ = result.n_iter
        self._warn_unconverged(result.status, result.n_iter)
        self.weights_ = to_numpy(result.w)
        sub = self._extension_subsample(n)
        self.smoothing_gamma_ = self._loo_smoothing_gamma(Xtr, result.w, sub)
        # Above the exact-kernel size, new points are smoothed from the
        # subsample the width was chosen on: O(EXTENSION_POINTS) per point.
        keep = slice(None) if n <= EXACT_KMM_MAX_N else sub
        self.X_train_ = X_tr[keep]
        self.extension_weights_ = self.weights_[keep]
        return self

    def _extension_subsample(self, n):
        rng = check_random_state(self.random_state)
        return np.sort(rng.choice(n, min(n, EXTENSION_POINTS), replace=False))

    def _loo_smoothing_gamma(self, Xtr, w, sub):
        """Width of the extension to new points: the Nadaraya-Watson width,
        among ``gamma_`` times 1, 2, 4, ..., 256, that best predicts each
        training weight from the others (leave-one-out squared error, on the
        subsample ``sub`` of at most ``EXTENSION_POINTS`` training points,
        so the search costs O(EXTENSION_POINTS^2) whatever n). The fit's own width is chosen to
        match kernel means and is often far too wide to carry weights to
        new points (the benchmarks page compares the weights at fresh points
        with the training weights)."""
        idx = torch.as_tensor(sub, device=Xtr.device)
        Z, w_sub = Xtr[idx], w[idx]
        D = sq_dists(Z, Z)
        D.fill_diagonal_(float("inf"))
        best, best_err = self.gamma_, float("inf")
        for factor in SMOOTHING_FACTORS:
            g = self.gamma_ * factor
            err = float(((smoother_from_sq_dists(D, g) @ w_sub - w_sub) ** 2).mean())
            if err < best_err:
                best, best_err = g, err
        return float(best)

    def _n_components(self, n):
        if self.n_components == "auto":
            return AUTO_COMPONENTS if n > EXACT_KMM_MAX_N else None
        return self.n_components

    def _objective(self, Xtr, Xte, n):
        g, reg = self.gamma_, self.reg_
        m = Xte.shape[0]
        n_comp = self._n_components(n)
        if n_comp is None:
            K = rbf_kernel(Xtr, Xtr, g)
            kappa = rbf_matvec(Xtr, Xte, torch.ones(m, dtype=Xtr.dtype, device=Xtr.device), g) / m
            H = K / n**2
            if reg:
                H.diagonal().add_(reg / n)
            H_op, L = H, None
        else:
            rng = check_random_state(self.random_state)
            pool = torch.cat([Xtr, Xte])
            idx = rng.choice(pool.shape[0], min(n_comp, pool.shape[0]), replace=False)
            landmarks = pool[torch.as_tensor(idx, device=pool.device)]
            fmap = nystroem_map(landmarks, g)
            Phi = nystroem_features(Xtr, landmarks, g, fmap)
            kappa = Phi @ nystroem_mean(Xte, landmarks, g, fmap)

            def H_op(w):
                return Phi @ (Phi.T @ w) / n**2 + (reg / n) * w

            # Largest eigenvalue of Phi Phi' / n^2 equals that of Phi' Phi / n^2.
            L = torch.linalg.eigvalsh(Phi.T @ Phi).max() / n**2 + reg / n
        h = kappa / n + (reg / n if reg else 0.0)
        return QuadraticObjective(H_op, h, lipschitz=L)

    def _batch_objective(self, dists, gamma):
        """MMD objective on a mini-batch (used by ``adiw.deep``);
        ``dists`` is a ``StackedSqDists``."""
        E = rbf_from_sq_dists(dists.train_rows, gamma)
        K, kappa = E[:, :dists.n], E[:, dists.n:].mean(1)
        return mmd_objective(K, kappa, batch_value(self.reg, 0.0))

    def _predict_weights(self, X):
        Xq, Xtr = self._points(X), self._points(self.X_train_)
        w = self._tensor(self.extension_weights_)
        out = torch.empty(Xq.shape[0], dtype=Xq.dtype, device=Xq.device)
        for s in range(0, Xq.shape[0], 1024):
            out[s:s + 1024] = nadaraya_watson(Xq[s:s + 1024], Xtr, self.smoothing_gamma_) @ w
        return to_numpy(out)
