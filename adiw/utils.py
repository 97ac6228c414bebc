"""Small public helpers."""



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
    """Return the array inside ``Unsliced`` (or ``value`` itself).

    No warning for a bare sample as long as ``X``: outside cross-validation
    nothing slices it, and inside it only the caller knows; the docs say
    when to wrap it.
    """
    if isinstance(value, Unsliced):
        return value.value
    return value
