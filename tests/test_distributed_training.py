"""DistributedDynamicIWClassifier: two real gloo processes under torchrun."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from adiw.datasets import load_digits_shift
from adiw.deep import DistributedDynamicIWClassifier, DynamicIWClassifier
from adiw.deep.distributed import shard_batches
from adiw.models import MLP

SCRIPT = os.path.join(os.path.dirname(__file__), "ddp_train.py")
EPOCHS = 20          # + 1 epoch of partial_fit


def _run(out, *launcher, batch_size):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, *launcher, SCRIPT, "--out", str(out), "--epochs", str(EPOCHS),
           "--batch-size", str(batch_size)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    one, two = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    _run(one, batch_size=64)
    # Gradients are averaged over the 2 ranks: 2 x 32 is the one process's 64.
    _run(two, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         batch_size=32)
    load = lambda d, r: json.load(open(d / f"rank{r}.json"))  # noqa: E731
    return load(one, 0), [load(two, 0), load(two, 1)], two


def test_each_epoch_visits_every_sample_once_across_ranks(runs):
    _, (r0, r1), _ = runs
    n = len(load_digits_shift(random_state=0).y_train)
    assert r0["world_size"] == r1["world_size"] == 2
    assert len(r0["indices"]) == EPOCHS + 1
    for a, b in zip(r0["indices"], r1["indices"]):
        assert sorted(a + b) == list(range(n))
    assert r0["indices"][0] != r0["indices"][1]          # a new shard every epoch


def test_every_rank_holds_the_same_complete_weights(runs):
    _, (r0, r1), _ = runs
    w0, w1 = np.array(r0["weights"]), np.array(r1["weights"])
    np.testing.assert_array_equal(w0, w1)
    np.testing.assert_array_equal(r0["weights_after_fit"], r1["weights_after_fit"])
    assert np.all(np.isfinite(w0)) and w0.min() >= 0 and w0.std() > 0.1
    # each entry is the one its own rank wrote (not an average, not stale)
    assert r0["own_entries_kept"] and r1["own_entries_kept"]
    # partial_fit warm-started from the merged store and moved it
    assert not np.array_equal(r0["weights_after_fit"], w0)
    np.testing.assert_array_equal(r0["params"], r1["params"])   # DDP-averaged steps
    assert r0["w_mean"] == r1["w_mean"] and r0["iw_train_acc"] == r1["iw_train_acc"]


def test_the_process_group_the_net_made_is_destroyed_at_exit(runs):
    # left to interpreter finalisation, gloo aborted a rank now and then
    # (SIGABRT), failing a torchrun that had trained fine
    *_, two = runs
    assert [(two / f"exit{r}.txt").read_text() for r in (0, 1)] == ["False", "False"]


def test_the_exit_barrier_lets_go_of_a_rank_whose_peer_died(tmp_path):
    # rank 1 leaves with os._exit (no exit handlers), as a crashed rank would:
    # rank 0's barrier before destroying the group must not hang its exit
    _torchrun("ddp_exit.py", tmp_path, timeout=120)
    seconds, still_joined = (tmp_path / "exit0.txt").read_text().split()
    assert still_joined == "False" and float(seconds) < 3 + 10   # rendezvous_timeout=3


def test_ranks_draw_different_validation_batches(runs):
    _, (r0, r1), _ = runs
    assert r0["val_draws"] != r1["val_draws"]


def test_accuracy_within_two_points_of_one_process(runs):
    one, (r0, _), _ = runs
    assert one["world_size"] == 1
    assert abs(r0["test_acc"] - one["test_acc"]) <= 0.02, (r0["test_acc"], one["test_acc"])
    assert one["test_acc"] > 0.8


def test_rank0_saves_what_one_process_loads(runs):
    _, (r0, _), out = runs
    data = load_digits_shift(random_state=0)
    net = DynamicIWClassifier(MLP).initialize()
    net.load_params(f_params=out / "params.pt", f_weight_store=out / "weights.pt")
    np.testing.assert_allclose(net.predict_proba(data.X_test[:20]), r0["proba"], rtol=1e-6)
    np.testing.assert_array_equal(net.sample_weights(), np.array(r0["weights"], np.float32))


@pytest.mark.parametrize("n, b, world", [(10, 2, 3), (710, 32, 2), (101, 64, 4), (7, 100, 7)])
def test_shard_batches_partition_every_epoch(n, b, world):
    for epoch in (1, 2):
        parts = [shard_batches(n, b, r, world, seed=5, epoch=epoch) for r in range(world)]
        flat = np.concatenate([np.concatenate(p) for p in parts])
        assert sorted(flat.tolist()) == list(range(n))
        assert len({len(p) for p in parts}) == 1                 # same number of steps
        sizes = [len(batch) for p in parts for batch in p]
        assert min(sizes) >= 1 and max(sizes) <= b
    with pytest.raises(ValueError, match="cannot be shared"):
        shard_batches(3, 2, 0, 4, seed=0, epoch=1)


def test_without_a_launcher_it_is_the_one_process_trainer(digits):
    kw = dict(max_epochs=2, batch_size=64, lr=0.05, verbose=0)
    torch.manual_seed(0)
    a = DistributedDynamicIWClassifier(MLP, **kw).fit(digits.X_train, digits.y_train,
                                                     X_val=digits.X_val, y_val=digits.y_val)
    torch.manual_seed(0)
    b = DynamicIWClassifier(MLP, **kw).fit(digits.X_train, digits.y_train,
                                          X_val=digits.X_val, y_val=digits.y_val)
    assert a.world_size_ == 1
    np.testing.assert_array_equal(a.sample_weights(), b.sample_weights())
    np.testing.assert_array_equal(a.predict_proba(digits.X_test), b.predict_proba(digits.X_test))


def _torchrun(script, out, timeout):
    """Run a tests/ script under torchrun on 2 gloo ranks, with OUT as its argument."""
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
         "2", os.path.join(os.path.dirname(__file__), script), str(out)],
        env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
        timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


def _two_ranks(script, out, timeout):
    """``_torchrun`` a script whose ranks each write OUT/rank<r>.json."""
    _torchrun(script, out, timeout)
    return [json.load(open(out / f"rank{r}.json")) for r in (0, 1)]


def test_ranks_with_different_inputs_fail_alike_and_fast(tmp_path):
    """Different rows, sizes or NaN on one rank, or labels the module cannot
    output: every
    rank raises the same clear error before any other collective call
    (once, merged weights of unrelated samples; or a gloo abort)."""
    r0, r1 = _two_ranks("ddp_mismatch.py", tmp_path, timeout=120)
    assert r0 == r1                                           # the same message everywhere
    assert "different training or validation data" in r0["other_rows"]
    assert "different training or validation data" in r0["other_size"]
    assert "rank 1: ValueError: X contains NaN" in r0["nan_on_one"]
    assert "label check failed on 2 of 2 ranks" in r0["label_beyond_outputs"]
    assert "y holds label 9" in r0["label_beyond_outputs"]
    assert r0["same_data"] == "fitted"


def test_leftover_launcher_variables_time_out_with_a_message(tmp_path):
    code = ("import numpy as np\n"
            "from adiw.deep import DistributedDynamicIWClassifier\n"
            "from adiw.models import MLP\n"
            "X = np.zeros((8, 64), np.float32); y = np.arange(8) % 2\n"
            "DistributedDynamicIWClassifier(MLP, solver='none', max_epochs=1, verbose=0,\n"
            "                               rendezvous_timeout=3).fit(X, y)\n")
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, WORLD_SIZE="2", RANK="0", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=90)
    assert done.returncode != 0
    assert "rendezvous_timeout=3" in done.stderr and "WORLD_SIZE=2" in done.stderr


def test_shard_batches_checks_its_arguments():
    for kwargs, match in ((dict(rank=2), "rank must be in"), (dict(rank=-1), "rank must be in"),
                          (dict(batch_size=0), "batch_size"), (dict(n=1), "cannot be shared")):
        args = dict(n=10, batch_size=2, rank=0, world_size=2, seed=0, epoch=0) | kwargs
        with pytest.raises(ValueError, match=match):
            shard_batches(**args)
    big = [shard_batches(10, 2, r, 2, seed=2**62, epoch=3) for r in (0, 1)]
    assert sorted(np.concatenate(big[0] + big[1]).tolist()) == list(range(10))


def test_giw_under_torchrun_splits_and_trains_alike_on_every_rank(tmp_path):
    """GIW's support split is made on every rank: it must be the same split
    (and then the same weights and parameters), and on colour digits it must
    be the training channel."""
    r0, r1 = _two_ranks("ddp_giw.py", tmp_path, timeout=180)
    assert r0["world_size"] == 2
    assert r0["in_support"] == r1["in_support"] == r0["in_channel_0"]
    assert r0["alpha"] == r1["alpha"] == pytest.approx(np.mean(r0["in_channel_0"]))
    assert len(r0["alpha_history"]) == 2           # one re-split per epoch after warm-up
    assert r0["weights"] == r1["weights"] and r0["params"] == r1["params"]
    assert r0["estimator_seed"] == r1["estimator_seed"]
