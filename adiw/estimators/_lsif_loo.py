"""Analytic leave-one-out for (relative) unconstrained LSIF.

Kanamori et al. (2009) leave the i-th training and the i-th test point out
together, i = 1..min(n, m).  With A = c1 S_tr + c2 S_te + reg I
(c1 = (1-alpha)/(n-1), c2 = alpha/(m-1), S = Phi'Phi) the held-out system
matrix is A - U_i D U_i' with U_i = [phi_i, psi_i] and D = diag(c1, c2), a
rank-2 downdate.  Woodbury in the form
    (A - U D U')^-1 v = A^-1 v + A^-1 U (I - D U' A^-1 U)^-1 D U' A^-1 v
(valid also for alpha = 0, where D is singular) gives every held-out
solution from one b x b inverse and a 2 x 2 solve per pair: O(N b) memory,
never N x N.
"""

import torch


def lsif_loo_score(Phi_tr, Phi_te, reg, alpha):
    """Mean held-out LSIF criterion over the N = min(n, m) left-out pairs.

    The criterion on a pair is
    (1-alpha)/2 r(x_i)^2 + alpha/2 r(x'_i)^2 - r(x'_i), lower is better, with
    r(x) = max(0, phi(x)' beta_(i)) and beta_(i) = (H_(i) + reg I)^-1 h_(i)
    the held-out fit.
    """
    n, b = Phi_tr.shape
    m = Phi_te.shape[0]
    N = min(n, m)
    c1 = (1.0 - alpha) / (n - 1)
    c2 = alpha / (m - 1)
    eye = torch.eye(b, dtype=Phi_tr.dtype, device=Phi_tr.device)
    A = c1 * (Phi_tr.T @ Phi_tr) + c2 * (Phi_te.T @ Phi_te) + reg * eye
    A_inv = torch.linalg.inv(A)
    phi, psi = Phi_tr[:N], Phi_te[:N]
    P, Q = phi @ A_inv, psi @ A_inv             # rows: A^-1 phi_i, A^-1 psi_i
    g = (Phi_te.sum(0) @ A_inv - Q) / (m - 1)   # rows: A^-1 h_(i)
    pp, pq, qq = (phi * P).sum(1), (phi * Q).sum(1), (psi * Q).sum(1)
    y1, y2 = c1 * (phi * g).sum(1), c2 * (psi * g).sum(1)
    M11, M12, M21, M22 = 1 - c1 * pp, -c1 * pq, -c2 * pq, 1 - c2 * qq
    det = M11 * M22 - M12 * M21
    x1 = (y1 * M22 - M12 * y2) / det
    x2 = (M11 * y2 - M21 * y1) / det
    beta = g + x1[:, None] * P + x2[:, None] * Q
    r_tr = (phi * beta).sum(1).clamp_min(0.0)
    r_te = (psi * beta).sum(1).clamp_min(0.0)
    return float(((1 - alpha) / 2 * r_tr**2 + alpha / 2 * r_te**2 - r_te).mean())
