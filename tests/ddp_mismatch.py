"""Run under torchrun with 2 ranks: inputs that differ between the ranks
must stop every rank with the same clear error, before any other collective
call (each case in turn, in one process group)."""

import json
import os
import sys

import numpy as np
import torch

from adiw.datasets import load_digits_shift
from adiw.deep import DistributedDynamicIWClassifier
from adiw.models import MLP


def main(out):
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    d = load_digits_shift(random_state=0)
    X, y = d.X_train[:100], d.y_train[:100]
    cases = {
        "other_rows": (d.X_train[100 * rank:100 * rank + 100], y),
        "other_size": (X[:100 - 10 * rank], y[:100 - 10 * rank]),
        "nan_on_one": (np.where(rank == 1, np.nan, X).astype(np.float32), y),
        "label_beyond_outputs": (X, y),           # a 2-output module, labels 0..9
    }
    result = {}
    for name, (Xr, yr) in cases.items():
        module = MLP(n_classes=2) if name == "label_beyond_outputs" else MLP()
        net = DistributedDynamicIWClassifier(module, max_epochs=1, batch_size=16, verbose=0)
        y_val = d.y_val % 2 if name == "label_beyond_outputs" else d.y_val
        try:
            net.fit(Xr, yr, X_val=d.X_val, y_val=y_val)
            result[name] = "fitted"
        except ValueError as e:
            result[name] = str(e)
    net = DistributedDynamicIWClassifier(MLP, max_epochs=1, batch_size=16, verbose=0)
    net.fit(X, y, X_val=d.X_val, y_val=d.y_val)          # the group still works
    result["same_data"] = "fitted"
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
