"""The digits joint-shift experiment behind the demo, the benchmarks and tests."""

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from skorch.callbacks import Callback

from .datasets import load_digits_shift
from .deep import DIWReferenceClassifier, DynamicIWClassifier
from .estimators import KLIEPRatio, KMMRatio, ULSIFRatio, WassersteinRatio
from .models import MODELS

#: method name -> DynamicIWClassifier options
METHODS = {
    "erm": dict(solver="none"),
    "val_only": dict(solver="none"),
    "diw": dict(solver="diw", ratio_estimator=KMMRatio()),
    "adiw-kmm": dict(solver="adiw", ratio_estimator=KMMRatio()),
    "adiw-kl": dict(solver="adiw", ratio_estimator=KLIEPRatio()),
    "adiw-lsif": dict(solver="adiw", ratio_estimator=ULSIFRatio()),
    "adiw-w1": dict(solver="adiw", ratio_estimator=WassersteinRatio()),
}
#: Baselines beyond the demo's set (bench_deep.py runs them too).
EXTRA_METHODS = {
    # warm-up chosen on seeds 10-11 among 1, 5, 10, 20 (0.794, 0.889, 0.884, 0.885)
    "static": dict(solver="static", ratio_estimator=KMMRatio(), warmup_epochs=5),
    "diw-reference": dict(net_class=DIWReferenceClassifier, ratio_estimator=KMMRatio()),
}


class TestAccuracy(Callback):
    """Records accuracy on a held-out test set after every epoch."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_epoch_end(self, net, **kwargs):
        net.history.record("test_acc", float(np.mean(net.predict(self.X) == self.y)))


@dataclass
class RunResult:
    method: str
    seed: int
    test_acc: float
    fit_time: float
    epoch_time: float
    ess: float
    acc_per_epoch: list = field(default_factory=list)
    w_clean: float = float("nan")
    w_flipped: float = float("nan")
    weights: np.ndarray = None


def _n_batches(n, batch_size):
    return -(-n // batch_size)


def run(method, *, seed=0, epochs=40, model="mlp", batch_size=64, lr=0.05,
        device="cpu", track_test=True, data=None, verbose=0, **options):
    """Train one method on the digits joint-shift task and measure it.

    The baselines are what their names say: ``erm`` is a plain unweighted
    network on the concatenation of the training and validation sets (no
    extra validation batch per step); ``val_only`` trains on the validation
    sample alone for as many optimizer steps as the weighting methods take
    (``epochs`` times their batches per epoch), not for ``epochs`` passes
    over its 100 samples. The weighting methods use the whole validation
    sample (``val_holdout=0``): every method sees the same clean data, and
    accuracy is measured on the separate test set.
    """
    known = {**METHODS, **EXTRA_METHODS}
    if method not in known:
        raise ValueError(f"method must be one of {sorted(known)}; got {method!r}.")
    if model not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {model!r}.")
    data = load_digits_shift(random_state=seed) if data is None else data
    torch.manual_seed(seed)
    kwargs = dict(known[method])
    kwargs.update(options)
    net_class = kwargs.pop("net_class", DynamicIWClassifier)
    callbacks = [TestAccuracy(data.X_test, data.y_test)] if track_test else []
    X, y, fit = data.X_train, data.y_train, {"X_val": data.X_val, "y_val": data.y_val}
    steps = epochs * _n_batches(len(data.y_train), batch_size)
    if method == "erm":
        X = np.concatenate([data.X_train, data.X_val])
        y = np.concatenate([data.y_train, data.y_val])
        fit = {}
    elif method == "val_only":
        X, y, fit = data.X_val, data.y_val, {}
        epochs = -(-steps // _n_batches(len(y), batch_size))
    kwargs.setdefault("val_holdout", 0.0)
    net = net_class(
        MODELS[model], max_epochs=epochs, batch_size=batch_size, lr=lr,
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, device=device,
        callbacks=callbacks, verbose=verbose, **kwargs,
    )
    start = time.perf_counter()
    net.fit(X, y, **fit)
    fit_time = time.perf_counter() - start
    acc = float(np.mean(net.predict(data.X_test) == data.y_test))
    w = net.sample_weights()[:len(data.y_train)]     # DIW-reference appends X_val
    result = RunResult(
        method=method, seed=seed, test_acc=acc, fit_time=fit_time,
        epoch_time=float(np.median(net.history[:, "dur"])),
        ess=float(w.sum() ** 2 / (w @ w) / len(w)),
        acc_per_epoch=list(net.history[:, "test_acc"]) if track_test else [],
        weights=w,
    )
    if method not in ("erm", "val_only"):
        result.w_clean = float(w[~data.flipped].mean())
        result.w_flipped = float(w[data.flipped].mean())
    return result
