"""Uniform or known weights, and the training step every scheme shares."""

from dataclasses import dataclass, field

import warnings

import torch
from sklearn.base import clone
from skorch.classifier import NeuralNetClassifier
from skorch.dataset import get_len
from skorch.utils import to_tensor

from ..checks import check_sample_weight


@dataclass
class BatchLoss:
    """What the loss of one training step is taken over.

    ``y_pred`` and ``y_true`` are the rows trained on (the training batch,
    then any test-distribution rows the scheme trains on as well);
    ``weights`` multiply their per-sample losses (None: unweighted, as in
    skorch); the first ``n_train`` rows are the training batch (None: all).
    """

    y_pred: torch.Tensor
    y_true: torch.Tensor
    weights: torch.Tensor = None
    n_train: int = None           # None: all rows
    stats: dict = field(default_factory=dict)


class Weighting:
    """``solver="none"``: uniform weights (ERM), or known ones passed as
    ``fit(X, y, sample_weight=w)``.

    A weighting scheme decides, per fit, epoch and batch, which weights
    multiply the training losses. The net calls ``begin_fit``,
    ``begin_epoch``, ``begin_batch`` (once per batch, even when an
    optimizer such as LBFGS evaluates the step several times) and
    ``batch_loss`` (once per evaluation). Subclasses override
    ``batch_weights``, and the hooks they need.
    """

    #: Whether ``fit`` needs ``X_val`` / ``y_val``.
    needs_test_sample = False
    #: Whether the weights change during training (kept across partial fits).
    learns = False

    def __init__(self, net):
        self._val_batch = None

    # ---- fit lifecycle ------------------------------------------------------
    def begin_fit(self, net, n, sample_weight, same_data):
        """Size the weight store for ``n`` training samples."""
        self.known_weights = sample_weight is not None
        if not (self.learns or self.known_weights or self.needs_test_sample) \
                and not net._has_weight_store():
            return                    # plain skorch, any criterion
        store = net.weight_store_
        if sample_weight is not None:
            store.weights = to_tensor(check_sample_weight(sample_weight, n, net.weight_power),
                                      device=net.device)
        elif not (self.learns and same_data and store.weights.shape[0] == n):
            store.weights = torch.ones(n, device=net.device)

    def warn_if_never_weighted(self, net):
        """A warm-up as long as training means no epoch is ever weighted.
        Epochs count on over ``partial_fit`` calls (this one runs epochs
        ``done + 1 .. done + max_epochs``), as ``updates_now`` counts them."""
        done = len(net.history)
        if net.warmup_epochs >= done + net.max_epochs:
            warnings.warn(
                f"warmup_epochs={net.warmup_epochs} >= the {done} epochs trained before"
                f" + max_epochs={net.max_epochs}: solver={net.solver!r} never weights"
                " anything in this fit, which is plain ERM. Lower warmup_epochs or raise"
                " max_epochs.", UserWarning, stacklevel=5)

    def begin_epoch(self, net, dataset_train):
        """Called at the start of every epoch."""

    def updates_now(self, net):
        """Whether this batch's weights are updated from the test sample."""
        return False

    def begin_batch(self, net):
        sample = net.test_sample_
        self._batch_w = None
        if sample is not None and (net.train_on_val or self.updates_now(net)):
            size = net.val_batch_size or (net.batch_size if net.batch_size > 0 else len(sample))
            self._val_batch = sample.draw(size)
        else:
            self._val_batch = None

    # ---- one step -------------------------------------------------------------
    def batch_weights(self, net, positions, forward):
        """Weights of the training batch: the stored ones (None when uniform)."""
        if not self.known_weights and not self.learns:
            return None
        return net.weight_store_.weights[torch.as_tensor(positions, device=net.device)]

    def batch_loss(self, net, Xi, yi, positions, **fit_params):
        """Forward the batch (and the test-distribution batch it needs) and
        return the ``BatchLoss``."""
        forward = self.forward(net, Xi, yi, net.train_on_val, fit_params)
        y_pred, y_true, factors = self.weighted_rows(net, forward, positions)
        return BatchLoss(y_pred, y_true, factors, forward.n if forward.train_val else None,
                         forward.stats)

    def forward(self, net, Xi, yi, train_val, fit_params):
        """The ``BatchForward`` of this batch and the drawn test batch; the
        first batch's output also checks the labels against the module."""
        forward = BatchForward(net, Xi, yi, self._val_batch, train_val=train_val,
                               fit_params=fit_params)
        if not net._labels_checked:
            net.check_output_size(forward.y_pred, yi)
        return forward

    def weighted_rows(self, net, forward, positions):
        """(predictions, targets, loss factors) of the rows ADIW's loss is the
        mean over: the training batch with its weights (computed once per
        batch, then raised to ``weight_power``), and the test batch it trains
        on with factor 1. Factors are None when uniform (skorch's loss)."""
        if self._batch_w is None:
            self._batch_w = self.batch_weights(net, positions, forward)
        w = self._batch_w
        if w is not None:
            w = net.loss_weights(w.to(forward.y_pred.dtype))
        if not forward.train_val:
            return forward.y_pred, forward.y_raw, w
        if w is None:
            w = torch.ones(forward.n, dtype=forward.y_pred.dtype, device=forward.y_pred.device)
        ones = torch.ones(forward.y_v.shape[0], dtype=w.dtype, device=w.device)
        return (torch.cat([forward.y_pred, forward.y_pred_v]),
                torch.cat([forward.y, forward.y_v]), torch.cat([w, ones]))


