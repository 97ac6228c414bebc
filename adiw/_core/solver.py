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
        When ``n_steps`` is None, stop once the gradient mapping
        ``|y - P(y - s grad f(y))| / s`` (zero exactly at a constrained
        optimum, whatever the step s) falls below ``tol`` times the norm of
        the gradient at the start. A small change in ``w`` alone is no test:
        it also happens when the step is still tiny.
    step : float, 0-d tensor or None
        Fixed step; default ``1 / objective.lipschitz(w0)``.
    line_search : bool or None
        Backtracking on the step (default: on when iterating to ``tol``).
    """
    fixed = n_steps is not None
    # Below sqrt(machine epsilon) the gradient mapping is rounding noise.
    tol = max(tol, torch.finfo(w0.dtype).eps ** 0.5)
    if line_search is None:
        line_search = not fixed
    x = project(w0)
    if step is None:
        step = 1.0 / objective.lipschitz(x)
    step = torch.as_tensor(step, dtype=x.dtype, device=x.device)
    y, t = x, torch.ones((), dtype=x.dtype, device=x.device)
    iters = n_steps if fixed else max_iter
    converged = False
    grad0 = None
    for k in range(iters):
        fy, gy = objective.value_and_grad(y)
        if not fixed and grad0 is None:
            grad0 = max(float(torch.linalg.vector_norm(gy)), 1e-300)
        if line_search:
            # Let the step grow back: curvature bounds taken at the start
            # are often far too pessimistic later on (KL in particular).
            step = step * 1.25
        x_new = project(y - step * gy)
        if line_search:
            for _ in range(60):
                d = x_new - y
                bound = fy + gy @ d + (d @ d) / (2 * step)
                if objective.value(x_new) <= bound + 1e-12 * abs(float(fy)):
                    break
                step = step / 2
                x_new = project(y - step * gy)
        # Gradient-based restart (O'Donoghue & Candes 2015): drop momentum
        # when it points uphill.
        y_prev = y
        uphill = ((y - x_new) @ (x_new - x)) > 0
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(uphill, torch.zeros_like(t), (t - 1) / t_new)
        t = torch.where(uphill, torch.ones_like(t), t_new)
        y = x_new + beta * (x_new - x)
        x = x_new
        if not fixed:
            mapping = float(torch.linalg.vector_norm(x_new - y_prev)) / float(step)
            if mapping <= tol * grad0:
                converged = True
                break
    return SolverResult(w=x, n_iter=k + 1 if iters else 0, converged=converged or fixed)
