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
  turns on ``ClusterBackend``, joblib's dask backend with its worker-failure
  faults fixed: a candidate that kills every worker fails the search, naming
  it (joblib's backend dropped that error and waited forever), and a task
  whose inputs died with a worker is submitted again instead of losing the
  search.

Large arguments (``X``, ``domain``) travel once per search: joblib's dask
backend scatters every argument above 1 kB to the cluster once per
``Parallel`` call and hands the tasks references to it
(``benchmarks/bench_distributed.py`` measures the bytes).
"""

import asyncio
import concurrent.futures
from concurrent.futures import CancelledError
from contextlib import contextmanager
from uuid import uuid4

try:
    from distributed import KilledWorker, WorkerPlugin
except ImportError as exc:          # pragma: no cover - depends on the extra
    raise ImportError("adiw.parallel needs dask.distributed: pip install"
                      " 'adiw[distributed]'.") from exc
import dask
import joblib
import torch
from joblib._dask import DaskDistributedBackend
from joblib._utils import _TracebackCapturingWrapper


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


class WorkerFailure(RuntimeError):
    """A search task was lost with the cluster's workers, not by its own error.

    The message names the candidates and folds concerned, the last worker
    and what to do; ``__cause__`` is dask's own error.
    """


def _describe_batch(batch, folds=True):
    """Which search candidates (and folds) a joblib batch holds, in words."""
    parts = []
    for func, _, kwargs in getattr(batch, "items", ()):
        if "parameters" in kwargs:
            fold = kwargs.get("split_progress") if folds else None
            where = f", fold {fold[0] + 1} of {fold[1]}" if fold else ""
            parts.append(f"candidate {kwargs['parameters']!r}{where}")
        else:
            parts.append(getattr(func, "__name__", repr(func)))
    return "; ".join(parts) or repr(batch)


class ClusterBackend(DaskDistributedBackend):
    """joblib's dask backend that retries lost tasks and fails instead of hanging.

    ``search_on_cluster`` turns it on (joblib backend name ``"adiw-dask"``).
    Three faults of joblib 1.6's dask backend are fixed here:

    * A task that dask gave up on, such as one whose every worker died
      (``KilledWorker``), set its error on a future that ``Parallel`` no
      longer reads (it waits for the completion callback): the search waited
      forever. The error now reaches the callback, as with joblib's process
      backends, as a ``WorkerFailure``.
    * joblib scatters each argument above 1 kB (``X``, a fold's indices) to
      one worker. Scattered data cannot be recomputed, so when that worker
      died every task that needed it was cancelled ("already forgotten") and
      the whole search was lost. A cancelled task is now scattered and
      submitted again, after a pause that doubles from 0.2 s to at most 2 s:
      a search task is a pure function of its inputs, so running it again is
      safe. (dask itself retries a task whose worker died while running it.)
    * A worker that died while an argument was being scattered to it left
      that task unsubmitted and the search waiting forever; it is retried
      the same way.

    A lost task that was on more than ``distributed.scheduler.allowed-failures``
    of the workers that died (the scheduler's ``remove-worker`` events) is not
    resubmitted: the search fails with a ``WorkerFailure`` that lists the
    candidates on the dying workers, the one present at most deaths first.
    Errors raised by the task itself, and errors in pickling its arguments,
    pass through unchanged.

    Parameters
    ----------
    *args, **kwargs
        joblib's ``DaskDistributedBackend``'s (``client``, ``scatter``, ...).
    max_resubmits : int, default=10
        How many times one task is submitted again after losing its inputs
        before the search fails. It is high because every death a killing
        candidate causes can cost a bystander its inputs: bystanders must
        outlast the killer for the error to name it.
    """

    def __init__(self, *args, max_resubmits=10, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_resubmits = max_resubmits
        self._pending = {}          # dask future -> job
        self._jobs = {}             # every key of an unfinished job -> job

    def __reduce__(self):
        return (ClusterBackend, ())

    def submit(self, func, callback=None):
        # joblib's submit, with the submission's own failures handled
        cf_future = concurrent.futures.Future()
        cf_future.get = cf_future.result          # joblib's AsyncResult API
        self.client.loop.add_callback(self._submit, _Job(func, callback, cf_future))
        return cf_future

    async def _submit(self, job, delay=0.0):
        # a resubmission waits for the scheduler to notice the dead worker
        await asyncio.sleep(delay)
        key = f"{job.batch!r}-{uuid4().hex}"
        job.keys.append(key)
        self._jobs[key] = job
        try:
            batch, tasks = await self._to_func_args(job.batch)
            future = self.client.submit(_TracebackCapturingWrapper(batch), tasks=tasks,
                                        key=key, **self.submit_kwargs)
        except _LOST as exc:                # a worker died under the scatter
            await self._lost(job, exc)
            return
        except BaseException as exc:        # e.g. arguments that do not pickle
            job.fail(exc)
            return
        self._pending[future] = job
        self.waiting_futures.add(future)

    async def _collect(self):
        while self._continue:
            async for future, result in self.waiting_futures:
                job = self._pending.pop(future)
                if future.status == "finished":
                    for key in job.keys:
                        del self._jobs[key]
                    job.succeed(result)
                elif future.status == "error":
                    await self._lost(job, result[1])
                else:                       # cancelled: result is the error
                    await self._lost(job, result)
            await asyncio.sleep(0.01)

    async def _lost(self, job, exc):
        if isinstance(exc, _LOST):
            # Was the job itself on the workers that died (it may kill them),
            # or did it lose its inputs with a worker (resubmit)?
            deaths = await self._deaths()
            mine = [d for d in deaths if set(job.keys) & d["keys"]]
            if len(mine) > dask.config.get("distributed.scheduler.allowed-failures"):
                job.fail(self._killed(job, deaths, exc))
                return
            if job.resubmits < self.max_resubmits:
                job.resubmits += 1
                # the lost inputs are scattered anew, not looked up
                self.call_data_futures.clear()
                self.client.loop.add_callback(self._submit, job,
                                              min(0.1 * 2 ** job.resubmits, 2.0))
                return
            err = WorkerFailure(
                f"The cluster lost {_describe_batch(job.batch)} {job.resubmits + 1} times:"
                " its inputs or its result died with a worker (or data given as"
                " scatter= was lost). Look at the workers' logs for why they restart,"
                " then run the search again.")
            err.__cause__ = exc
        elif isinstance(exc, KilledWorker):
            err = self._killed(job, await self._deaths(), exc)
        else:
            err = exc
        job.fail(err)

    async def _deaths(self):
        """The scheduler's worker removals: who died, and the keys it had."""
        try:
            events = await self.client.scheduler.events(topic="all")
        except Exception:       # no scheduler to ask: the job must still end, not hang
            return []
        deaths = [{"worker": msg["worker"], "keys": set(msg.get("processing-tasks", ()))}
                  for _, msg in events
                  if isinstance(msg, dict) and msg.get("action") == "remove-worker"]
        return [d for d in deaths if d["keys"] & self._jobs.keys()]   # this search's

    def _killed(self, job, deaths, cause):
        # The scheduler knows which tasks were *assigned* to a dying worker,
        # not which one ran: a killer is on every death, a bystander on some.
        counts = {}
        for death in deaths:
            for what in {_describe_batch(j.batch, folds=False)
                         for j in self._jobs.values() if set(j.keys) & death["keys"]}:
                counts[what] = counts.get(what, 0) + 1
        suspects = "; ".join(f"{what} ({n} of {len(deaths)})" for what, n in
                             sorted(counts.items(), key=lambda item: -item[1]))
        last = deaths[-1]["worker"] if deaths else "an unknown worker"
        err = WorkerFailure(
            f"Workers kept dying while {_describe_batch(job.batch)} was on them ({last}"
            f" was the last). The search's tasks on the dying workers, most deaths"
            f" first: {suspects or 'unknown'}. A task that kills its worker (a segfault,"
            " running out of memory) is on every death: fit that candidate in this"
            " process to see why, give the workers more memory, or drop it from the"
            " grid. dask retries a task distributed.scheduler.allowed-failures times"
            " (default 3).")
        err.__cause__ = cause
        return err


_LOST = (OSError, CancelledError, asyncio.TimeoutError)


class _Job:
    """One joblib batch on its way through the cluster."""

    def __init__(self, batch, callback, cf_future):
        self.batch, self.callback, self.cf_future = batch, callback, cf_future
        self.resubmits = 0
        self.keys = []          # one dask key per submission

    def succeed(self, result):
        self.cf_future.set_result(result)
        self.callback(result)

    def fail(self, exc):
        self.cf_future.set_exception(exc)
        self.callback(exc)          # the callback re-raises it in Parallel


@contextmanager
def search_on_cluster(client, **backend_options):
    """Run the joblib work inside the block (e.g. ``GridSearchCV.fit``) on ``client``.

    Registers ``TorchThreads`` on the client's workers, then enters
    ``joblib.parallel_config`` with ``ClusterBackend`` on this client and
    ``n_jobs=-1``. A closed
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
    with joblib.parallel_config(backend="adiw-dask", client=client, **backend_options):
        yield client


joblib.register_parallel_backend("adiw-dask", ClusterBackend)
