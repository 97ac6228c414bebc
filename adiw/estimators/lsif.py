"""Least-squares importance fitting: uLSIF (Kanamori et al., 2009) and the
relative ratio RuLSIF (Yamada et al., 2011)."""

from numbers import Real

import numpy as np
import torch
from sklearn.utils.validation import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .._core.backend import to_numpy
from .._core.kernels import rbf_kernel
from .._core.objectives import smoother_from_sq_dists, squared_objective
from ._base import (
    AUTO_GAMMA_FACTORS, COMMON_CONSTRAINTS, BaseRatioEstimator, as_candidates, batch_value,
)
from ._kernel_model import KernelModelMixin, choose_centers
from ._lsif_kfold import fold_sums, kfold_scores, solve
from ._lsif_loo import lsif_loo_score

#: reg="auto" candidates for leave-one-out selection.
AUTO_REGS = (1e-3, 1e-2, 1e-1, 1.0)
#: Above this many (left-out pairs x centres) the analytic leave-one-out,
#: which holds several N x b matrices, gives way to K-fold CV from per-fold
#: sums (O(b^2) memory, linear time). At b = 100 that is N > 20 000; K-fold
#: is also the faster of the two there.
LOO_MAX_ELEMENTS = 2_000_000
KFOLD_SPLITS = 5


class _BaseLSIF(KernelModelMixin, BaseRatioEstimator):
    _candidate_params = {"gamma": (0.0, "neither"), "reg": (0.0, "left")}
    _parameter_constraints = {
        **BaseRatioEstimator._parameter_constraints,
        "gamma": COMMON_CONSTRAINTS["gamma"],
        "reg": COMMON_CONSTRAINTS["reg"] + [StrOptions({"auto"})],
        "n_centers": COMMON_CONSTRAINTS["n_centers"],
    }

    def _alpha(self):
        return 0.0

    def _fit(self, X_tr, X_te):
        gammas = self._gamma_candidates(X_tr, X_te, AUTO_GAMMA_FACTORS)
        regs = as_candidates(self.reg, auto=AUTO_REGS)
        self.centers_ = X_te[choose_centers(X_te, self.n_centers, self.random_state)]
        Xtr, Xte, C = self._points(X_tr), self._points(X_te), self._points(self.centers_)
        self.loo_scores_ = None
        n_pairs = min(X_tr.shape[0], X_te.shape[0])
        self.selection_ = "loo" if n_pairs * C.shape[0] <= LOO_MAX_ELEMENTS else "kfold"
        if self.selection_ == "kfold":
            self._fit_from_fold_sums(Xtr, Xte, C, gammas, regs)
        else:
            self._fit_dense(Xtr, Xte, C, gammas, regs)
        self.weights_ = self._predict_weights(X_tr)
        return self

    def _fit_from_fold_sums(self, Xtr, Xte, C, gammas, regs):
        """Large samples: K-fold selection and the final system from chunked
        per-fold sums (see ``_lsif_kfold``)."""
        alpha, K = self._alpha(), KFOLD_SPLITS
        # Its own stream: drawn like the centres, the folds would follow them.
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))

        def folds(n):
            return torch.as_tensor(rng.permutation(n) % K, device=Xtr.device)

        folds_tr, folds_te = folds(Xtr.shape[0]), folds(Xte.shape[0])
        grid = len(gammas) * len(regs) > 1
        scores = np.empty((len(gammas), len(regs)))
        best = (np.inf, None)
        for i, g in enumerate(gammas):
            sums_tr = fold_sums(Xtr, C, g, folds_tr, K)
            sums_te = fold_sums(Xte, C, g, folds_te, K)
            if grid:
                scores[i] = to_numpy(kfold_scores(Xtr, Xte, C, g, folds_tr, folds_te,
                                                  sums_tr, sums_te, regs, alpha))
            j = int(np.argmin(scores[i])) if grid else 0
            if not grid or scores[i, j] < best[0]:
                totals = [t.sum(0) for t in (*sums_tr, *sums_te)]
                best = (scores[i, j] if grid else 0.0, (g, regs[j], totals))
        g, r, (S_tr, _, n_tr, S_te, s_te, n_te) = best[1]
        self.loo_scores_ = scores if grid else None
        self.gamma_, self.reg_ = float(g), float(r)
        self.coef_ = to_numpy(solve(S_tr, s_te, n_tr, S_te, n_te, self.reg_, alpha))

    def _fit_dense(self, Xtr, Xte, C, gammas, regs):
        alpha = self._alpha()
        if len(gammas) * len(regs) > 1:
            loo = np.empty((len(gammas), len(regs)))
            for i, g in enumerate(gammas):
                Phi_tr, Phi_te = rbf_kernel(Xtr, C, g), rbf_kernel(Xte, C, g)
                for j, r in enumerate(regs):
                    loo[i, j] = lsif_loo_score(Phi_tr, Phi_te, r, alpha)
            i, j = np.unravel_index(np.argmin(loo), loo.shape)
            self.loo_scores_ = loo
            self.gamma_, self.reg_ = float(gammas[i]), float(regs[j])
        else:
            self.gamma_, self.reg_ = float(gammas[0]), float(regs[0])
        obj = squared_objective(rbf_kernel(Xtr, C, self.gamma_),
                                rbf_kernel(Xte, C, self.gamma_), self.reg_, alpha)
        # The quadratic has a closed-form minimiser.  The ratio, not the
        # coefficients, is clipped at 0 (see the class docstring).
        self.coef_ = to_numpy(torch.linalg.solve(obj.H, obj.h))

    def _batch_objective(self, dists, gamma):
        """Squared-distance objective on a mini-batch (used by ``adiw.deep``):
        the weights are the ratio's values at the training points, carried to
        the test points by Nadaraya-Watson smoothing."""
        smoother = smoother_from_sq_dists(dists.te_tr, gamma)
        return squared_objective(None, smoother, batch_value(self.reg, 0.0), self._alpha())

    def _score_terms(self, X_tr, X_te):
        """Terms of the negative held-out squared-loss criterion
        ``-[(1-alpha)/2 E_tr[r^2] + alpha/2 E_te[r^2] - E_te[r]]``."""
        a = self._alpha()
        r_tr, r_te = self._weights_or_empty(X_tr), self._weights_or_empty(X_te)
        return -(1 - a) / 2 * r_tr**2, r_te - a / 2 * r_te**2

    def _predict_weights(self, X):
        w = super()._predict_weights(X)
        # The relative ratio never exceeds 1 / alpha; the linear model can.
        a = self._alpha()
        return np.minimum(w, 1.0 / a) if a > 0 else w


