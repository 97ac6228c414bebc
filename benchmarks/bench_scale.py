"""Density-ratio fits at n = 1e4, 1e5 and 1e6 per side (d = 10): time, memory, growth.

Each (estimator, n) runs in a fresh process, so that its peak resident memory
(``ru_maxrss``) is its own: the peak includes Python, torch and the data
(2 n x 10 float64 = 160 MB at n = 1e6, plus the 80 MB of query points), and
"above pre-fit peak" subtracts the peak reached while the data were generated
(which already includes generation temporaries, so it understates what the fit
itself allocates when that is smaller than they were). Fit time is the best of
3 fits with the estimator's defaults (hyperparameter selection included);
``predict_weights`` is timed on 1e6 fresh training-distribution points and
``score`` on the pooled 2n sample. NMSE: of the training weights against the
true ratio (normalised mean squared error; 1 = constant weights). Growth: the exponent k in time ~ n^k
between the two largest sizes (1 = linear).

Data: ``make_gaussian_shift(n, n, 10, shift=0.5)``, p_tr = N(0, I),
p_te = N(0.5 e_1, I).

    python benchmarks/bench_scale.py [--quick] [--out DIR] [--device cpu|cuda]
"""

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

N_PREDICT = 1_000_000


def make(name, device):
    from adiw.estimators import (
        ClassifierRatio, IncrementalLogisticRegression, KLIEPRatio, KMMRatio, RuLSIFRatio,
        ULSIFRatio,
    )
    return {
        "ULSIFRatio": lambda: ULSIFRatio(random_state=0, device=device),
        "RuLSIFRatio": lambda: RuLSIFRatio(random_state=0, device=device),
        "KMMRatio": lambda: KMMRatio(random_state=0, device=device),
        "KLIEPRatio": lambda: KLIEPRatio(random_state=0, device=device),
        "ClassifierRatio": lambda: ClassifierRatio(random_state=0),
        "ClassifierRatio (incremental)": lambda: ClassifierRatio(
            IncrementalLogisticRegression(random_state=0)),
    }[name]()


def nmse(w_hat, w):
    """Normalised mean squared error of the training weights (1 = constant)."""
    a, b = w_hat / w_hat.mean(), w / w.mean()
    return float(np.mean((a - b) ** 2) / np.mean((1 - b) ** 2))


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name, n, device, repeats):
    import torch  # noqa: F401  (imported before the baseline is read)

    from adiw.datasets import make_gaussian_shift
    X_tr, X_te, w_true = make_gaussian_shift(n, n, 10, shift=0.5, random_state=0)
    X_new = np.random.default_rng(1).normal(size=(N_PREDICT, 10))
    base = rss_mb()
    fit_times = []
    for _ in range(repeats):
        est = make(name, device)
        start = time.perf_counter()
        est.fit(X_tr, X_te)
        fit_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    w = est.predict_weights(X_new)
    predict = time.perf_counter() - start
    X, domain = np.vstack([X_tr, X_te]), np.r_[np.zeros(n), np.ones(n)]
    start = time.perf_counter()
    est.score(X, domain)
    score = time.perf_counter() - start
    ok = bool(np.all(np.isfinite(w)) and w.min() >= 0)
    print(json.dumps(dict(fit=min(fit_times), predict=predict, score=score, peak=rss_mb(),
                          above=rss_mb() - base, ok=ok, nmse=nmse(est.weights_, w_true))))


def measure(name, n, device, repeats):
    out = subprocess.run([sys.executable, __file__, "--child", name, str(n), device,
                          str(repeats)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    args = parse_args(__doc__.splitlines()[0])
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    names = ["ULSIFRatio", "RuLSIFRatio", "KMMRatio", "KLIEPRatio", "ClassifierRatio",
             "ClassifierRatio (incremental)"]
    rows = []
    for name in names:
        fits = []
        for n in sizes:
            r = measure(name, n, args.device, 1 if args.quick else 3)
            fits.append(r["fit"])
            rows.append({"estimator": name, "n per side": f"{n:.0e}",
                         "fit (s)": f"{r['fit']:.2f}",
                         "predict_weights 1e6 (s)": f"{r['predict']:.2f}",
                         "score 2n (s)": f"{r['score']:.2f}",
                         "peak RSS (MB)": f"{r['peak']:.0f}",
                         "above pre-fit peak (MB)": f"{r['above']:.0f}",
                         "NMSE": f"{r['nmse']:.4f}",
                         "weights finite, >= 0": r["ok"]})
            print(rows[-1], flush=True)
        k = np.log(fits[-1] / fits[-2]) / np.log(sizes[-1] / sizes[-2])
        rows[-1]["growth k (time ~ n^k)"] = f"{k:.2f}"
        for row in rows[-len(sizes):-1]:
            row["growth k (time ~ n^k)"] = ""
    write(rows, args.out, "scale", f"Fits at n = {', '.join(f'{n:.0e}' for n in sizes)}"
          f" per side, d = 10, device {args.device}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        main()
