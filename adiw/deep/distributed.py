"""Data-parallel DynamicIWClassifier over several processes (torchrun, gloo / NCCL).

Built on ``torch.distributed`` directly rather than skorch's Accelerate
integration: the parts that matter here are adiw's own, namely which rank
sees which sample, how the per-sample weight store is merged, and how the
validation batches are drawn, and Accelerate's data-loader sharding pads
the last batch with duplicates, which would give a sample two conflicting
weight updates. Gradients are averaged with one all-reduce of a flat buffer
per step, which is what DDP computes; the module stays unwrapped, so
``save_params``, pickling and ``predict`` are those of one process.
"""

import atexit
import datetime
import os

import numpy as np
import torch
import torch.distributed as dist
from skorch.callbacks import PrintLog
from torch.utils.data import Sampler

from .classifier import DynamicIWClassifier, _fingerprint
from .epoch_stats import WeightStats


def _world():
    """(rank, world size) of the current process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard_batches(n, batch_size, rank, world_size, seed, epoch):
    """This rank's batches of one epoch: index arrays that, over the ranks,
    cover ``range(n)`` exactly once.

    One permutation, seeded by ``(seed, epoch)`` and so identical on every
    rank, is dealt out round-robin. No sample is repeated to even the shards
    out (a duplicate would get two conflicting weight updates); instead every
    rank splits its shard into the same number of batches, sized within one
    sample of each other, so that the ranks take the same number of
    gradient steps.

    Parameters
    ----------
    n, batch_size, rank, world_size, seed, epoch : int

    Returns
    -------
    list of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.deep.distributed import shard_batches
    >>> parts = [shard_batches(10, 2, r, 3, seed=0, epoch=1) for r in range(3)]
    >>> [len(p) for p in parts], sorted(np.concatenate(sum(parts, [])).tolist()) == list(range(10))
    ([2, 2, 2], True)
    """
    for name, value, low in (("n", n, 0), ("batch_size", batch_size, 1),
                             ("world_size", world_size, 1), ("epoch", epoch, 0)):
        if not (isinstance(value, (int, np.integer)) and value >= low):
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
    if not (isinstance(rank, (int, np.integer)) and 0 <= rank < world_size):
        raise ValueError(f"rank must be in [0, {world_size}), got {rank!r}.")
    if n < world_size:
        raise ValueError(f"{n} training samples cannot be shared by {world_size} processes.")
    # The generator takes a 64-bit seed: fold large seeds and epochs into it.
    g = torch.Generator().manual_seed((int(seed) * 100_003 + int(epoch)) % 2**63)
    order = torch.randperm(n, generator=g).numpy()
    return np.array_split(order[rank::world_size], n_shard_batches(n, batch_size, world_size))


def n_shard_batches(n, batch_size, world_size):
    """Batches per rank and epoch: ``ceil(ceil(n / W) / b)``, but never so many
    that the smallest shard would leave a batch empty."""
    return min(-(-(-(-n // world_size)) // batch_size), n // world_size)


class EpochShards(Sampler):
    """This rank's batches, drawn anew by ``shard_batches`` on every pass.

    skorch builds the training loader once per fit and iterates it once per
    epoch, so the epoch is read when iteration starts (``epoch``, a callable),
    and ``on_draw`` is told which samples this rank will see.
    """

    def __init__(self, n, batch_size, rank, world_size, seed, epoch, on_draw):
        self.args = (n, batch_size, rank, world_size, seed)
        self.epoch, self.on_draw = epoch, on_draw

    def __iter__(self):
        batches = shard_batches(*self.args, epoch=self.epoch())
        self.on_draw(np.concatenate(batches))
        return iter([b.tolist() for b in batches])

    def __len__(self):
        n, batch_size, _, world_size, _ = self.args
        return n_shard_batches(n, batch_size, world_size)


class DistributedWeightStats(WeightStats):
    """``WeightStats`` whose per-epoch sums are combined over the ranks
    (the weights themselves are merged by the net first)."""

    def totals(self, net):
        objective, batches, correct, seen, margin, skipped = super().totals(net)
        if getattr(net, "world_size_", 1) == 1:
            return objective, batches, correct, seen, margin, skipped
        dev = margin.device
        sums = torch.tensor([float(objective), float(correct), float(batches), float(seen),
                             float(skipped)], dtype=torch.float64, device=dev)
        dist.all_reduce(sums)
        margin = margin.to(torch.float64).reshape(1)
        dist.all_reduce(margin, op=dist.ReduceOp.MIN)
        return sums[0], int(sums[2]), sums[1], int(sums[3]), margin[0], sums[4]


def _leave_process_group(timeout):
    """At exit, destroy the process group the net created, while the
    interpreter is still whole. Left to finalisation, gloo's worker threads
    release tensors after Python is gone and abort the rank ("terminate
    called without an active exception", SIGABRT; pytorch/pytorch#179291),
    so torchrun reports a failure for a script that trained and saved fine:
    about 1 run in 10 of tests/ddp_mismatch.py. Destroying alone still did
    (a rank tore down while its peer had work in flight); after a barrier,
    none of 30 runs did. The barrier waits at most ``timeout`` seconds (the
    net's rendezvous_timeout) for a peer that died, then lets go. A group
    the user made is the user's to destroy."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=timeout))
        else:                # NCCL has no monitored barrier; its watchdog bounds this one
            dist.barrier()
    except RuntimeError:
        pass                 # a peer is gone: there is nothing to wait for
    dist.destroy_process_group()


class DistributedDynamicIWClassifier(DynamicIWClassifier):
    """``DynamicIWClassifier`` trained data-parallel on several processes.

    Launch the same script on every process, e.g.
    ``torchrun --nproc-per-node 4 train.py``: the class joins the process
    group that ``torchrun`` describes (``gloo`` on CPU, ``NCCL`` when
    ``device`` is CUDA; on GPUs each process takes ``cuda:LOCAL_RANK``), or
    uses one you initialised yourself. Started without a launcher it is
    exactly a ``DynamicIWClassifier``.

    Each process trains on its shard of every epoch (``shard_batches``):
    over the processes every training sample is visited once per epoch.
    Gradients are averaged over the processes at every step, as in DDP, so
    ``batch_size`` is per process: the global batch is
    ``world_size * batch_size``. Each process draws its own validation
    batches. The per-sample weights a process updates are merged at the end
    of every epoch: every process then holds the same complete vector, and
    warm starts continue from it, as in one process. Weight statistics in
    ``history`` are computed from that merged vector, and the per-epoch
    objective and training-fit statistics are combined over the processes;
    ``train_loss`` is each process's own. Only rank 0 prints.

    Parameters
    ----------
    module, **kwargs
        As ``DynamicIWClassifier``.
    """

    _TRANSIENT = DynamicIWClassifier._TRANSIENT + ("_shard", "_shard_seed")

    def _weight_stats_callback(self):
        return DistributedWeightStats()

    # ---- process group ------------------------------------------------------
    def __init__(self, module, *args, rendezvous_timeout=300.0, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.rendezvous_timeout = rendezvous_timeout

    def _join_process_group(self):
        if dist.is_available() and not dist.is_initialized() \
                and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            cuda = str(self.device).startswith("cuda")
            if cuda:
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            timeout = self.rendezvous_timeout
            if not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
                raise ValueError(f"rendezvous_timeout must be seconds > 0, got {timeout!r}.")
            try:
                dist.init_process_group("nccl" if cuda else "gloo",
                                        timeout=datetime.timedelta(seconds=timeout))
                atexit.register(_leave_process_group, timeout)
            except (RuntimeError, ValueError) as e:
                env = ", ".join(f"{k}={os.environ[k]}" for k in
                                ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
                                if k in os.environ)
                raise RuntimeError(
                    f"Could not join the process group within rendezvous_timeout={timeout} s"
                    f" ({env}): not all {os.environ['WORLD_SIZE']} ranks joined. Launch every"
                    " rank (torchrun --nproc-per-node N script.py), or, for one process,"
                    " unset WORLD_SIZE and RANK; the class is then a DynamicIWClassifier."
                ) from e
        return _world()

    def initialize_module(self):
        self.rank_, self.world_size_ = self._join_process_group()
        super().initialize_module()
        if self.world_size_ > 1:          # one starting point on every rank, as DDP
            with torch.no_grad():
                for tensor in self.module_.state_dict().values():
                    dist.broadcast(tensor, src=0)
        return self

    def initialize_callbacks(self):
        super().initialize_callbacks()
        if getattr(self, "rank_", 0) != 0:
            self.callbacks_ = [(k, cb) for k, cb in self.callbacks_
                               if not isinstance(cb, PrintLog)]
        return self

    # ---- agreement across ranks ------------------------------------------------
    def fit(self, X, y=None, X_val=None, y_val=None, **fit_params):
        """As :meth:`DynamicIWClassifier.fit`, after every rank has checked
        its inputs and all agree that they hold the same data."""
        self.rank_, self.world_size_ = self._join_process_group()
        self._agree_on_inputs(X, y, X_val, y_val)
        self._inputs_agreed = True
        try:
            return super().fit(X, y, X_val=X_val, y_val=y_val, **fit_params)
        finally:
            self._inputs_agreed = False

    def partial_fit(self, X, y=None, classes=None, X_val=None, y_val=None, **fit_params):
        """As :meth:`DynamicIWClassifier.partial_fit`, after the ranks agree
        on their inputs (see :meth:`fit`)."""
        if not getattr(self, "_inputs_agreed", False):
            self.rank_, self.world_size_ = self._join_process_group()
            self._agree_on_inputs(X, y, X_val, y_val)
        return super().partial_fit(X, y, classes, X_val=X_val, y_val=y_val, **fit_params)

    def _agree(self, error, facts, what):
        """One all-gather of each rank's check result and facts; the same
        error on every rank if any rank failed or the facts differ."""
        if self.world_size_ == 1:
            if error:
                raise ValueError(error)
            return
        gathered = [None] * self.world_size_
        dist.all_gather_object(gathered, (error, facts))
        failed = [f"rank {r}: {e}" for r, (e, _) in enumerate(gathered) if e]
        if failed:
            raise ValueError(f"{what} failed on {len(failed)} of {self.world_size_} ranks; "
                             + "; ".join(failed))
        if any(f != gathered[0][1] for _, f in gathered):
            listed = "; ".join(f"rank {r}: {f}" for r, (_, f) in enumerate(gathered))
            raise ValueError(
                "The ranks hold different training or validation data (" + listed + ")."
                " Every process must pass the same X, y, X_val and y_val: each one trains"
                " on its own shard of them, and the weights of a sample are merged by"
                " position.")

    def _agree_on_inputs(self, X, y, X_val, y_val):
        from ..utils import unwrap_fit_sample
        from .checks import check_finite, check_labels

        X_val, y_val = unwrap_fit_sample(X_val, X, "X_val"), unwrap_fit_sample(y_val, y, "")
        error = None
        try:
            check_finite(X, "X")
            check_finite(X_val, "X_val")
            if y is not None and self.solver != "none":
                check_labels(y, "y")
            if y_val is not None:
                check_labels(y_val, "y_val")
            n = len(X)
            if n < self.world_size_:
                raise ValueError(f"{n} training samples cannot be shared by"
                                 f" {self.world_size_} processes.")
        except (ValueError, TypeError) as e:
            error = f"{type(e).__name__}: {e}"
        facts = {name: _fingerprint(v) for name, v in
                 (("X", X), ("y", y), ("X_val", X_val), ("y_val", y_val)) if v is not None}
        self._agree(error, facts, "The input checks")

    def _agree_on_outputs(self, y):
        """Labels the module cannot output, on any rank, stop every rank
        before training (one forward of a single row here)."""
        error = None
        sample = self.test_sample_
        try:
            if sample is not None:
                X_first, _ = sample.take(np.arange(1))
                with torch.no_grad():
                    was_training = self.module_.training
                    self.module_.eval()
                    out = self.infer(X_first)
                    self.module_.train(was_training)
                self.check_output_size(out, y)
        except (ValueError, TypeError) as e:
            error = f"{type(e).__name__}: {e}"
        self._agree(error, None, "The label check")

    # ---- data ---------------------------------------------------------------
    def get_split_datasets(self, X, y=None, **fit_params):
        # Every fit looks again: a net unpickled in one process trains alone.
        self.rank_, self.world_size_ = self._join_process_group()
        out = super().get_split_datasets(X, y, **fit_params)
        if self.world_size_ > 1:
            self._agree_on_outputs(y)
        # Different validation batches on every rank (rank 0 draws what one
        # process would).
        if self.test_sample_ is not None:
            self.test_sample_.generator.manual_seed(self.rank_)
        if self.world_size_ > 1:
            self._shard_seed = self._rank0(int(torch.randint(2 ** 31 - 1, (1,))))
        return out

    def _estimator_seed(self):
        # every rank must fit the same static weights and support split
        return self._rank0(super()._estimator_seed())

    def _rank0(self, value):
        """``value`` as rank 0 has it (sent from the net's device: NCCL has
        no CPU tensors)."""
        tensor = torch.tensor([value], device=self.device)
        if self.world_size_ > 1:
            dist.broadcast(tensor, src=0)
        return int(tensor)

    def _shard_batches(self, dataset, batch_size):
        if self.world_size_ == 1:
            return None
        return EpochShards(len(dataset), batch_size, self.rank_, self.world_size_,
                           self._shard_seed, epoch=lambda: len(self.history),
                           on_draw=self._set_shard)

    def _set_shard(self, indices):
        self._shard = indices

    # ---- training -----------------------------------------------------------
    def train_step_single(self, batch, **fit_params):
        step = super().train_step_single(batch, **fit_params)
        if self.world_size_ > 1:
            self._average_gradients()
        return step

    def _average_gradients(self):
        params = [p for p in self.module_.parameters() if p.requires_grad]
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                          for p in params])
        dist.all_reduce(flat)
        flat /= self.world_size_
        offset = 0
        for p in params:
            p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
            offset += p.numel()

    def on_epoch_end(self, net, **kwargs):
        if self.world_size_ > 1:
            self._merge_weights()
        super().on_epoch_end(net, **kwargs)

    def _merge_weights(self):
        """Each entry from the rank that saw it: the ranks' shards are disjoint,
        so a sum of masked vectors is exact (x + 0 + ... + 0 = x)."""
        store = self.weight_store_.weights
        mine = torch.zeros(store.shape[0], dtype=torch.bool, device=store.device)
        mine[torch.as_tensor(self._shard, device=store.device)] = True
        merged = torch.where(mine, store, torch.zeros_like(store))
        dist.all_reduce(merged)
        self.weight_store_.weights = merged
