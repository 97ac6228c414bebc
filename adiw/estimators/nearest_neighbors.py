"""k-nearest-neighbour importance weights."""

from numbers import Integral

import numpy as np
from sklearn.neighbors import KDTree
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseRatioEstimator
from ._domain_score import domain_log_likelihood_terms


class NearestNeighborRatio(BaseRatioEstimator):
    """Ratio from the test points that fall among a point's nearest training points.

    Around ``x`` take the ball that holds its ``k`` nearest training points
    (radius ``r_k(x)``). With ``c_tr`` training and ``c_te`` test points in
    that ball, both densities are about constant there, so

        ``w(x) = (n / m) * c_te(x) / c_tr(x)``.

    The estimate is linear in the test count: averaged over the training
    sample it is about 1 when both samples come from one law, whatever
    ``n`` and ``m`` (a ratio of two neighbour counts, as in a k-NN domain
    classifier, is biased by Jensen's inequality and by the Laplace
    smoothing it needs). Points tied at the ball's radius are counted on
    both sides, so repeated values give consistent counts; a training point
    leaves itself out of its own ball. Loog's nearest-neighbour weighting
    (2012), as in the adapt package, counts for each training point the
    test points that have it among their nearest training points; it is
    transductive and at d = 8 its normalised MSE on the Gaussian benchmark
    is about twice this one's (``benchmarks/bench_estimators.py``).

    Parameters
    ----------
    n_neighbors : int or "auto", default="auto"
        ``k``, the training points per ball. ``"auto"`` is
        ``round(sqrt(min(n, m)) * n / m)`` within ``[1, n - 1]``: a ball then
        holds ``sqrt(min(n, m))`` test points on average (``sqrt(n)`` of each
        when ``n = m``).

    Attributes
    ----------
    n_neighbors_ : int
    prior_ratio_ : float
        ``n_test / n_train`` of the fitting sample.
    weights_ : ndarray of shape (n_train,)

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import NearestNeighborRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(400, 1)), rng.normal(1, 1, size=(400, 1))
    >>> w = NearestNeighborRatio().fit(X_tr, X_te).predict_weights([[-1.0], [2.0]])
    >>> bool(w[0] < 1 < w[1])
    True
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(self, *, n_neighbors="auto"):
        self.n_neighbors = n_neighbors

    def _fit(self, X_tr, X_te):
        n, m = X_tr.shape[0], X_te.shape[0]
        k = (round(np.sqrt(min(n, m)) * n / m) if self.n_neighbors == "auto"
             else int(self.n_neighbors))
        self.n_neighbors_ = int(min(max(k, 1), n - 1))
        self.prior_ratio_ = m / n
        self._tree_tr, self._tree_te = KDTree(X_tr), KDTree(X_te)
        self.weights_ = self._ratio(X_tr, own=1)
        return self

    def _ratio(self, X, own):
        """Weights at ``X``; ``own=1`` when ``X`` is the training sample
        (each point then leaves itself out of its own ball)."""
        dist, _ = self._tree_tr.query(X, k=self.n_neighbors_ + own)
        # Inclusive at the radius, with a margin for the rounding of distances.
        r = dist[:, -1] * (1 + 1e-9) + 1e-300
        c_tr = self._tree_tr.query_radius(X, r, count_only=True) - own
        c_te = self._tree_te.query_radius(X, r, count_only=True)
        return c_te / np.maximum(c_tr, 1) / self.prior_ratio_

    def _predict_weights(self, X):
        return self._ratio(X, own=0)

    def _score_terms(self, X_tr, X_te):
        """Per-point held-out log-likelihood of the domain labels."""
        return domain_log_likelihood_terms(self, X_tr, X_te)
