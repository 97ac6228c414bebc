"""Kullback-Leibler importance estimation procedure (Sugiyama et al., 2008)."""

import numpy as np
import torch
from sklearn.model_selection import KFold

from .._core.backend import to_numpy
from .._core.kernels import rbf_from_sq_dists, rbf_kernel
from .._core.objectives import LogLikelihoodObjective
from .._core.projection import project_box_sum
from .._core.solver import fista
from ._base import AUTO_GAMMA_FACTORS, COMMON_CONSTRAINTS, BaseRatioEstimator
from ._kernel_model import KernelModelMixin, choose_centers

_LOG_FLOOR = 1e-300


class KLIEPRatio(KernelModelMixin, BaseRatioEstimator):
    """KLIEP: the ratio model that maximises the test log-likelihood.

    Fits ``w(x) = sum_l a_l exp(-gamma ||x - c_l||^2)`` with centres ``c_l``
    drawn from the test sample, maximising ``mean_j log w(x'_j)`` subject to
    ``a >= 0`` and ``mean_i w(x_i) = 1`` (the KL divergence objective of the
    shared core, solved by accelerated projected gradient). Several widths
    are compared by likelihood cross-validation over the test sample, as in
    the original paper.

    Parameters
    ----------
    gamma : float, list of float or "auto", default="auto"
        ``"auto"`` tries the median-heuristic width times
        (1/4, 1/2, 1, 2, 4).
    n_centers : int, default=100
        Kernel centres (all test points when ``n_centers >= n_test``).
    cv : int, default=5
        Folds of the test sample for likelihood cross-validation.
    max_iter : int, default=1000
    tol : float, default=1e-5
        Relative change of the coefficients at which the solver stops.
    device : str, default="cpu"
    dtype : {"float32", "float64"}, default="float64"
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    weights_ : ndarray of shape (n_train,)
    gamma_ : float
    centers_ : ndarray of shape (n_centers, n_features)
    coef_ : ndarray of shape (n_centers,)
    cv_scores_ : ndarray or None
        Held-out test log-likelihood per candidate width.

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import KLIEPRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(300, 1)), rng.normal(1, 1, size=(300, 1))
    >>> kliep = KLIEPRatio(random_state=0).fit(X_tr, X_te)
    >>> w = kliep.predict_weights([[-1.0], [0.0], [1.0]])
    >>> bool(w[0] < w[1] < w[2])
    True
    """

    _parameter_constraints = {
        **BaseRatioEstimator._parameter_constraints,
        **{k: COMMON_CONSTRAINTS[k] for k in ("gamma", "n_centers", "cv", "max_iter", "tol")},
    }

    def __init__(self, *, gamma="auto", n_centers=100, cv=5, max_iter=1000,
                 tol=1e-5, device="cpu", dtype="float64", random_state=None):
        self.gamma = gamma
        self.n_centers = n_centers
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.device = device
        self.dtype = dtype
        self.random_state = random_state

    def _fit_coef(self, Phi_tr, Phi_te, a0=None):
        b = Phi_tr.mean(0)
        objective = LogLikelihoodObjective(Phi_te)
        if a0 is None:
            a0 = torch.full_like(b, 1.0) / b.sum()
        res = fista(objective, a0,
                    lambda a: project_box_sum(a, float("inf"), 1.0, 1.0, b),
                    tol=self.tol, max_iter=self.max_iter)
        return res.w, res.n_iter

    def _fit(self, X_tr, X_te):
        gammas = self._gamma_candidates(X_tr, X_te, AUTO_GAMMA_FACTORS)
        self.centers_ = choose_centers(X_te, self.n_centers, self.random_state)
        Xtr, Xte, C = self._tensor(X_tr), self._tensor(X_te), self._tensor(self.centers_)
        n_splits = min(self.cv, X_te.shape[0])
        folds = list(KFold(n_splits, shuffle=True,
                           random_state=self.random_state).split(X_te))
        scores, coefs, a_prev, n_iters = np.zeros(len(gammas)), [], None, []
        for k, g in enumerate(gammas):
            Phi_tr, Phi_te = rbf_kernel(Xtr, C, g), rbf_kernel(Xte, C, g)
            # Continuation: neighbouring widths have similar solutions, and
            # every fold's optimum is close to the full-sample one, so warm
            # starts cut most solves to a few dozen steps.
            a_full, it = self._fit_coef(Phi_tr, Phi_te, a_prev)
            coefs.append(a_full)
            n_iters.append(it)
            a_prev = a_full
            if len(gammas) == 1:
                break
            for fit_idx, held_idx in folds:
                a, _ = self._fit_coef(Phi_tr, Phi_te[fit_idx], a_full)
                w_held = (Phi_te[held_idx] @ a).clamp_min(_LOG_FLOOR)
                scores[k] += float(torch.log(w_held).mean()) / n_splits
        best = int(np.argmax(scores)) if len(gammas) > 1 else 0
        self.cv_scores_ = scores if len(gammas) > 1 else None
        self.gamma_, a, self.n_iter_ = float(gammas[best]), coefs[best], n_iters[best]
        self.coef_ = to_numpy(a)
        self.weights_ = self._predict_weights(X_tr)
        return self

    #: Step of the deep trainer relative to 1/L (see BaseRatioEstimator).
    #: The batch maximum-likelihood weights sharpen: on the digits benchmark
    #: (seed 0) the clean samples' weights spread 1.22 (std / mean within a
    #: class) at 1 against 0.64 at 0.1, effective sample size 0.24 against
    #: 0.43. Over 5 seeds, against DIW: -1.5 +- 0.5 points at 1, -0.4 +- 0.2
    #: at 0.1 (KMM at 0.1 loses 0.7 points instead).
    _batch_step_scale = 0.1

    def _batch_objective(self, dists, gamma):
        """Transductive KL objective on a mini-batch: the test log-likelihood
        of the weighted training kernel density (used by :mod:`adiw.deep`)."""
        return LogLikelihoodObjective(rbf_from_sq_dists(dists.te_tr, gamma) / dists.n)

    def _score(self, X_tr, X_te):
        """Held-out KL criterion ``mean log w(x_te) - log mean w(x_tr)``:
        the test log-likelihood of the weighted training density, normalised
        on the held-out training points."""
        w_te = np.maximum(self._predict_weights(X_te), _LOG_FLOOR)
        w_tr_mean = max(self._predict_weights(X_tr).mean(), _LOG_FLOOR)
        return float(np.mean(np.log(w_te)) - np.log(w_tr_mean))
