"""Deep trainer: accuracy on the digits joint shift and epoch-time ratios.

Accuracy: every method, mean over seeds, fixed epoch budget (MLP, batch 64).
Cost: median epoch time of ERM, ADIW (KMM) and DIW (KMM) on the same data,
for the MLP at batch 64 and a LeNet-size CNN at batch 256; no per-epoch test
evaluation inside the timed epochs.

    python benchmarks/bench_deep.py [--quick] [--device cuda] [--out DIR]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import load_digits_shift  # noqa: E402
from adiw.experiment import METHODS, run  # noqa: E402


def accuracy_rows(seeds, epochs, device):
    acc = {m: [] for m in METHODS}
    time_ = {m: [] for m in METHODS}
    for seed in seeds:
        data = load_digits_shift(random_state=seed)
        for m in METHODS:
            r = run(m, seed=seed, epochs=epochs, device=device, data=data, track_test=False)
            acc[m].append(r.test_acc)
            time_[m].append(r.epoch_time)
            print(f"seed {seed} {m:10s} {r.test_acc:.3f}", flush=True)
    best_baseline = max(np.mean(acc["erm"]), np.mean(acc["val_only"]))
    return [{"method": m, "test acc (mean)": f"{np.mean(acc[m]):.3f}",
             "std": f"{np.std(acc[m]):.3f}",
             "vs best baseline (points)": f"{100 * (np.mean(acc[m]) - best_baseline):+.1f}",
             "epoch (ms)": f"{1000 * np.median(time_[m]):.0f}"} for m in METHODS]


def cost_rows(epochs, device):
    rows = []
    for model, batch in (("mlp", 64), ("lenet", 256)):
        data = load_digits_shift(random_state=0)
        # ERM = the same net, unweighted, on the same training set (with the
        # same per-epoch validation), so the ratio isolates the weighting.
        variants = {"erm": ("adiw-kmm", dict(solver="none", train_on_val=False)),
                    "adiw-kmm": ("adiw-kmm", {}), "diw": ("diw", {})}
        t = {name: run(method, epochs=epochs, model=model, batch_size=batch,
                       device=device, data=data, track_test=False, **opts).epoch_time
             for name, (method, opts) in variants.items()}
        rows.append({"model": model, "batch": batch,
                     "ERM epoch (ms)": f"{1000 * t['erm']:.1f}",
                     "ADIW epoch (ms)": f"{1000 * t['adiw-kmm']:.1f}",
                     "DIW epoch (ms)": f"{1000 * t['diw']:.1f}",
                     "ADIW / ERM": f"{t['adiw-kmm'] / t['erm']:.2f}",
                     "DIW / ADIW": f"{t['diw'] / t['adiw-kmm']:.2f}"})
    return rows


def main():
    args = parse_args(__doc__)
    seeds = (0,) if args.quick else (0, 1, 2)
    epochs = 10 if args.quick else 40
    write(cost_rows(5 if args.quick else 15, args.device), args.out, "deep_cost",
          f"Deep trainer epoch time ({args.device})")
    write(accuracy_rows(seeds, epochs, args.device), args.out, "deep_accuracy",
          f"Digits joint shift, {epochs} epochs, seeds {list(seeds)} ({args.device})")


if __name__ == "__main__":
    main()
