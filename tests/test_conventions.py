"""scikit-learn, skada and adapt habits: row-wise weights, domain labels,
Pipelines and metadata routing (issue 16)."""

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from adiw.estimators import ImportanceWeightedEstimator, KMMRatio, ULSIFRatio
from conftest import gaussian_shift, nmse
from test_estimators import ALL


@pytest.mark.parametrize("name", ALL)
def test_predict_weights_is_row_wise_and_bounded(name):
    X_tr, X_te, _ = gaussian_shift(200, 2)
    est = ALL[name]().fit(X_tr, X_te)
    w = est.predict_weights(X_tr)
    # chunks, a permutation and a float32 round trip give the same rows, up
    # to float32 rounding (KMM's default dtype): BLAS may sum a row in another
    # order in another batch size (seen with AVX-512, 1.6e-7 relative)
    same_rows = dict(rtol=1e-6)
    np.testing.assert_allclose(np.concatenate([est.predict_weights(X_tr[:77]),
                                               est.predict_weights(X_tr[77:])]), w,
                               **same_rows)
    perm = np.random.default_rng(0).permutation(len(X_tr))
    np.testing.assert_allclose(est.predict_weights(X_tr[perm]), w[perm], **same_rows)
    np.testing.assert_allclose(est.predict_weights(X_tr[:-1])[0], w[0], **same_rows)
    np.testing.assert_allclose(est.predict_weights(X_tr.astype(np.float32)), w,
                               rtol=1e-3, atol=1e-4)
    # bounded by the largest in-sample weight, even far in the test tail
    tail = est.predict_weights(np.array([[8.0, 0.0], [50.0, -3.0]]))
    assert np.all(tail <= est.weights_.max() + 1e-12)
    # no argument: the training sample's weights; fit_transform: in-sample
    np.testing.assert_array_equal(est.predict_weights(), est.weights_)
    np.testing.assert_allclose(ALL[name]().fit_transform(X_tr, X_te)[:, 0], est.weights_)


def test_fit_transform_with_domains_has_a_row_per_row():
    X_tr, X_te, _ = gaussian_shift(200, 2)
    X = np.vstack([X_tr, X_te])
    domain = np.r_[np.zeros(200), np.ones(200)]
    est = KMMRatio(random_state=0)
    out = est.fit_transform(X, domain)[:, 0]
    assert out.shape == (400,)
    np.testing.assert_allclose(out[:200], est.weights_)
    np.testing.assert_allclose(out[200:], est.predict_weights(X_te))


def test_domain_labels_are_zero_one_or_boolean_and_skada_is_explicit():
    X_tr, X_te, w_true = gaussian_shift(300, 2)
    X = np.vstack([X_tr, X_te])
    ref = ULSIFRatio(random_state=0).fit(X_tr, X_te).weights_
    zero_one = np.r_[np.zeros(300), np.ones(300)]
    np.testing.assert_allclose(ULSIFRatio(random_state=0).fit(X, zero_one).weights_, ref)
    np.testing.assert_allclose(ULSIFRatio(random_state=0).fit(X, zero_one.astype(bool)).weights_, ref)
    skada = np.r_[np.ones(300), -2 * np.ones(300)]          # source > 0, target < 0
    w = ULSIFRatio(random_state=0).fit(X, sample_domain=skada).weights_
    np.testing.assert_allclose(w, ref)
    assert np.corrcoef(w, w_true)[0, 1] > 0.8
    for labels in (skada, np.r_[np.ones(300), 2 * np.ones(300)],
                   np.r_[np.zeros(300), 2 * np.ones(300)]):
        with pytest.raises(ValueError, match="0 \\(training / source\\) and 1.*skada"):
            ULSIFRatio(random_state=0).fit(X, labels)
    with pytest.raises(ValueError, match="positive for source"):
        ULSIFRatio(random_state=0).fit(X, sample_domain=np.r_[np.ones(300), np.zeros(300)])
    with pytest.raises(ValueError, match="not both"):
        ULSIFRatio(random_state=0).fit(X, zero_one, sample_domain=skada)
    with pytest.raises(ValueError, match="0 \\(training"):      # class labels as domains
        make_pipeline(ULSIFRatio(random_state=0), LogisticRegression()).fit(
            X, np.arange(600) % 3)


def test_pipeline_two_sample_fit_is_refused_and_the_stacked_form_scales_both():
    X_tr, X_te, w_true = gaussian_shift(400, 2)
    scale = np.array([100.0, 0.01])
    with pytest.raises(ValueError, match="Stack both samples"):
        make_pipeline(StandardScaler(), ULSIFRatio(random_state=0)).fit(X_tr * scale, X_te * scale)
    X = np.vstack([X_tr, X_te]) * scale
    domain = np.r_[np.zeros(400), np.ones(400)]
    pipe = make_pipeline(StandardScaler(), ULSIFRatio(random_state=0)).fit(X, domain)
    w_pipe = pipe[-1].weights_
    w_alone = ULSIFRatio(random_state=0).fit(X_tr, X_te).weights_
    assert nmse(w_pipe, w_true) < nmse(w_alone, w_true) + 0.05
    # a one-step pipeline has nothing to transform first: allowed
    make_pipeline(ULSIFRatio(random_state=0)).fit(X_tr, X_te)


def _classification_shift(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 2))
    X_te = rng.normal(0.8, 1.0, size=(200, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 0.4).astype(int)
    return X, y, X_te


def test_sample_weight_reaches_the_last_step_of_a_wrapped_pipeline():
    X, y, X_te = _classification_shift()
    iw = ImportanceWeightedEstimator(ULSIFRatio(),
                                     make_pipeline(StandardScaler(), LogisticRegression()),
                                     weight_power=1.0)
    iw.fit(X, y, X_test=X_te)
    plain = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        X, y, logisticregression__sample_weight=iw.weights_)
    np.testing.assert_allclose(iw.estimator_[-1].coef_, plain[-1].coef_)
    unweighted = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert not np.allclose(iw.estimator_[-1].coef_, unweighted[-1].coef_)


@pytest.mark.parametrize("routing", [False, True])
def test_searches_route_x_test_in_both_routing_modes(routing):
    X, y, X_te = _classification_shift()
    with sklearn.config_context(enable_metadata_routing=routing):
        lr, scaler = LogisticRegression(), StandardScaler()
        if routing:     # scikit-learn's rule: every step that could take it says so
            lr.set_fit_request(sample_weight=True)
            scaler.set_fit_request(sample_weight=False)
        # two candidates, neither uniform: the inner IWCV runs under each mode
        iw = ImportanceWeightedEstimator(ULSIFRatio(), make_pipeline(scaler, lr),
                                         weight_power=[0.5, 1.0], cv=2)
        search = GridSearchCV(iw, {"ratio_estimator__gamma": [0.5, 1.0]}, cv=2,
                              error_score="raise").fit(X, y, X_test=X_te)
        assert search.best_estimator_.weights_.std() > 0
        cv = cross_validate(iw, X, y, cv=2, params={"X_test": X_te})
        assert np.all(np.isfinite(cv["test_score"]))
