"""adiw: importance weighting under distribution shift.

* ``adiw.estimators`` -- density-ratio estimators with the scikit-learn
  contract (KMM, KLIEP, uLSIF/RuLSIF, Wasserstein-1, classifier, k-NN).
* ``adiw.deep`` -- ``DynamicIWClassifier``, a skorch
  classifier that learns importance weights during training (ADIW).
* ``adiw.datasets`` -- shift generators and the digits joint-shift task.
"""

__version__ = "0.1.0"
