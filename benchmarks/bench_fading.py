"""Importance weighting fades with cross-entropy; a polynomially tailed loss keeps it.

1. Imbalanced binary digits (Wang et al., ICLR 2022, in miniature): digits 3
   (majority) and 8, 20:1 in training (100 and 5 samples), balanced test set
   from the rest; an MLP trained full-batch for 500 epochs (SGD, momentum
   0.9, lr 0.1) until it fits the training set; importance weights = the
   class-prior ratio. Balanced test accuracy over seeds 0-9 for ERM and IW
   with cross-entropy, ERM and IW with the poly-tailed loss, and IW with
   weight_power 1.5 and 2; paired differences against IW with
   cross-entropy with 95 % t-intervals; a plot of balanced test accuracy
   per epoch. Weights are rescaled so that ``w ** power`` averages 1 (the
   learning rate means the same for every power). The pair, the budget and
   the learning rate were chosen on seeds 100-102.
2. The mechanism on two separable 2-D Gaussians with a linear model:
   gradient descent with and without weights; the angle between the
   weighted and the unweighted iterate over the steps (plot).

    python benchmarks/bench_fading.py [--quick] [--out DIR]
"""

import os
import sys

import numpy as np
import torch
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score
from skorch.callbacks import Callback

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.deep import DynamicIWClassifier  # noqa: E402
from adiw.losses import PolyTailedLoss  # noqa: E402
from adiw.models import MLP  # noqa: E402

MAJORITY, MINORITY, N_MINORITY, RATIO = 3, 8, 5, 20
EPOCHS, LR = 500, 0.1
CE = torch.nn.CrossEntropyLoss
#: name -> (criterion, importance weights?, weight_power)
CONFIGS = {
    "ERM, cross-entropy": (CE, False, 1.0),
    "IW, cross-entropy": (CE, True, 1.0),
    "ERM, poly-tailed": (PolyTailedLoss, False, 1.0),
    "IW, poly-tailed": (PolyTailedLoss, True, 1.0),
    "IW^1.5, poly-tailed": (PolyTailedLoss, True, 1.5),
    "IW^2, poly-tailed": (PolyTailedLoss, True, 2.0),
}
REFERENCE = "IW, cross-entropy"


