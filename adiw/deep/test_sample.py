"""The labelled test-distribution sample of one fit: split, device copy, draws."""

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch.utils.data import Subset
from torch.utils.data.dataloader import default_collate

from .checks import as_array, check_finite, check_labels


def holdout_split(y, fraction, m=None):
    """Positions used for training and weighting, and those held out for
    validation: a stratified split (seed 0) when every class has two
    samples, else a plain shuffle (also when ``y`` is None)."""
    m = len(y) if m is None else m
    k = int(round(fraction * m))
    if k == 0:
        return np.arange(m), np.arange(0)
    if m - k < 2:
        raise ValueError(
            f"val_holdout={fraction} holds out {k} of the {m} rows of X_val and leaves"
            f" {m - k}; at least 2 must remain for training and weighting. Lower"
            " val_holdout or pass more validation rows.")
    stratify = y is not None
    if stratify:
        _, counts = np.unique(y, return_counts=True)
        stratify = counts.min() >= 2 and k >= len(counts) and m - k >= len(counts)
    splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
        1, test_size=k, random_state=0)
    use, report = next(splitter.split(np.zeros(m), y if stratify else None))
    return np.sort(use), np.sort(report)


class TestSample:
    """The labelled sample from the test distribution that weights are fitted
    against, drawn from in batches on the device.

    Arrays, tensors and DataFrames are copied to the device once; a torch
    ``Dataset`` of ``(x, y)`` items stays where it is and each batch is
    collated and moved when drawn, so image sets need not fit in memory.

    Parameters
    ----------
    X, y : array-like, or a torch Dataset and None
    holdout : float in [0, 1)
        Fraction held out for skorch's validation (``holdout_split``).
    device : str or torch.device
    seed : int
        Seeds the generator of the batch draws.
    dtype : torch.dtype or None
        Floating-point inputs are converted to it (the module's parameters').
    """

    __test__ = False          # not a pytest test class

    def __init__(self, X, y, holdout, device, seed=0, dtype=None):
        self.device = device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        if isinstance(X, torch.utils.data.Dataset):
            if y is not None:
                raise ValueError("X_val is a Dataset, which holds its labels; pass"
                                 " y_val=None.")
            use, report = holdout_split(None, holdout, m=len(X))
            self.dataset, self.rows = X, use
            self.X = self.y = None
            self.report = Subset(X, report) if len(report) else None
            labels = None
        else:
            X = as_array(X, "X_val")
            check_finite(X, "X_val")
            # The module's dtype: a float64 X_val meets float32 weights.
            if dtype is not None and isinstance(X, torch.Tensor) and X.is_floating_point():
                X = X.to(dtype)
            elif dtype is not None and isinstance(X, np.ndarray) and X.dtype.kind == "f":
                X = X.astype(str(dtype).replace("torch.", ""))
            if y is None or len(y) != len(X):
                raise ValueError("y_val must be given with one label per row of X_val"
                                 f" ({len(X)}); got "
                                 f"{'None' if y is None else len(y)}.")
            labels = check_labels(y, "y_val")
            use, report = holdout_split(labels, holdout)
            self.dataset, self.rows = None, np.arange(len(use))
            self.X = to_tensor(X[use], device=device)
            self.y = to_tensor(labels[use], device=device)
            self.report = (X[report], labels[report]) if len(report) else None
        if len(use) < 2:
            raise ValueError(
                f"X_val needs at least 2 samples besides the {len(report)} held out for"
                f" validation (val_holdout={holdout}).")
        self.labels = labels

    def __len__(self):
        return len(self.rows)

    def subset(self, mask):
        """A view on the rows where ``mask`` (over ``len(self)``) is True,
        drawing with the same generator."""
        view = object.__new__(TestSample)
        view.__dict__.update(self.__dict__)
        view.rows = self.rows[np.asarray(mask, dtype=bool)]
        return view

    def take(self, positions):
        """Rows at ``positions`` (into ``len(self)``) as device tensors (X, y)."""
        rows = self.rows[positions]
        if self.dataset is not None:
            try:
                items = [unpack_data(self.dataset[int(i)]) for i in rows]
            except TypeError as e:
                raise ValueError(
                    "X_val is a Dataset whose items are not (x, y) pairs; each item of"
                    " the test-distribution sample needs its label.") from e
            X, y = default_collate(items)
            return to_tensor(X, device=self.device), to_tensor(y, device=self.device)
        idx = torch.as_tensor(rows, device=self.device)
        return self.X[idx], self.y[idx]

    def draw(self, size):
        """A batch of ``min(size, len(self))`` rows without replacement."""
        return self.take(torch.randperm(len(self), generator=self.generator)[:size].numpy())

    def batches(self, size):
        """All rows, in order, in batches of ``size`` (forward passes)."""
        for start in range(0, len(self), size):
            yield self.take(np.arange(start, min(start + size, len(self))))
