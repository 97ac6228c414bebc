"""Validation of DynamicIWClassifier's options and fit data, before training."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._core.backend import check_cuda
from .._core.projection import check_feasible

SOLVERS = ("adiw", "diw", "giw", "static", "none")


def _real(net, name, low, high=math.inf, *, low_open=False, high_open=False):
    value = getattr(net, name)
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a finite number in {lo}{low}, {high}{hi};"
                         f" got {value!r}.")


def _integer(net, name, low, allow_none=False):
    value = getattr(net, name)
    if allow_none and value is None:
        return
    if not (isinstance(value, Integral) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name} must be an integer >= {low}"
                         f"{' or None' if allow_none else ''}; got {value!r}.")


def check_options(net):
    """Raise a clear error for any option out of range, before training."""
    if net.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {net.solver!r}.")
    if isinstance(net.criterion, str):
        raise TypeError(f"criterion must be a torch loss class or instance, e.g."
                        f" torch.nn.CrossEntropyLoss, not the string {net.criterion!r}.")
    _integer(net, "n_steps", 1)
    _integer(net, "warmup_epochs", 0)
    _integer(net, "val_batch_size", 1, allow_none=True)
    _real(net, "step_scale", 0, low_open=True)
    _real(net, "B", 0, low_open=True)
    if net.eps is not None:
        _real(net, "eps", 0)
    check_feasible(net.B, net.eps)
    _real(net, "width_quantile", 0, 1, low_open=True)
    _real(net, "val_holdout", 0, 1, high_open=True)
    _real(net, "weight_power", 0)
    if net.solver in ("adiw", "diw", "giw"):
        check_power_range(net.B, net.weight_power, "B")
    _integer(net, "support_refresh", 1, allow_none=True)
    support = net.support_estimator
    if support is not None and not (hasattr(support, "fit")
                                    and hasattr(support, "decision_function")):
        raise TypeError(
            "support_estimator must be a scikit-learn outlier detector with fit and"
            f" decision_function (OneClassSVM, IsolationForest,"
            f" LocalOutlierFactor(novelty=True)); got {type(support).__name__}.")
    ratio = net.ratio_estimator
    if isinstance(ratio, type):
        raise TypeError(f"ratio_estimator must be an instance, e.g. {ratio.__name__}(),"
                        " not the class.")
    if ratio is not None:
        if not isinstance(ratio, BaseEstimator) or not hasattr(ratio, "predict_weights"):
            raise TypeError(f"ratio_estimator must be an adiw ratio estimator; got"
                            f" {type(ratio).__name__}.")
        if net.solver != "static" and not hasattr(ratio, "_batch_objective"):
            raise TypeError(
                f"{type(ratio).__name__} has no per-batch divergence, which"
                f' solver={net.solver!r} needs; use KMMRatio, KLIEPRatio, ULSIFRatio,'
                ' RuLSIFRatio or WassersteinRatio, or solver="static", which fits any'
                " ratio estimator once."
            )
        ratio._validate_params()
        for name in ("gamma", "reg"):
            value = ratio.get_params().get(name)
            if isinstance(value, (list, tuple, np.ndarray)):
                raise ValueError(
                    f"ratio_estimator {name}={value!r}: the trainer uses one value per"
                    " batch. Pass a number (or 'auto'), and compare values with"
                    f" GridSearchCV over ratio_estimator__{name}."
                )
            if isinstance(value, Real) and not math.isfinite(value):
                raise ValueError(f"ratio_estimator {name} must be finite, got {value!r}.")


def check_device(device):
    """A CUDA device on a machine or torch build without CUDA is an error
    that names the fix, before anything is moved."""
    if device == "auto":
        raise ValueError(
            'device="auto" is not supported by skorch nets; pass '
            '"cuda" if torch.cuda.is_available() else "cpu".')
    check_cuda(device)


def check_finite(X, name):
    """NaN or inf in an array input is an error (Datasets pass unchecked)."""
    if isinstance(X, torch.Tensor):
        bad = X.is_floating_point() and not bool(torch.isfinite(X).all())
    elif isinstance(X, np.ndarray) and X.dtype.kind in "fc":
        bad = not np.isfinite(X).all()
    else:
        return
    if bad:
        raise ValueError(f"{name} contains NaN or infinity.")


def check_same_rows(X, X_val):
    """X_val's rows must have X's shape: the module meets both, and a width
    mismatch otherwise surfaces as a matrix-product error inside forward."""
    shape, shape_val = getattr(X, "shape", None), getattr(X_val, "shape", None)
    if shape is None or shape_val is None or len(shape) < 2:
        return                      # dicts, Datasets, 1-D inputs: the module decides
    if tuple(shape[1:]) != tuple(shape_val[1:]):
        raise ValueError(f"X_val's rows have shape {tuple(shape_val[1:])} but X's have"
                         f" {tuple(shape[1:])}: the test-distribution sample needs X's"
                         " features.")


def as_array(X, name):
    """``X_val`` as an array: DataFrames are converted; dicts and Datasets
    are refused (the test-distribution sample is indexed per batch)."""
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if isinstance(X, (dict, torch.utils.data.Dataset)):
        raise TypeError(
            f"{name} must be an array, tensor or DataFrame; got {type(X).__name__}."
            " The test-distribution sample is drawn from in batches on the device."
        )
    return X if isinstance(X, torch.Tensor) else np.asarray(X)


def check_labels(y, name):
    """Integer class labels 0..K-1, as cross-entropy needs them."""
    arr = y.cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class labels 0..K-1, got dtype {arr.dtype}."
            " Encode string or float labels first, e.g. with sklearn's LabelEncoder."
        )
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} has negative labels; use 0..K-1.")
    return arr


def check_output_covers(n_outputs, y, name):
    if y.size and y.max() >= n_outputs:
        raise ValueError(
            f"{name} holds label {int(y.max())}, but the module outputs {n_outputs}"
            f" logits (labels 0..{n_outputs - 1})."
        )


#: The largest factor a loss may be multiplied by: float32's range, with
#: room for sums over many samples.
WEIGHT_LIMIT = 1e30


def check_power_range(w_max, power, name):
    """``w_max ** power`` must stay a float32 number (in log space: the power
    itself may overflow Python floats)."""
    if w_max > 0 and power * math.log(w_max) > math.log(WEIGHT_LIMIT):
        raise ValueError(
            f"weight_power={power} with {name}={w_max:.4g}: the loss factor"
            f" {name}**weight_power exceeds {WEIGHT_LIMIT:.0e}, past float32's range, and"
            " the weights, parameters and loss would turn to inf or NaN. Lower"
            f" weight_power (at most {math.log(WEIGHT_LIMIT) / math.log(w_max):.3g}"
            f" here) or {name}.")


def check_sample_weight(sample_weight, n, power=1.0):
    """Known per-sample weights: 1-D, one per training sample, finite, >= 0,
    within float32 (also after ``** power``); a warning when all are 0."""
    w = np.asarray(sample_weight.cpu() if isinstance(sample_weight, torch.Tensor)
                   else sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), one weight per training"
                         f" sample; got {w.shape}.")
    if np.any(np.isnan(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be non-negative numbers (no NaN).")
    if not np.all(w <= WEIGHT_LIMIT):
        raise ValueError(f"sample_weight holds {w.max():.3g}, beyond {WEIGHT_LIMIT:.0e}"
                         " (float32's range, with room for sums); rescale the weights.")
    check_power_range(float(w.max()) if w.size else 0.0, power, "max(sample_weight)")
    w = w.astype(np.float32)
    if w.size and not np.any(w > 0):
        warnings.warn(
            "Every sample_weight is 0 (after rounding to float32, which flushes values"
            " below about 1e-45): the training loss is 0 and the parameters will not"
            " change. Rescale the weights, e.g. w / w.max().", UserWarning, stacklevel=4)
    return w
