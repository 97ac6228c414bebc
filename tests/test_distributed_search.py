"""Searches on a real dask.distributed LocalCluster equal the serial ones."""

import os

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip("distributed")
from adiw.estimators import KLIEPRatio, ULSIFRatio  # noqa: E402
from adiw.parallel import TorchThreads, search_on_cluster  # noqa: E402

from conftest import gaussian_shift, make_net  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # Worker processes unpickle this module's classes: let them import it.
    here = os.path.dirname(__file__)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, old) if p)
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                           processes=True, dashboard_address=None)
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
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
