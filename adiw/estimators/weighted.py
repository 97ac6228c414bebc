"""Using the weights: importance-weighted fitting and IWCV scoring."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier, is_regressor
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter, MethodMapping, _routing_enabled, process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _check_method_params, _check_sample_weight, check_is_fitted

from ..utils import unwrap_fit_sample
from ._base import fit_two_samples


#: The candidates of ``weight_power="auto"``: unweighted, flattened, and plain
#: importance weighting.
AUTO_WEIGHT_POWERS = (0.0, 0.5, 1.0)


def _inner_has(method):
    def check(self):
        return hasattr(self.estimator, method)
    return check


class ImportanceWeightedEstimator(MetaEstimatorMixin, BaseEstimator):
    """Fit an estimator with importance weights from a ratio estimator.

    ``fit(X, y, X_test=X_te)`` fits ``ratio_estimator`` on the training
    inputs ``X`` and the unlabelled test inputs ``X_te``, then fits
    ``estimator`` on ``(X, y)`` with ``sample_weight`` set to the estimated
    weights (times any ``sample_weight`` the caller routes to it).
    Parameters of both parts are reachable for grid search as
    ``ratio_estimator__gamma`` and ``estimator__C``.

    Parameters
    ----------
    ratio_estimator : ratio estimator
        Any ``adiw.estimators`` estimator (unfitted).
    estimator : estimator
        Must accept ``sample_weight`` in ``fit`` (a Pipeline: its last step);
        one that does not is refused before anything is fitted.
    weight_power : float >= 0, array-like of floats or "auto", default="auto"
        ``estimator`` is fitted with ``w ** weight_power`` (0: unweighted;
        between 0 and 1: flattened weights, a bias-variance trade-off;
        above 1: exponentiated weights, as Wang et al. (2022) use against
        fading in over-parameterised models). Several candidates (``"auto"``
        is ``AUTO_WEIGHT_POWERS``, 0, 0.5 and 1) are chosen among by
        importance-weighted cross-validation (IWCV, Sugiyama, Krauledat and
        Mueller, 2007) of ``estimator`` on the training data: each fold is
        fitted with ``w ** p`` and scored on its held-out training points
        weighted by ``w``, an estimate of the test-distribution score. The
        choice is the smallest power whose mean score is within one standard
        error of the best (the one-standard-error rule: flatter weights have
        less variance, so a near-tie goes to them). So where weighting does
        not help the downstream model, as on a shift it is well specified
        for, the fit is about the unweighted one. ``weight_power=1.0`` is
        plain importance weighting, with one fit of ``estimator``. Power 0
        passes ``sample_weight`` all ones, so that every candidate goes
        through one code path: for most estimators that is the unweighted
        fit exactly; scikit-learn's random forests then draw their bootstrap
        with ``choice(p=w / w.sum())`` instead of ``randint``, the same
        distribution from another stream, so the forest differs from
        ``fit(X, y)`` as another seed would.
    cv : int or cross-validation splitter, default=5
        The IWCV folds when ``weight_power`` has several candidates
        (stratified for a classifier, as in ``check_cv``).
    scoring : str, callable or None, default=None
        The IWCV score, greater is better, called as
        ``scorer(estimator, X, y, sample_weight=w)``. None: accuracy for a
        classifier, R^2 for a regressor (what their ``score`` computes),
        otherwise ``estimator.score``.

    Attributes
    ----------
    ratio_estimator_ : fitted ratio estimator
    estimator_ : fitted estimator
    weight_power_ : float
        The power ``estimator_`` was fitted with.
    cv_results_ : dict or None
        With several candidates: ``"weight_power"`` (the candidates, in
        increasing order), ``"mean_test_score"``, ``"std_test_score"`` (over
        folds) and ``"split<k>_test_score"``; None otherwise.
    weights_ : ndarray of shape (n_samples,)
        The weights ``estimator_`` was fitted with (after ``weight_power_``
        and any routed ``sample_weight``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from adiw.estimators import KLIEPRatio, ImportanceWeightedEstimator
    >>> rng = np.random.default_rng(0)
    >>> X, X_te = rng.normal(size=(200, 1)), rng.normal(1, 0.5, size=(100, 1))
    >>> y = np.sin(X[:, 0])
    >>> iw = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), Ridge())
    >>> iw.fit(X, y, X_test=X_te).predict(X_te[:2]).shape
    (2,)
    >>> float(iw.weight_power_) in iw.cv_results_["weight_power"]
    True
    """

    # X_test is what this estimator is for: requested by default under
    # scikit-learn's metadata routing, so searches and cross_validate pass it.
    __metadata_request__fit = {"X_test": True}

    _parameter_constraints = {
        "ratio_estimator": [HasMethods(["fit", "predict_weights"])],
        "estimator": [HasMethods(["fit"])],
        "weight_power": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"}),
                         "array-like"],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
    }

    def __init__(self, ratio_estimator, estimator, *, weight_power="auto", cv=5,
                 scoring=None):
        self.ratio_estimator = ratio_estimator
        self.estimator = estimator
        self.weight_power = weight_power
        self.cv = cv
        self.scoring = scoring

    def fit(self, X, y, X_test=None, **fit_params):
        """Fit the ratio on (X, X_test), then the estimator with the weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        X_test : array-like of shape (n_test, n_features) or Unsliced
            Unlabelled inputs from the test distribution.
        **fit_params : dict
            Routed to ``estimator.fit`` (with metadata routing enabled,
            as requested by it; otherwise all of them).

        Returns
        -------
        self : object
        """
        self._validate_params()
        X_test = unwrap_fit_sample(X_test, X, "X_test")
        if X_test is None:
            raise ValueError(
                "ImportanceWeightedEstimator.fit needs X_test, the unlabelled "
                "inputs from the test distribution."
            )
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
        else:
            routed = Bunch(estimator=Bunch(fit=fit_params))
        powers = _candidate_powers(self.weight_power)
        _check_takes_sample_weight(self.estimator)
        self.ratio_estimator_ = fit_two_samples(clone(self.ratio_estimator), X, X_test)
        ratio = self.ratio_estimator_.weights_
        _check_power_overflow(ratio, powers[-1])
        inner = dict(routed.estimator.fit)
        user_weight = inner.pop("sample_weight", None)
        user_weight = (np.ones(len(ratio)) if user_weight is None
                       else _check_sample_weight(user_weight, X))
        if np.any(user_weight < 0):
            # it multiplies the importance weights: IWCV then failed on a
            # fold whose held-out weights summed below 0
            raise ValueError(f"sample_weight must be >= 0; {np.sum(user_weight < 0)} entries"
                             " are negative.")
        self.cv_results_ = None
        if len(powers) == 1:
            self.weight_power_ = powers[0]
        else:
            self.cv_results_ = self._iwcv(X, y, ratio, user_weight, powers, inner)
            self.weight_power_ = _one_standard_error_choice(self.cv_results_)
        self.weights_ = ratio ** self.weight_power_ * user_weight
        self.estimator_ = clone(self.estimator)
        self.estimator_.fit(X, y, **_with_sample_weight(self.estimator_, self.weights_, inner))
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        self.n_features_in_ = self.ratio_estimator_.n_features_in_
        return self

    def _iwcv(self, X, y, ratio, user_weight, powers, params):
        """Fold scores of each candidate power: fitted with ``w ** p``, scored
        with ``w`` on the held-out part."""
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        scoring = self.scoring
        if scoring is None and (is_classifier(self.estimator) or is_regressor(self.estimator)):
            # what their score() computes, as a scorer: Pipeline.score would
            # need a score request for the weights under metadata routing
            scoring = "accuracy" if is_classifier(self.estimator) else "r2"
        scorer = check_scoring(self.estimator, scoring)
        splits = list(cv.split(X, y))
        scores = np.empty((len(splits), len(powers)))
        for i, (fit_rows, held_out) in enumerate(splits):
            X_fit, y_fit = _safe_indexing(X, fit_rows), _safe_indexing(y, fit_rows)
            fold_params = _check_method_params(X, params, fit_rows)
            held_weight = ratio[held_out] * user_weight[held_out]
            if not held_weight.sum() > 0:
                raise ValueError(
                    f"The held-out importance weights of IWCV fold {i} sum to"
                    f" {held_weight.sum():.3g}: no score of that fold estimates the test"
                    " risk. Use fewer folds (cv), or a single weight_power.")
            for j, power in enumerate(powers):
                est = clone(self.estimator)
                w = ratio[fit_rows] ** power * user_weight[fit_rows]
                est.fit(X_fit, y_fit, **_with_sample_weight(est, w, fold_params))
                try:
                    scores[i, j] = scorer(est, _safe_indexing(X, held_out),
                                          _safe_indexing(y, held_out),
                                          sample_weight=held_weight)
                except TypeError as e:
                    raise TypeError(
                        f"Choosing weight_power={self.weight_power!r} scores held-out points"
                        f" with importance weights, but the scorer of"
                        f" {type(self.estimator).__name__} takes no sample_weight ({e})."
                        " Pass a scoring that does, or a single weight_power.") from e
        bad = np.argwhere(~np.isfinite(scores))
        if len(bad):
            fold, j = bad[0]
            raise ValueError(f"The IWCV score of weight_power={powers[j]:g} on fold {fold} is"
                             f" {scores[fold, j]}; pass a scoring that is finite there.")
        results = {"weight_power": np.asarray(powers),
                   "mean_test_score": scores.mean(0), "std_test_score": scores.std(0)}
        results.update({f"split{i}_test_score": row for i, row in enumerate(scores)})
        return results

    @available_if(_inner_has("predict"))
    def predict(self, X):
        """Predict with the importance-weighted estimator."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the importance-weighted estimator."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the importance-weighted estimator."""
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    @available_if(_inner_has("score"))
    def score(self, X, y, sample_weight=None):
        """The inner estimator's score (unweighted; see ``make_iw_scorer``)."""
        check_is_fitted(self)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def get_metadata_routing(self):
        """Route fit metadata (e.g. ``sample_weight``) to ``estimator.fit``."""
        return MetadataRouter(owner=self).add_self_request(self).add(
            estimator=self.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        return tags


def _candidate_powers(weight_power):
    """The candidate powers, sorted, as floats."""
    if isinstance(weight_power, str):
        return list(AUTO_WEIGHT_POWERS)
    powers = np.atleast_1d(np.asarray(weight_power, dtype=float))
    if powers.ndim != 1 or powers.size == 0 or not np.all(np.isfinite(powers)) \
            or np.any(powers < 0):
        raise ValueError(
            "weight_power must be a number >= 0, a non-empty list of them, or 'auto';"
            f" got {weight_power!r}.")
    return sorted(set(powers.tolist()))


def _check_power_overflow(ratio, power):
    # Headroom for the sums and squares the estimator takes of its weights.
    with np.errstate(over="ignore"):
        top = ratio.max() ** power
    if not top <= 1e100:
        raise ValueError(
            f"weight_power={power:g} overflows: the largest weight"
            f" {ratio.max():.4g} to that power exceeds 1e100,"
            " past what an estimator can sum and square in float64. Lower"
            " weight_power (powers above a few are rarely useful).")


def _one_standard_error_choice(results):
    """The smallest power whose mean score is within one standard error of
    the best one's (Hastie, Tibshirani and Friedman, 2009, section 7.10)."""
    mean = results["mean_test_score"]
    n_splits = sum(key.startswith("split") for key in results)
    best = int(np.argmax(mean))
    # std_test_score divides by n_splits: sd / sqrt(n_splits) with the n - 1 sd
    se = results["std_test_score"][best] / np.sqrt(max(n_splits - 1, 1))
    return float(results["weight_power"][np.flatnonzero(mean >= mean[best] - se)[0]])


def _check_takes_sample_weight(estimator):
    """Refuse, before any fit, an estimator whose ``fit`` has no
    ``sample_weight`` (nor ``**kwargs`` that could take it): the weights go
    there. Under metadata routing the Pipeline's own request is checked later."""
    import inspect

    from sklearn.pipeline import Pipeline

    final = estimator
    if isinstance(estimator, Pipeline):
        if _routing_enabled():
            return
        final = estimator.steps[-1][1]
    if final is None or final == "passthrough":
        raise TypeError("The Pipeline ends in 'passthrough'; its last step must be an"
                        " estimator whose fit takes sample_weight.")
    parameters = inspect.signature(final.fit).parameters.values()
    if not any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters):
        raise TypeError(
            f"{type(final).__name__}.fit takes no sample_weight, where"
            " ImportanceWeightedEstimator passes the importance weights. Use an estimator"
            " that takes them (LogisticRegression, Ridge, the ensembles, SVC, ...).")


