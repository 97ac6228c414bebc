"""Divergence objectives J(w) with gradients and curvature bounds.

Each objective is a small object with ``value_and_grad(w)``, ``value(w)``,
``grad(w)`` and ``lipschitz(w)``, an upper bound (a 0-d tensor, no host sync) on the local
curvature used as the solver's inverse step size.  The same classes serve
the standalone estimators (on whole samples, to convergence) and the deep
trainer (on mini-batch representations, a few warm-started steps).
"""

import torch

from .kernels import exp_floor, rbf_matvec, sq_dists


class QuadraticObjective:
    """J(w) = 1/2 w'Hw - h'w + const, with ``H`` a PSD matrix or a callable.

    Covers MMD/KMM (H = K/n^2 [+ ridge]) and the squared-distance (LSIF)
    family.  ``lipschitz`` defaults to the Gershgorin bound max_i sum_j H_ij,
    valid for the entrywise non-negative kernel matrices used here; pass an
    explicit value when H has negative entries.
    """

    def __init__(self, H, h, const=0.0, lipschitz=None):
        self.H = H
        self.h = h
        self.const = const
        self._L = lipschitz

    def _Hw(self, w):
        return self.H(w) if callable(self.H) else self.H @ w

    def value_and_grad(self, w):
        Hw = self._Hw(w)
        grad = Hw - self.h
        value = 0.5 * (w @ Hw) - self.h @ w + self.const
        return value, grad

    def value(self, w):
        return 0.5 * (w @ self._Hw(w)) - self.h @ w + self.const

    def grad(self, w):
        return self._Hw(w) - self.h

    def lipschitz(self, w):
        if self._L is None:
            self._L = self._Hw(torch.ones_like(w)).max()
        return torch.as_tensor(self._L, dtype=w.dtype, device=w.device)


def mmd_objective(K, Kx_te_mean, reg=0.0):
    """KMM: J(w) = (1/2n^2) w'Kw - (1/n) w'k_te + (reg/2n) ||w - 1||^2.

    ``K`` is the (n, n) training kernel matrix, ``Kx_te_mean`` the vector
    (1/m) sum_j k(x_i, x'_j).  J(w) + MMD^2 offset = 1/2 MMD^2 between the
    weighted training sample and the test sample; the ridge term pulls the
    weights towards uniform (reg = 0 is classic KMM).
    """
    n = K.shape[0]
    H = K / n**2
    if reg:
        H.diagonal().add_(reg / n)
    h = Kx_te_mean / n + (reg / n if reg else 0.0)
    return QuadraticObjective(H, h)


class LogLikelihoodObjective:
    """KL / KLIEP: J(w) = -(1/m) sum_j log((A w)_j), A >= 0 of shape (m, p).

    Standalone KLIEP: A = kernel design of the test points on the centres and
    w are the kernel coefficients.  Per batch (transductive): A_ji =
    k(z'_j, z_i) / n and w are the training weights, so (A w)_j is the
    weighted training sample's kernel density at the j-th test point.
    """

    #: log((A w)_j) is undefined where extrapolation leaves the feasible set.
    feasible_only = True

    def __init__(self, A, floor=1e-12):
        self.A = A
        self.floor = floor

    def _q(self, w):
        return (self.A @ w).clamp_min(self.floor)

    def value_and_grad(self, w):
        q = self._q(w)
        m = q.shape[0]
        return -torch.log(q).mean(), -(self.A.T @ (1.0 / q)) / m

    def value(self, w):
        return -torch.log(self._q(w)).mean()

    def grad(self, w):
        return -(self.A.T @ (1.0 / self._q(w))) / self.A.shape[0]

    def lipschitz(self, w):
        # Hessian (1/m) A' diag(1/q^2) A has non-negative entries, so its
        # largest row sum bounds its largest eigenvalue.
        q = self._q(w)
        row = self.A.sum(1)
        return (self.A.T @ (row / q**2)).max() / q.shape[0]


def squared_objective(Phi_tr, Phi_te, reg=0.0, alpha=0.0):
    """Squared distance (LSIF / uLSIF / RuLSIF) over a linear model r = Phi a.

    J(a) = (1-alpha)/2 E_tr[r^2] + alpha/2 E_te[r^2] - E_te[r] + reg/2 |a|^2.
    Transductively (the deep trainer), Phi_tr = I (pass None) and Phi_te is
    the Nadaraya-Watson smoother that carries training weights to test points.
    """
    m = Phi_te.shape[0]
    if Phi_tr is None:
        n = Phi_te.shape[1]
        H = torch.eye(n, dtype=Phi_te.dtype, device=Phi_te.device) * ((1 - alpha) / n)
    else:
        n = Phi_tr.shape[0]
        H = (1 - alpha) * (Phi_tr.T @ Phi_tr) / n
    if alpha:
        H = H + alpha * (Phi_te.T @ Phi_te) / m
    if reg:
        H = H + reg * torch.eye(H.shape[0], dtype=H.dtype, device=H.device)
    return QuadraticObjective(H, Phi_te.mean(0))


def nadaraya_watson(Z_query, Z_ref, gamma):
    """Row-stochastic smoother S_qi = k(q, z_i) / sum_l k(q, z_l).

    Computed as a softmax of -gamma ||q - z||^2, so it stays defined far from
    every reference point (where all kernel values underflow).
    """
    return smoother_from_sq_dists(sq_dists(Z_query, Z_ref), gamma)


