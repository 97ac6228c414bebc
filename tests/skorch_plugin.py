"""pytest plugin: skorch's own test suite judges DynamicIWClassifier.

Loaded with ``-p skorch_plugin`` (``tests/`` on the path), it replaces
``skorch.NeuralNetClassifier``, which skorch's tests import inside their
fixtures, by a ``DynamicIWClassifier`` subclass given
``NeuralNetClassifier``'s defaults (``criterion=NLLLoss``,
``train_split=ValidSplit(5, stratified=True)``) and named
``NeuralNetClassifier``, so that messages naming the class compare equal.

``ADIW_SKORCH_SOLVER=none`` (the default) runs it without weights;
``ADIW_SKORCH_SOLVER=adiw`` learns weights against a test sample taken from
the first fifth of each fit's data (``X_val``, an array slice or a Subset of
a Dataset), with ``val_holdout=0`` so that skorch's ``train_split`` stays in
charge of validation.
"""

import os

import numpy as np
import skorch
import torch
from skorch.dataset import ValidSplit
from torch.utils.data import Subset

from adiw.deep import DynamicIWClassifier

SOLVER = os.environ.get("ADIW_SKORCH_SOLVER", "none")


def _test_sample(X, y):
    """The first fifth of the fit data (at least 2 rows), as X_val, y_val."""
    try:
        n = len(X)
    except TypeError:
        return None, None
    k = max(2, n // 5)
    if isinstance(X, torch.utils.data.Dataset):
        return Subset(X, range(k)), None
    if y is None or isinstance(X, (dict, list, tuple)) or not hasattr(X, "__getitem__"):
        return None, None
    try:
        return X[:k], np.asarray(y[:k])
    except Exception:          # e.g. a DataFrame: its rows are .iloc's
        return None, None


class NeuralNetClassifier(DynamicIWClassifier):
    """DynamicIWClassifier with NeuralNetClassifier's defaults."""

    def __init__(self, module, *args, criterion=torch.nn.NLLLoss,
                 train_split=ValidSplit(5, stratified=True), solver=SOLVER,
                 val_holdout=0.0, **kwargs):
        super().__init__(module, *args, criterion=criterion, train_split=train_split,
                         solver=solver, val_holdout=val_holdout, **kwargs)

    def partial_fit(self, X, y=None, classes=None, X_val=None, y_val=None, **fit_params):
        if self.solver != "none" and X_val is None:
            X_val, y_val = _test_sample(X, y)
            if X_val is None:             # no slice of this input: train unweighted
                self.set_params(solver="none")
        return super().partial_fit(X, y, classes, X_val=X_val, y_val=y_val, **fit_params)


skorch.NeuralNetClassifier = NeuralNetClassifier
