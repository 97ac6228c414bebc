"""Weighting schemes of DynamicIWClassifier, one per ``solver`` value."""

from .base import BatchLoss, Weighting, net_losses
from .dynamic import DynamicWeighting
from .static import StaticWeighting, fit_static_weights

#: ``solver`` -> the scheme that implements it.
SCHEMES = {
    "none": Weighting,
    "static": StaticWeighting,
    "adiw": DynamicWeighting,
    "diw": DynamicWeighting,
}

__all__ = ["SCHEMES", "BatchLoss", "DynamicWeighting", "StaticWeighting", "Weighting",
           "fit_static_weights", "net_losses"]
