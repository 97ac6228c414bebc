"""K-fold selection for (relative) uLSIF from per-fold sums, in O(b^2) memory.

The analytic leave-one-out (``_lsif_loo``) holds several N x b matrices: at
N = 1e6 and b = 100 that is gigabytes. The LSIF system only needs the sums
S = Phi'Phi and s = Phi'1 of each domain, so K-fold cross-validation can be
run from *per-fold* sums: the system without fold k is the total minus fold
k's part. Two passes over the data in row chunks per width (one for the sums,
one for the held-out criterion of every fold and ridge value at once) cost
O((n + m) b^2) time and O(K b^2 + chunk b) memory, and the sums of the chosen
width give the final fit for free.
"""

import torch

from .._core.kernels import rbf_kernel

#: Rows of the kernel matrix formed at a time.
CHUNK = 65536


def fold_sums(X, C, gamma, folds, n_folds, chunk=CHUNK):
    """Per-fold ``Phi'Phi`` (K, b, b), ``Phi'1`` (K, b) and row counts (K,).

    ``Phi = rbf_kernel(X, C, gamma)``, formed ``chunk`` rows at a time;
    ``folds`` (tensor of int, one per row of X) gives each row's fold.
    """
    b = C.shape[0]
    S = torch.zeros((n_folds, b, b), dtype=X.dtype, device=X.device)
    s = torch.zeros((n_folds, b), dtype=X.dtype, device=X.device)
    counts = torch.bincount(folds, minlength=n_folds).to(X.dtype)
    for start in range(0, X.shape[0], chunk):
        Phi = rbf_kernel(X[start:start + chunk], C, gamma)
        f = folds[start:start + chunk]
        for k in range(n_folds):
            Pk = Phi[f == k]
            S[k] += Pk.T @ Pk
            s[k] += Pk.sum(0)
    return S, s, counts


def solve(S_tr, s_te, n_tr, S_te, n_te, reg, alpha):
    """Coefficients ``(H + reg I)^-1 h`` of the LSIF system from sums."""
    H = (1 - alpha) * S_tr / n_tr
    if alpha:
        H = H + alpha * S_te / n_te
    H = H + reg * torch.eye(H.shape[0], dtype=H.dtype, device=H.device)
    return torch.linalg.solve(H, s_te / n_te)


def kfold_scores(Xtr, Xte, C, gamma, folds_tr, folds_te, sums_tr, sums_te, regs, alpha,
                 chunk=CHUNK):
    """Mean held-out LSIF criterion over the folds, one value per ``reg``.

    On fold k the criterion is
    ``(1-alpha)/2 mean_tr_k r^2 + alpha/2 mean_te_k r^2 - mean_te_k r``
    (lower is better) with ``r = max(0, phi' beta_(k))`` and ``beta_(k)``
    fitted without fold k, as in the leave-one-out score.
    """
    S_tr, s_tr, c_tr = sums_tr
    S_te, s_te, c_te = sums_te
    K, R = S_tr.shape[0], len(regs)
    # beta[:, k, j]: fitted without fold k at ridge regs[j].
    beta = torch.stack([
        torch.stack([solve(S_tr.sum(0) - S_tr[k], s_te.sum(0) - s_te[k], c_tr.sum() - c_tr[k],
                           S_te.sum(0) - S_te[k], c_te.sum() - c_te[k], r, alpha)
                     for r in regs], 1)
        for k in range(K)], 1)                                     # (b, K, R)
    flat = beta.reshape(beta.shape[0], K * R)

    def held_out_means(X, folds, counts):
        """Per (fold, reg): mean of r and of r^2 over the fold's rows."""
        total = torch.zeros((2, K, R), dtype=X.dtype, device=X.device)
        for start in range(0, X.shape[0], chunk):
            f = folds[start:start + chunk]
            r = (rbf_kernel(X[start:start + chunk], C, gamma) @ flat).view(-1, K, R)
            r = r[torch.arange(r.shape[0], device=r.device), f].clamp_min(0.0)   # (rows, R)
            total[0].index_add_(0, f, r)
            total[1].index_add_(0, f, r * r)
        return total / counts[:, None]

    _, sq_tr = held_out_means(Xtr, folds_tr, c_tr)
    r_te, sq_te = held_out_means(Xte, folds_te, c_te)
    return ((1 - alpha) / 2 * sq_tr + alpha / 2 * sq_te - r_te).mean(0)
