"""Base class and input handling shared by every ratio estimator."""

import contextvars
import math
import sys
import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import ClassifierTags
from sklearn.utils._param_validation import Interval, StrOptions
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


#: Set by ``fit_two_samples``: its caller holds two samples by construction.
_TWO_SAMPLES = contextvars.ContextVar("adiw_two_samples", default=False)


def fit_two_samples(estimator, X_train, X_test):
    """``estimator.fit(X_train, X_test)`` for a caller that holds two samples
    by construction (a shift report, a static fit, ``ImportanceWeightedEstimator``):
    a test sample of one 0/1 feature, as long as ``X_train``, is then a test
    sample, not the domain column ``fit`` would otherwise refuse it as."""
    token = _TWO_SAMPLES.set(True)
    try:
        return estimator.fit(X_train, X_test)
    finally:
        _TWO_SAMPLES.reset(token)


def _check_domain_column(X, y):
    """An (N, 1) column as long as X that holds two values looks like a
    domain vector given as a column; taking it as X_test would be wrong."""
    if _TWO_SAMPLES.get():
        return
    col = np.asarray(y)
    if col.ndim == 2 and col.shape[1] == 1 and col.shape[0] == _n_rows(X) \
            and col.dtype.kind in "biuf" and set(np.unique(col)) <= {0, 1}:
        # With one feature in X it may also be a test sample of one binary
        # feature; pooling is the call that cannot be misread.
        one_feature = np.ndim(X) == 2 and np.shape(X)[1] == 1
        raise _domain_error(
            f"y has shape {col.shape} and holds only 0 and 1: it looks like a domain"
            " column. Pass it 1-D (y.ravel()) to mark the domain of each row of X."
            + (" If it is a test sample of one 0/1 feature, pool the two samples:"
               " fit(np.vstack([X_train, X_test]), domain)." if one_feature else "")
        )


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _check_test_columns(names, y):
    """A DataFrame X_test must have X_train's columns (``names``; None when
    X_train had none) in X_train's order."""
    columns = getattr(y, "columns", None)
    if columns is None:
        return
    names = None if names is None else np.asarray(names, dtype=object)
    columns = np.asarray(columns, dtype=object)
    if names is None or len(columns) != len(names) or np.any(columns != names):
        raise ValueError(
            "X_test's columns differ from X_train's (names or order):"
            f" {list(columns)[:10]} against "
            f"{None if names is None else list(names)[:10]}."
            " Select them in the same order, e.g. X_test[X_train.columns]."
        )


def split_domains(estimator, X, y, *, reset, require_both=True):
    """Validate ``(X_tr, X_te)`` or ``(X, domain)`` input; return both samples
    and whether they came as two samples.

    A 1-D ``domain`` holds 0 (training) and 1 (test), or False and True;
    any other labels are an error that names both conventions (skada's
    ``sample_domain`` is converted by ``skada_domains``, never guessed). With ``require_both=False``
    (held-out scoring) a fold may hold one domain, 0 or 1, and an empty
    array stands for the other. Sets ``n_features_in_`` (and
    ``feature_names_in_``) when ``reset``.
    """
    if y is None:
        raise _domain_error(
            f"{type(estimator).__name__} requires y to be passed, but the target"
            " y is None: it needs a test sample."
        )
    if sp.issparse(y) or np.asarray(y).ndim == 2:
        _check_domain_column(X, y)
        X_tr = validate_data(estimator, X, reset=reset, ensure_min_samples=2,
                             dtype=np.float64)
        _check_test_columns(getattr(estimator, "feature_names_in_", None), y)
        X_te = check_array(y, ensure_min_samples=2, dtype=np.float64,
                           input_name="X_test")
        if X_te.shape[1] != X_tr.shape[1]:
            raise ValueError(
                f"X_test has {X_te.shape[1]} features but X_train has "
                f"{X_tr.shape[1]}; both samples must have the same features."
            )
        return X_tr, X_te, True
    X = validate_data(estimator, X, reset=reset, dtype=np.float64,
                      ensure_min_samples=4 if require_both else 1)
    is_test = domain_mask(y, X.shape[0])
    if not require_both and (is_test.all() or not is_test.any()):
        empty = X[:0]
        return (X, empty, False) if not is_test.any() else (empty, X, False)
    for name, mask in (("training (0)", ~is_test), ("test (1)", is_test)):
        if require_both and mask.sum() < 2:
            raise _domain_error(
                f"X holds {mask.sum()} point(s) of the {name} domain; at least 2"
                " of each are needed." + _CV_HINT
            )
    return X[~is_test], X[is_test], False


