"""ImportanceWeightedEstimator, metadata routing, IWCV."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from adiw.estimators import (
    ClassifierRatio, ImportanceWeightedEstimator, KLIEPRatio, make_iw_scorer,
)
from adiw.utils import Unsliced


class RecordingRegressor(RegressorMixin, BaseEstimator):
    """Consumer that records the metadata it receives."""

    def fit(self, X, y, sample_weight=None, extra=None):
        self.sample_weight_ = sample_weight
        self.extra_ = extra
        self.mean_ = np.average(y, weights=sample_weight)
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def shimodaira(n_tr=300, n_te=200, seed=0):
    """Classic covariate shift: cubic truth, linear model, shifted inputs."""
    r = np.random.default_rng(seed)
    x_tr = r.normal(0.5, 0.5, n_tr)
    x_te = r.normal(0.0, 0.3, n_te)
    f = lambda x: -x + x**3  # noqa: E731
    y_tr = f(x_tr) + r.normal(0, 0.3, n_tr)
    y_te = f(x_te) + r.normal(0, 0.3, n_te)
    return x_tr[:, None], y_tr, x_te[:, None], y_te


def test_weights_arrive_and_improve_test_error():
    X, y, X_te, y_te = shimodaira()
    iw = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), LinearRegression(),
                                     weight_power=1.0)
    iw.fit(X, y, X_test=X_te)
    np.testing.assert_array_equal(iw.weights_, iw.ratio_estimator_.weights_)
    assert iw.weight_power_ == 1.0 and iw.cv_results_ is None
    plain = LinearRegression().fit(X, y)
    assert mean_squared_error(y_te, iw.predict(X_te)) < 0.7 * mean_squared_error(
        y_te, plain.predict(X_te))
    rec = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), RecordingRegressor(),
                                      weight_power=1.0)
    rec.fit(X, y, X_test=X_te, extra="x")
    np.testing.assert_array_equal(rec.estimator_.sample_weight_, rec.weights_)
    assert rec.estimator_.extra_ == "x"


def test_metadata_routing_multiplies_user_weights():
    X, y, X_te, _ = shimodaira()
    user = np.linspace(0.5, 2.0, len(X))
    with sklearn.config_context(enable_metadata_routing=True):
        est = RecordingRegressor().set_fit_request(sample_weight=True, extra=False)
        iw = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), est, weight_power=1.0)
        iw.fit(X, y, X_test=X_te, sample_weight=user)
        np.testing.assert_allclose(iw.estimator_.sample_weight_,
                                   iw.ratio_estimator_.weights_ * user)
        unrequested = ImportanceWeightedEstimator(KLIEPRatio(), RecordingRegressor())
        with pytest.raises(Exception, match="sample_weight"):
            unrequested.fit(X, y, X_test=X_te, sample_weight=user)


def test_grid_search_over_both_parts_keeps_x_test_whole():
    X, y, X_te, _ = shimodaira(n_tr=200, n_te=200)
    seen = []

    class Spy(KLIEPRatio):
        def fit(self, X, y=None):
            seen.append(len(y))
            return super().fit(X, y)

    grid = GridSearchCV(
        ImportanceWeightedEstimator(Spy(random_state=0), Ridge()),
        {"ratio_estimator__gamma": [0.5, 2.0], "estimator__alpha": [0.1, 10.0]},
        cv=3, scoring=make_iw_scorer(mean_squared_error, greater_is_better=False),
    )
    grid.fit(X, y, X_test=Unsliced(X_te))
    assert set(seen) == {200}                     # never sliced to a fold
    assert set(grid.best_params_) == {"ratio_estimator__gamma", "estimator__alpha"}
    seen.clear()
    grid.fit(X, y, X_test=X_te)                   # bare and as long as X: no warning
    assert min(seen) < 200                        # folds got sliced copies (docs say so)


def test_auto_power_is_a_one_standard_error_iwcv_choice_done_by_hand():
    X, y, X_te, _ = shimodaira(seed=3)
    iw = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), Ridge(),
                                     weight_power=[1.0, 0.0, 0.5, 0.25], cv=4)
    iw.fit(X, y, X_test=X_te)
    w = KLIEPRatio(random_state=0).fit(X, X_te).weights_
    powers = [0.0, 0.25, 0.5, 1.0]

    def weighted_r2(y_true, y_pred, w):
        centre = np.average(y_true, weights=w)
        return 1 - np.sum(w * (y_true - y_pred) ** 2) / np.sum(w * (y_true - centre) ** 2)

    scores = np.array([[
        weighted_r2(y[b], Ridge().fit(X[a], y[a], sample_weight=w[a] ** p).predict(X[b]), w[b])
        for p in powers] for a, b in KFold(4).split(X)])
    np.testing.assert_allclose(iw.cv_results_["weight_power"], powers)
    np.testing.assert_allclose(iw.cv_results_["mean_test_score"], scores.mean(0))
    for k in range(4):
        np.testing.assert_allclose(iw.cv_results_[f"split{k}_test_score"], scores[k])
    best = scores.mean(0).argmax()
    se = scores[:, best].std(ddof=1) / 2.0
    assert iw.weight_power_ == powers[np.flatnonzero(scores.mean(0) >= scores.mean(0)[best] - se)[0]]
    np.testing.assert_allclose(iw.weights_, w ** iw.weight_power_)


def test_auto_power_weights_a_misspecified_model_and_not_a_well_specified_one():
    """Importance weighting corrects the bias of a misspecified model (cubic
    truth, linear fit) and only adds variance to a well-specified one."""
    X, y, X_te, y_te = shimodaira(n_tr=400, n_te=400, seed=2)
    iw = ImportanceWeightedEstimator(KLIEPRatio(random_state=0), LinearRegression())
    iw.fit(X, y, X_test=X_te)
    plain = LinearRegression().fit(X, y)
    assert iw.weight_power_ > 0
    assert mean_squared_error(y_te, iw.predict(X_te)) < 0.8 * mean_squared_error(
        y_te, plain.predict(X_te))
    linear = np.random.default_rng(2)
    y_lin = 2 * X[:, 0] + linear.normal(0, 0.3, len(X))
    iw.fit(X, y_lin, X_test=X_te)
    assert iw.weight_power_ == 0.0
    np.testing.assert_allclose(iw.predict(X_te), LinearRegression().fit(X, y_lin).predict(X_te))


def test_auto_power_names_bad_candidates_and_a_scorer_without_weights():
    X, y, X_te, _ = shimodaira(n_tr=60, n_te=40)
    for bad in ([], [0.5, -1.0], [[0.5]], [np.nan, 1.0]):
        with pytest.raises(ValueError, match="weight_power must be"):
            ImportanceWeightedEstimator(KLIEPRatio(), Ridge(), weight_power=bad).fit(
                X, y, X_test=X_te)

    def unweighted_scorer(estimator, X, y):
        return estimator.score(X, y)

    def nan_scorer(estimator, X, y, sample_weight=None):
        return np.nan

    with pytest.raises(ValueError, match="on fold 0 is nan"):
        ImportanceWeightedEstimator(KLIEPRatio(), Ridge(), scoring=nan_scorer).fit(
            X, y, X_test=X_te)

    with pytest.raises(TypeError, match="takes no sample_weight"):
        ImportanceWeightedEstimator(KLIEPRatio(), Ridge(), scoring=unweighted_scorer).fit(
            X, y, X_test=X_te)


def test_auto_power_names_a_fold_whose_held_out_weights_vanish():
    X, y, X_te, _ = shimodaira(n_tr=60, n_te=40)

    class ZeroOnTheFirstFold(KLIEPRatio):
        def fit(self, X, y=None):
            super().fit(X, y)
            self.weights_[:12] = 0.0          # the first of KFold(5)'s held-out parts
            return self

    with pytest.raises(ValueError, match="weights of IWCV fold 0 sum to 0"):
        ImportanceWeightedEstimator(ZeroOnTheFirstFold(), Ridge()).fit(X, y, X_test=X_te)


def test_missing_test_sample_is_an_error():
    X, y, _, _ = shimodaira()
    with pytest.raises(ValueError, match="X_test"):
        ImportanceWeightedEstimator(KLIEPRatio(), Ridge()).fit(X, y)


def test_iwcv_estimates_the_test_risk_better_than_plain_cv():
    X, y, X_te, y_te = shimodaira(n_tr=600, n_te=2000, seed=1)
    model = LinearRegression()
    true_risk = mean_squared_error(y_te, model.fit(X, y).predict(X_te))
    ratio = KLIEPRatio(random_state=0).fit(X, X_te)   # log-ratio is quadratic here
    cv = KFold(5, shuffle=True, random_state=0)
    plain = -cross_val_score(model, X, y, cv=cv, scoring="neg_mean_squared_error").mean()
    iwcv = -cross_val_score(
        model, X, y, cv=cv,
        scoring=make_iw_scorer(mean_squared_error, ratio, greater_is_better=False),
    ).mean()
    assert abs(iwcv - true_risk) < 0.5 * abs(plain - true_risk)


def test_iw_scorer_needs_weights():
    X, y, _, _ = shimodaira()
    scorer = make_iw_scorer(mean_squared_error, greater_is_better=False)
    with pytest.raises(ValueError, match="ratio estimator"):
        scorer(Ridge().fit(X, y), X, y)


def test_unsliced_warning_only_for_equal_lengths():
    X, y, X_te, _ = shimodaira(n_tr=50, n_te=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImportanceWeightedEstimator(KLIEPRatio(random_state=0), Ridge()).fit(X, y, X_test=X_te)


def test_weighted_estimator_names_overflow_and_wrong_lengths():
    from sklearn.linear_model import Ridge
    from adiw.estimators import ULSIFRatio

    X, y, X_te, _ = shimodaira()
    with pytest.raises(ValueError, match="weight_power=400 overflows"):
        ImportanceWeightedEstimator(ULSIFRatio(), Ridge(), weight_power=400).fit(
            X, y, X_test=X_te)
    with pytest.raises(ValueError, match="sample_weight"):
        ImportanceWeightedEstimator(ULSIFRatio(), Ridge()).fit(
            X, y, X_test=X_te, sample_weight=np.ones(len(X) - 1))


def test_classifier_ratio_refuses_a_non_classifier():
    from sklearn.mixture import GaussianMixture


    X, _, X_te, _ = shimodaira()
    with pytest.raises(TypeError, match="needs a classifier"):
        ClassifierRatio(GaussianMixture()).fit(X.reshape(len(X), -1), X_te.reshape(len(X_te), -1))


def test_an_estimator_without_sample_weight_or_negative_weights_are_refused_first():
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_te, _ = shimodaira()
    fitted = []

    class CountingKLIEP(KLIEPRatio):
        def fit(self, X, y=None):
            fitted.append(1)
            return super().fit(X, y)

    # a TypeError from deep inside the fold loop, after the ratio was fitted
    for model in (KNeighborsRegressor(), make_pipeline(StandardScaler(), KNeighborsRegressor())):
        with pytest.raises(TypeError, match="KNeighborsRegressor.fit takes no sample_weight"):
            ImportanceWeightedEstimator(CountingKLIEP(), model).fit(X, y, X_test=X_te)
    assert not fitted
    # negative weights once failed as "held-out importance weights of IWCV fold 0 sum to -52.4"
    with pytest.raises(ValueError, match="sample_weight must be >= 0; 1 entries"):
        ImportanceWeightedEstimator(KLIEPRatio(), Ridge()).fit(
            X, y, X_test=X_te, sample_weight=np.r_[-1.0, np.ones(len(X) - 1)])
