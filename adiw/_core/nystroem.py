"""Nystroem feature map for kernel products at large n."""

import torch

from .kernels import rbf_kernel


def nystroem_map(landmarks, gamma, rcond=None):
    """``K(C, C)^{-1/2}`` on the numerically non-zero eigenvalues of the
    landmark kernel, so that ``Phi = K(X, C) @ map`` has ``Phi Phi' ~= K(X, X)``.

    Compute it once and apply it to every sample that must share the
    feature space: two eigendecompositions of the same matrix may keep
    different numbers of eigenvalues (threaded BLAS rounds differently from
    call to call). Eigenvalues below ``rcond * max`` are dropped; the
    default, the number of landmarks times the dtype's machine epsilon, is
    where float32 eigenvalues become rounding noise whose inverse square
    roots would amplify it.
    """
    Kcc = rbf_kernel(landmarks, landmarks, gamma)
    if rcond is None:
        rcond = landmarks.shape[0] * torch.finfo(Kcc.dtype).eps
    evals, evecs = torch.linalg.eigh(Kcc)
    keep = evals > rcond * evals.max()
    return evecs[:, keep] / torch.sqrt(evals[keep])


#: Rows of ``K(X, C)`` formed at a time: the kernel block is transient, so
#: the peak memory is the features themselves.
CHUNK = 16384


def nystroem_features(X, landmarks, gamma, feature_map, chunk=CHUNK):
    """Features ``Phi`` of shape (len(X), rank) with ``Phi Phi' ~= K(X, X)``."""
    out = torch.empty((X.shape[0], feature_map.shape[1]), dtype=X.dtype, device=X.device)
    for start in range(0, X.shape[0], chunk):
        out[start:start + chunk] = rbf_kernel(X[start:start + chunk], landmarks, gamma) \
            @ feature_map
    return out


def nystroem_mean(X, landmarks, gamma, feature_map, chunk=CHUNK):
    """``nystroem_features(X, ...).mean(0)`` without holding the features."""
    total = torch.zeros(feature_map.shape[1], dtype=X.dtype, device=X.device)
    for start in range(0, X.shape[0], chunk):
        total += (rbf_kernel(X[start:start + chunk], landmarks, gamma) @ feature_map).sum(0)
    return total / X.shape[0]