_LSIF_DOC_PARAMS = """
    gamma : float, list of float or "auto", default="auto"
        RBF width; ``"auto"`` tries the median-heuristic width times
        (1/4, 1/2, 1, 2, 4).
    reg : float, list of float or "auto", default="auto"
        Ridge penalty; ``"auto"`` tries (1e-3, 1e-2, 1e-1, 1). Several
        (gamma, reg) candidates are chosen by analytic leave-one-out.
    n_centers : int, default=100
        Kernel centres drawn from the test sample (all when >= n_test).
    device : str, default="cpu"
    dtype : {"float32", "float64"}, default="float64"
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    weights_ : ndarray of shape (n_train,)
    gamma_, reg_ : float
        Selected hyperparameters.
    centers_ : ndarray of shape (n_centers, n_features)
    coef_ : ndarray of shape (n_centers,)
    loo_scores_ : ndarray of shape (n_gamma, n_reg) or None
        Held-out criterion (lower is better) over the grid.
    selection_ : {"loo", "kfold"}
        How the grid was scored: the analytic leave-one-out over the
        ``N = min(n_train, n_test)`` pairs while ``N * n_centers <= 2e6``
        (its memory is O(N n_centers)), else 5-fold cross-validation from
        per-fold kernel sums, in row chunks (O(n_centers^2) memory, linear
        time; the final system comes from the same sums).
"""


class ULSIFRatio(_BaseLSIF):
    __doc__ = """Unconstrained least-squares importance fitting (uLSIF).

    Minimises the squared distance ``1/2 E_tr[w^2] - E_te[w] + reg/2 |a|^2``
    over ``w(x) = sum_l a_l k(x, c_l)`` in closed form,
    ``a = (H + reg I)^-1 h``, and predicts ``max(0, w(x))``, with
    (gamma, reg) chosen by analytic leave-one-out cross-validation.

    Kanamori et al. clip the coefficients instead (``a = max(0, .)``). With
    wide kernels the unconstrained coefficients alternate in sign and that
    clip destroys the fit. The leave-one-out score clips the held-out
    predictions the same way.

    Parameters
    ----------""" + _LSIF_DOC_PARAMS + """
    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import ULSIFRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(300, 2)), rng.normal(0.5, 1, size=(300, 2))
    >>> est = ULSIFRatio(random_state=0).fit(X_tr, X_te)
    >>> est.loo_scores_.shape
    (5, 4)
    """

    def __init__(self, *, gamma="auto", reg="auto", n_centers=100,
                 device="cpu", dtype="float64", random_state=None):
        self.gamma = gamma
        self.reg = reg
        self.n_centers = n_centers
        self.device = device
        self.dtype = dtype
        self.random_state = random_state


class RuLSIFRatio(_BaseLSIF):
    __doc__ = """Relative uLSIF: estimates the alpha-relative ratio
    ``r(x) = p_te(x) / (alpha p_te(x) + (1 - alpha) p_tr(x))``.

    The relative ratio is bounded by ``1 / alpha``, which makes it far
    smoother than the plain ratio when the supports differ; ``alpha = 0`` is
    uLSIF. Fitting and leave-one-out selection are as in ``ULSIFRatio``
    with the relative criterion
    ``(1-alpha)/2 E_tr[r^2] + alpha/2 E_te[r^2] - E_te[r]``.

    Parameters
    ----------
    alpha : float in [0, 1), default=0.1""" + _LSIF_DOC_PARAMS + """
    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import RuLSIFRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(300, 2)), rng.normal(3, 1, size=(300, 2))
    >>> w = RuLSIFRatio(alpha=0.5, random_state=0).fit(X_tr, X_te).weights_
    >>> bool(w.max() <= 2.5)   # bounded by about 1 / alpha
    True
    """

    _parameter_constraints = {
        **_BaseLSIF._parameter_constraints,
        "alpha": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, *, alpha=0.1, gamma="auto", reg="auto", n_centers=100,
                 device="cpu", dtype="float64", random_state=None):
        self.alpha = alpha
        self.gamma = gamma
        self.reg = reg
        self.n_centers = n_centers
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _alpha(self):
        return float(self.alpha)
