"""Held-out score shared by the probabilistic-classification estimators."""

import numpy as np


def domain_log_likelihood(w_tr, w_te, prior_ratio):
    """Mean log-likelihood of the domain labels implied by the weights.

    With ``prior_ratio = m / n`` of the fitting sample, a ratio estimate w
    means P(test | x) = prior_ratio w / (prior_ratio w + 1); the score is the
    mean log-probability of the true domain over the pooled held-out points
    (the negative log-loss of the implied domain classifier).
    """
    def p_test(w):
        return np.clip(prior_ratio * w / (prior_ratio * w + 1.0), 1e-15, 1 - 1e-15)

    ll = np.r_[np.log1p(-p_test(w_tr)), np.log(p_test(w_te))]
    return float(ll.mean())
