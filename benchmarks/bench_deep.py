"""Deep trainer: accuracy on the digits joint shift and epoch-time ratios.

Accuracy: every method (with static IW and the DIW-reference preset), mean over
seeds, fixed epoch budget (MLP, batch 64), with paired differences against the
best baseline and against DIW, and the median epoch time.
Cost: median epoch time of ERM (on the training set alone and on train +
validation, and skorch's plain NeuralNetClassifier for reference), ADIW (KMM,
W1) and DIW (KMM) on the same data, for the MLP at batch 64 and a LeNet-size
CNN at batch 256; no per-epoch test evaluation inside the timed epochs.

    python benchmarks/bench_deep.py [--quick] [--device cuda] [--out DIR]
"""

import os
import sys

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.dataset import Dataset
from skorch.helper import predefined_split

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import load_digits_shift  # noqa: E402
from adiw.experiment import EXTRA_METHODS, METHODS, run  # noqa: E402
from adiw.models import MODELS  # noqa: E402


ACCURACY_METHODS = {**METHODS, **EXTRA_METHODS}


def accuracy_rows(seeds, epochs, device):
    acc = {m: [] for m in ACCURACY_METHODS}
    time_ = {m: [] for m in ACCURACY_METHODS}
    w_flip = {m: [] for m in ACCURACY_METHODS}
    for seed in seeds:
        data = load_digits_shift(random_state=seed)
        for m in ACCURACY_METHODS:
            r = run(m, seed=seed, epochs=epochs, device=device, data=data, track_test=False)
            acc[m].append(r.test_acc)
            time_[m].append(r.epoch_time)
            w_flip[m].append(r.w_flipped / r.w_clean)
            print(f"seed {seed} {m:10s} {r.test_acc:.3f}", flush=True)
    acc = {m: np.array(a) for m, a in acc.items()}
    best = max(("erm", "val_only"), key=lambda m: acc[m].mean())
    rows = []
    for m in ACCURACY_METHODS:
        # Paired over seeds: each seed shares data, split and initialisation.
        vs_best, vs_diw = acc[m] - acc[best], acc[m] - acc["diw"]
        se = vs_diw.std(ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else float("nan")
        rows.append({
            "method": m, "test acc (mean)": f"{acc[m].mean():.3f}",
            "std": f"{acc[m].std():.3f}",
            f"vs {best} (points)": f"{100 * vs_best.mean():+.1f}",
            "vs diw (points, ± s.e.)":
                f"{100 * vs_diw.mean():+.1f} ± {100 * se:.1f}",
            "w flipped / w clean": ("" if m in ("erm", "val_only")
                                    else f"{np.mean(w_flip[m]):.2f}"),
            "epoch (ms, median)": f"{1000 * np.median(time_[m]):.0f}",
        })
    return rows


def _plain_skorch_epoch(data, model, batch, epochs, device):
    """skorch's own NeuralNetClassifier on train + validation data: the
    reference a user would otherwise run."""
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        MODELS[model], max_epochs=epochs, batch_size=batch, lr=0.05,
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, device=device,
        criterion=torch.nn.CrossEntropyLoss,
        train_split=predefined_split(Dataset(data.X_val, data.y_val)), verbose=0)
    net.fit(np.concatenate([data.X_train, data.X_val]),
            np.concatenate([data.y_train, data.y_val]))
    return float(np.median(net.history[:, "dur"]))


def cost_rows(epochs, device, rounds):
    """Median epoch time of each variant; the best of ``rounds`` interleaved
    repetitions, so a busy moment on a shared machine does not decide."""
    rows = []
    for model, batch in (("mlp", 64), ("lenet", 256)):
        data = load_digits_shift(random_state=0)
        # ERM runs through DynamicIWClassifier with solver="none": the same
        # data pipeline, so the ratios isolate the weighting. "train" is the
        # strictest reference (ADIW also trains on a validation batch per step).
        variants = {
            "erm_train": lambda: run("adiw-kmm", solver="none", train_on_val=False, **common),
            "erm": lambda: run("erm", **common),
            "adiw-kmm": lambda: run("adiw-kmm", **common),
            "adiw-w1": lambda: run("adiw-w1", **common),
            "diw": lambda: run("diw", **common),
        }
        common = dict(epochs=epochs, model=model, batch_size=batch, device=device, data=data,
                      track_test=False)
        t = {name: np.inf for name in variants}
        t["skorch"] = np.inf
        for _ in range(rounds):
            for name, fit in variants.items():
                t[name] = min(t[name], fit().epoch_time)
            t["skorch"] = min(t["skorch"], _plain_skorch_epoch(data, model, batch, epochs,
                                                               device))
        rows.append({
            "model": model, "batch": batch,
            "skorch ERM, train+val (ms)": f"{1000 * t['skorch']:.1f}",
            "ERM, train (ms)": f"{1000 * t['erm_train']:.1f}",
            "ERM, train+val (ms)": f"{1000 * t['erm']:.1f}",
            "ADIW-KMM (ms)": f"{1000 * t['adiw-kmm']:.1f}",
            "ADIW-W1 (ms)": f"{1000 * t['adiw-w1']:.1f}",
            "DIW (ms)": f"{1000 * t['diw']:.1f}",
            "ADIW-KMM / skorch": f"{t['adiw-kmm'] / t['skorch']:.2f}",
            "ADIW-W1 / skorch": f"{t['adiw-w1'] / t['skorch']:.2f}",
            "ADIW / ERM train": f"{t['adiw-kmm'] / t['erm_train']:.2f}",
            "ADIW / ERM train+val": f"{t['adiw-kmm'] / t['erm']:.2f}",
            "DIW / ADIW": f"{t['diw'] / t['adiw-kmm']:.2f}",
        })
    return rows


def main():
    args = parse_args(__doc__)
    seeds = (0,) if args.quick else (0, 1, 2, 3, 4)
    epochs = 10 if args.quick else 40
    write(cost_rows(5 if args.quick else 15, args.device, 1 if args.quick else 3),
          args.out, "deep_cost",
          f"Deep trainer epoch time ({args.device})")
    write(accuracy_rows(seeds, epochs, args.device), args.out, "deep_accuracy",
          f"Digits joint shift, {epochs} epochs, seeds {list(seeds)} ({args.device})")


if __name__ == "__main__":
    main()
