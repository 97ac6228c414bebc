"""The shift report (adiw.diagnostics) and ``adiw diagnose``."""

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import genpareto

from adiw.cli import main
from adiw.diagnostics import kish_ess, pareto_k_hat, shift_report


def test_same_distribution_is_no_detectable_shift():
    r = np.random.default_rng(0)
    rep = shift_report(r.normal(size=(2000, 3)), r.normal(size=(2000, 3)), random_state=0)
    assert abs(rep.auc - 0.5) <= 0.05 and rep.coverage >= 0.95
    assert rep.verdict == "no shift" and "no detectable shift" in str(rep)


def test_disjoint_supports_are_outside_the_support():
    r = np.random.default_rng(1)
    rep = shift_report(r.normal(size=(1000, 3)), r.normal(size=(1000, 3)) + 8, random_state=0)
    assert rep.auc >= 0.99 and rep.coverage <= 0.05
    assert rep.verdict == "outside support" and "giw" in rep.message


def test_colour_digits_coverage_is_the_share_in_the_training_channel():
    """Two thirds of the test digits are in channels the training digits never
    use. Scaled by the training sample alone, its rarely used pixels widened
    the support until 98 % of the test digits were inside."""
    from adiw.datasets import load_colour_digits_shift

    c = load_colour_digits_shift(random_state=0)
    rep = shift_report(c.X_train, c.X_test, random_state=0)
    in_channel_0 = np.mean(c.channel_test == 0)
    assert rep.coverage == pytest.approx(in_channel_0, abs=0.02)
    assert rep.verdict == "outside support"


def test_a_mean_shift_inside_the_support_calls_for_weighting():
    r = np.random.default_rng(2)
    X_te = r.normal(size=(2000, 2))
    X_te[:, 0] += 1.0
    rep = shift_report(r.normal(size=(2000, 2)), X_te, random_state=0)
    assert rep.verdict == "within support" and "importance weighting applies" in rep.message
    assert rep.weights.mean() == pytest.approx(1.0)
    fig = rep.plot()
    assert len(fig.axes) == 2


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_a_small_mean_shift_at_a_few_hundred_rows_is_detected(seed):
    """A shift of 0.35 in each of 3 coordinates (200 against 150 rows): the
    boosted classifier alone, held to twice its spread over the folds, called
    these draws "no detectable shift: weighting is not needed"."""
    r = np.random.default_rng(seed)
    X_tr, X_te = r.normal(size=(200, 3)), r.normal(size=(150, 3)) + 0.35
    rep = shift_report(X_tr, X_te, weights=np.ones(200), random_state=0)
    assert rep.verdict == "within support"
    assert rep.auc_null_se == pytest.approx(np.sqrt(351 / (12 * 200 * 150)))


def test_no_shift_at_a_hundred_rows_is_not_called_a_shift():
    # the better of two classifiers' AUCs, at its 2.5 % limit: no false alarm
    # on these six draws of one law
    for seed in range(6):
        r = np.random.default_rng(seed)
        rep = shift_report(r.normal(size=(100, 3)), r.normal(size=(100, 3)),
                           weights=np.ones(100), random_state=0)
        assert rep.verdict == "no shift", (seed, rep.auc)


def test_report_and_k_hat_do_not_depend_on_the_columns_scales():
    r = np.random.default_rng(5)
    X_tr, X_te = r.normal(size=(300, 3)), r.normal(size=(200, 3)) + [1, 0, 0]
    w = np.exp(X_tr[:, 0])
    scale = np.array([1e200, 1e-200, 1.0])
    a = shift_report(X_tr, X_te, weights=w, random_state=0)
    b = shift_report(X_tr * scale, X_te * scale, weights=w, random_state=0)
    assert (a.auc, a.coverage, a.reverse_coverage) == (b.auc, b.coverage, b.reverse_coverage)
    with np.errstate(all="raise"):      # no overflow on the way
        k = [pareto_k_hat(w * c) for c in (1.0, 1e300, 1e-300)]
    assert k[1] == pytest.approx(k[0]) and k[2] == pytest.approx(k[0])


@pytest.mark.parametrize("k", [0.3, 0.9])
def test_k_hat_recovers_a_known_pareto_tail(k):
    # one draw's k-hat from M = 300 exceedances has a spread of about 0.1:
    # the mean of five draws is held to 0.15
    est = [pareto_k_hat(genpareto(c=k).rvs(10_000, random_state=s) + 1) for s in range(5)]
    assert np.mean(est) == pytest.approx(k, abs=0.15)


