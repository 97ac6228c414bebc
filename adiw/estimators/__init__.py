"""Density-ratio estimators w(x) = p_test(x) / p_train(x).

Every estimator fits as ``fit(X_train, X_test)`` or ``fit(X, domain)``,
exposes ``weights_`` (the training weights), ``predict_weights(X)``,
``transform(X)`` (an (n, 1) column) and ``score(X, domain)`` (its held-out
criterion, higher is better), and follows the scikit-learn estimator
contract (``clone``, ``get_params``, pipelines, grid search).
"""

from .classifier import ClassifierRatio, IncrementalLogisticRegression
from .kliep import KLIEPRatio
from .kmm import KMMRatio
from .lsif import RuLSIFRatio, ULSIFRatio
from .nearest_neighbors import NearestNeighborRatio
from .wasserstein import WassersteinRatio
from .weighted import ImportanceWeightedEstimator, make_iw_scorer

__all__ = [
    "ClassifierRatio",
    "ImportanceWeightedEstimator",
    "IncrementalLogisticRegression",
    "KLIEPRatio",
    "KMMRatio",
    "NearestNeighborRatio",
    "RuLSIFRatio",
    "ULSIFRatio",
    "WassersteinRatio",
    "make_iw_scorer",
]
