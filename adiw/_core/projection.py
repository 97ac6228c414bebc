"""Exact Euclidean projection onto the weight constraint set.

The set is ``{w : 0 <= w_i <= u_i, L <= b @ w <= U}`` with ``b > 0``.  With
``b = 1``, ``u = B``, ``L = n (1 - eps)`` and ``U = n (1 + eps)`` this is the
KMM/DIW set C = {0 <= w <= B, |mean(w) - 1| <= eps}; with ``b`` the mean
training design row, ``u = inf`` and ``L = U = 1`` it is KLIEP's
normalisation constraint on kernel coefficients.

By the KKT conditions the projection is ``clip(v - t b, 0, u)`` for a scalar
shift ``t``.  ``s(t) = b @ clip(v - t b, 0, u)`` is continuous, piecewise
linear and non-increasing with 2n breakpoints, so we sort the breakpoints
once and read the exact root off cumulative sums.  Unlike bisection this is
a fixed, short sequence of tensor operations with no data-dependent Python
branch, so on a GPU it never waits for the host.

On the CPU, reading a scalar back costs nothing, while each of the sort
path's ~40 small operations costs a few microseconds of dispatch. There the
projection first tries ``t = 0`` (the plain clip), exact whenever the clipped
vector satisfies the sum constraint; then, for the weights (``b = 1``, one
scalar bound), Newton steps on ``t``. Newton lands on the exact root as soon
as no coordinate changes state (zero / free / at the bound) across a step,
because ``s`` is linear between; from a warm start that takes one or two
steps. Otherwise, after a few steps, the sorted path decides.
"""

import math

import torch


def project_box_sum(v, upper, lower_sum, upper_sum, b=None):
    """Project ``v`` onto ``{0 <= w <= upper, lower_sum <= b @ w <= upper_sum}``.

    Parameters
    ----------
    v : 1-D tensor
    upper : float or 1-D tensor
        Upper bound(s); ``inf`` allowed (then ``upper_sum`` must be finite).
    lower_sum, upper_sum : float or 0-d tensors, ``0 <= lower_sum <= upper_sum``.
    b : 1-D positive tensor or None (all ones).

    Returns
    -------
    w : 1-D tensor, the exact Euclidean projection (up to rounding).
    """
    if v.device.type == "cpu":
        if isinstance(upper, torch.Tensor):
            w = torch.minimum(v.clamp_min(0.0), upper)
        else:
            w = v.clamp(0.0, upper)
        s = float(w.sum() if b is None else b @ w)
        lo, hi = float(lower_sum), float(upper_sum)
        if lo <= s <= hi:
            return w
        if b is None and not isinstance(upper, torch.Tensor) and math.isfinite(upper):
            w = _newton_shift(v, float(upper), w, s, hi if s > hi else lo)
            if w is not None:
                return w
    return _project_box_sum_sorted(v, upper, lower_sum, upper_sum, b)


def _newton_shift(v, u, w, s, target, max_steps=6):
    """``clip(v - t, 0, u)`` with ``sum = target``, by Newton steps on ``t``
    from ``t = 0`` (where ``w`` and its sum ``s`` are given); None when the
    steps do not settle (the caller then sorts)."""
    t = 0.0
    free, top = (w > 0) & (w < u), w >= u
    for _ in range(max_steps):
        n_free = int(free.sum())
        if n_free == 0:
            return None
        t += (s - target) / n_free                      # s(t) has slope -n_free here
        w = (v - t).clamp_(0.0, u)
        new_free, new_top = (w > 0) & (w < u), w >= u
        if torch.equal(new_free, free) and torch.equal(new_top, top):
            return w                                    # s linear across the step: exact
        free, top, s = new_free, new_top, float(w.sum())
    return None