def test_ess_matches_its_formula():
    w = np.random.default_rng(3).exponential(size=500)
    assert kish_ess(w) == pytest.approx(w.sum() ** 2 / (500 * (w ** 2).sum()))
    assert kish_ess(np.ones(10)) == 1.0 and kish_ess(np.r_[1.0, np.zeros(9)]) == 0.1
    assert kish_ess(np.r_[1e300, 1e300, 0.0, 0.0]) == 0.5        # no overflow


def test_k_hat_of_a_tail_too_short_to_fit_is_undefined_not_zero():
    # one non-zero weight among zeros read "k-hat 0.00", the reading of
    # bounded weights; a flat top (KMM at its bound) still is 0
    n = 1000
    assert np.isnan(pareto_k_hat(np.r_[np.zeros(n - 1), 1.0]))
    assert np.isnan(pareto_k_hat(np.r_[np.ones(n - 4), 2.0, 3.0, 4.0, 5.0]))
    # exceedances 1..5 put a grid point of Zhang and Stephens' at b = 0 exactly,
    # where 0 / 0 emptied the posterior and left the prior's 0.33: the value
    # must be the limit of its neighbours'
    five = np.r_[np.ones(n - 5), 2.0, 3.0, 4.0, 5.0, 6.0]
    nudged = np.r_[np.ones(n - 5), 2.0, 3.0, 4.0 + 1e-9, 5.0, 6.0]
    assert pareto_k_hat(five) == pytest.approx(pareto_k_hat(nudged), abs=1e-6)
    assert pareto_k_hat(np.r_[np.zeros(n // 2), np.full(n // 2, 3.0)]) == 0.0
    r = np.random.default_rng(6)
    rep = shift_report(r.normal(size=(300, 2)), r.normal(0.5, 1, size=(200, 2)),
                       weights=np.r_[np.zeros(299), 1.0], random_state=0)
    assert np.isnan(rep.k_hat) and rep.verdict == "unreliable weights"
    assert "k-hat undefined" in str(rep) and "ESS 0.3% of n" in rep.message


@pytest.mark.parametrize("w, message", [
    (np.r_[np.ones(99), np.nan], "1 non-finite"), (np.r_[np.ones(99), -1.0], "1 negative"),
    (np.zeros(100), "all 0"), (np.ones((10, 10)), r"shape \(10, 10\)"),
    (np.array([]), "non-empty"),
])
@pytest.mark.parametrize("diagnostic", [kish_ess, pareto_k_hat])
def test_the_weight_diagnostics_refuse_weights_that_are_not_weights(diagnostic, w, message):
    # NaN compared as False and a negative weight shrank the sums: both gave
    # a number (an ESS of nan or 0, a k-hat of 0) that looked like a reading
    with pytest.raises(ValueError, match=message):
        diagnostic(w)


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights=np.zeros(300)), "weights are all 0"),
    (dict(weights=np.r_[np.ones(299), np.nan]), "finite non-negative"),
    (dict(weights=np.ones(299)), "300 finite"),
    (dict(X_test=np.zeros((3, 2))), "at least 5 rows in X_test"),
    (dict(X_train=np.zeros((10, 2))), "at least 25 rows in X_train"),
])
def test_bad_inputs_are_named_before_any_fit(kwargs, message):
    # all-zero weights once gave a report with ESS 0 % and a k-hat of 0
    r = np.random.default_rng(5)
    args = dict(X_train=r.normal(size=(300, 2)), X_test=r.normal(size=(200, 2)))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        shift_report(**args)


def test_dataframes_with_other_column_orders_are_refused_not_matched_by_position():
    pd = pytest.importorskip("pandas")
    r = np.random.default_rng(6)
    X_tr = pd.DataFrame(r.normal(size=(300, 2)), columns=["a", "b"])
    X_te = pd.DataFrame(r.normal(size=(200, 2)), columns=["b", "a"])
    with pytest.raises(ValueError, match="columns differ from X_train's"):
        shift_report(X_tr, X_te)
    assert shift_report(X_tr, X_te[["a", "b"]], random_state=0).auc < 0.6


