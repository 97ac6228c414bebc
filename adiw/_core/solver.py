"""Accelerated projected gradient (FISTA) with adaptive restart.

One routine serves both uses:

* the deep trainer: a warm start and a fixed, small ``n_steps``; the step
  size comes from the objective's curvature bound and every decision is a
  ``torch.where``, so no step waits for the host;
* the standalone estimators: iterate to ``tol`` with backtracking, which
  needs a few host syncs per step and is robust when the curvature bound is
  loose or local (KL).
"""

import math
from dataclasses import dataclass

import torch


@dataclass
class SolverResult:
    """``status`` is "converged", "max_iter" (the budget ran out),
    "stalled" (the line search could not make progress: the step shrank
    until it no longer moved the iterate) or "fixed_steps" (``n_steps``
    were run without a convergence test); only the first is ``converged``."""

    w: torch.Tensor
    n_iter: int
    status: str

    @property
    def converged(self):
        return self.status == "converged"


def _check_finite(value, grad):
    if not (torch.isfinite(value) and torch.isfinite(grad).all()):
        raise FloatingPointError(
            "The divergence or its gradient became non-finite during the solve."
            " The data or a hyperparameter is out of range for the dtype"
            " (rescale the data, e.g. with StandardScaler, or use float64)."
        )


def fista(objective, w0, project, *, n_steps=None, tol=1e-6, max_iter=1000,
          step=None, step_scale=1.0, line_search=True):
    """Minimise ``objective`` over the set that ``project`` projects onto.

    Parameters
    ----------
    objective : object with ``value_and_grad(w)``, ``value(w)``, ``grad(w)``
        and ``lipschitz(w)``
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
        Fixed step; default ``step_scale / objective.lipschitz(P(w0))``.
    step_scale : float
        Multiplies the default step.
    line_search : bool
        Backtracking on the step when iterating to ``tol``; never in the
        fixed-step mode.
    """
    # Below sqrt(machine epsilon) the gradient mapping is rounding noise.
    eps = torch.finfo(w0.dtype).eps
    tol = max(tol, eps ** 0.5)
    x = project(w0)
    if step is None:
        # A zero curvature bound is a flat objective (e.g. a KL batch whose
        # test points lie kernel widths away from every training point, so
        # the kernel underflows to 0): its step is no move, not c / 0 = inf,
        # which multiplied a zero gradient into NaN weights.
        lip = torch.as_tensor(objective.lipschitz(x), dtype=x.dtype, device=x.device)
        step = torch.where(lip > 0, step_scale / lip, torch.zeros_like(lip))
    step = torch.as_tensor(step, dtype=x.dtype, device=x.device)
    if n_steps is not None:
        return SolverResult(w=_fixed_steps(objective, x, project, n_steps, step),
                            n_iter=n_steps, status="fixed_steps")
    if float(step) == 0 and float(objective.grad(x).abs().max()) == 0:
        return SolverResult(w=x, n_iter=0, status="converged")    # flat: stationary
    if not 0 < float(step) < math.inf:
        raise FloatingPointError(
            f"The solver's initial step is {float(step)}: the divergence's curvature"
            " bound is zero or non-finite at the start. The data or a hyperparameter"
            " is out of range for the dtype (rescale the data or use float64)."
        )
    y, t = x, torch.ones((), dtype=x.dtype, device=x.device)
    grad0 = None
    for k in range(max_iter):
        if line_search:
            fy, gy = objective.value_and_grad(y)
            _check_finite(fy, gy)
            # Let the step grow back: curvature bounds taken at the start
            # are often far too pessimistic later on (KL in particular).
            step = step * 1.25
        else:
            gy = objective.grad(y)
        if grad0 is None:
            grad0 = float(torch.linalg.vector_norm(gy))
            if not math.isfinite(grad0):
                _check_finite(gy.sum(), gy)
            grad0 = max(grad0, 1e-300)
        x_new = project(y - step * gy)
        step_tried = step
        if line_search:
            if float((x_new - y).abs().max()) <= 4 * eps * float(y.abs().max()):
                # The step tried moves y by rounding only: y is a fixed point
                # of the projected step, optimal to precision (a constant
                # objective lands here; its rounding noise would fail the
                # line search's test at every step).
                return SolverResult(w=y, n_iter=k + 1, status="converged")
            for _ in range(60):
                d = x_new - y
                bound = fy + gy @ d + (d @ d) / (2 * step)
                if objective.value(x_new) <= bound + 1e-12 * abs(float(fy)):
                    break
                step = step / 2
                x_new = project(y - step * gy)
            if float(step) < 1e-9 * float(step_tried):
                # Accepted only once the step was too small to matter (the
                # test's rounding slack admits a vanishing uphill move).
                return SolverResult(w=x, n_iter=k + 1, status="stalled")
        if torch.equal(x_new, y):
            # No move at a step the line search did not have to crush: y is a
            # fixed point of the projected step, optimal to floating-point
            # precision.
            return SolverResult(w=y, n_iter=k + 1, status="converged")
        # Gradient-based restart (O'Donoghue & Candes 2015): drop momentum
        # and restart its schedule when it points uphill.
        y_prev = y
        uphill = ((y - x_new) @ (x_new - x)) > 0
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(uphill, torch.zeros_like(t), (t - 1) / t_new)
        t = torch.where(uphill, torch.ones_like(t), t_new)
        y = _extrapolate(objective, project, x_new, x, beta)
        x = x_new
        mapping = float(torch.linalg.vector_norm(x_new - y_prev)) / float(step)
        if not math.isfinite(mapping):
            _check_finite(torch.full((), mapping), x_new)
        if mapping <= tol * grad0:
            return SolverResult(w=x, n_iter=k + 1, status="converged")
    return SolverResult(w=x, n_iter=max_iter, status="max_iter")


def _extrapolate(objective, project, x_new, x, beta):
    """The momentum point, projected back for objectives that are defined
    on the feasible set only (``objective.feasible_only``): KL's log of a
    density is undefined where extrapolation makes it negative, and the
    line search stalls there."""
    y = x_new + beta * (x_new - x)
    return project(y) if getattr(objective, "feasible_only", False) else y


def _fixed_steps(objective, x, project, n_steps, step):
    """``n_steps`` accelerated steps with a fixed step and no host sync.

    The momentum follows FISTA's schedule, known in advance, and is dropped
    on a step where it points uphill. Unlike the restart above the schedule
    is not reset (that would need the decision on the host); over the few
    steps of a warm-started update the two coincide but for that reset.
    """
    y, t = x, 1.0
    for _ in range(n_steps):
        x_new = project(y - step * objective.grad(y))
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        # 1 while the momentum points downhill, else 0, without a bool tensor
        # (its promotion to float costs a copy on every step).
        gate = ((x_new - y) @ (x_new - x)).sign().clamp_min(0.0)
        y = _extrapolate(objective, project, x_new, x, (t - 1) / t_new * gate)
        x, t = x_new, t_new
    return x
