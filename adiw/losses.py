"""Per-sample reweighting losses usable as any skorch net's ``criterion``.

Both return one loss per sample with ``reduction="none"``, so inside
``DynamicIWClassifier`` they compose with the importance
weights: the trained loss is the mean of ``w_i * loss_i``.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

_REDUCTIONS = ("mean", "sum", "none")


def output_probabilities(output):
    """Class probabilities from the logits these losses train on: softmax
    over (n, K) outputs, and for binary (n,) or (n, 1) logits the sigmoid as
    two columns ``[1 - p, p]``.

    skorch picks ``predict_proba``'s nonlinearity by the criterion's class
    (softmax for ``CrossEntropyLoss`` only), so a plain
    ``NeuralNetClassifier`` with these losses needs
    ``predict_nonlinearity=output_probabilities``;
    ``DynamicIWClassifier`` uses it by itself.

    Examples
    --------
    >>> import torch
    >>> from adiw.losses import output_probabilities
    >>> output_probabilities(torch.tensor([0.0, 2.0])).shape
    torch.Size([2, 2])
    """
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        p = torch.sigmoid(output.reshape(-1))
        return torch.stack([1 - p, p], 1)
    return torch.softmax(output, dim=-1)


_FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")


class RGDLoss(nn.Module):
    """Re-weighted gradient descent (RGD; Kumar et al., TMLR 2024).

    KL-regularised distributionally robust optimisation in closed form:
    each sample's loss ``l_i`` is multiplied by
    ``g(l_i) = exp(min(l_i, tau) / (tau + 1))``, computed on the detached
    loss, so the gradient flows through ``l_i`` only and every factor lies
    in ``[1, e)``. The factors are not normalised: the paper notes that the
    learning rate usually has to be lower than the baseline's.

    Parameters
    ----------
    criterion : loss class or instance, default=torch.nn.CrossEntropyLoss
        The per-sample loss. A class is built with ``reduction="none"``; an
        instance must already have ``reduction="none"``. A criterion that
        reduces over the batch (a legacy ``reduce=`` argument, a batch mean)
        would turn RGD into a change of learning rate, so a result without
        one loss per sample raises a ValueError.
    tau : float > 0, default=1.0
        Clipping threshold of the loss inside the exponent.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"none"`` returns the per-sample ``g(l_i) * l_i``, for a reduction
        of your own. A training loop needs one number: plain skorch then
        fails in ``backward`` with torch's "grad can be implicitly created only
        for scalar outputs", and ``DynamicIWClassifier`` (which weights the
        per-sample losses itself) asks for ``"mean"`` or ``"sum"``.

    Examples
    --------
    >>> import torch
    >>> from adiw.losses import RGDLoss
    >>> logits, y = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0])
    >>> per_sample = RGDLoss(reduction="none")(logits, y)
    >>> bool(per_sample[1] > per_sample[0])      # the hard sample weighs more
    True
    """

    def __init__(self, criterion=nn.CrossEntropyLoss, tau=1.0, reduction="mean"):
        super().__init__()
        if not (isinstance(tau, (int, float)) and math.isfinite(tau)
                and 0 < tau <= _FLOAT32_MAX):
            raise ValueError(f"tau must be a number in (0, {_FLOAT32_MAX:.3g}] (the float32"
                             f" range the losses are clipped in), got {tau!r}.")
        _check_reduction(reduction)
        if isinstance(criterion, type):
            criterion = criterion(reduction="none")
        elif getattr(criterion, "reduction", "none") != "none":
            raise ValueError(
                f"RGDLoss needs a per-sample criterion; {type(criterion).__name__} has"
                f" reduction={criterion.reduction!r}. Pass the class, or an instance"
                " built with reduction='none'."
            )
        self.criterion = criterion
        self.tau = float(tau)
        self.reduction = reduction

    def forward(self, input, target):
        losses = self.criterion(input, target)
        if losses.ndim != 1 or losses.shape[0] != target.shape[0]:
            raise ValueError(
                f"RGDLoss's criterion returned shape {tuple(losses.shape)} for"
                f" {target.shape[0]} samples; it must return one loss per sample"
                " (reduction='none'), or RGD is only a change of learning rate."
            )
        factor = torch.exp(losses.detach().clamp_max(self.tau) / (self.tau + 1.0))
        return _reduce(factor * losses, self.reduction)

    #: ``predict_proba``'s map from outputs to probabilities.
    probabilities = staticmethod(output_probabilities)


def _check_margin_inputs(input, target):
    """``BCEWithLogitsLoss``'s rules for binary logits (same shape, targets
    0 or 1 -- a margin loss has no soft targets), ``CrossEntropyLoss``'s for
    (n, K) logits (one class index per row)."""
    if not torch.is_floating_point(input):
        raise ValueError(f"PolyTailedLoss needs floating-point logits, got {input.dtype}.")
    if input.ndim == 1 or (input.ndim == 2 and input.shape[1] == 1):
        if target.shape != input.shape:
            raise ValueError(
                f"Target size ({tuple(target.shape)}) must be the same as input size"
                f" ({tuple(input.shape)}) for binary logits, as in BCEWithLogitsLoss.")
        if not bool(((target == 0) | (target == 1)).all()):
            raise ValueError("Binary targets must be 0 or 1; a margin loss has no soft"
                             " or other-valued targets.")
        return
    if input.ndim != 2 or target.ndim != 1 or target.shape[0] != input.shape[0]:
        raise ValueError(
            f"PolyTailedLoss takes (n, K) logits with n class indices, got logits"
            f" {tuple(input.shape)} and targets {tuple(target.shape)}.")
    if torch.is_floating_point(target) and not bool((target == target.round()).all()):
        raise ValueError("Multi-class targets must be class indices, not soft labels.")
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= input.shape[1]):
        raise ValueError(f"Targets must lie in 0..{input.shape[1] - 1}.")


class PolyTailedLoss(nn.Module):
    """Polynomially tailed margin loss (Wang et al., ICLR 2022).

    With the margin ``v = z_y - max_{k != y} z_k`` (for binary logits of
    shape (n,) or (n, 1), ``v = (2y - 1) z``), the per-sample loss is
    ``softplus(-v) / log(1 + e^-1)`` for ``v <= 1`` and ``v ** -alpha`` for
    ``v > 1``; the two pieces meet at ``v = 1`` with value 1. Unlike
    cross-entropy's exponential tail, the polynomial tail keeps importance
    weights from fading once the training data are separated: gradient
    descent on separable data no longer converges to the unweighted
    max-margin direction.

    Parameters
    ----------
    alpha : float > 0, default=1.0
        Tail exponent.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"none"`` returns the per-sample losses; as for ``RGDLoss``, a
        training loop needs ``"mean"`` or ``"sum"``.

    Examples
    --------
    >>> import torch
    >>> from adiw.losses import PolyTailedLoss
    >>> logits, y = torch.tensor([[3.0, 0.0], [0.0, 0.5]]), torch.tensor([0, 1])
    >>> PolyTailedLoss(alpha=1.0, reduction="none")(logits, y)   # margins 3 and 0.5
    tensor([0.3333, 1.5134])
    """

    def __init__(self, alpha=1.0, reduction="mean"):
        super().__init__()
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}.")
        _check_reduction(reduction)
        self.alpha = float(alpha)
        self.reduction = reduction

    def forward(self, input, target):
        _check_margin_inputs(input, target)
        if input.ndim == 1 or (input.ndim == 2 and input.shape[1] == 1):
            v = (2.0 * target.to(input.dtype) - 1.0).reshape(-1) * input.reshape(-1)
        else:
            target = target.long()
            z_y = input.gather(1, target[:, None])[:, 0]
            others = input.scatter(1, target[:, None], float("-inf"))
            v = z_y - others.max(1).values
        head = F.softplus(-v) / math.log1p(math.exp(-1.0))
        # The power is taken at max(v, 1), so v <= 0 never reaches it.
        tail = v.clamp_min(1.0) ** -self.alpha
        return _reduce(torch.where(v <= 1.0, head, tail), self.reduction)

    #: ``predict_proba``'s map from outputs to probabilities.
    probabilities = staticmethod(output_probabilities)
