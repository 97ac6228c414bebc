"""Per-epoch weight and training-fit statistics, as a skorch callback."""

import warnings

import numpy as np
import torch
from skorch.callbacks import Callback


class WeightStats(Callback):
    """Records, per epoch, the weights' ``w_mean``, ``w_max`` and ``w_ess``
    (effective sample size (sum w)^2 / sum w^2 as a fraction of n),
    ``iw_objective`` (the mean per-batch divergence at the updated weights,
    when weights were updated), and, on the training batches as they are
    trained, ``iw_train_acc`` and ``iw_margin_min`` (the smallest margin
    ``z_y - max_{k != y} z_k``: positive once the network separates its
    training data, from which point cross-entropy forgets the weights).

    The sums stay on the device and are read once per epoch. One of
    ``DynamicIWClassifier``'s default callbacks (``"weight_stats"``).
    """

    def on_epoch_begin(self, net, **kwargs):
        self.objective_, self.batches_, self.skipped_ = 0.0, 0, 0
        self.correct_, self.seen_, self.margins_ = 0.0, 0, []

    def on_batch_end(self, net, batch=None, training=False, **step):
        if not training or "iw_y" not in step:
            return
        value = step.get("iw_objective")
        if value is not None:
            self.objective_ = self.objective_ + value
            self.skipped_ = self.skipped_ + step["iw_skipped"]
            self.batches_ += 1
        logits, y = step["y_pred"], step["iw_y"]
        if not (isinstance(logits, torch.Tensor) and logits.ndim == 2 and logits.shape[1] > 1):
            return
        if not isinstance(y, torch.Tensor):
            if not (isinstance(y, np.ndarray) and y.dtype.kind in "iu"):
                return                  # targets that are not class labels
            y = torch.as_tensor(y)
        y = y.to(logits.device)
        if y.ndim != 1 or y.dtype not in (torch.int64, torch.int32):
            return
        logits = logits.detach()
        margin = logits.gather(1, y[:, None])[:, 0] - \
            logits.scatter(1, y[:, None], float("-inf")).amax(1)
        # Correct exactly when the margin is positive (ties count as wrong).
        self.correct_ = self.correct_ + (margin > 0).sum()
        self.seen_ += y.shape[0]
        self.margins_.append(margin.min())

    def totals(self, net):
        """(objective sum, batches, correct, seen, smallest margin, skipped
        updates): this process's; the distributed trainer combines them over
        the ranks."""
        w = net.weight_store_.weights
        margin = (torch.stack(self.margins_).min() if self.margins_
                  else torch.full((), float("inf"), device=w.device))
        return (self.objective_, self.batches_, self.correct_, self.seen_, margin,
                self.skipped_)

    def on_epoch_end(self, net, **kwargs):
        if not net._has_weight_store():
            return
        w = net.weight_store_.weights
        objective, batches, correct, seen, margin, skipped = self.totals(net)
        to = dict(device=w.device, dtype=w.dtype)
        stats = torch.stack([w.mean(), w.max(), w.sum() ** 2 / (w * w).sum() / w.numel(),
                             torch.as_tensor(objective, **to) / max(batches, 1),
                             torch.as_tensor(correct, **to) / max(seen, 1),
                             torch.as_tensor(margin, **to), torch.as_tensor(skipped, **to)])
        mean, wmax, ess, obj, acc, margin, skipped = stats.tolist()   # one sync per epoch
        net.history.record("w_mean", mean)
        net.history.record("w_max", wmax)
        net.history.record("w_ess", ess)
        if batches:
            net.history.record("iw_objective", obj)
            net.history.record("iw_skipped", int(skipped))
            if skipped:
                warnings.warn(
                    f"Epoch {len(net.history)}: {int(skipped)} of {batches} weight updates"
                    " were not finite and were skipped (those batches kept their"
                    " previous weights; history 'iw_skipped'). The divergence is"
                    " degenerate on these representations: try another"
                    " ratio_estimator, width_quantile or representation.",
                    UserWarning, stacklevel=2)
        if seen:
            net.history.record("iw_train_acc", acc)
            net.history.record("iw_margin_min", margin)
