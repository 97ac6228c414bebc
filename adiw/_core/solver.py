"""Accelerated projected gradient (FISTA) with adaptive restart.

One routine serves both uses:

* the deep trainer: a warm start and a fixed, small ``n_steps``; the step
  size comes from the objective's curvature bound and every decision is a
  ``torch.where``, so no step waits for the host;
* the standalone estimators: iterate to ``tol`` with backtracking, which
  needs a few host syncs per step and is robust when the curvature bound is
  loose or local (KL).
"""

from dataclasses import dataclass

import torch


@dataclass
class SolverResult:
    w: torch.Tensor
    n_iter: int
    converged: bool


def fista(objective, w0, project, *, n_steps=None, tol=1e-6, max_iter=1000,
          step=None, line_search=None):
    """Minimise ``objective`` over the set that ``project`` projects onto.

    Parameters
    ----------
    objective : object with ``value_and_grad(w)`` and ``lipschitz(w)``
    w0 : 1-D tensor, the warm start (projected first).
    project : callable, Euclidean projection onto the feasible set.
    n_steps : int or None
        Run exactly this many steps (no convergence test, no host sync).
    tol : float
        Relative change ``|w_k+1 - w_k| <= tol * max(1, |w_k|)`` to stop at
        when ``n_steps`` is None.
    step : float, 0-d tensor or None
        Fixed step; default ``1 / objective.lipschitz(w0)``.
    line_search : bool or None
        Backtracking on the step (default: on when iterating to ``tol``).
    """
    fixed = n_steps is not None
    if line_search is None:
        line_search = not fixed
    x = project(w0)
    if step is None:
        step = 1.0 / objective.lipschitz(x)
    step = torch.as_tensor(step, dtype=x.dtype, device=x.device)
    y, t = x, torch.ones((), dtype=x.dtype, device=x.device)
    iters = n_steps if fixed else max_iter
    converged = False
    for k in range(iters):
        fy, gy = objective.value_and_grad(y)
        x_new = project(y - step * gy)
        if line_search:
            for _ in range(30):
                d = x_new - y
                bound = fy + gy @ d + (d @ d) / (2 * step)
                if objective.value(x_new) <= bound + 1e-12 * abs(float(fy)):
                    break
                step = step / 2
                x_new = project(y - step * gy)
        # Gradient-based restart (O'Donoghue & Candes 2015): drop momentum
        # when it points uphill.
        uphill = ((y - x_new) @ (x_new - x)) > 0
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(uphill, torch.zeros_like(t), (t - 1) / t_new)
        t = torch.where(uphill, torch.ones_like(t), t_new)
        y = x_new + beta * (x_new - x)
        if not fixed:
            change = torch.linalg.vector_norm(x_new - x)
            if change <= tol * max(1.0, float(torch.linalg.vector_norm(x))):
                x = x_new
                converged = True
                break
        x = x_new
    return SolverResult(w=x, n_iter=k + 1 if iters else 0, converged=converged or fixed)
