"""Re-weighted gradient descent (RGD) against ERM, and as a negative control.

1. scikit-learn's bundled tabular sets (breast_cancer, wine, digits), an MLP
   (one hidden layer of 64) trained by skorch's plain NeuralNetClassifier
   with cross-entropy (ERM) or adiw.losses.RGDLoss (tau = 1), SGD with
   momentum 0.9, batch 32, 50 epochs. Per seed (0-9) a stratified 60/20/20
   split; the learning rate is chosen separately for ERM and RGD among
   (0.003, 0.01, 0.03, 0.1) by validation accuracy; test accuracy of the
   chosen ones, and the paired difference RGD - ERM with a 95 % t-interval.
2. Negative control: the digits joint-shift task of bench_deep.py (40 %
   pair-flipped labels, 5:1 imbalance), where RGD up-weights the flipped
   labels' large losses; ERM and RGD on the training set, ADIW (KMM) with
   cross-entropy and with RGD composed. Settings of bench_deep.py (lr 0.05,
   40 epochs), seeds 0-4.

    python benchmarks/bench_rgd.py [--quick] [--out DIR]
"""

import os
import sys

import numpy as np
import torch
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.experiment import run  # noqa: E402
from adiw.losses import RGDLoss  # noqa: E402
from adiw.models import MLP  # noqa: E402

DATASETS = {"breast_cancer": load_breast_cancer, "wine": load_wine, "digits": load_digits}
LRS = (0.003, 0.01, 0.03, 0.1)
LOSSES = {"ERM": torch.nn.CrossEntropyLoss, "RGD": RGDLoss}


def split(loader, seed):
    X, y = loader(return_X_y=True)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, test_size=0.4, stratify=y,
                                                  random_state=seed)
    X_val, X_te, y_val, y_te = train_test_split(X_rest, y_rest, test_size=0.5,
                                                stratify=y_rest, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    f32 = [scaler.transform(a).astype(np.float32) for a in (X_tr, X_val, X_te)]
    return f32[0], y_tr.astype(np.int64), f32[1], y_val.astype(np.int64), f32[2], \
        y_te.astype(np.int64)


def fit(criterion, lr, X, y, seed, epochs):
    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP, module__n_features=X.shape[1], module__n_hidden=64,
        module__n_classes=int(y.max()) + 1, criterion=criterion, max_epochs=epochs,
        batch_size=32, lr=lr, optimizer=torch.optim.SGD, optimizer__momentum=0.9,
        iterator_train__shuffle=True, train_split=None, verbose=0)
    return net.fit(X, y)


def tabular_rows(seeds, epochs):
    rows = []
    for name, loader in DATASETS.items():
        test = {m: [] for m in LOSSES}
        chosen = {m: [] for m in LOSSES}
        for seed in seeds:
            X_tr, y_tr, X_val, y_val, X_te, y_te = split(loader, seed)
            for method, criterion in LOSSES.items():
                best = max(LRS, key=lambda lr: (fit(criterion, lr, X_tr, y_tr, seed, epochs)
                                                .score(X_val, y_val), -lr))
                test[method].append(fit(criterion, best, X_tr, y_tr, seed, epochs)
                                    .score(X_te, y_te))
                chosen[method].append(best)
            print(f"{name} seed {seed}: ERM {test['ERM'][-1]:.3f} RGD {test['RGD'][-1]:.3f}",
                  flush=True)
        diff = 100 * (np.array(test["RGD"]) - np.array(test["ERM"]))
        half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
        rows.append({
            "dataset": name,
            "ERM test acc": f"{np.mean(test['ERM']):.3f} ± {np.std(test['ERM'], ddof=1):.3f}",
            "RGD test acc": f"{np.mean(test['RGD']):.3f} ± {np.std(test['RGD'], ddof=1):.3f}",
            "RGD - ERM (points, 95% CI)":
                f"{diff.mean():+.1f} [{diff.mean() - half:+.1f}, {diff.mean() + half:+.1f}]",
            "lr chosen, ERM / RGD (median)":
                f"{np.median(chosen['ERM']):g} / {np.median(chosen['RGD']):g}",
        })
    return rows


#: name -> (method of adiw.experiment.run, extra options)
CONTROL = {
    "ERM (training set)": ("adiw-kmm", dict(solver="none", train_on_val=False)),
    "RGD (training set)": ("adiw-kmm", dict(solver="none", train_on_val=False,
                                            criterion=RGDLoss)),
    "ADIW (KMM), cross-entropy": ("adiw-kmm", {}),
    "ADIW (KMM) + RGD": ("adiw-kmm", dict(criterion=RGDLoss)),
}


def control_rows(seeds, epochs):
    acc = {name: [] for name in CONTROL}
    w_flip = {name: [] for name in CONTROL}
    for seed in seeds:
        for name, (method, options) in CONTROL.items():
            r = run(method, seed=seed, epochs=epochs, track_test=False, **options)
            acc[name].append(r.test_acc)
            w_flip[name].append(r.w_flipped / r.w_clean)
        print(f"control seed {seed}: " + ", ".join(f"{acc[n][-1]:.3f}" for n in CONTROL),
              flush=True)
    rows = []
    for name in CONTROL:
        diff = 100 * (np.array(acc[name]) - np.array(acc["ERM (training set)"]))
        half = (stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
                if len(diff) > 1 else float("nan"))
        rows.append({
            "method": name,
            "test acc": f"{np.mean(acc[name]):.3f} ± {np.std(acc[name], ddof=1):.3f}"
            if len(seeds) > 1 else f"{acc[name][0]:.3f}",
            "vs ERM (points, 95% CI)": "0" if name.startswith("ERM") else
            f"{diff.mean():+.1f} [{diff.mean() - half:+.1f}, {diff.mean() + half:+.1f}]",
            "w flipped / w clean": "" if "ADIW" not in name else f"{np.mean(w_flip[name]):.2f}",
        })
    return rows


def main():
    args = parse_args(__doc__)
    torch.set_num_threads(2)
    write(tabular_rows(range(2) if args.quick else range(10), 10 if args.quick else 50),
          args.out, "rgd_tabular", "RGD vs ERM on bundled tabular sets (paired seeds)")
    write(control_rows(range(1) if args.quick else range(5), 10 if args.quick else 40),
          args.out, "rgd_control", "Negative control: digits joint shift (40 % flipped labels)")


if __name__ == "__main__":
    main()
