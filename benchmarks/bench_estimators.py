"""Estimator accuracy (NMSE against the true ratio) and speed.

Accuracy: p_tr = N(0, I_d), p_te = N(e_1, I_d), default settings; then
Wasserstein-1 by projection on mean, scale and mixed shifts.
Speed: each large case runs in a fresh process so its peak memory is its own.

    python benchmarks/bench_estimators.py [--quick] [--out DIR]
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import make_gaussian_shift  # noqa: E402
from adiw.estimators import (  # noqa: E402
    ClassifierRatio, KLIEPRatio, KMMRatio, NearestNeighborRatio, RuLSIFRatio,
    ULSIFRatio, WassersteinRatio,
)

ESTIMATORS = {
    "KMM": lambda: KMMRatio(),
    "KLIEP": lambda: KLIEPRatio(random_state=0),
    "uLSIF": lambda: ULSIFRatio(random_state=0),
    "RuLSIF (vs relative ratio)": lambda: RuLSIFRatio(random_state=0),
    "Wasserstein-1": lambda: WassersteinRatio(),
    "Wasserstein-1, max-sliced": lambda: WassersteinRatio(projection="max-sliced"),
    "Wasserstein-1, input space": lambda: WassersteinRatio(projection=None),
    "Classifier (logistic)": lambda: ClassifierRatio(),
    "k-NN": lambda: NearestNeighborRatio(),
}

SPEED_CASES = {
    "KMM n=4000 d=5": "KMMRatio().fit(Xtr, Xte)",
    "uLSIF n=20000 d=5, LOO over 5x4 grid": "ULSIFRatio(random_state=0).fit(Xtr, Xte)",
    "KLIEP n=20000 d=5, 5-width CV": "KLIEPRatio(random_state=0).fit(Xtr, Xte)",
    "KMM n=100000 d=5 (Nystroem, 500)": "KMMRatio().fit(Xtr, Xte)",
}
SPEED_N = {"KMM n=4000 d=5": 4000, "KMM n=100000 d=5 (Nystroem, 500)": 100000}

CHILD = r"""
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from adiw.datasets import make_gaussian_shift
from adiw.estimators import *
n = int(sys.argv[1])
Xtr, Xte, w = make_gaussian_shift(n, n, 5, random_state=0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
est = eval(sys.argv[2])
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": dt, "extra_mb": (peak - base) / 1024}))
"""


def nmse(w_hat, w):
    a, b = w_hat / w_hat.mean(), w / w.mean()
    return float(np.mean((a - b) ** 2) / np.mean((1 - b) ** 2))


def accuracy_table(quick):
    rows = []
    for d in (2, 10):
        for n in ((1000,) if quick else (500, 1000, 2000)):
            Xtr, Xte, w = make_gaussian_shift(n, n, d, random_state=0)
            for name, make in ESTIMATORS.items():
                est = make()
                t = time.perf_counter()
                est.fit(Xtr, Xte)
                dt = time.perf_counter() - t
                target = w
                if name.startswith("RuLSIF"):
                    target = w / (est.alpha * w + 1 - est.alpha)
                rows.append({"estimator": name, "d": d, "n per side": n,
                             "NMSE": f"{nmse(est.weights_, target):.3f}",
                             "fit (s)": f"{dt:.2f}"})
    return rows


#: Shifts other than a mean shift along e_1 (n = 1000 per side): where the
#: Wasserstein-1 cost is measured matters.
SHIFTS = {
    "mean of x_1, d=10": dict(n_features=10, shift=1.0),
    "scale of x_2, x_4 (0.6), d=5": dict(n_features=5, shift=0.0,
                                         scale=[1, 0.6, 1, 0.6, 1]),
    "scale of all (0.6), d=10": dict(n_features=10, shift=0.0, scale=0.6),
    "mean of x_1 and scale of x_2, d=10": dict(n_features=10, shift=np.eye(10)[0],
                                               scale=[1, 0.6] + [1] * 8),
}
PROJECTIONS = ("subspace", "max-sliced", None)


def shift_table(quick):
    """NMSE of each Wasserstein-1 projection (and KMM for reference), mean
    over seeds, with the number of directions the subspace keeps."""
    seeds = range(1 if quick else 3)
    rows = []
    for shift, params in SHIFTS.items():
        vals = {p: [] for p in (*PROJECTIONS, "kmm")}
        n_dirs = []
        for seed in seeds:
            Xtr, Xte, w = make_gaussian_shift(1000, 1000, random_state=seed, **params)
            for p in PROJECTIONS:
                est = WassersteinRatio(projection=p, random_state=seed).fit(Xtr, Xte)
                vals[p].append(nmse(est.weights_, w))
                if p == "subspace":
                    n_dirs.append(est.directions_.shape[1])
            vals["kmm"].append(nmse(KMMRatio().fit(Xtr, Xte).weights_, w))
        row = {"shift": shift, "subspace directions": " ".join(map(str, n_dirs))}
        row.update({f"W1 {p or 'input space'}": f"{np.mean(vals[p]):.2f}" for p in PROJECTIONS})
        row["KMM (reference)"] = f"{np.mean(vals['kmm']):.2f}"
        rows.append(row)
    return rows


def speed_table(quick, repeats=3):
    """Best of ``repeats`` cold fits (each in a fresh process), largest memory."""
    rows = []
    for case, expr in SPEED_CASES.items():
        n = SPEED_N.get(case, 20000)
        if quick and n > 20000:
            continue
        runs = []
        for _ in range(1 if quick else repeats):
            out = subprocess.run([sys.executable, "-c", CHILD, str(n), expr, "2"],
                                 capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        rows.append({"case": case,
                     "fit (s)": f"{min(r['seconds'] for r in runs):.2f}",
                     "extra peak memory (MB)": f"{max(r['extra_mb'] for r in runs):.0f}"})
    return rows


def main():
    args = parse_args(__doc__)
    # Speed first: after torch work in this process its OpenMP threads keep
    # spinning for a while and would compete with the timed child.
    write(speed_table(args.quick), args.out, "estimators_speed",
          "Estimator speed (2 torch threads, fresh process per case, best of 3)")
    write(accuracy_table(args.quick), args.out, "estimators_accuracy",
          "Estimator accuracy: NMSE against the true ratio (uniform weights = 1)")
    write(shift_table(args.quick), args.out, "estimators_shifts",
          "Wasserstein-1 by projection on other shifts: NMSE, mean over seeds")


if __name__ == "__main__":
    main()
