"""Command line: ``adiw demo``, ``adiw bench`` and ``adiw diagnose`` (also ``python -m adiw``)."""

import argparse
import os
import sys


def _table(rows, columns):
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths)) + " |"
            for r in rows]
    return "\n".join([line, sep, *body])


def demo(args):
    """Digits joint shift: ERM, validation-only, DIW and ADIW per divergence."""
    import numpy as np

    from .datasets import load_digits_shift
    from .experiment import METHODS, run

    epochs = 10 if args.quick else args.epochs
    data = load_digits_shift(random_state=args.seed)
    print(f"digits joint shift: {len(data.y_train)} training samples with "
          f"{data.flipped.mean():.0%} pair-flipped labels and a 5:1 class imbalance; "
          f"{len(data.y_val)} clean validation and {len(data.y_test)} test samples "
          "from the balanced test distribution.", flush=True)
    # One untimed epoch first: the first fit in a process pays for thread
    # pools and lazy initialisation (it made ERM look 2x slower than ADIW).
    run("erm", seed=args.seed, epochs=1, device=args.device, data=data, track_test=False)
    results = []
    for method in METHODS:
        print(f"  training {method:10s} ({epochs} epochs) ...", end="", flush=True)
        r = run(method, seed=args.seed, epochs=epochs, device=args.device, data=data)
        print(f" test accuracy {r.test_acc:.3f} in {r.fit_time:.1f} s", flush=True)
        results.append(r)
    erm_epoch = results[0].epoch_time
    rows = [{"method": r.method, "test acc": f"{r.test_acc:.3f}",
             "fit time (s)": f"{r.fit_time:.1f}",
             "epoch (ms)": f"{1000 * r.epoch_time:.0f}",
             "epoch / ERM": f"{r.epoch_time / erm_epoch:.2f}",
             "ESS": f"{r.ess:.2f}",
             "w clean / flipped": ("-" if np.isnan(r.w_clean)
                                   else f"{r.w_clean:.2f} / {r.w_flipped:.2f}")}
            for r in results]
    print()
    print(_table(rows, list(rows[0])))
    path = os.path.join(args.out, "adiw-demo.png")
    _plot(results, data, path)
    print(f"\nplot written to {path}")
    return 0


def _plot(results, data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for r in results:
        ax1.plot(range(1, len(r.acc_per_epoch) + 1), r.acc_per_epoch, label=r.method)
    ax1.set(xlabel="epoch", ylabel="test accuracy", title="Test accuracy per epoch")
    ax1.legend(fontsize=8)
    kmm = next(r for r in results if r.method == "adiw-kmm")
    import numpy as np

    bins = np.linspace(0, kmm.weights.max() + 1e-9, 41)
    ax2.hist(kmm.weights[~data.flipped], bins=bins, alpha=0.6, label="clean labels")
    ax2.hist(kmm.weights[data.flipped], bins=bins, alpha=0.6, label="flipped labels")
    ax2.set(xlabel="learned weight (ADIW, KMM)", ylabel="training samples",
            title="Learned weights")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bench(args):
    """Run the benchmark scripts under benchmarks/."""
    import runpy

    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "benchmarks")
    if not os.path.isdir(here):
        print("benchmarks/ is part of the source checkout; run from a clone.",
              file=sys.stderr)
        return 2
    names = args.only or list(BENCHMARKS)
    for name in names:
        sys.argv = [name, "--out", args.out] + (["--quick"] if args.quick else []) + \
            ["--device", args.device]
        runpy.run_path(os.path.join(here, name), run_name="__main__")
    return 0


def _int_in(low, high=None, message=None):
    """An argparse type: an int in [low, high)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"{message}, got {value}")
        return value
    return parse


def _device(text):
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(
            f"not a torch device: {text!r} (e.g. cpu, cuda, cuda:1)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: CUDA is not available on this machine")
    return text


def _writable_file(path):
    """An argparse type: a file that can be written, checked before the
    report is computed (a bad path used to fail with a traceback after it)."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder, not a file")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{path!r} is not writable")
    return path


