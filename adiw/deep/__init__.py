"""Deep learning under distribution shift with dynamic importance weights."""

from .classifier import DynamicIWClassifier
from .weight_store import WeightStore

__all__ = ["DynamicIWClassifier", "WeightStore"]
