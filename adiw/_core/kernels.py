"""RBF kernels in the scikit-learn convention k(x, y) = exp(-gamma ||x - y||^2).

Kernel matrices are built in row chunks wherever only a product with a
vector is needed, so memory stays O(chunk * n) instead of O(n^2).
"""

import numpy as np
import torch

DEFAULT_CHUNK = 2048


def sq_dists(A, B):
    """Squared Euclidean distances between the rows of ``A`` and ``B``."""
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * (A @ B.T)
    return d.clamp_min_(0.0)


def rbf_kernel(A, B, gamma):
    return torch.exp(sq_dists(A, B).mul_(-gamma))


def rbf_matvec(A, B, v, gamma, chunk=DEFAULT_CHUNK):
    """``rbf_kernel(A, B, gamma) @ v`` without holding the full matrix."""
    out = torch.empty((A.shape[0],) + tuple(v.shape[1:]), dtype=v.dtype, device=v.device)
    for start in range(0, A.shape[0], chunk):
        out[start:start + chunk] = rbf_kernel(A[start:start + chunk], B, gamma) @ v
    return out


def rbf_rowsum(A, B, gamma, chunk=DEFAULT_CHUNK):
    """Row sums of ``rbf_kernel(A, B, gamma)`` in O(chunk * len(B)) memory."""
    ones = torch.ones(B.shape[0], dtype=A.dtype, device=A.device)
    return rbf_matvec(A, B, ones, gamma, chunk)


def median_sq_distance(X, max_samples=1000, random_state=None):
    """Median squared pairwise distance of (a subsample of) the rows of ``X``.

    ``X`` is a numpy array.  Identical rows give a median of 0; the fallback
    is the mean of the non-zero squared distances, and 1.0 when every point
    is the same (then any width gives the same, uniform, weights).
    """
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    if X.shape[0] > max_samples:
        X = X[rng.choice(X.shape[0], max_samples, replace=False)]
    sq = (X * X).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * X @ X.T
    d = np.maximum(d[np.triu_indices(X.shape[0], k=1)], 0.0)
    if d.size == 0:
        return 1.0
    med = float(np.median(d))
    if med > 0:
        return med
    nonzero = d[d > 0]
    return float(nonzero.mean()) if nonzero.size else 1.0


def median_gamma(X, max_samples=1000, random_state=None):
    """Median heuristic: ``gamma = 1 / (2 * median ||x - x'||^2)``."""
    return 1.0 / (2.0 * median_sq_distance(X, max_samples, random_state))


def quantile_gamma(Z, q):
    """Per-batch width rule on device: ``1 / (2 * quantile_q ||z - z'||^2)``.

    Returns a 0-d tensor (no host synchronisation).  A batch whose points are
    all identical gets gamma = 1/2 instead of inf.
    """
    d = sq_dists(Z, Z)
    n = d.shape[0]
    iu = torch.triu_indices(n, n, offset=1, device=Z.device)
    vals = d[iu[0], iu[1]]
    if vals.numel() == 0:
        return torch.ones((), dtype=Z.dtype, device=Z.device) * 0.5
    qd = torch.quantile(vals, q)
    qd = torch.where(qd > 0, qd, vals.mean())
    qd = torch.where(qd > 0, qd, torch.ones_like(qd))
    return 0.5 / qd