def smoother_from_sq_dists(D, gamma):
    """``nadaraya_watson`` from precomputed squared distances."""
    logits = D * -gamma
    logits = logits - logits.max(1, keepdim=True).values
    # Floored as in rbf_from_sq_dists, so no weight is subnormal.
    return torch.softmax(logits.clamp_min_(exp_floor(D.dtype)), dim=1)


class WassersteinObjective:
    """Entropic Wasserstein-1 between sum_i (w_i / sum w) delta_{z_i} and the
    uniform test sample b. ``M`` is the (n, m) matrix of Euclidean distances.

    The entropic problem is taken relative to the product of the marginals,
    ``OT(p, b) = min_P <P, C> + reg KL(P | p x b)``, whose dual potentials
    (f, g) are found by Sinkhorn's scalings. Its value at the potentials,
    ``<f, p> + <g, b>`` with ``f`` the soft c-transform of ``g``, has ``f``
    as its exact gradient in ``p`` for that ``g`` and, at Sinkhorn's fixed
    point, in total (envelope theorem). Every training atom gets a finite
    potential from the c-transform, zero-weight ones included, and the
    gradient in ``w``, ``(f_i - p'f) / sum(w)``, does not change when the
    potentials are shifted by a constant. (POT's ``sinkhorn_log`` uses the
    entropy of P alone: its potentials are -inf on zero-weight atoms.)

    W1 is not smooth, so ``lipschitz`` returns the gradient's sup-norm: a
    step of 1/L moves no weight by more than one unit (a normalised
    subgradient step). ``reg`` is the blur in units of ``scale`` (default:
    the largest cost). The first solve runs ``n_iter`` scaling iterations,
    each later one ``n_iter_warm`` from the previous solve's potentials
    (the solver asks at nearby points), and the last result is reused when
    the same ``w`` is asked for again (the solver's curvature bound and
    first gradient share one point).
    """

    #: Transport has no negative masses; the solver's momentum point can.
    feasible_only = True

    def __init__(self, M, reg=0.05, n_iter=100, scale=None, n_iter_warm=None):
        if scale is None:
            scale = M.max()
        scale = torch.as_tensor(scale, dtype=M.dtype, device=M.device)
        self.scale = scale.clamp_min(torch.finfo(M.dtype).tiny)
        self.reg = reg
        self.n_iter = n_iter
        self.n_iter_warm = n_iter if n_iter_warm is None else n_iter_warm
        # Potentials in blur units, absorbed after every solve (Schmitzer's
        # stabilisation): each solve rebuilds the kernel
        # exp(f_i + g_j - C_ij / reg) from them, so its scalings start at 1
        # and stay near it. Started from the row and then column minima of
        # the costs, every row and column holds an entry 1. Raw Gibbs
        # kernels underflowed once a trained network's losses bunched up
        # (costs thousands of blurs apart) and the scalings overflowed
        # float32 (NaN weights from epoch 9 on digits). float64 inside.
        self._C = (M / self.scale).double() * (1.0 / reg)
        self._f = self._C.min(1).values
        self._g = (self._C - self._f[:, None]).min(0).values
        self._solves = 0
        self._last = (None, None)

    def potentials(self, p):
        """Dual potentials (f, g) in cost units for training masses ``p``."""
        m = self._g.shape[0]
        n_iter = self.n_iter if self._solves == 0 else self.n_iter_warm
        self._solves += 1
        K = (self._f[:, None] + self._g[None, :] - self._C).clamp_(-700.0, 50.0).exp_()
        v, mp = torch.ones_like(self._g), p.double() * m
        # With b = 1/m: u = m / (K v) and v = 1 / (K' (p u)); carrying
        # a = p u keeps each iteration at two products and two divisions.
        for _ in range(n_iter):
            a = torch.div(mp, K @ v)
            v = torch.reciprocal(K.T @ a)
        self._g = self._g + torch.log(v)
        # f from the final g, for every atom (zero-weight ones included)
        self._f = self._f + torch.log(torch.div(m, K @ v))
        dtype = p.dtype
        return (self.reg * self._f).to(dtype), (self.reg * self._g).to(dtype)

    def value_and_grad(self, w):
        if self._last[0] is w:
            return self._last[1]
        total = w.sum().clamp_min(torch.finfo(w.dtype).tiny)
        p = w / total
        f, g = self.potentials(p)
        pf = p @ f
        value = (pf + g.mean()) * self.scale           # <g, b> with b uniform
        grad = (f - pf) * self.scale / total
        self._last = (w, (value, grad))
        return value, grad

    def value(self, w):
        return self.value_and_grad(w)[0]

    def grad(self, w):
        return self.value_and_grad(w)[1]

    def lipschitz(self, w):
        return self.grad(w).abs().max().clamp_min(1e-12)


def mmd2(X_tr, w, X_te, gamma):
    """Squared MMD between sum_i (w_i/n) k(x_i, .) and the test embedding.

    Uses chunked kernel products, so memory is O(chunk * n).
    """
    n, m = X_tr.shape[0], X_te.shape[0]
    ones_m = torch.ones(m, dtype=w.dtype, device=w.device)
    a = w @ rbf_matvec(X_tr, X_tr, w, gamma) / n**2
    b = w @ rbf_matvec(X_tr, X_te, ones_m, gamma) / (n * m)
    c = ones_m @ rbf_matvec(X_te, X_te, ones_m, gamma) / m**2
    return (a - 2 * b + c).clamp_min(0.0)
