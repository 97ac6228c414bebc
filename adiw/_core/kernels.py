"""RBF kernels in the scikit-learn convention k(x, y) = exp(-gamma ||x - y||^2).

Kernel matrices are built in row chunks wherever only a product with a
vector is needed, so memory stays O(chunk * n) instead of O(n^2).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_CHUNK = 2048


def sq_dists(A, B):
    """Squared Euclidean distances between the rows of ``A`` and ``B``."""
    # One fused matmul-and-add and two in-place passes over the n x m result
    # (4000 x 4000: 23 ms against 67 ms when built from temporaries).
    d = torch.addmm((A * A).sum(1)[:, None], A, B.T, alpha=-2.0)
    return d.add_((B * B).sum(1)[None, :]).clamp_min_(0.0)


def exp_floor(dtype):
    """Exponent below which kernel values are set to zero: half the log of
    the smallest normal number of ``dtype`` (-43.7 in float32).

    Subnormal numbers, whether ``exp`` returns them or a matrix-vector
    product meets them (a tiny kernel value divided by n^2), cost x86 CPUs
    30 to 100 times the normal time: a 256 x 356 batch kernel took 260 us
    instead of 10 us, and each product with it 50 us instead of 4 us.
    Values below exp(-43.7) = 1e-19 are zero for every purpose here.
    """
    return 0.5 * math.log(torch.finfo(dtype).tiny)


def rbf_from_sq_dists(D, gamma, out=None):
    """``exp(-gamma * D)`` with values below ``exp(exp_floor)`` set to 0;
    ``out=D`` overwrites ``D`` (no n x m temporary)."""
    floor = exp_floor(D.dtype)
    K = torch.mul(D, -gamma, out=out) if out is not None else D * -gamma
    K = K.clamp_min_(floor).exp_()
    return F.threshold_(K, 2.0 * math.exp(floor), 0.0)


def rbf_kernel(A, B, gamma):
    D = sq_dists(A, B)
    return rbf_from_sq_dists(D, gamma, out=D)


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
    # Centred first: |x|^2 + |y|^2 - 2 x'y cancels catastrophically when the
    # data sit far from the origin (a shift of 1e8 left nothing of a unit spread).
    X = X - X.mean(0)
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


def sq_dist_quantile(D, q, max_rows=64):
    """The ``q`` quantile of the off-diagonal entries of a square matrix of
    squared distances, as a 0-d tensor (no host synchronisation).

    Reads at most ``max_rows`` rows and columns at a regular stride (a batch
    is already in random order) and takes the lower order statistic with
    ``kthvalue``, a selection rather than the full sort behind
    ``torch.quantile``: this is the per-batch width rule of the deep trainer
    and must cost little next to a training step. Identical points give a
    zero quantile; the fallback is the mean distance, then 1.
    """
    stride = -(-D.shape[0] // max_rows)
    sub = D[::stride, ::stride]
    r = sub.shape[0]
    if r < 2:
        return torch.ones((), dtype=D.dtype, device=D.device)
    # Sorted, the r x r matrix holds its r zero diagonal entries first and
    # then every off-diagonal value twice (symmetry).
    k = int(q * (r * (r - 1) // 2 - 1))
    qd = torch.kthvalue(sub.reshape(-1), r + 2 * k + 1).values
    if qd.device.type == "cpu" and float(qd) > 0:
        return qd        # the usual case; on the CPU the check costs nothing
    qd = torch.where(qd > 0, qd, sub.mean() * r / (r - 1))
    return torch.where(qd > 0, qd, torch.ones_like(qd))


class StackedSqDists:
    """Squared distances within the stacked batch ``[Z_tr; Z_te]``, computed
    once and shared by the width rule and every divergence's kernel."""

    def __init__(self, Z_tr, Z_te):
        self.n = Z_tr.shape[0]
        Z = torch.cat([Z_tr, Z_te])
        self.full = sq_dists(Z, Z)

    @property
    def tr_te(self):
        return self.full[:self.n, self.n:]

    @property
    def te_tr(self):
        return self.full[self.n:, :self.n]

    @property
    def train_rows(self):
        """Training rows against the whole batch (training then test
        columns): one ``exp`` gives both of KMM's kernels."""
        return self.full[:self.n]

    def quantile_gamma(self, q):
        """Width rule ``gamma = 1 / (2 * quantile_q ||z - z'||^2)`` over the
        stacked batch."""
        return 0.5 / sq_dist_quantile(self.full, q)
