import numpy as np
import pytest
import torch


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _torch_threads():
    # Keeps timings and results stable on the 2-core CI machine.
    torch.set_num_threads(2)


def gaussian_shift(n=1000, d=2, seed=0):
    """p_tr = N(0, I), p_te = N(e_1, I); true ratio exp(x_1 - 1/2)."""
    r = np.random.default_rng(seed)
    X_tr = r.normal(size=(n, d))
    X_te = r.normal(size=(n, d))
    X_te[:, 0] += 1.0
    w = np.exp(X_tr[:, 0] - 0.5)
    return X_tr, X_te, w


def nmse(w_hat, w):
    a, b = w_hat / w_hat.mean(), w / w.mean()
    return np.mean((a - b) ** 2) / np.mean((1 - b) ** 2)
