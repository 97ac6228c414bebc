"""A hyperparameter search on a Dask cluster: what travels, and how long it takes.

``GridSearchCV(ULSIFRatio(n_centers=100), 8 candidates, cv=3)`` on the pooled
``fit(X, domain)`` form, n = 100 000 per side, d = 10 (X is 16 MB), on a
``LocalCluster`` of 2 worker processes with 1 thread each (this machine has 2
cores). Bytes are counted on the loopback interface (psutil), which carries
all client-scheduler-worker traffic of a local cluster:

- serial: ``n_jobs=1`` in this process (no traffic);
- dask backend: ``adiw.parallel.search_on_cluster(client)``; joblib scatters
  X and domain once per search;
- dask backend with ``scatter=[X, domain]`` (broadcast to every worker up front);
- per-task submission: one ``client.submit(fit, X, domain, params)`` per
  (candidate, fold), the naive alternative that ships the data with every task.

    python benchmarks/bench_distributed.py [--quick] [--out DIR]
"""

import os
import sys
import time

import numpy as np
import psutil
from distributed import Client, LocalCluster
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import make_gaussian_shift  # noqa: E402
from adiw.estimators import ULSIFRatio  # noqa: E402
from adiw.parallel import search_on_cluster  # noqa: E402

GRID = {"gamma": [0.02, 0.05, 0.1, 0.2], "reg": [1e-3, 1e-1]}


def loopback_bytes():
    return psutil.net_io_counters(pernic=True)["lo"].bytes_sent


def measured(fn):
    b0, t0 = loopback_bytes(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, loopback_bytes() - b0


def fit_and_score(est, X, domain, train, test):
    return est.fit(X[train], domain[train]).score(X[test], domain[test])


def main():
    args = parse_args(__doc__.splitlines()[0])
    n = 20_000 if args.quick else 100_000
    X_tr, X_te, _ = make_gaussian_shift(n, n, 10, shift=0.5, random_state=0)
    X, domain = np.vstack([X_tr, X_te]), np.r_[np.zeros(n), np.ones(n)]
    est = ULSIFRatio(n_centers=100, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(est, GRID, cv=cv, n_jobs=-1)
    rows = []

    def row(name, seconds, nbytes, scores):
        rows.append({"run": name, "time (s)": f"{seconds:.1f}",
                     "loopback traffic (MB)": f"{nbytes / 1e6:.1f}",
                     "traffic / size of X": f"{nbytes / X.nbytes:.1f}",
                     "same scores as serial": scores})

    serial, t, b = measured(lambda: clone(search).set_params(n_jobs=1).fit(X, domain))
    reference = serial.cv_results_["mean_test_score"]
    row("serial, 1 process", t, b, "-")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("adiw.estimators"))      # warm imports
        for name, options in (("dask backend (auto scatter)", {}),
                              ("dask backend, scatter=[X, domain]", {"scatter": [X, domain]})):
            def run(options=options):
                with search_on_cluster(client, **options):
                    return clone(search).fit(X, domain)
            result, t, b = measured(run)
            same = np.allclose(result.cv_results_["mean_test_score"], reference, rtol=1e-9)
            row(name, t, b, str(same))

        def per_task():
            futures = [client.submit(fit_and_score, clone(est).set_params(**params), X, domain,
                                     train, test, pure=False)
                       for params in serial.cv_results_["params"]
                       for train, test in cv.split(X, domain)]
            return client.gather(futures)
        _, t, b = measured(per_task)
        row("client.submit per task (data in every task)", t, b, "-")
    write(rows, args.out, "distributed",
          f"GridSearchCV(ULSIFRatio), {len(reference)} candidates x 3 folds, n = {n} per"
          f" side, d = 10, X = {X.nbytes / 1e6:.0f} MB; LocalCluster 2 workers x 1 thread")


if __name__ == "__main__":
    main()
