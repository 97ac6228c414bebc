"""Density ratio by probabilistic classification of the domain."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    check_array, check_consistent_length, check_is_fitted, column_or_1d,
)

from ._base import BaseRatioEstimator
from ._domain_score import domain_log_likelihood_terms


#: estimator=None switches to IncrementalLogisticRegression from this many
#: pooled rows (training + test). At 1e6 per side the batch solver is still
#: faster and closer (benchmarks/bench_scale.py: 8.52 s and NMSE 0.0001
#: against 13.89 s and 0.0006); its memory, several copies of the data,
#: is what stops it first.
INCREMENTAL_MIN_ROWS = 5_000_000


class IncrementalLogisticRegression(ClassifierMixin, BaseEstimator):
    """Standardised logistic regression fitted by averaged SGD over row chunks.

    The scaler is fitted in one pass of ``partial_fit`` over the chunks, then
    averaged SGD (``SGDClassifier(loss="log_loss", average=True)`` with the
    constant step ``eta0``, the classic averaged-SGD setting) takes
    ``n_epochs`` passes of ``partial_fit`` over shuffled chunks: memory beyond the data is one
    chunk, and time is linear in the number of rows. The default of
    ``ClassifierRatio`` from 5e6 pooled rows, where the batch solver of
    ``LogisticRegression`` would hold several copies of the data.

    Parameters
    ----------
    chunk_size : int, default=100_000
    n_epochs : int, default=3
    alpha : float, default=1e-6
        L2 penalty of ``SGDClassifier``.
    eta0 : float, default=0.01
        Constant step size. Settings checked on Gaussian-shift draws 0 and
        100 at n = 1e5 per side (NMSE 0.0013 and 0.0017; 0.0013 for
        ``LogisticRegression`` on draw 0); ``learning_rate="optimal"`` with
        this ``alpha`` diverges.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    scaler_ : StandardScaler
    classifier_ : SGDClassifier
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from adiw.estimators import IncrementalLogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(4000, 2)); y = (X[:, 0] + 0.5 * rng.normal(size=4000) > 0).astype(int)
    >>> clf = IncrementalLogisticRegression(chunk_size=500, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """

    _parameter_constraints = {
        "chunk_size": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, chunk_size=100_000, n_epochs=3, alpha=1e-6, eta0=0.01,
                 random_state=None):
        self.chunk_size = chunk_size
        self.n_epochs = n_epochs
        self.alpha = alpha
        self.eta0 = eta0
        self.random_state = random_state

    def fit(self, X, y):
        """Fit the scaler, then the classifier, chunk by chunk.

        With two unequally frequent classes, every epoch visits each row of
        the larger class once and as many rows of the smaller one, drawn
        with replacement: SGD sees balanced chunks (with one rare row per
        thousand, constant-step SGD otherwise hardly moves the intercept:
        mean weight 3.55 instead of 1 at 1e6 against 1e3 rows), and the
        intercept is then shifted by the log ratio of the class counts, so
        that ``predict_proba`` holds for the sample's own class prior.
        """
        self._validate_params()
        X = check_array(X, dtype=np.float64, ensure_min_samples=2)
        y = column_or_1d(y)
        check_consistent_length(X, y)
        rng = check_random_state(self.random_state)
        chunk = self.chunk_size
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"y needs at least two classes; got {self.classes_}.")
        self.scaler_ = StandardScaler()
        for start in range(0, len(X), chunk):
            self.scaler_.partial_fit(X[start:start + chunk])
        self.classifier_ = SGDClassifier(loss="log_loss", alpha=self.alpha, average=True,
                                         learning_rate="constant", eta0=self.eta0,
                                         random_state=rng.randint(2**31 - 1))
        counts = np.bincount(codes)
        balance = len(counts) == 2 and counts[0] != counts[1]
        self.logit_offset_ = float(np.log(counts[1] / counts[0])) if balance else 0.0
        groups = [np.flatnonzero(codes == k) for k in range(len(counts))] if balance else None
        for _ in range(self.n_epochs):
            if balance:
                big, small = sorted(groups, key=len, reverse=True)
                order = rng.permutation(np.r_[big, rng.choice(small, len(big))])
            else:
                # Shuffled rows: the pooled sample is ordered by domain.
                order = rng.permutation(len(X))
            for start in range(0, len(order), chunk):
                rows = order[start:start + chunk]
                self.classifier_.partial_fit(self.scaler_.transform(X[rows]), y[rows],
                                             classes=self.classes_)
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "classifier_")
        X = check_array(X, dtype=np.float64)
        out = np.empty((len(X), len(self.classes_)))
        step = self.chunk_size
        for start in range(0, len(X), step):
            Z = self.scaler_.transform(X[start:start + step])
            if self.logit_offset_:
                p = expit(self.classifier_.decision_function(Z) + self.logit_offset_)
                out[start:start + step] = np.c_[1 - p, p]
            else:
                out[start:start + step] = self.classifier_.predict_proba(Z)
        return out

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


class ClassifierRatio(BaseRatioEstimator):
    """Importance weights from a classifier that tells test from training.

    By Bayes' rule ``p_te(x) / p_tr(x) = (n / m) P(test | x) / P(train | x)``
    where the factor ``n / m`` removes the sample-size prior the classifier
    learnt.  Any scikit-learn classifier with ``predict_proba`` works.

    Parameters
    ----------
    estimator : classifier or None, default=None
        Unfitted classifier; None means centring (``StandardScaler(with_std=False)``)
        followed by ``LogisticRegression()`` (exact for log-linear ratios,
        e.g. Gaussians with equal covariance; the centring keeps the solver
        well conditioned however far the data sit from the origin). The
        features are not divided by their spread: a nearly constant feature
        (a border pixel that is almost always 0) then grew to hundreds of
        units at its few non-zero rows, and their out-of-fold weights to
        1e12, one row holding all the weight (optdigits against itself,
        ``benchmarks/bench_real_unlabelled.py``). From 5e6 pooled rows
        ``IncrementalLogisticRegression`` (the same model by averaged
        SGD over chunks, linear time and one chunk of extra memory).
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
        domain); ``predict_weights`` on new points uses the classifier
        fitted on all data. A warning says when even the out-of-fold
        probabilities are mostly 0 or 1.
    random_state : int, RandomState or None, default=None
        Seeds the default incremental classifier (5e6 pooled rows and more).

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
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, calibration=None, clip=None, cv=5,
                 random_state=None):
        self.estimator = estimator
        self.calibration = calibration
        self.clip = clip
        self.cv = cv
        self.random_state = random_state

    def _default_estimator(self, n_rows):
        if n_rows >= INCREMENTAL_MIN_ROWS:
            return IncrementalLogisticRegression(random_state=self.random_state)
        return make_pipeline(StandardScaler(with_std=False), LogisticRegression())

    def _fit(self, X_tr, X_te):
        est = (self._default_estimator(len(X_tr) + len(X_te)) if self.estimator is None
               else clone(self.estimator))
        if self.calibration is not None:
            est = CalibratedClassifierCV(est, method=self.calibration, cv=int(self.cv))
        X = np.vstack([X_tr, X_te])
        n = len(X_tr)
        domain = np.r_[np.zeros(n, dtype=int), np.ones(len(X_te), dtype=int)]
        self.estimator_ = clone(est).fit(X, domain)
        if not hasattr(self.estimator_, "classes_"):
            raise TypeError(
                f"ClassifierRatio needs a classifier of the domain (fitted, it has"
                f" classes_ and predict_proba); {type(self.estimator_).__name__} has no"
                " classes_. Use e.g. LogisticRegression() or"
                " HistGradientBoostingClassifier().")
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
