"""Small public helpers."""

import warnings

import numpy as np


class Unsliced:
    """Holds a fit parameter that cross-validation must not slice.

    scikit-learn's CV tools index every fit parameter that has as many rows
    as ``X`` with the fold's indices. A test or validation sample that
    happens to be as long as ``X`` would silently lose rows. Wrapped in
    ``Unsliced`` it passes through whole: it has no length or shape.

    Parameters
    ----------
    value : array-like
        The sample to pass through unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.utils import Unsliced
    >>> held = Unsliced(np.zeros((3, 2)))
    >>> hasattr(held, "__len__"), held.value.shape
    (False, (3, 2))
    """

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"Unsliced({type(self.value).__name__})"


def unwrap_fit_sample(value, X, name):
    """Return the array inside ``Unsliced`` (or ``value``), warning when a
    bare sample is as long as ``X`` -- the one case where scikit-learn's CV
    would have sliced it together with ``X``."""
    if isinstance(value, Unsliced):
        return value.value
    if value is not None and X is not None and hasattr(value, "__len__") \
            and len(value) == len(X) and np.ndim(value) >= 1:
        warnings.warn(
            f"{name} has as many rows as X ({len(X)}). scikit-learn's "
            "cross-validation slices such fit parameters together with X, so a "
            "fold would see only part of it. Pass it as adiw.utils.Unsliced("
            f"{name}) if it must stay whole.", UserWarning, stacklevel=3,
        )
    return value
