"""Density ratio by probabilistic classification of the domain."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._base import BaseRatioEstimator
from ._domain_score import domain_log_likelihood_terms


class ClassifierRatio(BaseRatioEstimator):
    """Importance weights from a classifier that tells test from training.

    By Bayes' rule ``p_te(x) / p_tr(x) = (n / m) P(test | x) / P(train | x)``
    where the factor ``n / m`` removes the sample-size prior the classifier
    learnt.  Any scikit-learn classifier with ``predict_proba`` works.

    Parameters
    ----------
    estimator : classifier or None, default=None
        Unfitted classifier; None means ``StandardScaler`` followed by
        ``LogisticRegression()`` (exact for log-linear ratios, e.g. Gaussians
        with equal covariance; the scaling keeps the solver well conditioned
        however far the data sit from the origin).
    calibration : {"sigmoid", "isotonic"} or None, default=None
        Wrap the classifier in ``CalibratedClassifierCV`` with this method,
        for classifiers whose probabilities are poorly calibrated (trees,
        SVMs).
    clip : float or None, default=None
        Upper bound on the weights; None leaves them unbounded.
    cv : int, default=5
        Folds for the out-of-fold probabilities behind ``weights_`` and for
        the calibration. ``weights_`` come from classifiers that did not see
        the point (a classifier that fits its training sample, such as a
        decision tree, is otherwise certain of every training point's
        domain); :meth:`predict_weights` on new points uses the classifier
        fitted on all data. A warning says when even the out-of-fold
        probabilities are mostly 0 or 1.

    Attributes
    ----------
    estimator_ : fitted classifier
    prior_ratio_ : float
        ``n_test / n_train`` of the fitting sample.
    weights_ : ndarray of shape (n_train,)

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import ClassifierRatio
    >>> rng = np.random.default_rng(0)
    >>> X_tr, X_te = rng.normal(size=(500, 1)), rng.normal(1, 1, size=(500, 1))
    >>> w = ClassifierRatio().fit(X_tr, X_te).predict_weights([[0.5]])
    >>> bool(abs(w[0] - 1.0) < 0.2)   # true ratio at 0.5 is exp(0) = 1
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "calibration": [StrOptions({"sigmoid", "isotonic"}), None],
        "clip": [Interval(Real, 0, None, closed="neither"), None],
        "cv": [Interval(Real, 2, None, closed="left")],
    }

    def __init__(self, estimator=None, *, calibration=None, clip=None, cv=5):
        self.estimator = estimator
        self.calibration = calibration
        self.clip = clip
        self.cv = cv

    def _fit(self, X_tr, X_te):
        est = (make_pipeline(StandardScaler(), LogisticRegression()) if self.estimator is None
               else clone(self.estimator))
        if self.calibration is not None:
            est = CalibratedClassifierCV(est, method=self.calibration, cv=int(self.cv))
        X = np.vstack([X_tr, X_te])
        n = len(X_tr)
        domain = np.r_[np.zeros(n, dtype=int), np.ones(len(X_te), dtype=int)]
        self.estimator_ = clone(est).fit(X, domain)
        self.prior_ratio_ = X_te.shape[0] / X_tr.shape[0]
        n_splits = min(int(self.cv), n, len(X_te))
        if n_splits >= 2:
            # A classifier that fits its training points (a tree, a forest)
            # is certain of their domain in-sample; out of fold it is not.
            proba = cross_val_predict(est, X, domain, cv=StratifiedKFold(n_splits),
                                      method="predict_proba")
            p = proba[:n, 1]                   # columns in class order: 0, 1
            saturated = np.mean((p < 1e-6) | (p > 1 - 1e-6))
            if saturated > 0.1:
                warnings.warn(
                    f"ClassifierRatio: {saturated:.0%} of the out-of-fold domain"
                    " probabilities of the training points are 0 or 1, so their"
                    " weights are about 0 or 1e12. The classifier is too sure of the"
                    " domain; use a smoother one (the default logistic regression),"
                    " calibration='sigmoid', or clip.", UserWarning, stacklevel=3)
            self.weights_ = self._ratio(p)
        else:
            self.weights_ = self._predict_weights(X_tr)
        return self

    def _ratio(self, p):
        p = np.clip(p, 1e-12, 1 - 1e-12)
        w = p / (1 - p) / self.prior_ratio_
        return w if self.clip is None else np.minimum(w, self.clip)

    def _predict_weights(self, X):
        col = int(np.flatnonzero(self.estimator_.classes_ == 1)[0])
        return self._ratio(self.estimator_.predict_proba(X)[:, col])

    def _score_terms(self, X_tr, X_te):
        """Per-point held-out log-likelihood of the domain labels."""
        return domain_log_likelihood_terms(self, X_tr, X_te)
