"""Colour digits with a first layer shared by the channels: does the architecture do what no weight can?

On colour digits (``bench_colour_digits.py``) two thirds of the test digits
lie in colour channels that no training digit uses, and no weighting method
gains on ERM with clean labels. The reading given there: an MLP's first layer
has separate weights for each channel, so nothing learnt on channel 0 reaches
channels 1 and 2, which are learnt from the ~67 labelled digits in them alone.
This study tests that reading. ``ChannelSharedMLP`` applies one
``Linear(64, 128)`` to each 64-pixel channel and sums the three results
before the ReLU: with one channel lit per digit, its hidden layer cannot tell
the channels apart, so the training digits cover every channel in it.

Same protocol as ``bench_colour_digits.py`` (``bench_real.run``: batch 64,
SGD lr 0.05 momentum 0.9, 20 epochs, val_only with as many optimizer steps,
GIW's split in the hidden layer), test_channels = 3, seeds 0-4, mean ± sd,
and the paired difference of the shared model against the MLP for each
method. Nothing was tuned.

    python benchmarks/bench_colour_channels.py [--quick] [--device cuda] [--seeds 0 1 2 3 4]
        [--out DIR]
"""

import os
import sys

import numpy as np
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402
from bench_real import EPOCHS, mean_sd, paired, run  # noqa: E402

from adiw.datasets import load_colour_digits_shift  # noqa: E402
from adiw.models import MLP  # noqa: E402

METHODS = ["erm", "val_only", "pretrain_finetune", "adiw", "giw"]


class ChannelSharedMLP(nn.Module):
    """MLP whose first layer is one ``Linear(n_features // n_channels,
    n_hidden)`` applied to every channel, the results summed: a colour
    digit's hidden layer does not depend on its channel."""

    def __init__(self, n_features=192, n_channels=3, n_hidden=128, n_classes=10):
        super().__init__()
        if n_features % n_channels:
            raise ValueError(f"n_features={n_features} is not {n_channels} equal channels.")
        self.n_channels = n_channels
        self.pixels = nn.Linear(n_features // n_channels, n_hidden)
        self.hidden = nn.ReLU()        # its output is GIW's representation (hidden_layer)
        self.out = nn.Linear(n_hidden, n_classes)

    def forward(self, X):
        channels = X.reshape(X.shape[0], self.n_channels, -1)
        return self.out(self.hidden(self.pixels(channels).sum(1)))


MODELS = {"MLP": MLP, "channel-shared MLP": ChannelSharedMLP}


def main():
    args = parse_args(__doc__.splitlines()[0], seeds=range(5))
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = 3 if args.quick else EPOCHS
    rows = []
    for noise_rate in (0.0, 0.4):
        acc, alpha = {}, {}
        for seed in seeds:
            data = load_colour_digits_shift(noise_rate=noise_rate, random_state=seed)
            for model_name, module in MODELS.items():
                for m in METHODS:
                    a, frac = run(m, data, seed, epochs, args.device, module=module)
                    acc.setdefault((model_name, m), []).append(a)
                    alpha.setdefault((model_name, m), []).append(frac)
                    print(f"flips {noise_rate:.0%} seed {seed} {model_name} {m} {a:.3f}",
                          flush=True)
        for m in METHODS:
            mlp = np.array(acc[("MLP", m)])
            for model_name in MODELS:
                a = np.array(acc[(model_name, m)])
                rows.append({
                    "labels": "clean" if noise_rate == 0 else f"{noise_rate:.0%} pair flips",
                    "method": m, "model": model_name,
                    "test acc": mean_sd(a),
                    "vs MLP (points, paired)": paired(a, mlp),
                    "GIW alpha": (f"{np.mean(alpha[(model_name, m)]):.2f}" if m == "giw"
                                  else ""),
                })
    write(rows, args.out, "colour_channels",
          f"Colour digits, a first layer shared by the channels (seeds {seeds})")


if __name__ == "__main__":
    main()
