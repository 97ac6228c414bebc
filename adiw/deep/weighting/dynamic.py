"""ADIW and DIW: weights updated on every batch against a test-distribution batch."""

import torch

from .base import Weighting
from .updater import BatchWeightUpdater


class DynamicWeighting(Weighting):
    """``solver="adiw"`` (a few warm-started solver steps per batch) or
    ``solver="diw"`` (solved to convergence from w = 1 on every batch).

    The divergence compares the representations of the training batch and of
    a batch of the test sample; the updated weights go back to the store
    (warm starts) and weight the batch's losses.
    """

    needs_test_sample = True
    learns = True

    def __init__(self, net):
        super().__init__(net)
        self.updater = BatchWeightUpdater(
            net.ratio_estimator_or_default(), solver=net.solver, n_steps=net.n_steps,
            step_scale=net.step_scale, B=net.B, eps=net.eps,
            width_quantile=net.width_quantile)

    def begin_fit(self, net, n, sample_weight, same_data):
        super().begin_fit(net, n, sample_weight, same_data)
        self.warn_if_never_weighted(net)

    def updates_now(self, net):
        return len(net.history) > net.warmup_epochs

    def reference_batch(self, forward):
        """Representations of the test-distribution batch the weights fit."""
        return forward.y_pred_v, forward.y_v, forward.hidden_v

    def batch_weights(self, net, positions, forward):
        store = net.weight_store_.weights
        idx = torch.as_tensor(positions, device=store.device)
        if not self.updates_now(net):
            return store[idx]
        with torch.no_grad():
            losses, losses_v = forward.losses()
            z_tr = net.represent(forward.y_pred, forward.y, losses, forward.hidden)
            z_val = net.represent(forward.y_pred_v, forward.y_v, losses_v, forward.hidden_v)
            w0 = store[idx]
            w, value = self.updater(z_tr.to(store.dtype), z_val.to(store.dtype), w0)
            # Last line of defence, without a host sync: a non-finite update
            # never reaches the store or the loss; the batch keeps its
            # previous weights and is counted (WeightStats warns per epoch).
            ok = torch.isfinite(w).all() & torch.isfinite(value)
            w = torch.where(ok, w, w0)
            store[idx] = w
        forward.stats["iw_objective"] = torch.where(ok, value, torch.zeros_like(value))
        forward.stats["iw_skipped"] = ~ok
        return w
