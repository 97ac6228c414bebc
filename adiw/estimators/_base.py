"""Base class and input handling shared by every ratio estimator."""

from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import ClassifierTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._core.backend import resolve_device, resolve_dtype, to_tensor
from .._core.kernels import median_gamma

#: Multiples of the median-heuristic width tried when gamma="auto" and the
#: method has built-in model selection.
AUTO_GAMMA_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


_CV_HINT = (
    " In cross-validation use a stratified splitter, e.g."
    " cv=StratifiedKFold(5, shuffle=True), so that every fold holds both domains."
)


def _domain_error(msg):
    return ValueError(
        msg + " Call fit(X_train, X_test) with two 2-D arrays, or fit(X, domain)"
        " with domain a 1-D array of 0 (training) and 1 (test) per row of X."
    )


def split_domains(estimator, X, y, *, reset):
    """Validate ``(X_tr, X_te)`` or ``(X, domain)`` input; return both samples.

    A 1-D ``domain`` must hold exactly two distinct values; the larger one
    (1, True) marks the test sample, as scikit-learn's binary convention
    makes the larger label the positive class. Sets ``n_features_in_``
    (and ``feature_names_in_``) when ``reset``.
    """
    if y is None:
        raise _domain_error(
            f"{type(estimator).__name__} requires y to be passed, but the target"
            " y is None: it needs a test sample."
        )
    if sp.issparse(y) or np.asarray(y).ndim == 2:
        X_tr = validate_data(estimator, X, reset=reset, ensure_min_samples=2,
                             dtype=np.float64)
        X_te = check_array(y, ensure_min_samples=2, dtype=np.float64,
                           input_name="X_test")
        if X_te.shape[1] != X_tr.shape[1]:
            raise ValueError(
                f"X_test has {X_te.shape[1]} features but X_train has "
                f"{X_tr.shape[1]}; both samples must have the same features."
            )
        return X_tr, X_te
    X = validate_data(estimator, X, reset=reset, dtype=np.float64, ensure_min_samples=4)
    domain = np.asarray(y)
    if domain.ndim != 1 or domain.shape[0] != X.shape[0]:
        raise _domain_error(
            f"domain must be 1-D with one entry per row of X ({X.shape[0]}),"
            f" got shape {domain.shape}."
        )
    type_of_target(domain, input_name="domain", raise_unknown=True)
    values = np.unique(domain)
    if domain.dtype.kind not in "biuf" or len(values) != 2:
        raise _domain_error(
            f"domain must hold exactly two values, 0 (training) and 1 (test);"
            f" got {len(values)} distinct value(s): {values[:5]}."
            + (_CV_HINT if len(values) == 1 else "")
        )
    is_test = domain == values[1]
    for name, mask in (("training (0)", ~is_test), ("test (1)", is_test)):
        if mask.sum() < 2:
            raise _domain_error(
                f"X holds {mask.sum()} point(s) of the {name} domain; at least 2"
                " of each are needed." + _CV_HINT
            )
    return X[~is_test], X[is_test]


def check_weights(w):
    """Final guard: weights are finite and non-negative, or we say so."""
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise FloatingPointError(
            "Non-finite importance weights; the kernel width or regularisation"
            " is probably degenerate for this data."
        )
    return np.maximum(w, 0.0)


def as_candidates(value, auto=None):
    """A float or a list of floats -> tuple of candidates; ``"auto"`` ->
    ``auto`` (a float or a tuple) when given."""
    if auto is not None and isinstance(value, str) and value == "auto":
        return as_candidates(auto)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(float(v) for v in value)
    return (value,)


def batch_value(value, default):
    """The one value of a hyperparameter used inside training: a float as
    is, the first of a list, ``default`` for ``"auto"``."""
    if isinstance(value, str):
        return default
    return float(as_candidates(value)[0])


