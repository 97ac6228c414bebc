"""Running adiw's searches on a Dask cluster (the ``adiw[distributed]`` extra).

scikit-learn's searches parallelise through joblib, and joblib's ``"dask"``
backend sends each (candidate, fold) task to a ``dask.distributed`` worker.
adiw needs nothing special for that beyond two things this module provides:

* ``TorchThreads``, a worker plugin that sets torch's intra-op thread
  count to each worker's thread count. Dask's nanny starts workers with
  ``OMP_NUM_THREADS=1``, which torch reads at import: without the plugin a
  4-thread worker runs torch on one core, and a worker whose torch was told
  otherwise oversubscribes the machine.
* ``search_on_cluster``, a context manager that registers the plugin and
  turns on joblib's dask backend.

Large arguments (``X``, ``domain``) travel once per search: joblib's dask
backend scatters every argument above 1 kB to the cluster once per
``Parallel`` call and hands the tasks references to it
(``benchmarks/bench_distributed.py`` measures the bytes).
"""

from contextlib import contextmanager

try:
    from distributed import WorkerPlugin
except ImportError as exc:          # pragma: no cover - depends on the extra
    raise ImportError("adiw.parallel needs dask.distributed: pip install"
                      " 'adiw[distributed]'.") from exc
import joblib
import torch


class TorchThreads(WorkerPlugin):
    """Give torch as many intra-op threads as the worker has task threads.

    Parameters
    ----------
    n_threads : int or None, default=None
        None: the worker's own thread count (``LocalCluster(threads_per_worker=...)``,
        ``dask worker --nthreads``).

    Examples
    --------
    >>> from adiw.parallel import TorchThreads
    >>> TorchThreads().name
    'adiw-torch-threads'
    """

    name = "adiw-torch-threads"

    def __init__(self, n_threads=None):
        self.n_threads = n_threads

    def setup(self, worker):
        torch.set_num_threads(self.n_threads or worker.state.nthreads)


@contextmanager
def search_on_cluster(client, **backend_options):
    """Run the joblib work inside the block (e.g. ``GridSearchCV.fit``) on ``client``.

    Registers ``TorchThreads`` on the client's workers, then enters
    ``joblib.parallel_config(backend="dask", n_jobs=-1, ...)``. A closed
    client, or a cluster with a single thread in all (joblib would then run
    every task sequentially in this process), is refused with a ValueError.

    Parameters
    ----------
    client : distributed.Client
    **backend_options
        Passed to joblib's dask backend, e.g. ``scatter=[X, y]`` to send the
        data to every worker up front.

    Examples
    --------
    >>> from distributed import Client, LocalCluster          # doctest: +SKIP
    >>> from sklearn.model_selection import GridSearchCV      # doctest: +SKIP
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
    ...         Client(cluster) as client, search_on_cluster(client):   # doctest: +SKIP
    ...     GridSearchCV(KLIEPRatio(), {"gamma": [0.1, 1.0]}, n_jobs=-1).fit(X, domain)
    """
    status = getattr(client, "status", None)
    if status != "running":
        raise ValueError(f"search_on_cluster needs a running dask Client; this one is"
                         f" {status!r} (closed, or not connected).")
    threads = sum(client.nthreads().values())
    if threads < 2:
        # joblib runs a search of effective n_jobs 1 sequentially, in this
        # process: not one task would reach the cluster.
        raise ValueError(
            f"The cluster has {threads} worker thread(s) in all; joblib would run the"
            " search sequentially in this process, not on the cluster. Add workers or"
            " threads (LocalCluster(n_workers=2), dask worker --nthreads 2).")
    client.register_plugin(TorchThreads())
    backend_options.setdefault("n_jobs", -1)      # every thread of the cluster
    with joblib.parallel_config(backend="dask", **backend_options):
        yield client