def _csv(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]))
    return str(path)


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    from adiw.diagnostics import read_numeric_csv

    path = tmp_path / "excel.csv"
    path.write_bytes("a,b\n1,2\n".encode("utf-8-sig"))
    header, X = read_numeric_csv(path)
    assert header == ["a", "b"] and X.tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_separated_files_read_as_comma_separated_ones(tmp_path, separator):
    # a decimal-comma spreadsheet writes ';': its header was read as the one
    # column 'a;b' and every row as 'not a number'
    from adiw.diagnostics import read_numeric_csv

    (tmp_path / "comma.csv").write_text("a,b\n1.5,2\n-3,4e2\n")
    (tmp_path / "other.csv").write_text(
        f"a{separator}b\n1.5{separator}2\n-3{separator}4e2\n")
    header, X = read_numeric_csv(tmp_path / "other.csv")
    assert header == ["a", "b"]
    np.testing.assert_array_equal(X, read_numeric_csv(tmp_path / "comma.csv")[1])


@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("separator", [",", ";"])
def test_a_clean_file_reads_to_the_same_bits_as_a_float_per_cell(tmp_path, separator, quoted):
    # numpy's parser reads what it can (fast), the cell-by-cell one the rest
    from adiw.diagnostics import _read_clean_csv, read_numeric_csv

    r = np.random.default_rng(8)
    cells = [[repr(float(v)) for v in row] for row in r.normal(size=(40, 3)) * 10.0 ** r.integers(
        -300, 300, size=(40, 3))]
    cells[0] = ["-0.0", " 1e-5", "7 "]
    if quoted:
        cells[1] = ['"2.5"', "3", "4"]                  # numpy's parser stops here
    lines = [separator.join(["a", "b b", "c"])] + [separator.join(row) for row in cells]
    lines.insert(5, "")                                 # a blank line
    path = tmp_path / "x.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    header, X = read_numeric_csv(path)
    assert header == ["a", "b b", "c"]
    expected = np.array([[float(v.strip('"')) for v in row] for row in cells])
    np.testing.assert_array_equal(X, expected)
    assert np.signbit(X[0, 0])
    assert (_read_clean_csv(path) is None) == quoted


