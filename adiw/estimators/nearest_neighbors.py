"""k-nearest-neighbour importance weights."""

from numbers import Integral

import numpy as np
from sklearn.utils.extmath import row_norms
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
    n_neighbors : int, "auto" or "sqrt", default="auto"
        ``k``, the training points per ball. ``"auto"`` picks ``k`` from
        about 1.6-fold steps between 1 and twice the ``"sqrt"`` value by the
        leave-one-out log-likelihood of the domain labels (each pooled point
        gets a ratio from the others; the score every estimator's ``score``
        uses). ``"sqrt"`` is ``round(sqrt(min(n, m)) * n / m)`` within
        ``[1, n - 1]``: a ball then holds ``sqrt(min(n, m))`` test points on
        average; it was the default until the MNIST -> optdigits shift
        (``benchmarks/bench_real.py``), where it smooths the weights over 170
        neighbours in 64 dimensions and the selected ``k`` is 5 to 10.

    Attributes
    ----------
    n_neighbors_ : int
    loo_scores_ : ndarray or None
        Leave-one-out score of each candidate ``k`` (``"auto"`` only), with
        the candidates in ``n_neighbors_grid_``.
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
        "n_neighbors": [Interval(Integral, 1, None, closed="left"),
                        StrOptions({"auto", "sqrt"})],
    }

    def __init__(self, *, n_neighbors="auto"):
        self.n_neighbors = n_neighbors

    def _fit(self, X_tr, X_te):
        n, m = X_tr.shape[0], X_te.shape[0]
        if n < 2:
            raise ValueError(f"NearestNeighborRatio needs at least 2 training points; got {n}.")
        self.prior_ratio_ = m / n
        # Distances come from |a|^2 - 2ab + |b|^2, which loses every digit far
        # from the origin (an offset of 1e8): centre first.
        self._center = X_tr.mean(0)
        X_tr, X_te = X_tr - self._center, X_te - self._center
        self._X_tr, self._X_te = X_tr, X_te
        sqrt_rule = int(min(max(round(np.sqrt(min(n, m)) * n / m), 1), n - 1))
        self.loo_scores_ = self.n_neighbors_grid_ = None
        if self.n_neighbors == "auto":
            ks = _k_grid(sqrt_rule, n)
            c_tr, c_te = _ball_counts(X_tr, X_tr, X_te, ks, own_tr=True, own_te=False)
            t_tr, t_te = _ball_counts(X_te, X_tr, X_te, ks, own_tr=False, own_te=True)
            self.n_neighbors_grid_ = ks
            self.loo_scores_ = self._loo_scores(c_tr, c_te, t_tr, t_te)
            best = int(np.argmax(self.loo_scores_))
            self.n_neighbors_ = int(ks[best])
            self.weights_ = self._ratio_from_counts(c_tr[:, best], c_te[:, best])
            return self
        k = sqrt_rule if self.n_neighbors == "sqrt" else int(self.n_neighbors)
        self.n_neighbors_ = int(min(max(k, 1), n - 1))
        self.weights_ = self._ratio(X_tr, own=True)
        return self

    def _ratio_from_counts(self, c_tr, c_te):
        return c_te / np.maximum(c_tr, 1) / self.prior_ratio_

    def _loo_scores(self, c_tr, c_te, t_tr, t_te):
        """Mean held-out domain log-likelihood per candidate k (the terms of
        ``domain_log_likelihood_terms``), every pooled point left out in turn."""
        r = self.prior_ratio_
        share_te = r / (1.0 + r)

        def p_test(c_tr, c_te):
            w = self._ratio_from_counts(c_tr, c_te)
            return np.clip(r * w / (r * w + 1.0), 1e-15, 1 - 1e-15)

        return ((1 - share_te) * np.log1p(-p_test(c_tr, c_te)).mean(0)
                + share_te * np.log(p_test(t_tr, t_te)).mean(0))

    def _ratio(self, X, own):
        """Weights at ``X``; ``own`` when ``X`` is the training sample (each
        point then leaves itself out of its own ball)."""
        c_tr, c_te = _ball_counts(X, self._X_tr, self._X_te, np.array([self.n_neighbors_]),
                                  own_tr=own, own_te=False)
        return self._ratio_from_counts(c_tr[:, 0], c_te[:, 0])

    def _predict_weights(self, X):
        return self._ratio(X - self._center, own=False)

    def _score_terms(self, X_tr, X_te):
        """Per-point held-out log-likelihood of the domain labels."""
        return domain_log_likelihood_terms(self, X_tr, X_te)


