"""The per-batch weight update: the shared solver on a batch objective."""

import torch

from ..._core.kernels import StackedSqDists
from ..._core.projection import mean_band, project_weights
from ..._core.solver import fista


class BatchWeightUpdater:
    """Update the weights of one training batch against one validation batch.

    Parameters
    ----------
    ratio_estimator : adiw ratio estimator
        Chooses the divergence through its ``_batch_objective`` and supplies
        its hyperparameters (``gamma``, ``reg``, ``alpha``, ...). A numeric
        ``gamma`` is used as is; ``"auto"`` takes the ``width_quantile``
        quantile of the batch's squared pairwise distances.
    solver : {"adiw", "diw"}
        "adiw": ``n_steps`` projected-gradient steps from the warm start, no
        host synchronisation. "diw": solve to ``tol`` from w = 1 every batch.
    tol : float or None
        Convergence tolerance of "diw"; None means the estimator's own
        ``tol`` (its standalone solve), else 1e-6.
    """

    def __init__(self, ratio_estimator, *, solver="adiw", n_steps=3, step_scale=1.0,
                 B=50.0, eps=0.0, width_quantile=0.5, tol=None, max_iter=1000):
        if not hasattr(ratio_estimator, "_batch_objective"):
            raise TypeError(
                f"{type(ratio_estimator).__name__} has no per-batch divergence; use "
                "KMMRatio, KLIEPRatio, ULSIFRatio, RuLSIFRatio or WassersteinRatio."
            )
        self.ratio_estimator = ratio_estimator
        self.solver = solver
        self.n_steps = n_steps
        self.step_scale = step_scale
        self.B = B
        self.eps = eps
        self.width_quantile = width_quantile
        self.tol = tol
        self.max_iter = max_iter

    def gamma(self, dists):
        g = getattr(self.ratio_estimator, "gamma", "auto")
        if isinstance(g, str):
            return dists.quantile_gamma(self.width_quantile)
        return torch.as_tensor(float(g), dtype=dists.full.dtype, device=dists.full.device)

    def __call__(self, Z_tr, Z_val, w0):
        """Return (new weights, objective value at them) -- both tensors."""
        n = Z_tr.shape[0]
        eps = mean_band(n, self.eps)
        if self.B <= 1.0 - eps:
            # C = {1}: return it exactly rather than up to rounding.
            ones = torch.ones_like(w0)
            return ones, torch.zeros((), dtype=w0.dtype, device=w0.device)
        # One distance matrix serves the width rule and the divergence.
        dists = StackedSqDists(Z_tr, Z_val)
        objective = self.ratio_estimator._batch_objective(dists, self.gamma(dists))

        def project(w):
            return project_weights(w, self.B, eps)

        if self.solver == "diw":
            tol = self.tol if self.tol is not None else getattr(self.ratio_estimator, "tol", 1e-6)
            w = fista(objective, torch.ones_like(w0), project, tol=tol,
                      max_iter=self.max_iter).w
        else:
            w = fista(objective, w0, project, n_steps=self.n_steps,
                      step_scale=self.step_scale * self.ratio_estimator._batch_step_scale).w
        return w, objective.value(w)