def _project_box_sum_sorted(v, upper, lower_sum, upper_sum, b=None):
    """``project_box_sum`` by the sorted breakpoints, without host sync.

    The ``b = None``, scalar-``upper`` case (the weights of the deep
    trainer) skips every product with ``b`` and every per-element bound:
    at batch sizes the cost is the number of tensor operations.
    """
    n = v.shape[0]
    if not isinstance(upper, torch.Tensor) and math.isinf(upper):
        # Any feasible w has w_i <= upper_sum / b_i, so that bound is
        # equivalent and keeps every breakpoint finite.
        upper = float(upper_sum) if b is None else upper_sum / b
    u = upper if isinstance(upper, torch.Tensor) else float(upper)
    # Entering the free set at t = (v - u)/b releases the saturated mass
    # u*b; leaving it at t = v/b drops the term to zero.
    breaks = torch.cat([v - u, v]) if b is None else torch.cat([(v - u) / b, v / b])
    times, order = torch.sort(breaks)
    entering = order < n
    sign = entering.to(v.dtype) * 2 - 1
    src = order.remainder(n)
    if b is None:
        slope = torch.cumsum(sign, 0)                         # sum of b_i^2 over free i
        offset = torch.cumsum(sign * v[src], 0)               # sum of b_i v_i over free i
    else:
        slope = torch.cumsum(sign * (b * b)[src], 0)
        offset = torch.cumsum(sign * (b * v)[src], 0)
    if b is None and not isinstance(u, torch.Tensor):
        saturated = u * (n - torch.cumsum(entering, 0))      # sum of u_i b_i over saturated i
    else:
        ub = (u * (torch.ones_like(v) if b is None else b)).expand_as(v)
        saturated = ub.sum() - torch.cumsum(entering * ub[src], 0)
    level = saturated + offset
    s_at = level - times * slope            # s at each breakpoint, non-increasing
    # Filled in place: a tensor built from a Python list would be copied
    # from the host on every projection.
    targets = torch.empty(2, dtype=v.dtype, device=v.device)
    targets[0], targets[1] = upper_sum, lower_sum
    # k = index of the first breakpoint where s <= T; the root lies in the
    # segment that starts at breakpoint k - 1, where s is linear.
    k = (s_at > targets[:, None]).sum(1).clamp_(1, 2 * n - 1)
    j = k - 1
    slope_j, t_j = slope[j], times[j]
    t = torch.where(slope_j > 0,
                    (level[j] - targets) / slope_j.clamp_min(torch.finfo(v.dtype).tiny), t_j)
    t_upper, t_lower = t.clamp(t_j, times[k]).unbind()
    # s(0) above U -> shift to t_upper > 0; below L -> t_lower < 0; else 0.
    t = t_upper.clamp_min(0.0).minimum(t_lower)
    w = (v - t) if b is None else (v - t * b)
    if isinstance(u, torch.Tensor):
        return torch.minimum(w.clamp_min_(0.0), u)
    return w.clamp_(0.0, u)


def mean_band(n, eps=None):
    """``eps``, or KMM's default half-width ``(sqrt(n) - 1) / sqrt(n)``."""
    return (math.sqrt(n) - 1) / math.sqrt(n) if eps is None else float(eps)


def check_feasible(B, eps=None):
    """Raise a ValueError for a weight bound ``B`` below 1.

    Importance weights average 1 over the training sample, so a bound
    below 1 caps every weight below the mean: with the mean band
    ``|mean(w) - 1| <= eps`` no weight vector fits when ``B < 1 - eps``, and
    inside a wide band every weight would sit at ``B`` (``B=0.3`` returned
    all weights 0.3).
    """
    if B < 1:
        detail = ("" if eps is None or B >= 1 - eps else
                  f"; with eps={eps:.3g} no weight vector satisfies both the bound"
                  " and the mean constraint")
        raise ValueError(
            f"B={B} < 1: importance weights average 1, so a bound below 1 caps"
            f" every weight below the mean{detail}. Use B >= 1."
        )


def project_weights(v, B, eps):
    """Projection onto C = {0 <= w <= B, |mean(w) - 1| <= eps}."""
    n = v.shape[0]
    return project_box_sum(v, B, n * max(1.0 - eps, 0.0), n * (1.0 + eps))
