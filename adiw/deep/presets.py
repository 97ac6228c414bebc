"""Presets that reproduce published setups on DynamicIWClassifier."""

import numpy as np
import torch

from ..utils import unwrap_fit_sample
from .classifier import DynamicIWClassifier


class DIWReferenceClassifier(DynamicIWClassifier):
    """DIW as its reference implementation sets it up (Fang et al., 2020).

    The defaults differ from ``DynamicIWClassifier``'s where the DIW
    reference code does: the kernel width comes from the 1 % quantile of
    the pairwise distances (``width_quantile=0.01``), the mean band is
    KMM's ``(sqrt(n_b) - 1) / sqrt(n_b)`` (``eps=None``), the first epoch
    uses uniform weights (``warmup_epochs=1``), the weights are solved to
    convergence on every batch (``solver="diw"``, KMM without ridge), and
    the validation samples are appended to the training set and weighted
    like any other sample (so they are not also trained on as a separate
    batch: ``train_on_val=False``, and all of them are used:
    ``val_holdout=0``). ``sample_weights()`` then has ``len(X) +
    len(X_val)`` entries, the validation samples' last.

    What still differs, and why: the reference code computes the
    representations for the weights in a separate forward pass in eval
    mode; here they come from the training forward pass, which is the same
    for networks without dropout or batch normalisation (the benchmarks'
    MLP), and saves a forward pass otherwise. Its solver is a QP (cvxopt),
    ours the shared FISTA solver to the estimator's tolerance; its
    optimiser and schedules are the user's choice here.

    Parameters
    ----------
    module : torch module (class or instance)
    **kwargs
        As ``DynamicIWClassifier``; the defaults above apply unless
        given.
    """

    def __init__(self, module, *args, ratio_estimator=None, solver="diw",
                 width_quantile=0.01, eps=None, warmup_epochs=1, train_on_val=False,
                 val_holdout=0.0, **kwargs):
        super().__init__(module, *args, ratio_estimator=ratio_estimator, solver=solver,
                         width_quantile=width_quantile, eps=eps,
                         warmup_epochs=warmup_epochs, train_on_val=train_on_val,
                         val_holdout=val_holdout, **kwargs)

    def partial_fit(self, X, y=None, classes=None, X_val=None, y_val=None, **fit_params):
        """Append the validation samples to the training set, then train as
        ``DynamicIWClassifier`` does."""
        X_val = unwrap_fit_sample(X_val, X, "X_val")
        y_val = unwrap_fit_sample(y_val, y, "y_val")
        if self.val_holdout:
            raise ValueError(
                f"DIWReferenceClassifier appends all of X_val to the training set, so"
                f" val_holdout={self.val_holdout} would hold out rows it also trains on;"
                " it must be 0. Validate on a separate test set instead.")
        if X_val is not None:
            if isinstance(X, (dict, torch.utils.data.Dataset)) or \
                    isinstance(X_val, (dict, torch.utils.data.Dataset)):
                raise TypeError(
                    "DIWReferenceClassifier appends X_val to X, which needs arrays,"
                    f" tensors or DataFrames; got X {type(X).__name__} and X_val"
                    f" {type(X_val).__name__}. Use DynamicIWClassifier(solver='diw') for"
                    " other inputs.")
            X = np.asarray(X)
            X_val = np.asarray(X_val, dtype=X.dtype)
            if y_val is None or len(y_val) != len(X_val):
                raise ValueError("y_val must be given with one label per row of X_val.")
            if X_val.shape[1:] != X.shape[1:]:
                raise ValueError(f"X_val rows have shape {X_val.shape[1:]}, X rows"
                                 f" {X.shape[1:]}; they must match to be appended.")
            X = np.concatenate([X, X_val])
            y = np.concatenate([np.asarray(y), np.asarray(y_val)])
        return super().partial_fit(X, y, classes=classes, X_val=X_val, y_val=y_val,
                                   **fit_params)