def _with_sample_weight(estimator, weights, params):
    """Fit parameters that hand ``weights`` to whoever consumes them: the
    final step of a Pipeline (``<last>__sample_weight``, or under metadata
    routing the steps that request ``sample_weight``), else ``estimator``."""
    from sklearn.pipeline import Pipeline

    params = dict(params)
    if not isinstance(estimator, Pipeline) or _routing_enabled():
        if isinstance(estimator, Pipeline):
            requested = estimator.get_metadata_routing().consumes(
                "fit", ["sample_weight"])
            if not requested:
                raise ValueError(
                    "With metadata routing enabled, a step of the Pipeline must request"
                    " the importance weights: e.g."
                    " LogisticRegression().set_fit_request(sample_weight=True).")
        params["sample_weight"] = weights
        return params
    params[f"{estimator.steps[-1][0]}__sample_weight"] = weights
    return params


class _IWScorer:
    def __init__(self, score_func, ratio_estimator, sign, response_method, kwargs):
        self.score_func = score_func
        self.ratio_estimator = ratio_estimator
        self.sign = sign
        self.response_method = response_method
        self.kwargs = kwargs

    def __call__(self, estimator, X, y):
        ratio = self.ratio_estimator
        if ratio is None:
            ratio = getattr(estimator, "ratio_estimator_", None)
            if ratio is None:
                raise ValueError(
                    "make_iw_scorer() without ratio_estimator scores only an "
                    "ImportanceWeightedEstimator; pass a fitted ratio estimator "
                    "to score other estimators."
                )
        w = ratio.predict_weights(X)
        pred = getattr(estimator, self.response_method)(X)
        return self.sign * self.score_func(y, pred, sample_weight=w, **self.kwargs)

    def __repr__(self):
        return f"make_iw_scorer({self.score_func.__name__})"


