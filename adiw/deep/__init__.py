"""Deep learning under distribution shift with dynamic importance weights."""

from .beta_mixture import BetaMixture
from .classifier import DynamicIWClassifier
from .distributed import DistributedDynamicIWClassifier
from .interpolation import WeightInterpolation, fit_temperature
from .presets import DIWReferenceClassifier
from .scoring import HeldOutTestScore
from .epoch_stats import WeightStats
from .weight_store import WeightStore

__all__ = ["BetaMixture", "DIWReferenceClassifier", "DistributedDynamicIWClassifier",
           "DynamicIWClassifier", "HeldOutTestScore", "WeightInterpolation", "WeightStats",
           "WeightStore", "fit_temperature"]
