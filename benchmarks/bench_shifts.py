"""ADIW across representations and shift types on digits.

1. Representations: ADIW (KMM) on the digits joint shift (40 % pair-flipped
   labels, 5:1 imbalance) comparing the per-sample loss, the softmax output
   with the one-hot label, and the MLP's hidden layer with the label.
2. Shift types: pair-flipped labels (the default task), symmetric label
   noise (40 %), the class-prior shift alone (no label noise), and the joint
   shift plus a covariate shift in the inputs (Gaussian noise of sd 0.3 on
   the training images only); ERM on train + validation, the validation
   sample alone (as many steps), static IW, ADIW (KMM) and DIW.

Settings of bench_deep.py (MLP, SGD lr 0.05 with momentum, batch 64, 40
epochs), seeds 0-4, mean ± sd of test accuracy.

    python benchmarks/bench_shifts.py [--quick] [--out DIR]
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import load_digits_shift  # noqa: E402
from adiw.experiment import run  # noqa: E402

REPRESENTATIONS = {
    "loss": dict(representation="loss"),
    "softmax + label": dict(representation="softmax_label"),
    "hidden layer + label": dict(representation="hidden", hidden_layer="hidden"),
}
SHIFTS = {
    "pair noise 40 % + prior 5:1": dict(),
    "symmetric noise 40 % + prior 5:1": dict(noise="symmetric"),
    "prior 5:1 only": dict(noise_rate=0.0),
    "pair noise + prior + input noise (sd 0.3)": dict(train_input_noise=0.3),
}
METHODS = ("erm", "val_only", "static", "adiw-kmm", "diw")


def mean_sd(values):
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" if len(values) > 1 \
        else f"{values[0]:.3f}"


def representation_rows(seeds, epochs):
    rows = []
    for name, options in REPRESENTATIONS.items():
        acc, flip = [], []
        for seed in seeds:
            r = run("adiw-kmm", seed=seed, epochs=epochs, track_test=False, **options)
            acc.append(r.test_acc)
            flip.append(r.w_flipped / r.w_clean)
        print(f"representation {name}: {np.round(acc, 3)}", flush=True)
        rows.append({"representation": name, "ADIW (KMM) test acc": mean_sd(acc),
                     "w flipped / w clean": f"{np.mean(flip):.2f}"})
    return rows


def shift_rows(seeds, epochs):
    rows = []
    for name, options in SHIFTS.items():
        acc = {m: [] for m in METHODS}
        for seed in seeds:
            data = load_digits_shift(random_state=seed, **options)
            for m in METHODS:
                acc[m].append(run(m, seed=seed, epochs=epochs, data=data,
                                  track_test=False).test_acc)
        print(f"shift {name}: " + ", ".join(f"{m} {np.mean(acc[m]):.3f}" for m in METHODS),
              flush=True)
        rows.append({"shift": name, **{m: mean_sd(acc[m]) for m in METHODS}})
    return rows


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(2)
    seeds = range(1) if args.quick else range(5)
    epochs = 10 if args.quick else 40
    write(representation_rows(seeds, epochs), args.out, "shifts_representations",
          f"ADIW (KMM) by representation, digits joint shift, seeds {list(seeds)}")
    write(shift_rows(seeds, epochs), args.out, "shifts_types",
          f"Test accuracy by shift type, seeds {list(seeds)}")


if __name__ == "__main__":
    main()
