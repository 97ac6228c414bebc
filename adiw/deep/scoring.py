"""Scoring a DynamicIWClassifier in a search: on the test distribution."""

import numpy as np


class HeldOutTestScore:
    """Scorer for ``GridSearchCV(net, ..., scoring=HeldOutTestScore())``.

    A search's own folds are cut from the *training* data, whose
    distribution (and label noise) is what the net is meant not to fit; a
    score on them ranks the wrong thing. This scorer ignores the fold and
    returns what the fitted net measured on the held-out part of its
    labelled test-distribution sample (``val_holdout``): rows it neither
    trained on nor weighted against. Each fold's fit holds out the same
    rows (a fixed stratified split), so candidates are compared on equal
    terms; the mean over folds averages over the training subsets.

    Parameters
    ----------
    key : str, default="valid_acc"
        The history entry to read (``"valid_loss"`` is negated, so that
        greater is better).
    epoch : {"last", "best"}, default="last"
        The last epoch's value, or the best over epochs (as early stopping
        with a checkpoint would keep: epochs whose value is NaN, a diverged
        net's, are never the best; NaN only when every epoch is).

    Examples
    --------
    >>> from adiw.deep import HeldOutTestScore
    >>> HeldOutTestScore()
    HeldOutTestScore(key='valid_acc', epoch='last')
    """

    def __init__(self, key="valid_acc", epoch="last"):
        if epoch not in ("last", "best"):
            raise ValueError(f"epoch must be 'last' or 'best', got {epoch!r}.")
        self.key = key
        self.epoch = epoch

    def __call__(self, estimator, X=None, y=None):
        history = getattr(estimator, "history", None)
        if history is None or not len(history) or self.key not in history[-1]:
            raise ValueError(
                f"The net recorded no {self.key!r}: fit it with X_val and val_holdout > 0"
                " so that part of the test-distribution sample is held out and scored.")
        sign = -1.0 if self.key.endswith("loss") else 1.0
        values = sign * np.asarray(history[:, self.key], dtype=float)
        if self.epoch == "last":
            return float(values[-1])
        finite = values[~np.isnan(values)]
        # np.max would let one NaN epoch hide every good one
        return float(finite.max()) if finite.size else float("nan")

    def __repr__(self):
        return f"HeldOutTestScore(key={self.key!r}, epoch={self.epoch!r})"