class BaseRatioEstimator(TransformerMixin, BaseEstimator):
    """Base for density-ratio estimators w(x) = p_test(x) / p_train(x).

    Subclasses implement ``_fit(X_tr, X_te)`` (which sets ``weights_``) and
    ``_predict_weights(X)`` and ``_score(X_tr, X_te)``.
    """

    #: The deep trainer's step is ``step_scale * _batch_step_scale / L`` with
    #: L the objective's curvature bound; a divergence whose few-step
    #: updates need a shorter step says so here.
    _batch_step_scale = 1.0

    _parameter_constraints = {
        "device": [str, None],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate the density ratio.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training sample, or both samples stacked when ``y`` is a
            domain vector.
        y : array-like of shape (n_test, n_features) or (n_samples,)
            The test sample, or the domain of each row of ``X``: 0 for
            training, 1 for test (the form cross-validation splits).

        Returns
        -------
        self : object
        """
        X_tr, X_te = split_domains(self, X, y, reset=True)
        self._fit(X_tr, X_te)
        self.weights_ = check_weights(self.weights_)
        return self

    def predict_weights(self, X):
        """Importance weights w(x) at the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        w : ndarray of shape (n_samples,), finite and non-negative.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return check_weights(self._predict_weights(X))

    def transform(self, X):
        """Weights as an (n_samples, 1) column, for use in pipelines."""
        return self.predict_weights(X)[:, None]

    def score(self, X, y):
        """Held-out value of the estimator's own criterion (higher is better).

        Parameters
        ----------
        X : array-like
            Held-out training sample, or both samples stacked.
        y : array-like
            Held-out test sample, or the domain vector of ``X``.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X_tr, X_te = split_domains(self, X, y, reset=False)
        return float(self._score(X_tr, X_te))

    def get_feature_names_out(self, input_features=None):
        return np.asarray(["importance_weight"], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        # y is a two-valued domain label, never a multi-class target; this
        # tag makes scikit-learn's common checks pass binary domains.
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags

    @abstractmethod
    def _fit(self, X_tr, X_te):
        """Fit on validated samples; set ``weights_`` and fitted attributes."""

    @abstractmethod
    def _predict_weights(self, X):
        """Weights at validated points."""

    @abstractmethod
    def _score(self, X_tr, X_te):
        """Held-out criterion on validated samples."""

    # ---- helpers for subclasses ------------------------------------------
    def _torch(self):
        return resolve_device(self.device), resolve_dtype(self.dtype)

    def _tensor(self, X):
        device, dtype = self._torch()
        return to_tensor(X, device, dtype)

    def _gamma_candidates(self, X_tr, X_te, auto_factors=(1.0,)):
        """Candidate widths: ``"auto"`` -> median heuristic times factors."""
        if isinstance(self.gamma, str):
            g = median_gamma(np.vstack([X_tr, X_te]), random_state=self.random_state)
            return tuple(g * f for f in auto_factors)
        return as_candidates(self.gamma)

    def _select_by_cv(self, X_tr, X_te, grid, n_splits):
        """Pick the best parameter dict in ``grid`` by stratified K-fold score.

        Both domains are split, so every held-out fold holds both.
        """
        if len(grid) == 1:
            return grid[0], None
        X = np.vstack([X_tr, X_te])
        domain = np.r_[np.zeros(len(X_tr)), np.ones(len(X_te))]
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        scores = np.zeros(len(grid))
        for train, test in cv.split(X, domain):
            for k, params in enumerate(grid):
                est = clone(self).set_params(**params)
                est.fit(X[train], domain[train])
                scores[k] += est.score(X[test], domain[test])
        scores /= n_splits
        return grid[int(np.argmax(scores))], scores


COMMON_CONSTRAINTS = {
    "gamma": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), list, tuple],
    "reg": [Interval(Real, 0, None, closed="left"), list, tuple],
    "n_centers": [Interval(Integral, 1, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "cv": [Interval(Integral, 2, None, closed="left")],
}
