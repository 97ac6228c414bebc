"""Training script of tests/test_distributed_training.py, run under torchrun or alone.

Trains DistributedDynamicIWClassifier (ADIW with KMM) on the digits joint-shift
task and writes what each rank saw and holds to OUT/rank<r>.json.
"""

import argparse
import atexit
import json
import os

import numpy as np
import torch
from skorch.callbacks import Callback

from adiw.datasets import load_digits_shift
from adiw.deep import DistributedDynamicIWClassifier
from adiw.estimators import KMMRatio
from adiw.models import MLP


class Record(Callback):
    """Indices each rank trains on per epoch, and the weights it wrote for them."""

    def initialize(self):
        self.indices, self.written = [], []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.indices.append([])
        self.written.append({})

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            idx = np.asarray(net._batch_positions).tolist()
            self.indices[-1].extend(idx)
            w = net.weight_store_.weights[idx].tolist()
            self.written[-1].update(zip(idx, w))


class Net(DistributedDynamicIWClassifier):
    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        super().on_batch_begin(net, batch=batch, training=training, **kwargs)
        if training:
            xv = self.weighting_._val_batch[0]
            self.val_draws_ = getattr(self, "val_draws_", []) + [float(xv.sum())]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    # Registered before the net joins the group, so it runs after the net's
    # own exit handler (atexit is last in, first out): is the group gone?
    exit_file = os.path.join(args.out, f"exit{os.environ.get('RANK', '0')}.txt")
    atexit.register(lambda: open(exit_file, "w").write(
        str(torch.distributed.is_initialized())))
    data = load_digits_shift(random_state=0)
    record = Record()
    net = Net(MLP, ratio_estimator=KMMRatio(), max_epochs=args.epochs,
              batch_size=args.batch_size, lr=0.05, optimizer=torch.optim.SGD,
              optimizer__momentum=0.9, val_holdout=0.0, callbacks=[("record", record)],
              verbose=0)
    net.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    after_fit = net.sample_weights().tolist()
    net.partial_fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val, epochs=1)
    final = net.sample_weights()
    own_kept = all(np.isclose(final[i], w, rtol=0, atol=0) for i, w in record.written[-1].items())
    if net.rank_ == 0:
        net.save_params(f_params=os.path.join(args.out, "params.pt"),
                        f_weight_store=os.path.join(args.out, "weights.pt"))
    params = torch.cat([p.detach().reshape(-1) for p in net.module_.parameters()])
    result = {
        "rank": net.rank_, "world_size": net.world_size_,
        "indices": record.indices, "own_entries_kept": bool(own_kept),
        "weights_after_fit": after_fit, "weights": final.tolist(),
        "params": params.tolist(), "val_draws": net.val_draws_[:5],
        "w_mean": list(net.history[:, "w_mean"]),
        "iw_train_acc": list(net.history[:, "iw_train_acc"]),
        "test_acc": float(np.mean(net.predict(data.X_test) == data.y_test)),
        "proba": net.predict_proba(data.X_test[:20]).tolist(),
    }
    with open(os.path.join(args.out, f"rank{net.rank_}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
