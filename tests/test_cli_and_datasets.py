"""The command line and the dataset generators refuse bad arguments up front."""

import numpy as np
import pytest

from adiw import cli
from adiw.datasets import load_digits_shift, make_gaussian_shift, pair_flip, sample_class_prior


@pytest.fixture
def no_training(monkeypatch):
    """Any training would fail the test: arguments must be refused first."""
    def boom(args):
        raise AssertionError("started")
    monkeypatch.setattr(cli, "demo", boom)
    monkeypatch.setattr(cli, "bench", boom)


@pytest.mark.parametrize("argv, message", [
    (["demo", "--epochs", "0"], "must be at least 1"),
    (["demo", "--epochs", "ten"], "invalid int value"),
    (["demo", "--seed", "-1"], "must be in [0, 2**32)"),
    (["demo", "--device", "gpu0"], "not a torch device"),
    (["bench", "--only"], "expected at least one argument"),
    (["bench", "--only", "bench_nothing.py"], "invalid choice"),
])
def test_bad_arguments_are_argparse_errors(argv, message, capsys, no_training):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_adiw_bench_knows_every_benchmark_script():
    import os

    folder = os.path.join(os.path.dirname(__file__), "..", "benchmarks")
    scripts = {f for f in os.listdir(folder) if f.startswith("bench_") and f.endswith(".py")}
    assert set(cli.BENCHMARKS) == scripts


def test_out_must_be_a_writable_folder(tmp_path, capsys, no_training):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--out", str(a_file)])
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["bench", "--out", str(a_file / "below")])
    assert "cannot be created" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    (dict(scale=0.0), "scale must be finite and > 0"),
    (dict(scale=[1.0, -1.0]), "scale must be finite and > 0"),
    (dict(shift=np.nan), "shift finite"),
    (dict(shift=[1.0, 2.0, 3.0]), "shift must be a float or have shape"),
    (dict(n_features=0), "n_features must be an integer >= 1"),
])
def test_gaussian_shift_rejects_degenerate_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_gaussian_shift(10, 10, kwargs.pop("n_features", 2), **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(test_fraction=1.0), "test_fraction"), (dict(test_fraction=0.0), "test_fraction"),
    (dict(imbalance=0.5), "imbalance"), (dict(n_val_per_class=0), "n_val_per_class"),
    (dict(n_val_per_class=500), "leaves no test sample"), (dict(noise_rate=1.0), "noise rate"),
    # 18 training rows: it returned an empty training set
    (dict(test_fraction=0.99, n_val_per_class=1), "misses a class"),
])
def test_digits_shift_rejects_degenerate_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_digits_shift(**kwargs)
    with pytest.raises(ValueError, match="noise rate"):
        pair_flip(np.zeros(5, int), np.nan)


def test_sample_class_prior_draws_the_proportions_asked_for():
    y = np.repeat(np.arange(3), [100, 50, 30])
    idx = sample_class_prior(y, [3, 2, 1], random_state=0)
    assert len(np.unique(idx)) == len(idx)
    # class 1's 50 rows bound the size (50 / (1/3) = 150 rows), not class 2's (180)
    np.testing.assert_array_equal(np.bincount(y[idx]), [75, 50, 25])
    np.testing.assert_array_equal(np.bincount(y[sample_class_prior(y, [1, 0, 1], n=40,
                                                                   random_state=0)]),
                                  [20, 0, 20])


@pytest.mark.parametrize("priors, message", [
    ([1.5, -0.5, 1.0], "non-negative"), ([0.0, 0.0, 0.0], "not all 0"),
    ([np.nan, 1, 1], "finite"), ([[1, 1, 1]], "1-D"),
    ([1, 1], "lie in 0..1"),                  # a label without a prior
    ([1, 1, 1, 1], "class 3 has prior 0.25 but no sample"),   # it returned no rows
])
def test_sample_class_prior_refuses_priors_it_cannot_draw(priors, message):
    y = np.repeat(np.arange(3), 20)
    with pytest.raises(ValueError, match=message):
        sample_class_prior(y, priors)


def test_train_input_noise_shifts_only_the_training_inputs():
    clean = load_digits_shift(random_state=3)
    noisy = load_digits_shift(random_state=3, train_input_noise=0.3)
    assert np.all((noisy.X_train >= 0) & (noisy.X_train <= 1))
    assert np.abs(noisy.X_train - clean.X_train).mean() > 0.1
    np.testing.assert_array_equal(noisy.y_train, clean.y_train)
    np.testing.assert_array_equal(noisy.X_test, clean.X_test)
    np.testing.assert_array_equal(noisy.X_val, clean.X_val)
    with pytest.raises(ValueError, match="train_input_noise"):
        load_digits_shift(train_input_noise=-1.0)


def test_colour_digits_put_training_in_one_channel_and_spread_the_test():
    from adiw.datasets import load_colour_digits_shift

    d = load_colour_digits_shift(random_state=3)
    assert d.X_train.shape[1] == d.X_val.shape[1] == d.X_test.shape[1] == 192
    assert d.X_train.dtype == np.float32 and 0 <= d.X_test.min() and d.X_test.max() <= 1
    assert not d.X_train[:, 64:].any() and d.X_train[:, :64].any()
    for X, channel in ((d.X_val, d.channel_val), (d.X_test, d.channel_test)):
        for c in range(3):          # each digit lies in its own channel only
            inside = X[channel == c]
            assert inside[:, 64 * c:64 * (c + 1)].any(1).all()
            assert not np.delete(inside, np.s_[64 * c:64 * (c + 1)], axis=1).any()
        counts = np.bincount(channel, minlength=3)
        assert counts.max() - counts.min() <= 10     # even, class by class
    assert np.bincount(d.y_val).tolist() == [10] * 10 and set(d.y_test) == set(range(10))
    again = load_colour_digits_shift(random_state=3)
    np.testing.assert_array_equal(again.X_val, d.X_val)
    one = load_colour_digits_shift(test_channels=1, random_state=3)
    assert not one.X_test[:, 64:].any()
    noisy = load_colour_digits_shift(noise_rate=0.4, random_state=3)
    assert 0.3 < noisy.flipped.mean() < 0.5
    with pytest.raises(ValueError, match="test_channels"):
        load_colour_digits_shift(test_channels=4)
    with pytest.raises(ValueError, match="n_val_per_class"):
        load_colour_digits_shift(n_val_per_class=500)


def test_experiment_run_names_the_methods_and_models_it_knows():
    # a wrong name was a bare KeyError: 'adiw'
    from adiw.experiment import METHODS, run

    with pytest.raises(ValueError, match=r"method must be one of \[.*'erm'.*\]; got 'adiw'"):
        run("adiw")
    with pytest.raises(ValueError, match=r"model must be one of \['lenet', 'mlp'\]"):
        run(next(iter(METHODS)), model="resnet")
