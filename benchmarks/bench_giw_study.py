"""GIW's two knobs on colour digits: the warm-up length and the share of val2 in the loss.

GIW trains on ``alpha * (ADIW's loss) + (1 - alpha) * mean(loss_val2)``: the
out-of-support test points (val2) get the share 1 - alpha of the loss, the
share they have in the test distribution. On colour digits (3 channels) that
is 0.61 for about 60 labelled digits. This study asks whether the method's
result there depends on that share or on the warm-up:

- giw: the defaults of bench_real.py (warm-up 5 of 20 epochs, share 1 - alpha);
- giw_warmup_1, giw_warmup_10: the warm-up changed;
- giw_pooled_val2: the val2 rows count as any row of the batch mean (the
  share ERM with train_on_val gives them), not 1 - alpha;
- erm and adiw from bench_real.py, for reference.

Clean and 40 % pair-flipped labels, seeds 0-4, mean ± sd, and the paired
difference against giw.

    python benchmarks/bench_giw_study.py [--quick] [--device cuda] [--out DIR]
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402
from bench_real import COMMON, EPOCHS, run  # noqa: E402

from adiw.datasets import load_colour_digits_shift  # noqa: E402
from adiw.deep import DynamicIWClassifier  # noqa: E402
from adiw.deep.weighting import GIWWeighting  # noqa: E402
from adiw.models import MLP  # noqa: E402


class PooledVal2(GIWWeighting):
    """GIW with the val2 rows pooled into the batch mean (factor 1) instead of
    the share 1 - alpha; the weighted rows keep their ADIW factors."""

    def batch_loss(self, net, Xi, yi, positions, **fit_params):
        out = super().batch_loss(net, Xi, yi, positions, **fit_params)
        if not self.updates_now(net) or self._val2_batch is None:
            return out
        alpha, m = net.support_fraction_, len(self._val2_batch[1])
        rows = len(out.weights)
        k = rows - m
        factors = out.weights.clone()
        if alpha > 0:
            factors[:k] /= alpha * rows / k
        factors[k:] = 1.0
        out.weights = factors
        return out


class PooledVal2Classifier(DynamicIWClassifier):
    def _initialize_weighting(self):
        super()._initialize_weighting()
        self.weighting_ = PooledVal2(self)


VARIANTS = {
    "giw": (DynamicIWClassifier, EPOCHS // 4),
    "giw_warmup_1": (DynamicIWClassifier, 1),
    "giw_warmup_10": (DynamicIWClassifier, EPOCHS // 2),
    "giw_pooled_val2": (PooledVal2Classifier, EPOCHS // 4),
}


def run_variant(name, data, seed, epochs, device):
    net_class, warmup = VARIANTS[name]
    torch.manual_seed(seed)
    net = net_class(MLP, solver="giw", hidden_layer="hidden", max_epochs=epochs,
                    warmup_epochs=min(warmup, epochs - 1), device=device,
                    module__n_features=data.X_train.shape[1], **COMMON)
    net.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    return float(np.mean(net.predict(data.X_test) == data.y_test))


def main():
    args = parse_args(__doc__.splitlines()[0])
    seeds = (0,) if args.quick else (0, 1, 2, 3, 4)
    epochs = 4 if args.quick else EPOCHS
    methods = [*VARIANTS, "erm", "adiw"]
    rows = []
    for noise_rate in (0.0, 0.4):
        acc = {m: [] for m in methods}
        for seed in seeds:
            data = load_colour_digits_shift(noise_rate=noise_rate, random_state=seed)
            for m in methods:
                a = run_variant(m, data, seed, epochs, args.device) if m in VARIANTS \
                    else run(m, data, seed, epochs, args.device)[0]
                acc[m].append(a)
                print(f"flips {noise_rate:.0%} seed {seed} {m:16s} {a:.3f}", flush=True)
        for m in methods:
            v, diff = np.array(acc[m]), np.array(acc[m]) - np.array(acc["giw"])
            sd = lambda x: f" ± {100 * x.std(ddof=1):.1f}" if len(x) > 1 else ""  # noqa: E731
            rows.append({
                "labels": "clean" if noise_rate == 0 else f"{noise_rate:.0%} pair flips",
                "method": m,
                "test acc": f"{v.mean():.3f}" + (f" ± {v.std(ddof=1):.3f}" if len(v) > 1 else ""),
                "vs giw (points, paired)": f"{100 * diff.mean():+.1f}" + sd(diff),
            })
    write(rows, args.out, "giw_study",
          f"GIW's warm-up and val2 share, colour digits (3 channels), {epochs} epochs,"
          f" seeds {list(seeds)} ({args.device})")


if __name__ == "__main__":
    main()
