"""A mixture of Beta distributions on (0, 1), fitted by moment-matching EM.

DaWin groups the per-sample interpolation coefficients of a test set into a
few clusters so that one merged network serves each cluster. The coefficients
live in (0, 1) and pile up near the ends, which a Gaussian mixture describes
badly; a Beta mixture is the natural model.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import betaln, logsumexp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

# Values are clipped this far inside (0, 1): log(x) and log(1 - x) stay finite.
CLIP = 1e-6
# Moment matching needs 0 < var < m (1 - m); a component whose members are all
# equal has variance 0, so it gets this small relative floor instead.
VAR_FLOOR = 1e-8


class BetaMixture(BaseEstimator):
    """Mixture of ``n_components`` Beta distributions for values in (0, 1).

    EM in which the M-step matches each component's responsibility-weighted
    mean and variance (the closed form of Beta moment matching, as in DaWin's
    reference code), restarted from ``n_init`` initialisations; the run with
    the highest log-likelihood is kept.

    Parameters
    ----------
    n_components : int, default=3
    n_init : int, default=3
        The first start splits the sorted values into equal-count groups; the
        others draw random responsibilities.
    max_iter : int, default=500
    tol : float, default=1e-6
        Stop when the mean log-likelihood improves by less than this.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Mixing proportions.
    a_, b_ : ndarray of shape (n_components,)
        Beta shape parameters.
    means_ : ndarray of shape (n_components,)
        ``a_ / (a_ + b_)``.
    lower_bound_ : float
        Mean log-likelihood of the kept run.
    converged_ : bool
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.deep.beta_mixture import BetaMixture
    >>> rng = np.random.default_rng(0)
    >>> x = np.r_[rng.beta(2, 20, 500), rng.beta(20, 2, 500)]
    >>> bm = BetaMixture(n_components=2, random_state=0).fit(x)
    >>> np.round(np.sort(bm.means_), 1)
    array([0.1, 0.9])
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components=3, *, n_init=3, max_iter=500, tol=1e-6,
                 random_state=None):
        self.n_components = n_components
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _values(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"BetaMixture models one value per sample: x must have shape"
                             f" (n_samples,) or (n_samples, 1), got {x.shape}.")
        if x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError("BetaMixture needs a non-empty array of finite values.")
        if x.min() < 0 or x.max() > 1:
            raise ValueError("BetaMixture models values in [0, 1]; got values in"
                             f" [{x.min():.3g}, {x.max():.3g}].")
        return np.clip(x, CLIP, 1 - CLIP)

    def _log_joint(self, x, a, b, weights):
        with np.errstate(divide="ignore"):
            log_w = np.log(weights)
        return ((a - 1) * np.log(x)[:, None] + (b - 1) * np.log1p(-x)[:, None]
                - betaln(a, b) + log_w)

    @staticmethod
    def _m_step(x, resp, previous):
        counts = resp.sum(0)
        safe = np.maximum(counts, np.finfo(float).tiny)
        mean = np.clip((resp * x[:, None]).sum(0) / safe, CLIP, 1 - CLIP)
        var = (resp * (x[:, None] - mean) ** 2).sum(0) / safe
        cap = mean * (1 - mean)
        var = np.clip(var, VAR_FLOOR * cap, (1 - 1e-6) * cap)
        common = cap / var - 1
        a, b = common * mean, common * (1 - mean)
        weights = counts / counts.sum()
        if previous is not None:      # an emptied component keeps its shape
            empty = counts < 1e-10
            a[empty], b[empty] = previous[0][empty], previous[1][empty]
        return a, b, weights

    def _initial_resp(self, x, start, rng):
        k = self.n_components
        if start == 0:
            resp = np.zeros((x.size, k))
            groups = np.array_split(np.argsort(x, kind="stable"), k)
            for j, members in enumerate(groups):
                resp[members, j] = 1.0
            # a group may be empty when there are fewer values than components
            return resp + 1e-12
        return rng.dirichlet(np.ones(k), size=x.size)

    def fit(self, x, y=None):
        """Fit the mixture to values ``x`` in [0, 1] (clipped inside).

        Parameters
        ----------
        x : array-like of shape (n_samples,) or (n_samples, 1)
        y : ignored

        Returns
        -------
        self : BetaMixture
        """
        self._validate_params()
        x = self._values(x)
        rng = check_random_state(self.random_state)
        best, self.converged_ = None, False
        for start in range(self.n_init):
            resp = self._initial_resp(x, start, rng)
            a, b, weights = self._m_step(x, resp, None)
            bound, converged = -np.inf, False
            for n_iter in range(1, self.max_iter + 1):
                log_joint = self._log_joint(x, a, b, weights)
                log_norm = logsumexp(log_joint, axis=1)
                new_bound = float(log_norm.mean())
                resp = np.exp(log_joint - log_norm[:, None])
                a, b, weights = self._m_step(x, resp, (a, b))
                # Moment matching is not an exact M-step, so the bound need not
                # rise monotonically: stop on a small change either way.
                converged = abs(new_bound - bound) < self.tol
                bound = new_bound
                if converged:
                    break
            if best is None or bound > best[0]:
                best = (bound, a, b, weights, converged, n_iter)
        (self.lower_bound_, self.a_, self.b_, self.weights_,
         self.converged_, self.n_iter_) = best
        self.means_ = self.a_ / (self.a_ + self.b_)
        if not self.converged_:
            warnings.warn(f"BetaMixture did not converge in max_iter={self.max_iter}"
                          " iterations; increase max_iter or tol.", ConvergenceWarning)
        return self

    def predict_proba(self, x):
        """Posterior membership of each value, shape (n_samples, n_components)."""
        check_is_fitted(self, "means_")
        x = self._values(x)
        log_joint = self._log_joint(x, self.a_, self.b_, self.weights_)
        return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))

    def predict(self, x):
        """Index of the most probable component of each value."""
        return self.predict_proba(x).argmax(1)
