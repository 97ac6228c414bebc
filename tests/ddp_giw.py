"""GIW under torchrun (tests/test_distributed_training.py): each rank writes
its support split, weights, parameters and estimator seed to OUT/rank<r>.json."""

import json
import os
import sys

import numpy as np
import torch

from adiw.datasets import load_colour_digits_shift
from adiw.deep import DistributedDynamicIWClassifier
from adiw.models import MLP


def main(out):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = load_colour_digits_shift(random_state=0)
    net = DistributedDynamicIWClassifier(
        MLP, module__n_features=192, solver="giw", hidden_layer="hidden", warmup_epochs=1,
        support_refresh=1, max_epochs=3, batch_size=32, lr=0.05, optimizer=torch.optim.SGD,
        optimizer__momentum=0.9, val_holdout=0.0, verbose=0)
    net.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    params = torch.cat([p.detach().reshape(-1) for p in net.module_.parameters()])
    result = {
        "world_size": net.world_size_, "alpha": float(net.support_fraction_),
        "in_support": np.asarray(net.in_support_).tolist(),
        "in_channel_0": (data.channel_val == 0).tolist(),
        "alpha_history": [a for a in net.history[:, "support_fraction"] if a is not None]
        if "support_fraction" in net.history[-1] else [],
        "weights": net.sample_weights().tolist(), "params": params.tolist(),
    }
    # generators that differ by rank: the seed of an estimator fitted inside
    # fit (static weights, a support estimator) must still be rank 0's
    torch.manual_seed(100 + net.rank_)
    result["estimator_seed"] = net._estimator_seed()
    with open(os.path.join(out, f"rank{net.rank_}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
