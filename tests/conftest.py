import importlib
import os
import sys

import numpy as np
import pytest
import torch

from adiw.datasets import load_digits_shift
from adiw.deep import DynamicIWClassifier
from adiw.models import MLP

# Scripts run by tests in subprocesses, not test modules.
collect_ignore = ["skorch_plugin.py", "ddp_train.py", "ddp_mismatch.py", "ddp_exit.py"]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _torch_threads():
    # Keeps timings and results stable on the 2-core CI machine.
    torch.set_num_threads(2)


def import_benchmark(name):
    """A script of ``benchmarks/`` as a module (the scripts import each other
    by name, so their folder is on the path while it loads)."""
    folder = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


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


@pytest.fixture(scope="session")
def digits():
    """The digits joint-shift task of the deep-trainer tests."""
    return load_digits_shift(random_state=0)


def make_net(**kw):
    """A small DynamicIWClassifier on the digits MLP; ``kw`` overrides."""
    base = dict(module=MLP, max_epochs=2, batch_size=64, lr=0.05, verbose=0)
    base.update(kw)
    return DynamicIWClassifier(**base)
