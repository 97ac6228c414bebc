"""Static importance weighting: one standalone ratio fit on representations."""

import numpy as np
import torch
from sklearn.base import clone
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from .._core.backend import to_numpy
from .classifier import INDEX_KEY


@torch.no_grad()
def _represent(net, X, y):
    logits, losses, hidden = net._forward(X, y)
    return net._represent_batch(logits, y, losses, hidden)


@torch.no_grad()
def fit_static_weights(net, dataset_train, ratio_estimator):
    """Fit a clone of ``ratio_estimator`` once on the representations of the
    whole training set against those of the whole test-distribution sample,
    with the network as it is; return it (``weights_`` in training order).

    The forward passes run in eval mode (no dropout, batch-norm running
    statistics): the weights must describe the samples, not one noisy pass
    over them.
    """
    was_training = net.module_.training
    net.module_.eval()
    try:
        Z_tr, index = [], []
        for batch in net.get_iterator(dataset_train, training=False):
            Xi, yi = unpack_data(batch)
            index.append(np.asarray(Xi[INDEX_KEY]))          # each sample's position
            Z_tr.append(_represent(net, Xi, to_tensor(yi, device=net.device)))
        Z_tr = to_numpy(torch.cat(Z_tr))[np.argsort(np.concatenate(index), kind="stable")]
        X_val, y_val = net._val
        size = net.batch_size if net.batch_size > 0 else len(y_val)
        Z_val = to_numpy(torch.cat([_represent(net, X_val[s:s + size], y_val[s:s + size])
                                    for s in range(0, len(y_val), size)]))
    finally:
        net.module_.train(was_training)
    return clone(ratio_estimator).fit(Z_tr, Z_val)
