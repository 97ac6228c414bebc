"""Weighting schemes of DynamicIWClassifier, one per ``solver`` value."""

from .base import BatchLoss, Weighting, net_losses
from .dynamic import DynamicWeighting
from .giw import GIWWeighting, NearestNeighborSupport
from .static import StaticWeighting, fit_static_weights

#: ``solver`` -> the scheme that implements it.
SCHEMES = {
    "none": Weighting,
    "static": StaticWeighting,
    "adiw": DynamicWeighting,
    "diw": DynamicWeighting,
    "giw": GIWWeighting,
}

__all__ = ["SCHEMES", "BatchLoss", "DynamicWeighting", "GIWWeighting",
           "NearestNeighborSupport", "StaticWeighting", "Weighting",
           "fit_static_weights", "net_losses"]