def test_cli_round_trip(tmp_path, capsys):
    r = np.random.default_rng(4)
    X_tr, X_te = r.normal(size=(300, 2)), r.normal(0.8, 1.0, size=(200, 2))
    train = _csv(tmp_path / "train.csv", ["a", "b"], X_tr)
    test = _csv(tmp_path / "test.csv", ["b", "a"], X_te[:, ::-1])       # other order
    out, png = tmp_path / "w.csv", tmp_path / "report.png"
    assert main(["diagnose", train, test, "--weights", str(out), "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "verdict:" in printed and "ROC AUC" in printed
    w = np.loadtxt(out, skiprows=1)
    assert w.shape == (300,) and np.all(w >= 0) and png.stat().st_size > 1000
    assert out.read_text().splitlines()[0] == "weight"


def test_cli_writes_the_chosen_estimators_weights(tmp_path, capsys):
    from adiw.estimators import NearestNeighborRatio

    r = np.random.default_rng(7)
    X_tr, X_te = r.normal(size=(300, 2)), r.normal(0.8, 1.0, size=(200, 2))
    train = _csv(tmp_path / "train.csv", ["a", "b"], X_tr)
    test = _csv(tmp_path / "test.csv", ["a", "b"], X_te)
    out = tmp_path / "w.csv"
    assert main(["diagnose", train, test, "--estimator", "knn", "--weights", str(out)]) == 0
    assert "(NearestNeighborRatio)" in capsys.readouterr().out
    # read back from the CSV files' text, as the CLI did
    X_tr, X_te = (np.loadtxt(p, delimiter=",", skiprows=1) for p in (train, test))
    expected = NearestNeighborRatio().fit(X_tr, X_te).weights_
    np.testing.assert_allclose(np.loadtxt(out, skiprows=1), expected / expected.mean(),
                               rtol=1e-9)


@pytest.mark.parametrize("option, path, message", [
    ("--weights", "missing/w.csv", "the folder .* does not exist"),
    ("--weights", ".", "is a folder, not a file"),
    ("--plot", "missing/report.png", "the folder .* does not exist"),
    ("--plot", "report.xyz", "the extension must be one of .*png"),
])
def test_cli_refuses_output_it_could_not_write_before_the_report(tmp_path, capsys,
                                                                 monkeypatch, option, path,
                                                                 message):
    # these failed with a traceback after the whole report had been computed
    import adiw.diagnostics

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(adiw.diagnostics, "shift_report", None)     # never reached
    train = _csv(tmp_path / "train.csv", ["a", "b"], np.zeros((30, 2)))
    with pytest.raises(SystemExit) as exit_:
        main(["diagnose", train, train, option, path])
    assert exit_.value.code == 2
    import re
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("test_text, message", [
    ("a\n1\n", "missing \\['b'\\]"),
    ("a,b\n1,x\n", "column 'b': 'x' is not a number"),
    # the file's own line: blank lines once shifted the number it gave
    ("a,b\n1,2\n\n3,x\n", "line 4, column 'b'"),
    ("a,b\n1,nan\n", "NaN and infinity"),
    ("", "the file is empty"),
    ("a,b\n", "no data rows"),
    ("a,b\n1\n", "1 fields, the header has 2"),
    ("a,a\n1,2\n", "the header repeats \\['a'\\]"),
    ("a,,b\n1,2,3\n", "header column\\(s\\) \\[2\\] have no name"),
    (",a,b\n0,1,2\n", "\\[1\\] have no name \\(a pandas index"),
    ("a,b\n1,\xe9\n".encode("latin-1"), "not UTF-8 text"),
])
def test_cli_bad_files_are_named(tmp_path, capsys, test_text, message):
    train = _csv(tmp_path / "train.csv", ["a", "b"], np.random.default_rng(0).normal(size=(50, 2)))
    write = (tmp_path / "test.csv").write_bytes if isinstance(test_text, bytes) \
        else (tmp_path / "test.csv").write_text
    write(test_text)
    assert main(["diagnose", train, str(tmp_path / "test.csv")]) == 2
    err = capsys.readouterr().err
    assert "adiw diagnose:" in err
    import re
    assert re.search(message, err), err


def test_coverage_of_large_samples_is_estimated_close_to_the_exact_share():
    # exact nearest-neighbour queries are quadratic: at 100,000 x 50 the
    # coverage took 80 of the report's 96 s
    import adiw.diagnostics as diagnostics
    from adiw.deep.weighting import NearestNeighborSupport
    from sklearn.preprocessing import StandardScaler

    r = np.random.default_rng(9)
    X_in = r.normal(size=(4000, 3))
    X_pts = np.vstack([r.normal(size=(2000, 3)), r.normal(4.0, 1.0, size=(2000, 3))])
    scaler = StandardScaler().fit(np.vstack([X_in, X_pts]))
    exact = np.mean(NearestNeighborSupport().fit(scaler.transform(X_in))
                    .decision_function(scaler.transform(X_pts)) >= 0)
    assert diagnostics.support_coverage(X_in, X_pts) == exact      # below the cap: exact
    estimates = [diagnostics.support_coverage(X_in, X_pts, random_state=s, max_samples=1000)
                 for s in range(3)]
    # 1000 draws of a share near 0.5: standard error 0.016
    assert all(abs(e - exact) < 0.05 for e in estimates) and len(set(estimates)) > 1
    assert diagnostics.support_coverage(X_in, X_pts, 0, max_samples=1000) == estimates[0]


def test_nearest_neighbor_support_max_samples():
    from adiw.deep.weighting import NearestNeighborSupport

    X = np.random.default_rng(10).normal(size=(3000, 2))
    exact = NearestNeighborSupport(max_samples=None).fit(X).radius_
    assert NearestNeighborSupport().fit(X).radius_ == exact       # 3000 <= the default cap
    approx = NearestNeighborSupport(max_samples=1000, random_state=0).fit(X).radius_
    assert approx != exact and abs(approx / exact - 1) < 0.2
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match="max_samples must be an integer >= 2"):
            NearestNeighborSupport(max_samples=bad).fit(X)


def test_the_scale_benchmark_runs_and_puts_the_cap_and_the_reader_back(tmp_path):
    import sys

    import adiw.diagnostics as diagnostics

    bench = str(Path(__file__).resolve().parent.parent / "benchmarks")
    sys.path.insert(0, bench)
    try:
        from bench_diagnose import scale_rows
    finally:
        sys.path.remove(bench)
    cap, reader = diagnostics.COVERAGE_SAMPLES, diagnostics._read_clean_csv
    (row,) = scale_rows((600,), str(tmp_path))
    assert row["coverage exact"] == row["coverage estimated"]      # below the cap
    assert diagnostics.COVERAGE_SAMPLES == cap and diagnostics._read_clean_csv is reader
    assert list(tmp_path.iterdir()) == []
