"""Exit script of tests/test_distributed_training.py, run under torchrun: rank 1
leaves without its exit handlers (os._exit), as a rank that dies would;
rank 0 must still get past the net's exit barrier, within rendezvous_timeout,
and writes how long its exit took to OUT/exit0.txt."""

import atexit
import os
import sys
import time

import numpy as np
import torch

from adiw.deep import DistributedDynamicIWClassifier
from adiw.models import MLP


def main(out):
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    marks = {}
    # runs after the net's handler (last in, first out)
    atexit.register(lambda: open(os.path.join(out, f"exit{rank}.txt"), "w").write(
        f"{time.perf_counter() - marks['end']:.2f} {torch.distributed.is_initialized()}"))
    X = np.random.default_rng(0).normal(size=(32, 64)).astype(np.float32)
    y = np.arange(32) % 10
    DistributedDynamicIWClassifier(MLP, solver="none", max_epochs=1, verbose=0,
                                   rendezvous_timeout=3).fit(X, y)
    marks["end"] = time.perf_counter()
    if rank == 1:
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