def _figure_file(path):
    """A writable file whose extension matplotlib can save."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = FigureCanvasAgg.get_supported_filetypes()
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    if extension not in formats:
        raise argparse.ArgumentTypeError(
            f"{path!r}: the extension must be one of {', '.join(sorted(formats))}")
    return _writable_file(path)


def _check_out(parser, path):
    """The output folder is usable before any training starts."""
    if os.path.exists(path) and not os.path.isdir(path):
        parser.error(f"--out {path!r} is a file, not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        parser.error(f"--out {path!r} cannot be created: {e.strerror}")
    if not os.access(path, os.W_OK):
        parser.error(f"--out {path!r} is not writable")


BENCHMARKS = ("bench_estimators.py", "bench_deep.py", "bench_fading.py", "bench_rgd.py",
              "bench_shifts.py", "bench_dawin.py", "bench_distributed.py", "bench_scale.py",
              "bench_real.py", "bench_real_unlabelled.py", "bench_colour_digits.py",
              "bench_iwcv_rule.py", "bench_diagnose.py", "bench_giw_study.py",
              "bench_colour_channels.py")


#: ``adiw diagnose --estimator``: the ratio estimators by short name, each
#: with its defaults. "ulsif" is the report's own default.
DIAGNOSE_ESTIMATORS = {
    "ulsif": "ULSIFRatio", "rulsif": "RuLSIFRatio", "kliep": "KLIEPRatio", "kmm": "KMMRatio",
    "wasserstein": "WassersteinRatio", "classifier": "ClassifierRatio",
    "knn": "NearestNeighborRatio",
}


def diagnose(args):
    """The shift report on two numeric CSV files (``adiw.diagnostics``)."""
    import numpy as np

    from . import estimators
    from .diagnostics import align_columns, read_numeric_csv, shift_report

    name = DIAGNOSE_ESTIMATORS[args.estimator]
    try:
        print(f"reading {args.train} and {args.test}", flush=True)
        header, X_train = read_numeric_csv(args.train)
        test_header, X_test = read_numeric_csv(args.test)
        X_test = align_columns(header, test_header, X_test, args.test)
        print(f"{len(X_train)} training and {len(X_test)} test rows, {len(header)} columns;"
              f" fitting the domain classifier and the weights ({name})", flush=True)
        weights = None
        if args.estimator != "ulsif":
            ratio = getattr(estimators, name)()
            if "random_state" in ratio.get_params():
                ratio.set_params(random_state=args.seed)
            weights = ratio.fit(X_train, X_test).weights_
        report = shift_report(X_train, X_test, weights, random_state=args.seed)
    except (OSError, ValueError) as e:
        print(f"adiw diagnose: {e}", file=sys.stderr)
        return 2
    print(report)
    if args.weights:
        np.savetxt(args.weights, report.weights, header="weight", comments="", fmt="%.10g")
        print(f"wrote {len(report.weights)} training weights to {args.weights}")
    if args.plot:
        report.plot().savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="adiw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="the digits joint-shift demo (about a minute on 2 cores)")
    d.add_argument("--device", default="cpu", type=_device,
                   help="torch device, e.g. cpu or cuda")
    d.add_argument("--epochs", type=_int_in(1, message="must be at least 1"), default=40)
    d.add_argument("--seed", type=_int_in(0, 2**32, "must be in [0, 2**32)"), default=0)
    d.add_argument("--out", default=".", help="folder for the PNG")
    d.add_argument("--quick", action="store_true", help="10 epochs")
    d.set_defaults(func=demo)
    b = sub.add_parser("bench", help="estimator and deep-trainer benchmarks")
    b.add_argument("--out", default="bench-results")
    b.add_argument("--device", default="cpu", type=_device)
    b.add_argument("--quick", action="store_true")
    b.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="SCRIPT",
                   help=f"benchmark scripts to run: {', '.join(BENCHMARKS)}")
    b.set_defaults(func=bench)
    g = sub.add_parser("diagnose", help="shift report: is there a shift, is it inside the"
                       " support, can weights be trusted")
    g.add_argument("train", help="numeric CSV with a header row (training inputs);"
                   " separated by ',', ';' or tabs")
    g.add_argument("test", help="numeric CSV with the same columns (test inputs)")
    g.add_argument("--weights", type=_writable_file,
                   help="write the training weights to this CSV")
    g.add_argument("--plot", type=_figure_file,
                   help="write the report's figure to this file (.png, .pdf, .svg, ...)")
    g.add_argument("--estimator", choices=list(DIAGNOSE_ESTIMATORS), default="ulsif",
                   help="the ratio estimator whose weights are examined and written, with"
                   " its defaults (default: ulsif, ULSIFRatio)")
    g.add_argument("--seed", type=_int_in(0, 2**32, "must be in [0, 2**32)"), default=0)
    g.set_defaults(func=diagnose, out=".")
    args = parser.parse_args(argv)
    _check_out(sub.choices[args.command], args.out)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