#: Candidate k for n_neighbors="auto": steps of about 1.6.
_K_STEPS = (1, 2, 3, 5, 8, 13, 20, 32, 50, 80, 128, 200, 320, 500, 800, 1280, 2000,
            3200, 5000, 8000)
#: Distance-matrix entries formed at a time (float64: 16 MB per matrix;
#: larger chunks are slower, not faster: the selection leaves the cache).
_CHUNK_ENTRIES = 2**21


def _k_grid(sqrt_rule, n):
    top = min(2 * sqrt_rule, n - 1)
    return np.array(sorted({k for k in _K_STEPS if k <= top} | {sqrt_rule}))


def _ball_counts(Q, X_tr, X_te, ks, own_tr, own_te):
    """Training and test points in the ball of each query's k nearest
    training points, for every k in ``ks`` (columns, increasing).

    Brute-force squared distances in row chunks (scikit-learn's own choice
    above 15 dimensions, where trees prune little). ``own_tr`` / ``own_te``:
    the queries are the training / test sample, and each leaves itself out.
    Points tied at the radius (within rounding) count on both sides.
    """
    n = len(X_tr)
    rows = max(1, _CHUNK_ENTRIES // (n + len(X_te)))
    kth = np.asarray(ks) - 1 + int(own_tr)
    A_tr, A_te = _augmented(X_tr), _augmented(X_te)
    # One selection at the largest k, then a sort of the short prefix: it
    # holds every training point of every ball, and _TIES past the largest.
    length = min(kth[-1] + 1 + _TIES, n)
    window = kth[:, None] + 1 + np.arange(_TIES)          # the entries just past each k-th
    in_prefix = window < length
    window = np.minimum(window, length - 1)
    c_tr = np.empty((len(Q), len(ks)), dtype=np.int64)
    c_te = np.empty_like(c_tr)
    for start in range(0, len(Q), rows):
        q = Q[start:start + rows]
        qq = row_norms(q, squared=True)
        q = np.hstack([-2.0 * q, qq[:, None], np.ones((len(q), 1))])
        d_tr = q @ A_tr.T
        # In place: a copy of the chunk cost as much as the selection, and
        # the counts below need each row's values, not their order.
        d_tr.partition(length - 1, axis=1)
        prefix = np.sort(d_tr[:, :length], axis=1)
        np.maximum(prefix, 0.0, out=prefix)
        # the expansion |a|^2 - 2ab + |b|^2 rounds: allow for it at the radius
        radius = prefix[:, kth] * (1 + 1e-9) + 1e-12 * (1.0 + qq)[:, None]
        # Sorted, the first kth + 1 training points are inside; ties at the
        # radius lie just past it. A window full of ties is counted in full.
        ties = ((prefix[:, window] <= radius[:, :, None]) & in_prefix).sum(2)
        inside = kth + 1 + ties
        crowded = np.nonzero((ties == in_prefix.sum(1)) & (inside < n))
        for row, col in zip(*crowded):
            inside[row, col] = np.count_nonzero(d_tr[row] <= radius[row, col])
        c_tr[start:start + rows] = inside
        c_te[start:start + rows] = _counts_within(q @ A_te.T, radius)
    return c_tr - int(own_tr), c_te - int(own_te)


#: Entries past the k-th neighbour searched for ties at its radius.
_TIES = 32


def _augmented(X):
    """``[X, 1, |X|^2]``: its product with a query chunk's ``[-2q, |q|^2, 1]``
    is the squared distances, |q|^2 - 2qX + |X|^2, in one matrix product
    (adding the norms after it took two more passes over the matrix, a
    quarter of the fit). Rounding may leave entries a little below 0, which
    every comparison here tolerates (the prefix is clipped where radii come
    from)."""
    return np.hstack([X, np.ones((len(X), 1)), row_norms(X, squared=True)[:, None]])


def _counts_within(d, radius):
    """Entries of each row of ``d`` within each of its increasing radii.
    Only the pairs inside the largest ball are compared with every radius:
    most points lie outside all balls."""
    row, col = np.nonzero(d <= radius[:, -1:])
    # the smallest ball that holds each pair
    first = (d[row, col][:, None] > radius[row]).sum(1)
    n_rows, n_radii = radius.shape
    hist = np.bincount(row * n_radii + first, minlength=n_rows * n_radii)
    return np.cumsum(hist.reshape(n_rows, n_radii), axis=1)
