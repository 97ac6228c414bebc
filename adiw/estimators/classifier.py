"""Density ratio by probabilistic classification of the domain."""

from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._base import BaseRatioEstimator
from ._domain_score import domain_log_likelihood


class ClassifierRatio(BaseRatioEstimator):
    """Importance weights from a classifier that tells test from training.

    By Bayes' rule ``p_te(x) / p_tr(x) = (n / m) P(test | x) / P(train | x)``
    where the factor ``n / m`` removes the sample-size prior the classifier
    learnt.  Any scikit-learn classifier with ``predict_proba`` works.

    Parameters
    ----------
    estimator : classifier or None, default=None
        Unfitted classifier; None means ``LogisticRegression()`` (exact for
        log-linear ratios, e.g. Gaussians with equal covariance).
    calibration : {"sigmoid", "isotonic"} or None, default=None
        Wrap the classifier in ``CalibratedClassifierCV`` with this method,
        for classifiers whose probabilities are poorly calibrated (trees,
        SVMs).
    clip : float or None, default=None
        Upper bound on the weights; None leaves them unbounded.
    cv : int, default=3
        Folds for the calibration.

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

    def __init__(self, estimator=None, *, calibration=None, clip=None, cv=3):
        self.estimator = estimator
        self.calibration = calibration
        self.clip = clip
        self.cv = cv

    def _fit(self, X_tr, X_te):
        est = LogisticRegression() if self.estimator is None else clone(self.estimator)
        if self.calibration is not None:
            est = CalibratedClassifierCV(est, method=self.calibration, cv=int(self.cv))
        X = np.vstack([X_tr, X_te])
        domain = np.r_[np.zeros(len(X_tr), dtype=int), np.ones(len(X_te), dtype=int)]
        self.estimator_ = est.fit(X, domain)
        self.prior_ratio_ = X_te.shape[0] / X_tr.shape[0]
        self.weights_ = self._predict_weights(X_tr)
        return self

    def _predict_weights(self, X):
        col = int(np.flatnonzero(self.estimator_.classes_ == 1)[0])
        p = np.clip(self.estimator_.predict_proba(X)[:, col], 1e-12, 1 - 1e-12)
        w = p / (1 - p) / self.prior_ratio_
        return w if self.clip is None else np.minimum(w, self.clip)

    def _score(self, X_tr, X_te):
        """Held-out log-likelihood of the domain labels (negative log-loss)."""
        return domain_log_likelihood(self._predict_weights(X_tr),
                                     self._predict_weights(X_te), self.prior_ratio_)