class BatchForward:
    """The forward passes of one step: the training batch and, when given,
    the test-distribution batch -- in one module call when both are plain
    tensors of one dtype and row shape and both are trained on, else the
    second without gradients (in eval mode) when it only serves the weights.
    Per-sample losses and hidden representations are computed on demand.
    """

    def __init__(self, net, Xi, yi, val_batch, train_val, fit_params):
        self.net = net
        self.y_raw = yi          # as skorch has it; converted only when needed
        self.n = get_len(yi)
        self.stats = {}
        self.train_val = train_val and val_batch is not None
        self.y_pred_v = self.y_v = self.hidden = self.hidden_v = None
        self.y_pred_all = None             # set when one module call served both
        if val_batch is None:
            self.y_pred = net.infer(Xi, **fit_params)
            self.hidden = net._hidden_output()
            return
        xv, self.y_v = val_batch
        if self.train_val and _stackable(Xi, xv):
            X = torch.cat([to_tensor(Xi, device=net.device), xv])
            self.y_pred_all = y_pred = net.infer(X, **fit_params)
            self.y_pred, self.y_pred_v = y_pred[:self.n], y_pred[self.n:]
            h = net._hidden_output()
            if h is not None:
                self.hidden, self.hidden_v = h[:self.n], h[self.n:]
            return
        self.y_pred = net.infer(Xi, **fit_params)
        self.hidden = net._hidden_output()
        with torch.set_grad_enabled(self.train_val):
            if not self.train_val:
                net.module_.eval()
            try:
                self.y_pred_v = net.infer(xv, **fit_params)
                self.hidden_v = net._hidden_output()
            finally:
                net.module_.train()

    @property
    def y(self):
        if not isinstance(self.y_raw, torch.Tensor) or self.y_raw.device != self.net.device:
            self.y_raw = to_tensor(self.y_raw, device=self.net.device)
        return self.y_raw

    def losses(self):
        """Per-sample losses of the training batch and of the test batch
        (one criterion call when both came from one forward pass)."""
        if self.y_pred_all is not None:
            losses = net_losses(self.net, self.y_pred_all, torch.cat([self.y, self.y_v]))
            return losses[:self.n], losses[self.n:]
        lv = None if self.y_pred_v is None else net_losses(self.net, self.y_pred_v, self.y_v)
        return net_losses(self.net, self.y_pred, self.y), lv


def net_losses(net, y_pred, y_true):
    """Per-sample losses with ``NeuralNetClassifier.get_loss``'s semantics
    (NLLLoss gets log-probabilities), before any weighting."""
    losses = NeuralNetClassifier.get_loss(net, y_pred, y_true)
    if losses.ndim != 1:
        raise ValueError(
            f"The criterion {type(net.criterion_).__name__} returns a loss of shape"
            f" {tuple(losses.shape)}, not one loss per sample. Learned weights need"
            " per-sample losses: use a criterion with a 'reduction' attribute (as"
            " torch's losses have), which the net sets to 'none'.")
    return losses


def _stackable(Xi, xv):
    return isinstance(Xi, torch.Tensor) and Xi.dtype == xv.dtype and Xi.shape[1:] == xv.shape[1:]


def seeded_clone(net, estimator):
    """A clone of a scikit-learn estimator that the net fits during its own
    fit (the static ratio fit, GIW's support estimator). With
    ``random_state=None`` it gets a seed from the net (``_estimator_seed``),
    so that ``torch.manual_seed`` reproduces the fit as it reproduces the
    training; numpy's global generator would not."""
    est = clone(estimator)
    if "random_state" in est.get_params(deep=False) and est.random_state is None:
        est.set_params(random_state=net._estimator_seed())
    return est