#: How the two domain conventions read; named in every domain error.
_CONVENTIONS = (
    " adiw's domain labels are 0 (training / source) and 1 (test / target), or"
    " False and True. skada's sample_domain (source > 0, target < 0) is read with"
    " fit(X, sample_domain=sample_domain) instead."
)


def domain_mask(domain, n_rows):
    """Which rows are test-domain rows: ``domain`` holds 0/1 or booleans."""
    domain = np.asarray(domain)
    if domain.ndim != 1 or domain.shape[0] != n_rows:
        raise _domain_error(
            f"domain must be 1-D with one entry per row of X ({n_rows}),"
            f" got shape {domain.shape}."
        )
    if domain.dtype.kind == "b":
        return domain.copy()
    values = np.unique(domain) if domain.dtype.kind in "iuf" else None
    if values is None or not set(values.tolist()) <= {0, 1}:
        shown = np.unique(domain.astype(object))[:5] if domain.size else []
        raise _domain_error(
            f"domain holds {list(shown)}, not only 0 and 1." + _CONVENTIONS
            + (_CV_HINT if values is not None and len(values) == 1 else ""))
    return domain == 1


def skada_domains(sample_domain):
    """skada's ``sample_domain`` (source > 0, target < 0) as adiw's 0/1."""
    sd = np.asarray(sample_domain)
    if sd.ndim != 1 or sd.dtype.kind not in "iuf" or not np.all(np.isfinite(sd)) \
            or np.any(sd == 0):
        raise ValueError(
            "sample_domain must be 1-D numbers, positive for source (training) rows"
            " and negative for target (test) rows, as in skada; 0 is neither."
            + _CONVENTIONS)
    return (sd < 0).astype(np.int64)


def check_weights(w):
    """Final guard: weights are finite and non-negative, or we say so."""
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise FloatingPointError(
            "Non-finite importance weights. The data may exceed the range of the"
            " estimator's dtype (rescale them, e.g. with StandardScaler, or use"
            " dtype='float64'), or a hyperparameter is degenerate for this data."
        )
    return np.maximum(w, 0.0)


def _refuse_two_samples_in_pipeline(y):
    """``Pipeline([..., ratio]).fit(X_tr, X_te)`` would transform ``X_tr``
    alone and hand the raw ``X_te`` to the ratio: refuse it, naming the
    stacked form, in which the preceding steps see both samples."""
    if y is None or not (sp.issparse(y) or np.asarray(y).ndim == 2):
        return
    from sklearn.pipeline import Pipeline

    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return
        owner = frame.f_locals.get("self")
        if isinstance(owner, Pipeline) and len(owner.steps) > 1:
            raise ValueError(
                "A Pipeline passes X_test to its last step untransformed, so"
                " Pipeline(...).fit(X_train, X_test) would compare a transformed"
                " training sample with a raw test sample. Stack both samples and pass"
                " their domains: fit(np.vstack([X_train, X_test]), domain) with"
                " domain 0 for training and 1 for test rows; every step then sees"
                " both.")
        frame = frame.f_back


def _check_range(Xc, dtype, *, fitting=False):
    """``Xc`` (centred data) unless squared distances between its rows
    would overflow ``dtype``, or, when ``fitting``, the whole spread squares
    below its smallest normal number: every squared distance is then 0
    (float32 holds 1e-20 but not its square), every kernel entry 1 and no
    shift to see. Either is a ValueError that names the dtype. (At predict
    time points at the mean are legitimate, so the lower bound is not
    checked there.)"""
    spread = float(np.abs(Xc).max()) if Xc.size else 0.0
    info = torch.finfo(dtype)
    limit = math.sqrt(info.max / (4.0 * max(Xc.shape[1], 1)))
    if not spread < limit:
        problem = (f"The data span {spread:.3g} around their mean; squared distances"
                   f" overflow {dtype} (largest {info.max:.3g}).")
    elif fitting and 0 < spread and spread * spread < info.tiny:
        problem = (f"The data span only {spread:.3g} around their mean; their squared"
                   f" distances underflow {dtype} (smallest normal {info.tiny:.3g}).")
    else:
        return Xc
    raise ValueError(problem + " Rescale the data (e.g. StandardScaler)"
                     + (" or use dtype='float64'." if dtype == torch.float32 else "."))


