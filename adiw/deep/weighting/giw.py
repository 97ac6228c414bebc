"""GIW: importance weighting inside the training support, test labels outside it.

Generalized importance weighting (Fang, Lu, Niu and Sugiyama, NeurIPS 2023).
After an ADIW warm-up, the labelled test sample is split by a one-class
support estimator fitted on the training samples' representations: val1, the
test points inside the training support, and val2, those outside, with
``alpha = |val1| / |val|``. Every batch then weights the training batch
against a batch of val1 (the ADIW update) and trains on

    alpha * mean(w * loss_train) + (1 - alpha) * mean(loss_val2)

where no weight can reach the test points the training data never cover.
(With ``train_on_val``, the first term is ADIW's loss, which also trains on
the val1 batch.)
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import unpack_data

from .base import BatchLoss, seeded_clone
from .dynamic import DynamicWeighting


def _inside(estimator, scores, n):
    """The mask ``scores >= 0`` of a support estimator's decision function, or
    a ValueError when it is not one finite score per validation point: NaN
    compares false, so it would silently put the point outside."""
    scores = np.asarray(scores, dtype=float)
    name = type(estimator).__name__
    if scores.shape != (n,):
        raise ValueError(f"support_estimator {name}.decision_function returned shape"
                         f" {scores.shape} for {n} validation points; expected ({n},).")
    if not np.isfinite(scores).all():
        raise ValueError(f"support_estimator {name}.decision_function returned"
                         f" {int((~np.isfinite(scores)).sum())} non-finite scores of {n}"
                         " (NaN or inf); the support split needs finite scores.")
    return scores >= 0


class NearestNeighborSupport(OutlierMixin, BaseEstimator):
    """The training support as the reach of its own nearest-neighbour gaps.

    A point is inside when its distance to the nearest training point is at
    most the ``quantile`` of the training points' distances to their own
    nearest other training point. The rule has no scale to tune: it reads
    the density of the training sample itself, in any dimension (the GIW
    reference's OneClassSVM with a fixed ``gamma = 10000`` and score
    threshold 1e-4 is tied to one feature scale).

    Parameters
    ----------
    quantile : float in (0, 1], default=0.99
        Which of the training nearest-neighbour distances bounds the support.
    max_samples : int or None, default=5000
        Estimate the quantile from the gaps of at most this many training
        points, drawn without replacement (every training point still spans
        the support). The gaps cost one nearest-neighbour query per point
        against all of them: quadratic in n for all points (tens of seconds
        at 100,000 rows, at every GIW split), linear with the cap. Up to
        5,000 training points the default is exact. None uses every point.
    random_state : int, RandomState or None, default=None
        Draws the ``max_samples`` points.

    Attributes
    ----------
    radius_ : float
        The bound.
    """

    def __init__(self, quantile=0.99, max_samples=5000, random_state=None):
        self.quantile = quantile
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {self.quantile!r}.")
        m = self.max_samples
        if m is not None and not (isinstance(m, Integral) and not isinstance(m, bool) and m >= 2):
            raise ValueError(f"max_samples must be an integer >= 2 or None, got {m!r}.")
        X = np.asarray(X, dtype=np.float64)
        if len(X) < 2:
            raise ValueError("NearestNeighborSupport needs at least 2 training points.")
        self.nn_ = NearestNeighbors(n_neighbors=2).fit(X)
        queries = X
        if m is not None and len(X) > m:
            rng = check_random_state(self.random_state)
            queries = X[np.sort(rng.choice(len(X), m, replace=False))]
        gaps = self.nn_.kneighbors(queries)[0][:, 1]
        self.radius_ = float(np.quantile(gaps, self.quantile))
        return self

    def decision_function(self, X):
        """``radius_`` minus the distance to the nearest training point:
        non-negative inside the support."""
        check_is_fitted(self, "radius_")
        return self.radius_ - self.nn_.kneighbors(np.asarray(X, dtype=np.float64),
                                                  n_neighbors=1)[0][:, 0]

    def predict(self, X):
        return np.where(self.decision_function(X) >= 0, 1, -1)


@torch.no_grad()
def support_features(net, batches):
    """L2-normalised representations for the support split: the output of
    ``hidden_layer`` (the reference uses the penultimate layer), else the
    module's output, forwarded in eval mode."""
    layer = dict(net.module_.named_modules()).get(net.hidden_layer) if net.hidden_layer else None
    captured = []
    handle = None if layer is None else layer.register_forward_hook(
        lambda module, inputs, output: captured.append(output.detach().flatten(1)))
    was_training = net.module_.training
    net.module_.eval()
    try:
        outs = []
        for X in batches:
            out = net.infer(X)
            outs.append(captured.pop() if layer is not None else out.detach().flatten(1))
    finally:
        net.module_.train(was_training)
        if handle is not None:
            handle.remove()
    Z = torch.cat(outs).to(torch.float64)
    Z = Z / Z.norm(dim=1, keepdim=True).clamp_min(torch.finfo(Z.dtype).tiny)
    return Z.cpu().numpy()


