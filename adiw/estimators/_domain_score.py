"""Held-out score shared by the probabilistic-classification estimators."""

import numpy as np


def domain_log_likelihood_terms(estimator, X_tr, X_te):
    """Per-point terms of the log-likelihood of the domain labels, from the
    estimator's weights at ``X_tr`` and ``X_te`` and its ``prior_ratio_``
    (``weight_log_likelihood_terms``)."""
    return weight_log_likelihood_terms(estimator._weights_or_empty(X_tr),
                                       estimator._weights_or_empty(X_te),
                                       estimator.prior_ratio_)


def weight_log_likelihood_terms(w_tr, w_te, prior_ratio):
    """Per-point terms of the log-likelihood of the domain labels.

    With ``prior_ratio = m / n`` of the fitting sample, a ratio estimate w
    means P(test | x) = prior_ratio w / (prior_ratio w + 1). The terms are
    each domain's log-probability times that domain's share in the fitting
    sample, so that the criterion ``E_tr[a] + E_te[b]`` is the expected
    log-likelihood of a pooled point (the negative log-loss of the implied
    domain classifier).
    """
    r = prior_ratio
    share_te = r / (1.0 + r)

    def p_test(w):
        return np.clip(r * w / (r * w + 1.0), 1e-15, 1 - 1e-15)

    return (1 - share_te) * np.log1p(-p_test(w_tr)), share_te * np.log(p_test(w_te))
