"""Searches on a real dask.distributed LocalCluster equal the serial ones."""

import os
import re
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402
from adiw.estimators import KLIEPRatio, ULSIFRatio  # noqa: E402
from adiw.parallel import TorchThreads, WorkerFailure, search_on_cluster  # noqa: E402

from conftest import gaussian_shift, make_net  # noqa: E402


@contextmanager
def _on_pythonpath(folder):
    # Worker processes unpickle this module's classes: let them import it.
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (folder, old) if p)
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def client():
    with _on_pythonpath(os.path.dirname(__file__)):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as c:
        yield c


def _pooled(n=300):
    X_tr, X_te, _ = gaussian_shift(n, 2)
    return np.vstack([X_tr, X_te]), np.r_[np.zeros(n), np.ones(n)]


def _assert_same_search(serial, dist):
    for key in ("params", "rank_test_score"):
        assert list(serial.cv_results_[key]) == list(dist.cv_results_[key])
    np.testing.assert_allclose(dist.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"], rtol=1e-9)
    assert np.ptp(serial.cv_results_["mean_test_score"]) > 0      # a real choice


@pytest.mark.parametrize("estimator, grid", [
    (KLIEPRatio(random_state=0), {"gamma": [0.1, 0.5, 2.0]}),
    (ULSIFRatio(random_state=0), {"gamma": [0.1, 0.5, 2.0], "reg": [1e-3, 1e-1]}),
])
def test_estimator_search_on_the_cluster_equals_serial(client, estimator, grid):
    X, domain = _pooled()
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, domain)
    with search_on_cluster(client), distributed.get_task_stream(client) as stream:
        dist = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, domain)
    _assert_same_search(serial, dist)
    np.testing.assert_allclose(dist.best_estimator_.weights_,
                               serial.best_estimator_.weights_, rtol=1e-9)
    # the fits really ran on the cluster, on both workers
    assert len({task["worker"] for task in stream.data}) == 2


class SeededMLP(torch.nn.Module):
    """Seeds torch in __init__: every fit draws the same initialisation and
    batches, in the search's process and on a worker alike."""

    def __init__(self, n_hidden=16):
        super().__init__()
        torch.manual_seed(0)
        self.hidden = torch.nn.Sequential(torch.nn.Linear(64, n_hidden), torch.nn.ReLU())
        self.out = torch.nn.Linear(n_hidden, 10)

    def forward(self, X):
        return self.out(self.hidden(X))


def test_deep_search_on_the_cluster_equals_serial(client, digits):
    net = make_net(module=SeededMLP, max_epochs=2)
    grid = {"lr": [0.02, 0.2], "module__n_hidden": [8, 32]}
    fit = dict(X_val=digits.X_val, y_val=digits.y_val)
    serial = GridSearchCV(net, grid, cv=2).fit(digits.X_train, digits.y_train, **fit)
    with search_on_cluster(client):
        dist = GridSearchCV(net, grid, cv=2, n_jobs=-1).fit(digits.X_train, digits.y_train,
                                                            **fit)
    _assert_same_search(serial, dist)
    np.testing.assert_allclose(dist.best_estimator_.sample_weights(),
                               serial.best_estimator_.sample_weights(), rtol=1e-6)


def test_workers_run_torch_on_their_own_thread_count(client):
    client.run(torch.set_num_threads, 2)          # a worker told otherwise ...
    assert set(client.run(torch.get_num_threads).values()) == {2}
    client.register_plugin(TorchThreads())        # ... follows its thread count again
    assert set(client.run(torch.get_num_threads).values()) == {1}
    client.register_plugin(TorchThreads(3))
    assert set(client.run(torch.get_num_threads).values()) == {3}
    client.register_plugin(TorchThreads())