class GIWWeighting(DynamicWeighting):
    """``solver="giw"``: generalized importance weighting (see the module).

    The weighted part is ADIW's loss: with ``train_on_val`` (the default) the
    val1 batch is trained on as well, unweighted, as ADIW trains on its test
    batch; ``train_on_val=False`` is the reference's loss. With every test
    point inside the training support (alpha = 1) it is ADIW with the same
    options; with none (alpha = 0) it trains on the test sample alone.
    """

    def begin_fit(self, net, n, sample_weight, same_data):
        super().begin_fit(net, n, sample_weight, same_data)
        self.val1 = self.val2 = None

    def begin_epoch(self, net, dataset_train):
        epoch, start = len(net.history), net.warmup_epochs + 1
        refresh = net.support_refresh
        if epoch == start or (epoch > start and refresh and (epoch - start) % refresh == 0) \
                or (epoch > start and self.val1 is None):
            self.split(net, dataset_train)

    def split(self, net, dataset_train):
        """Fit the support estimator on the training representations; split
        the test sample into val1 (inside) and val2 (outside)."""
        sample = net.test_sample_
        size = net.batch_size if net.batch_size > 0 else len(sample)
        # A DataLoader's iterator draws its base seed from torch's global
        # generator: forked, the split leaves training's shuffles as they were.
        with torch.random.fork_rng(devices=[]):
            train = (unpack_data(b)[0] for b in net.get_iterator(dataset_train, training=False))
            Z_tr = support_features(net, train)
        Z_val = support_features(net, (X for X, _ in sample.batches(size)))
        # seeded as a user's estimator is: above 5,000 training points the
        # default draws the points whose gaps set its radius
        est = seeded_clone(net, NearestNeighborSupport() if net.support_estimator is None
                           else net.support_estimator)
        inside = _inside(est, est.fit(Z_tr).decision_function(Z_val), len(Z_val))
        net.support_estimator_ = est
        net.in_support_ = inside
        net.support_fraction_ = float(inside.mean())
        net.history.record("support_fraction", net.support_fraction_)
        self.val1, self.val2 = sample.subset(inside), sample.subset(~inside)

    def begin_batch(self, net):
        if not self.updates_now(net):
            return super().begin_batch(net)          # the warm-up is ADIW
        self._batch_w = None
        size = net.val_batch_size or net.batch_size
        self._val_batch = self.val1.draw(size if size > 0 else len(self.val1)) \
            if len(self.val1) else None
        self._val2_batch = self.val2.draw(size if size > 0 else len(self.val2)) \
            if len(self.val2) else None

    def batch_loss(self, net, Xi, yi, positions, **fit_params):
        if not self.updates_now(net):
            return super().batch_loss(net, Xi, yi, positions, **fit_params)
        alpha = net.support_fraction_
        forward = self.forward(net, Xi, yi, net.train_on_val, fit_params)
        if self._batch_w is None and alpha == 0:     # nothing to weight against
            self._batch_w = net.weight_store_.weights[
                torch.as_tensor(positions, device=net.device)]
        # ADIW's rows: the training batch, and the val1 batch when trained on
        y_pred, y_true, factors = self.weighted_rows(net, forward, positions)
        if not forward.train_val:
            y_true = forward.y
        if self._val2_batch is None:                 # alpha = 1: ADIW on val1
            return BatchLoss(y_pred, y_true, factors, forward.n, forward.stats)
        x2, y2 = self._val2_batch
        y_pred2 = net.infer(x2, **fit_params)
        k, m = factors.shape[0], y2.shape[0]
        # the mean over the k + m rows of these factors times the losses is
        # alpha * (ADIW's loss) + (1 - alpha) * mean(loss_val2)
        rows = k + m
        factors = torch.cat([factors * (alpha * rows / k),
                             torch.full((m,), (1 - alpha) * rows / m, dtype=factors.dtype,
                                        device=factors.device)])
        return BatchLoss(torch.cat([y_pred, y_pred2]), torch.cat([y_true, y2]),
                         factors, forward.n, forward.stats)
