"""What the divergence compares inside training: per-sample representations.

Each function maps the batch's (detached) logits, labels and per-sample
losses to a 2-D tensor Z. Joint shift (p(x, y) differs) needs the label in
the representation, which both built-in forms carry: the loss depends on
the label, and "softmax_label" concatenates it.
"""

import torch
import torch.nn.functional as F


def loss_representation(logits, y, losses):
    return losses[:, None]


def softmax_label_representation(logits, y, losses):
    n_classes = logits.shape[1]
    return torch.cat([torch.softmax(logits, 1), F.one_hot(y, n_classes).to(logits.dtype)], 1)


REPRESENTATIONS = {
    "loss": loss_representation,
    "softmax_label": softmax_label_representation,
}


def resolve_representation(rep):
    """A name from ``REPRESENTATIONS``, "hidden", or a callable
    ``f(logits, y, losses) -> Z``."""
    if callable(rep):
        return rep
    if rep == "hidden":
        return None          # handled by a forward hook in the classifier
    try:
        return REPRESENTATIONS[rep]
    except KeyError:
        raise ValueError(
            f"representation must be one of {sorted(REPRESENTATIONS) + ['hidden']}"
            f" or a callable, got {rep!r}."
        ) from None


class OutputCapture:
    """Forward hook that keeps the hooked layer's latest output.

    A plain object (not a bound method of the net) so that the module
    pickles, deep-copies and checkpoints on its own; the captured tensor is
    transient and not pickled.
    """

    def __init__(self):
        self.output = None

    def __call__(self, module, inputs, output):
        self.output = output

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.output = None
