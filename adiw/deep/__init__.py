"""Deep learning under distribution shift with dynamic importance weights."""

from .classifier import DynamicIWClassifier
from .presets import DIWReferenceClassifier
from .weight_store import WeightStore

__all__ = ["DIWReferenceClassifier", "DynamicIWClassifier", "WeightStore"]
