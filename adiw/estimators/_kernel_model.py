"""Kernel models w(x) = sum_l a_l k(x, c_l) with centres from the test sample."""

import numpy as np
from sklearn.utils.validation import check_random_state

from .._core.backend import to_numpy
from .._core.kernels import rbf_kernel


def choose_centers(X_te, n_centers, random_state):
    """Indices of ``min(n_centers, m)`` test points, drawn without replacement."""
    m = X_te.shape[0]
    if n_centers >= m:
        return np.arange(m)
    rng = check_random_state(random_state)
    return np.sort(rng.choice(m, n_centers, replace=False))


class KernelModelMixin:
    """Prediction for estimators whose fitted model is ``centers_``/``coef_``."""

    def _design(self, X, gamma=None):
        return rbf_kernel(self._points(X), self._points(self.centers_),
                          self.gamma_ if gamma is None else gamma)

    def _predict_weights(self, X):
        coef = self._tensor(self.coef_)
        out = np.empty(X.shape[0])
        # Row chunks keep memory at O(chunk * n_centers).
        for s in range(0, X.shape[0], 8192):
            out[s:s + 8192] = to_numpy((self._design(X[s:s + 8192]) @ coef).clamp_min(0.0))
        return out