def make_iw_scorer(score_func, ratio_estimator=None, *, greater_is_better=True,
                   response_method="predict", **kwargs):
    """Importance-weighted cross-validation (IWCV) scorer.

    Under covariate shift, the mean loss on held-out *training* points
    estimates the training-distribution risk; weighting each held-out point
    by w(x) = p_test(x) / p_train(x) makes it an unbiased estimate of the
    test risk (Sugiyama, Krauledat and Mueller, 2007). Use the scorer as
    ``scoring=`` in ``GridSearchCV`` or ``cross_val_score``.

    Parameters
    ----------
    score_func : callable ``score_func(y_true, y_pred, sample_weight=...)``
        e.g. ``sklearn.metrics.mean_squared_error`` or ``accuracy_score``.
    ratio_estimator : fitted ratio estimator or None, default=None
        Gives the weights of held-out points. None uses the
        ``ratio_estimator_`` of the ``ImportanceWeightedEstimator``
        being scored (fitted on that fold's training part).
    greater_is_better : bool, default=True
        False for losses; the scorer then returns the negated loss.
    response_method : str, default="predict"
    **kwargs : passed to ``score_func``.

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y) -> float``

    Examples
    --------
    >>> from sklearn.metrics import mean_squared_error
    >>> from adiw.estimators import make_iw_scorer
    >>> make_iw_scorer(mean_squared_error, greater_is_better=False)
    make_iw_scorer(mean_squared_error)
    """
    return _IWScorer(score_func, ratio_estimator, 1 if greater_is_better else -1,
                     response_method, kwargs)
