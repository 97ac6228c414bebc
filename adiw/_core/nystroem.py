"""Nystroem feature map for kernel products at large n."""

import torch

from .kernels import rbf_kernel


def nystroem_features(X, landmarks, gamma, rcond=1e-10):
    """Features Phi with Phi Phi' ~= K(X, X), shape (len(X), len(landmarks)).

    Phi = K(X, C) K(C, C)^{-1/2}; eigenvalues below ``rcond * max`` are
    dropped, as in scikit-learn's ``Nystroem``.
    """
    Kcc = rbf_kernel(landmarks, landmarks, gamma)
    evals, evecs = torch.linalg.eigh(Kcc)
    keep = evals > rcond * evals.max()
    inv_sqrt = evecs[:, keep] / torch.sqrt(evals[keep])
    return rbf_kernel(X, landmarks, gamma) @ inv_sqrt
