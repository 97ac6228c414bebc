"""Colour digits: a test distribution mostly outside the training support (GIW's case).

``load_colour_digits_shift``: 8x8 digits in three colour channels (192
features). Training digits are in channel 0; the 100 labelled validation
digits (10 per class) and the test digits are spread evenly over
``test_channels`` channels, so the share of the test distribution inside the
training support is 1 / test_channels. The protocol and the methods are
``bench_real.py``'s (MLP, batch 64, SGD lr 0.05 momentum 0.9, 20 epochs;
val_only gets as many optimizer steps; GIW warms up for 5 epochs;
pretrain_finetune trains 20 epochs on the training digits, then 50 on the
labelled ones; adiw_finetune the same with ADIW's weights in the first
phase, as chosen on bench_real's tuning seeds and not tuned here; static and
diw are DynamicIWClassifier's solvers).

Table: test_channels = 3, clean and 40 % pair-flipped labels, seeds 0-4,
mean ± sd and the paired differences against the best of ERM and val-only
and against pretrain_finetune.
Figure (docs/img/colour_digits_alpha.png): GIW's estimated in-support share
alpha against the true share, and each method's accuracy, for 1, 2 and 3
channels (clean labels).

    python benchmarks/bench_colour_digits.py [--quick] [--device cuda] [--seeds 0 1 2 3 4]
        [--out DIR]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402
from bench_real import EPOCHS, mean_sd, paired, run  # noqa: E402

from adiw.datasets import load_colour_digits_shift  # noqa: E402

METHODS = ["erm", "val_only", "pretrain_finetune", "adiw_finetune", "static", "diw", "adiw",
           "giw"]


def measure(seeds, epochs, device, noise_rate, test_channels):
    acc = {m: [] for m in METHODS}
    alpha, share = [], []
    for seed in seeds:
        data = load_colour_digits_shift(noise_rate=noise_rate, test_channels=test_channels,
                                        random_state=seed)
        share.append(np.mean(data.channel_val == 0))     # validation digits in channel 0
        for m in METHODS:
            a, frac = run(m, data, seed, epochs, device)
            acc[m].append(a)
            if m == "giw":
                alpha.append(frac)
            print(f"channels {test_channels} flips {noise_rate:.0%} seed {seed} {m:9s}"
                  f" {a:.3f}", flush=True)
    return {m: np.array(v) for m, v in acc.items()}, np.array(alpha), float(np.mean(share))


def plot(curve, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = sorted(curve)
    true = [curve[c][2] for c in channels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    est = [curve[c][1] for c in channels]
    left.errorbar(true, [a.mean() for a in est], yerr=[a.std() for a in est], marker="o",
                  label="GIW's alpha")
    left.plot([0, 1], [0, 1], "k:", label="true share")
    left.set(xlabel="share of the validation digits in the training channel",
             ylabel="alpha = |val1| / |val|", xlim=(0, 1.05), ylim=(0, 1.05))
    left.legend()
    for m in METHODS:
        accs = [curve[c][0][m] for c in channels]
        right.errorbar(true, [a.mean() for a in accs], yerr=[a.std() for a in accs],
                       marker="o", label=m)
    right.set(xlabel="share in the training channel", ylabel="test accuracy")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    args = parse_args(__doc__.splitlines()[0], seeds=range(5))
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = 3 if args.quick else EPOCHS
    rows, curve = [], {}
    for noise_rate in (0.0, 0.4):
        acc, alpha, share = measure(seeds, epochs, args.device, noise_rate, 3)
        if noise_rate == 0.0:
            curve[3] = (acc, alpha, share)
        best = max(("erm", "val_only"), key=lambda m: acc[m].mean())
        for m in METHODS:
            rows.append({
                "labels": "clean" if noise_rate == 0 else f"{noise_rate:.0%} pair flips",
                "method": m, "test acc": mean_sd(acc[m]),
                "best baseline": best,
                "vs best baseline (points, paired ± sd)": paired(acc[m], acc[best]),
                "vs pretrain_finetune": paired(acc[m], acc["pretrain_finetune"]),
                "GIW alpha": mean_sd(alpha, 2) if m == "giw" else "",
            })
    write(rows, args.out, "colour_digits",
          f"Colour digits (3 channels), 100 labelled test digits, {epochs} epochs,"
          f" seeds {list(seeds)} ({args.device})")
    for channels in (1, 2):
        curve[channels] = measure(seeds, epochs, args.device, 0.0, channels)
    print("alpha curve (channels: true share, GIW alpha mean; accuracies):")
    for c in sorted(curve):
        print(f"  {c}: {curve[c][2]:.2f} {curve[c][1].mean():.2f}; "
              + ", ".join(f"{m} {curve[c][0][m].mean():.3f}" for m in METHODS))
    img = os.path.join(os.path.dirname(__file__), "..", "docs", "img")
    os.makedirs(img, exist_ok=True)
    plot(curve, os.path.join(img, "colour_digits_alpha.png"))


if __name__ == "__main__":
    main()
