"""scikit-learn's common estimator checks, with no expected failure."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from adiw.estimators import (
    ClassifierRatio, KLIEPRatio, KMMRatio, NearestNeighborRatio, RuLSIFRatio,
    ULSIFRatio, WassersteinRatio,
)

ESTIMATORS = [KMMRatio(), KLIEPRatio(), ULSIFRatio(), RuLSIFRatio(),
              WassersteinRatio(), ClassifierRatio(), NearestNeighborRatio()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    check(estimator)
