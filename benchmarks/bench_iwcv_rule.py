"""IWCV's choice of the weights' power: the one-standard-error rule, and a paired variant.

``ImportanceWeightedEstimator(weight_power="auto")`` fits the downstream model
with ``w ** p`` for p in 0, 0.5, 1 on 5 folds and keeps the smallest power
whose mean IWCV score is within one standard error of the best: the
fold-to-fold SE of the best power's score. Every power is scored on the same
folds, so much of that spread is shared by all of them. The paired variant
takes, for each power, the SE of its per-fold difference to the best power
instead. This study compares the two choices on the real shifts of
``bench_real_unlabelled.py`` (MNIST -> optdigits, optdigits -> optdigits,
diabetes by sex) for every adiw default, with the linear model
(``LogisticRegression(max_iter=3000)`` or ``LinearRegression``): the mean
power each rule picks and the evaluation score it gets. "always 1" is plain
weighting.

It runs on seeds 5-9 by default (5-7 were bench_real_unlabelled's tuning
seeds; 8 and 9 it never used): it is there to decide a default, and the
reported seeds (0-4) stay out of that decision.

    python benchmarks/bench_iwcv_rule.py [--seeds 5 6 7 8 9] [--quick] [--out DIR]
"""

import os
import sys
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression

sys.path.insert(0, os.path.dirname(__file__))
from _common import parse_args, write  # noqa: E402
from bench_real_unlabelled import ADIW, GivenWeights, shifts  # noqa: E402

from adiw.estimators import ImportanceWeightedEstimator  # noqa: E402


def split_scores(results):
    """(powers, scores of shape (n_powers, n_folds)) from ``cv_results_``."""
    folds = sorted(k for k in results if k.startswith("split") and k.endswith("_test_score"))
    return (np.asarray(results["weight_power"], dtype=float),
            np.array([results[k] for k in folds]).T)


def paired_se_power(powers, scores):
    """The smallest power whose mean is within one SE of the best, the SE of
    its per-fold difference to the best (0 for the best itself)."""
    mean = scores.mean(1)
    best = int(np.argmax(mean))
    diff = scores - scores[best]
    se = diff.std(1, ddof=1) / np.sqrt(scores.shape[1])
    return float(powers[np.flatnonzero(mean >= mean[best] - se)[0]])


def main():
    args = parse_args(__doc__.splitlines()[0], seeds=(5, 6, 7, 8, 9))
    seeds = args.seeds[:1] if args.quick else args.seeds
    names = list(ADIW)[:1] if args.quick else list(ADIW)
    runs = {}
    for seed in seeds:
        for case, X_tr, y_tr, X_te, X_eval, y_eval in shifts(seed):
            regression = np.issubdtype(np.asarray(y_tr).dtype, np.floating)
            model = LinearRegression() if regression else LogisticRegression(max_iter=3000)
            for name in names:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    w = ADIW[name](seed).fit(X_tr, X_te).weights_
                    iw = ImportanceWeightedEstimator(GivenWeights(w), model).fit(
                        X_tr, y_tr, X_test=X_te)
                powers, scores = split_scores(iw.cv_results_)
                picked = {"one-SE": iw.weight_power_,
                          "paired SE": paired_se_power(powers, scores), "always 1": 1.0}
                row = {}
                for rule, p in picked.items():
                    # the one-SE power's model is the one iw already fitted
                    fitted = (iw.estimator_ if p == iw.weight_power_
                              else clone(model).fit(X_tr, y_tr, sample_weight=w ** p))
                    row[rule] = (p, float(fitted.score(X_eval, y_eval)))
                runs.setdefault((case, name), []).append(row)
                print(f"{case} seed {seed} {name}: " + ", ".join(
                    f"{r} power {p:g} score {s:.3f}" for r, (p, s) in row.items()), flush=True)
    rows = []
    for (case, name), rs in runs.items():
        out = {"shift": case, "weights": name}
        for rule in ("one-SE", "paired SE", "always 1"):
            p = np.array([r[rule][0] for r in rs])
            s = np.array([r[rule][1] for r in rs])
            out[f"power, {rule}"] = " ".join(f"{v:g}" for v in p)
            sd = s.std(ddof=1) if len(s) > 1 else 0.0
            out[f"score, {rule}"] = f"{s.mean():.3f} ± {sd:.3f}"
        rows.append(out)
    write(rows, args.out, "iwcv_rule",
          f"IWCV's power choice, linear model, seeds {list(seeds)}: accuracy, or R^2 for"
          " diabetes")


if __name__ == "__main__":
    main()