def imbalanced_digits(seed):
    """Training: 100 of the majority digit, 5 of the minority; test: balanced."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    major = rng.permutation(np.flatnonzero(y == MAJORITY))
    minor = rng.permutation(np.flatnonzero(y == MINORITY))
    n_major = RATIO * N_MINORITY
    train = np.r_[major[:n_major], minor[:N_MINORITY]]
    k = min(len(major) - n_major, len(minor) - N_MINORITY)
    test = np.r_[major[n_major:n_major + k], minor[N_MINORITY:N_MINORITY + k]]
    y_tr, y_te = (y[train] == MINORITY).astype(np.int64), (y[test] == MINORITY).astype(np.int64)
    # class-prior ratio p_test(y) / p_train(y)
    prior_tr = np.bincount(y_tr, minlength=2) / len(y_tr)
    w = (0.5 / prior_tr)[y_tr].astype(np.float32)
    return X[train], y_tr, X[test], y_te, w


def powered_mean_one(w, power):
    """``w`` rescaled so that ``w ** power`` averages 1 over the training set:
    the weighted loss is then a weighted average for every power, and the
    learning rate means the same (unscaled, the squared class-prior weights
    average 5.5 and full-batch SGD at lr 0.1 diverged)."""
    return (w / np.mean(w ** power) ** (1.0 / power)).astype(np.float32)


class BalancedTestAccuracy(Callback):
    def __init__(self, X, y, every):
        self.X, self.y, self.every = X, y, every

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) % self.every == 0:
            net.history.record("test_bacc", balanced_accuracy_score(self.y, net.predict(self.X)))


def digits_runs(seeds, epochs, every):
    acc, curves, fitted = {}, {}, {}
    for seed in seeds:
        X_tr, y_tr, X_te, y_te, w = imbalanced_digits(seed)
        for name, (criterion, weighted, power) in CONFIGS.items():
            torch.manual_seed(seed)
            net = DynamicIWClassifier(
                MLP, module__n_classes=2, solver="none", criterion=criterion,
                weight_power=power, max_epochs=epochs, batch_size=len(y_tr), lr=LR,
                optimizer=torch.optim.SGD, optimizer__momentum=0.9, val_holdout=0.0,
                callbacks=[BalancedTestAccuracy(X_te, y_te, every)], verbose=0)
            net.fit(X_tr, y_tr, sample_weight=powered_mean_one(w, power) if weighted else None)
            acc.setdefault(name, []).append(balanced_accuracy_score(y_te, net.predict(X_te)))
            fitted.setdefault(name, []).append(net.history[-1, "iw_train_acc"])
            curves.setdefault(name, []).append(
                [h["test_bacc"] for h in net.history if "test_bacc" in h])
        print(f"seed {seed}: " + ", ".join(f"{acc[n][-1]:.3f}" for n in CONFIGS), flush=True)
    return acc, curves, fitted


def accuracy_rows(acc, fitted):
    rows = []
    for name in CONFIGS:
        diff = 100 * (np.array(acc[name]) - np.array(acc[REFERENCE]))
        half = (stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
                if len(diff) > 1 else float("nan"))
        rows.append({
            "method": name,
            "balanced test acc": f"{np.mean(acc[name]):.3f} ± {np.std(acc[name], ddof=1):.3f}"
            if len(acc[name]) > 1 else f"{acc[name][0]:.3f}",
            f"vs {REFERENCE} (points, 95% CI)": "0" if name == REFERENCE
            else f"{diff.mean():+.1f} [{diff.mean() - half:+.1f}, {diff.mean() + half:+.1f}]",
            "training accuracy at the end": f"{np.min(fitted[name]):.3f} (min over seeds)",
        })
    return rows


def linear_mechanism(steps=200_000, lr=0.5, n_records=60):
    """Two separable Gaussians (N((2, 0), 0.25 I) and 10 points of
    N((-2, 0), 0.25 I)), a linear model with a bias, full-batch gradient
    descent with and without weights (the minority class weighted 10x); the
    angle in degrees between the weighted and the unweighted parameter
    vectors (the difference of the two logits' weights and biases)."""
    g = torch.Generator().manual_seed(0)
    n_major, n_minor = 200, 10
    mu = torch.tensor([2.0, 0.0], dtype=torch.float64)
    X = torch.cat([torch.randn(n_major, 2, generator=g, dtype=torch.float64) * 0.5 + mu,
                   torch.randn(n_minor, 2, generator=g, dtype=torch.float64) * 0.5 - mu])
    X = torch.cat([X, torch.ones(len(X), 1, dtype=torch.float64)], 1)       # bias
    y = torch.cat([torch.zeros(n_major), torch.ones(n_minor)]).long()
    w = torch.where(y == 1, 10.0, 1.0).double()
    record = set(np.unique(np.geomspace(10, steps, n_records).astype(int)).tolist())
    out = {}
    for loss_name, criterion in (("cross-entropy", CE(reduction="none")),
                                 ("poly-tailed", PolyTailedLoss(reduction="none"))):
        traces = {}
        for weighted in (False, True):
            theta = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
            trace = []
            for step in range(1, steps + 1):
                losses = criterion(X @ theta, y)
                loss = (w * losses).mean() if weighted else losses.mean()
                grad, = torch.autograd.grad(loss, theta)
                with torch.no_grad():
                    theta -= lr * grad
                if step in record:
                    trace.append((theta[:, 1] - theta[:, 0]).detach().clone())
            traces[weighted] = torch.stack(trace)
        a, b = traces[False], traces[True]
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
        out[loss_name] = torch.rad2deg(torch.arccos(cos.clamp(-1, 1))).numpy()
    return np.array(sorted(record)), out


def plot(curves, every, steps, angles, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name in ("ERM, cross-entropy", "IW, cross-entropy", "IW, poly-tailed",
                 "IW^1.5, poly-tailed"):
        c = np.array(curves[name])
        x = np.arange(1, c.shape[1] + 1) * every
        ax1.plot(x, c.mean(0), label=name)
    ax1.set(xlabel="epoch (full batch)", ylabel="balanced test accuracy",
            title="Digits 3 vs 8, 20:1 in training (mean over seeds)")
    ax1.legend(fontsize=8)
    for name, a in angles.items():
        ax2.plot(steps, a, label=name)
    ax2.set(xscale="log", xlabel="gradient step", ylabel="angle (degrees)",
            title="Weighted vs unweighted linear iterate")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(2)
    seeds = range(2) if args.quick else range(10)
    epochs, every = (100, 10) if args.quick else (EPOCHS, 10)
    acc, curves, fitted = digits_runs(seeds, epochs, every)
    write(accuracy_rows(acc, fitted), args.out, "fading_digits",
          f"Imbalanced digits ({MAJORITY} vs {MINORITY}, {RATIO}:1), {epochs} epochs,"
          f" seeds {seeds.start}-{seeds.stop - 1}")
    steps, angles = linear_mechanism(20_000 if args.quick else 200_000)
    marks = [steps[np.searchsorted(steps, m)] for m in (100, 1_000, 10_000)] + [steps[-1]]
    rows = [{"loss": name, **{f"angle after {m} steps (deg)": f"{a[list(steps).index(m)]:.2f}"
                              for m in marks}}
            for name, a in angles.items()]
    write(rows, args.out, "fading_linear",
          "Two separable Gaussians, linear model: weighted vs unweighted iterate")
    path = os.path.join(args.out, "fading.png")
    plot(curves, every, steps, angles, path)
    print(f"plot written to {path}")


if __name__ == "__main__":
    main()