def as_candidates(value, auto=None):
    """A float or a list of floats -> tuple of candidates; ``"auto"`` ->
    ``auto`` (a float or a tuple) when given."""
    if auto is not None and isinstance(value, str) and value == "auto":
        return as_candidates(auto)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(float(v) for v in np.ravel(value))
    return (value,)


def check_candidates(name, value, lower, closed):
    """Validate a hyperparameter that may be a list of candidates: non-empty,
    every element a finite real number above ``lower`` (``closed="left"``
    allows ``lower`` itself)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, np.ndarray)):
        return
    values = np.ravel(np.asarray(value, dtype=object))
    if values.size == 0:
        raise ValueError(f"{name} is an empty list; give at least one candidate.")
    for v in values:
        ok = isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) \
            and (v > lower or (closed == "left" and v == lower))
        if not ok:
            bound = f">= {lower}" if closed == "left" else f"> {lower}"
            raise ValueError(
                f"Every candidate in {name} must be a finite number {bound};"
                f" got {v!r} in {list(values)}."
            )


def pooled_score(a, b, test_share):
    """A criterion's held-out value from its per-point terms over a pooled
    sample: each point counts with the inverse share of its domain in the
    fitting data (``test_share`` for the test domain)."""
    return float((np.sum(a) / (1 - test_share) + np.sum(b) / test_share) / (len(a) + len(b)))


def batch_value(value, default):
    """The one value of a hyperparameter used inside training: a float as
    is, the first of a list, ``default`` for ``"auto"``."""
    if isinstance(value, str):
        return default
    return float(as_candidates(value)[0])


class BaseRatioEstimator(TransformerMixin, BaseEstimator):
    """Base for density-ratio estimators w(x) = p_test(x) / p_train(x).

    Subclasses implement ``_fit(X_tr, X_te)`` (which sets ``weights_``) and
    ``_predict_weights(X)``, and may override ``_score_terms(X_tr, X_te)``.
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

    #: Hyperparameters that take a list of candidates: name -> (lower bound,
    #: "left" when the bound itself is allowed, else "neither").
    _candidate_params = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_domain=None):
        """Estimate the density ratio.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training sample, or both samples stacked when ``y`` is a
            domain vector.
        y : array-like of shape (n_test, n_features) or (n_samples,)
            The test sample, or the domain of each row of ``X``: 0 (or
            False) for training, 1 (or True) for test -- the form
            cross-validation splits and Pipelines pass along.
        sample_domain : array-like of shape (n_samples,), optional
            skada's convention instead of ``y``: positive for source
            (training) rows, negative for target (test) rows.

        Returns
        -------
        self : object
        """
        for name, (lower, closed) in self._candidate_params.items():
            check_candidates(name, getattr(self, name), lower, closed)
        if sample_domain is not None:
            if y is not None:
                raise ValueError("Pass the domains once: y (0/1) or sample_domain"
                                 " (skada's signs), not both.")
            y = skada_domains(sample_domain)
        _refuse_two_samples_in_pipeline(y)
        X_tr, X_te, _ = split_domains(self, X, y, reset=True)
        # Kernels depend on differences only: centring makes them exactly
        # translation invariant and keeps float32 rounding at the data's
        # spread rather than at its distance from the origin.
        pooled = np.vstack([X_tr, X_te])
        self._center = pooled.mean(0)
        _check_range(pooled - self._center, resolve_dtype(getattr(self, "dtype", "float64")),
                     fitting=True)
        self._test_share = X_te.shape[0] / (X_tr.shape[0] + X_te.shape[0])
        self._fit(X_tr, X_te)
        self.weights_ = check_weights(self.weights_)
        return self

    def predict_weights(self, X=None):
        """Importance weights w(x) at the rows of ``X``, row by row.

        Each row's weight depends on that row alone (scikit-learn's
        ``TargetEncoder`` convention): chunks, permutations and dtype round
        trips give the same rows. It is the estimator's extension to any
        point, bounded by the largest in-sample weight (``weights_.max()``),
        so no fresh point weighs more than any fitted one. The in-sample
        weights, which transductive estimators (KMM, W1) fit directly, are
        ``weights_`` and ``fit_transform``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), optional
            None returns ``weights_`` (the training sample's weights).

        Returns
        -------
        w : ndarray of shape (n_samples,), finite and non-negative.
        """
        check_is_fitted(self)
        if X is None:
            return self.weights_.copy()
        X = validate_data(self, X, reset=False, dtype=np.float64)
        w = check_weights(self._predict_weights(X))
        return np.minimum(w, self.weights_.max()) if self.weights_.size else w

    def transform(self, X):
        """Row-wise weights (``predict_weights``) as an (n_samples, 1) column."""
        return self.predict_weights(X)[:, None]

    def fit_transform(self, X, y=None, sample_domain=None):
        """Fit, then return the in-sample weights as an (n_samples, 1) column.

        One row per row of ``X``: ``weights_`` for a training sample given
        with ``y = X_test``; with a domain vector, ``weights_`` at the
        training rows and ``predict_weights`` at the test rows.

        Returns
        -------
        w : ndarray of shape (n_samples, 1)
        """
        self.fit(X, y, sample_domain=sample_domain)
        if y is None and sample_domain is not None:
            y = skada_domains(sample_domain)
        if sp.issparse(y) or np.asarray(y).ndim == 2:
            return self.weights_[:, None].copy()
        X = check_array(X, dtype=np.float64)
        is_test = domain_mask(y, X.shape[0])
        w = np.empty(X.shape[0])
        w[~is_test] = self.weights_
        w[is_test] = self.predict_weights(X[is_test])
        return w[:, None]

    def score(self, X, y):
        """Held-out value of the estimator's own criterion (higher is better).

        Every criterion is an expectation over the training distribution
        plus one over the test distribution. Given two samples, each is the
        mean over its sample. Given ``(X, domain)``, as cross-validation
        passes them, each point counts with the inverse share of its domain
        in the fitting data, so a fold that holds one domain only (the
        unshuffled folds of ``cv=5`` on a sorted sample) still has a
        finite score, and the mean over folds is the criterion.

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
        X_tr, X_te, two_samples = split_domains(self, X, y, reset=False,
                                                require_both=False)
        a, b = self._score_terms(X_tr, X_te)
        if two_samples:
            return float(np.mean(a) + np.mean(b))
        return pooled_score(a, b, self._test_share)

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

    def _score_terms(self, X_tr, X_te):
        """Per-point terms of the held-out criterion: (training, test).

        The default is the squared-loss criterion of the ratio,
        ``-1/2 E_tr[w^2] + E_te[w]`` (``1/2 E_tr[(w - r)^2]`` up to a
        constant, for the true ratio r): a yardstick for any ratio with an
        extension to new points.
        """
        w_te = self._weights_or_empty(X_te)
        return -0.5 * self._weights_or_empty(X_tr)**2, w_te

    def _weights_or_empty(self, X):
        """``_predict_weights(X)``; an empty array for an empty sample (a
        held-out fold with one domain scores the other as empty)."""
        return self._predict_weights(X) if len(X) else np.zeros(0)

    # ---- helpers for subclasses ------------------------------------------
    def _torch(self):
        return resolve_device(self.device), resolve_dtype(self.dtype)

    def _tensor(self, x):
        """A vector (coefficients, weights) as a tensor of the estimator's dtype."""
        device, dtype = self._torch()
        return to_tensor(x, device, dtype)

    def _points(self, X):
        """Data points as a tensor, centred on the fitted pooled mean."""
        device, dtype = self._torch()
        return to_tensor(_check_range(np.asarray(X, dtype=np.float64) - self._center, dtype),
                         device, dtype)

    def _warn_unconverged(self, status, n_iter):
        """ConvergenceWarning for a solve that did not converge."""
        if status == "converged":
            return
        reason = {"max_iter": f"stopped at max_iter={n_iter}",
                  "stalled": f"stalled after {n_iter} iteration(s): the line search"
                             " shrank the step below the iterate's resolution"}[status]
        warnings.warn(
            f"{type(self).__name__}: the solver {reason} without converging; the weights"
            " may be far from the optimum. Raise max_iter, loosen tol, or check the"
            " data's scale and the hyperparameters.", ConvergenceWarning, stacklevel=3,
        )

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
    "gamma": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}),
              list, tuple, np.ndarray],
    "reg": [Interval(Real, 0, None, closed="left"), list, tuple, np.ndarray],
    "n_centers": [Interval(Integral, 1, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "cv": [Interval(Integral, 2, None, closed="left")],
}
