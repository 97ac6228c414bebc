"""Conversions between the numpy API surface and torch internals."""

import numpy as np
import torch

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device):
    """Return a ``torch.device`` for ``"auto"``, ``"cpu"``, ``"cuda"``, ... ."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_cuda(device)
    return torch.device(device)


def check_cuda(device):
    """A CUDA device where torch has no CUDA is an error that names the fix
    (torch's own is an AssertionError about how it was compiled)."""
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else \
            f"built for CUDA {torch.version.cuda}, but no GPU is visible"
        raise ValueError(
            f"device={device!r} was requested, but CUDA is not available (torch"
            f" {torch.__version__}, {build}). Pass device='cpu', or"
            ' device="cuda" if torch.cuda.is_available() else "cpu".')


def resolve_dtype(dtype):
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype)]
    except KeyError:
        raise ValueError(
            f"dtype must be 'float32' or 'float64', got {dtype!r}."
        ) from None


def to_tensor(X, device, dtype):
    """Numpy (or tensor) -> tensor on ``device`` with ``dtype``, no copy if possible."""
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype)
    # Views with negative strides (X[::-1]) have no torch equivalent.
    return torch.as_tensor(np.ascontiguousarray(X), dtype=dtype, device=device)


def to_numpy(t):
    return t.detach().cpu().numpy().astype(np.float64, copy=False)
