"""Static importance weighting: one standalone ratio fit on representations."""

import numpy as np
import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ..._core.backend import to_numpy
from ...estimators._base import fit_two_samples
from ..checks import check_power_range
from .base import Weighting, net_losses, seeded_clone


class StaticWeighting(Weighting):
    """``solver="static"``: after ``warmup_epochs`` of ERM, fit the ratio
    estimator once on the representations of the whole training set against
    those of the whole test sample, and keep those weights."""

    needs_test_sample = True

    def begin_fit(self, net, n, sample_weight, same_data):
        super().begin_fit(net, n, sample_weight, same_data)
        self.known_weights = True         # the store is read, ones until the fit
        self.warn_if_never_weighted(net)

    def begin_epoch(self, net, dataset_train):
        if len(net.history) == net.warmup_epochs + 1:
            net.static_estimator_ = fit_static_weights(net, dataset_train,
                                                       net.ratio_estimator_or_default())
            check_power_range(float(net.static_estimator_.weights_.max()), net.weight_power,
                              "the largest static weight")
            net.weight_store_.weights = torch.as_tensor(
                net.static_estimator_.weights_, dtype=net.weight_store_.weights.dtype,
                device=net.device)


@torch.no_grad()
def _represent(net, X, y):
    y_pred = net.infer(X)
    return net.represent(y_pred, y, net_losses(net, y_pred, y), net._hidden_output())


@torch.no_grad()
def fit_static_weights(net, dataset_train, ratio_estimator):
    """Fit a clone of ``ratio_estimator`` (seeded from torch's generator when
    its ``random_state`` is None) once on the representations of the
    whole training set against those of the whole test-distribution sample,
    with the network as it is; return it (``weights_`` in training order).

    The forward passes run in eval mode (no dropout, batch-norm running
    statistics): the weights must describe the samples, not one noisy pass
    over them. The validation loader keeps the dataset's order.
    """
    was_training = net.module_.training
    net.module_.eval()
    try:
        Z_tr = [_represent(net, Xi, to_tensor(yi, device=net.device))
                for Xi, yi in map(unpack_data, net.get_iterator(dataset_train, training=False))]
        sample = net.test_sample_
        size = net.batch_size if net.batch_size > 0 else len(sample)
        Z_val = [_represent(net, X, y) for X, y in sample.batches(size)]
    finally:
        net.module_.train(was_training)
    Z_tr, Z_val = to_numpy(torch.cat(Z_tr)), to_numpy(torch.cat(Z_val))
    return fit_two_samples(seeded_clone(net, ratio_estimator), np.asarray(Z_tr),
                           np.asarray(Z_val))
