"""k-nearest-neighbour importance weights."""

from numbers import Integral, Real

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseRatioEstimator
from ._domain_score import domain_log_likelihood


class NearestNeighborRatio(BaseRatioEstimator):
    """Ratio from the domain mix among the k nearest pooled neighbours.

    Among the ``k`` nearest neighbours of ``x`` in the pooled sample,
    ``k_te`` are test points; then ``w(x) = (n / m) (k_te + a) / (k - k_te + a)``
    with Laplace smoothing ``a``. It is the k-NN domain classifier of
    :class:`ClassifierRatio` made explicit; the training weights leave each
    point itself out of its own neighbourhood, so they are not biased
    towards the training domain.

    Parameters
    ----------
    n_neighbors : int or "auto", default="auto"
        ``"auto"`` is ``round(sqrt(min(n, m)))``.
    smoothing : float, default=1.0
        Laplace smoothing ``a``; keeps every weight positive and finite.

    Attributes
    ----------
    n_neighbors_ : int
    prior_ratio_ : float
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
        "smoothing": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, *, n_neighbors="auto", smoothing=1.0):
        self.n_neighbors = n_neighbors
        self.smoothing = smoothing

    def _fit(self, X_tr, X_te):
        n, m = X_tr.shape[0], X_te.shape[0]
        k = (int(round(np.sqrt(min(n, m)))) if self.n_neighbors == "auto"
             else int(self.n_neighbors))
        self.n_neighbors_ = max(1, min(k, n + m - 1))
        self.prior_ratio_ = m / n
        self._is_test = np.r_[np.zeros(n, bool), np.ones(m, bool)]
        self._nn = NearestNeighbors(n_neighbors=self.n_neighbors_).fit(np.vstack([X_tr, X_te]))
        # Leave-self-out: ask for k + 1 neighbours and drop the point itself.
        idx = self._nn.kneighbors(X_tr, self.n_neighbors_ + 1, return_distance=False)
        own = idx == np.arange(n)[:, None]
        keep = np.where(own.any(1)[:, None], ~own, np.arange(idx.shape[1]) < self.n_neighbors_)
        self.weights_ = self._ratio(self._is_test[idx].sum(1, where=keep))
        return self

    def _ratio(self, k_te):
        a = self.smoothing
        return (k_te + a) / (self.n_neighbors_ - k_te + a) / self.prior_ratio_

    def _predict_weights(self, X):
        idx = self._nn.kneighbors(X, return_distance=False)
        return self._ratio(self._is_test[idx].sum(1))

    def _score(self, X_tr, X_te):
        """Held-out log-likelihood of the domain labels (negative log-loss)."""
        return domain_log_likelihood(self._predict_weights(X_tr),
                                     self._predict_weights(X_te), self.prior_ratio_)