def test_a_search_that_would_not_reach_the_cluster_is_refused():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        with pytest.raises(ValueError, match="1 worker thread"):
            with search_on_cluster(client):
                pass
    closed = Client(LocalCluster(n_workers=1, processes=False, dashboard_address=None))
    closed.cluster.close()
    closed.close()
    with pytest.raises(ValueError, match="running dask Client"):
        with search_on_cluster(closed):
            pass


class WorkerKiller(BaseEstimator):
    """Kills the worker process that fits it with ``a == 1``; with ``once``,
    only the first time (a marker file remembers)."""

    def __init__(self, a=0, once=None, pause=0.0):
        self.a, self.once, self.pause = a, once, pause

    def fit(self, X, y=None):
        time.sleep(self.pause)
        if self.a == 1 and not (self.once and os.path.exists(self.once)):
            if self.once:
                open(self.once, "w").close()
            os._exit(1)
        return self

    def score(self, X, y=None):
        return float(self.a)


@pytest.fixture
def fragile_client():
    """A fresh cluster whose workers the test kills; a task is given up after
    two deaths (the default, four, only makes the test slower)."""
    here = os.path.dirname(__file__)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            _on_pythonpath(here), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def _search_in_thread(client, estimator, grid, X, y, limit=120):
    """The search's outcome, or a failure if it has not ended after limit s."""
    outcome = {}

    def run():
        try:
            with search_on_cluster(client):
                outcome["search"] = GridSearchCV(estimator, grid, cv=2, n_jobs=-1).fit(X, y)
        except Exception as exc:      # handed to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"the search still runs after {limit} s"
    return outcome


def test_a_candidate_that_kills_every_worker_fails_the_search_naming_it(fragile_client):
    X, domain = _pooled(50)
    out = _search_in_thread(fragile_client, WorkerKiller(), {"a": [0, 1]}, X, domain)
    assert isinstance(out.get("error"), WorkerFailure), out
    # The killer is on every death, so it is named at the top count. A
    # bystander queued on the same worker can tie with it (the scheduler
    # knows assignments, not which task ran), so the test asks no more.
    suspects = str(out["error"]).split("most deaths first: ")[1].split(". A task")[0]
    counts = dict(re.findall(r"(candidate \{[^}]*\}) \((\d+) of \d+\)", suspects))
    deaths = int(re.search(r"of (\d+)\)", suspects).group(1))
    assert int(counts["candidate {'a': 1}"]) == deaths == max(map(int, counts.values())), \
        suspects


def test_a_task_that_kills_its_worker_once_is_retried(fragile_client, tmp_path):
    X, domain = _pooled(50)
    est = WorkerKiller(once=str(tmp_path / "killed"))
    out = _search_in_thread(fragile_client, est, {"a": [0, 1, 2]}, X, domain)
    assert (tmp_path / "killed").exists()          # it did kill a worker
    np.testing.assert_array_equal(out["search"].cv_results_["mean_test_score"], [0, 1, 2])


def test_a_worker_killed_with_the_only_copy_of_the_data_does_not_lose_the_search(
        fragile_client):
    X, domain = _pooled(300)                      # above joblib's 1 kB scatter size
    pids = fragile_client.run(os.getpid)
    killed = {}

    def kill_the_holder():
        # wait until a scattered input lives on one worker only, then kill it
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for key, holders in fragile_client.who_has().items():
                if str(key).startswith("ndarray") and len(holders) == 1:
                    killed["worker"] = holders[0]
                    os.kill(pids[holders[0]], signal.SIGKILL)
                    break
            time.sleep(0.01)

    killer = threading.Thread(target=kill_the_holder, daemon=True)
    killer.start()
    grid = {"a": [0, 2, 3, 4, 5, 6], "pause": [0.2]}
    out = _search_in_thread(fragile_client, WorkerKiller(), grid, X, domain)
    killer.join(60)
    assert killed, "no scattered input was ever held by a single worker"
    assert "error" not in out, out.get("error")
    np.testing.assert_array_equal(out["search"].cv_results_["mean_test_score"],
                                  [0, 2, 3, 4, 5, 6])
