"""Compiled kernels of the ML discrepancy of one CFA model: F/2 and its gradient.

Why compiled: on near-random answers lavaan's optimizer (and ours, which follows it step for
step) runs hundreds of iterations per fit; with numpy on matrices of 6-16 items, call overhead
(not arithmetic) made F/2 cost ~22 us and its gradient ~12 us, two thirds of the time of the
random baseline's 36 fits. These loops compute the same quantities in ~2 us. Numba compiles
them on first use and caches the machine code beside this file (``cache=True``).

Model: Sigma = Lambda Phi Lambda' + Theta, one loading per item (item i on factor f[i]),
diag Phi = 1. Parameters x = (loadings (p), residual variances (p), correlations (pairs)).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["sigma_and_phi", "inverse_logdet", "ml_value", "ml_gradient", "gradient", "bfgs_update",
           "rel_dist", "abs_max", "symv", "dot", "PD_EIGEN", "HUGE"]

#: lavaan treats Sigma as not positive definite below this eigenvalue (sqrt of machine eps).
PD_EIGEN = float(np.sqrt(np.finfo(float).eps))

#: what lavaan's objective returns where Sigma is not positive definite
HUGE = 1e20

LOG2 = math.log(2.0)

# Plain loops, no BLAS: the optimizer's arithmetic is the same on every CPU (a BLAS picks kernels
# by CPU, and near-random fits are sensitive to the last bits; the sample covariance and the
# starting values still come from numpy, see docs/performance.md). Every sum is taken in one fixed order (no
# reassociation), but the loops are ordered so that the innermost one runs over independent
# sums: the CPU overlaps them instead of waiting on one chain of additions (about 3x faster).


@njit(cache=True)
def symv(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """a @ v for a symmetric a (read by rows: a[j, i] = a[i, j])."""
    n = a.shape[0]
    out = np.zeros(n)
    for j in range(n):  # each out[i] sums its terms in j order; the i are independent
        vj = v[j]
        row = a[j]
        for i in range(n):
            out[i] += row[i] * vj
    return out


@njit(cache=True)
def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b."""
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m))
    for i in range(n):
        for q in range(k):  # each out[i, j] sums its terms in q order; the j are independent
            aiq = a[i, q]
            for j in range(m):
                out[i, j] += aiq * b[q, j]
    return out


@njit(cache=True)
def sigma_and_phi(x: np.ndarray, e: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(phi(f_i, f_j) for every item pair, Sigma); ``e[i, j]`` indexes (1, r_1, r_2, ...)."""
    ph = np.empty((p, p))
    sig = np.empty((p, p))
    for i in range(p):
        for j in range(p):
            k = e[i, j]
            v = 1.0 if k == 0 else x[2 * p + k - 1]
            ph[i, j] = v
            sig[i, j] = v * x[i] * x[j]
        sig[i, i] += x[p + i]
    return ph, sig


@njit(cache=True)
def inverse_logdet(sig: np.ndarray) -> tuple[bool, np.ndarray, float, float]:
    """Cholesky L of Sigma, then (ok, Sigma^-1 = L^-T L^-1, log|Sigma|, tr(Sigma^-1)).

    ok is False where the factorisation meets a non-positive pivot (Sigma not positive
    definite); the caller then applies lavaan's rule.
    """
    p = sig.shape[0]
    el = np.zeros((p, p))
    u = np.zeros((p, p))  # L', so that a column of L is a (contiguous) row here
    a = sig.copy()
    # log|Sigma| = log of the product of the pivots, kept as mantissa and exponent (one log
    # instead of p: the logarithm costs as much as the rest of a small factorisation)
    mant = 1.0
    expo = 0
    for j in range(p):  # right-looking: column j, then its terms off the trailing block
        d2 = a[j, j]
        if not d2 > 0.0:
            return False, el, 0.0, 0.0
        mant, e2 = math.frexp(mant * d2)
        expo += e2
        d = np.sqrt(d2)
        el[j, j] = d
        u[j, j] = d
        rd = 1.0 / d
        uj = u[j]
        for i in range(j + 1, p):
            v = a[i, j] * rd
            el[i, j] = v
            uj[i] = v
        for i in range(j + 1, p):
            lij = uj[i]
            ai = a[i]
            for k in range(j + 1, i + 1):
                ai[k] -= lij * uj[k]
    # inverse of the lower triangle, row by row (forward substitution)
    li = np.zeros((p, p))
    acc = np.zeros(p)
    for i in range(p):
        for j in range(i):
            acc[j] = 0.0
        for k in range(i):
            e = el[i, k]
            lk = li[k]
            for j in range(k + 1):
                acc[j] -= e * lk[j]
        rd = 1.0 / el[i, i]
        for j in range(i):
            li[i, j] = acc[j] * rd
        li[i, i] = rd
    w = np.zeros((p, p))
    for i in range(p):
        wi = w[i]
        for k in range(i, p):  # (L^-T L^-1)_ij = sum_k li[k, i] li[k, j], k >= max(i, j)
            lk = li[k]
            lki = lk[i]
            for j in range(i + 1):
                wi[j] += lki * lk[j]
    tr = 0.0
    for i in range(p):
        for j in range(i):
            w[j, i] = w[i, j]
        tr += w[i, i]
    logdet = math.log(mant) + expo * LOG2
    return True, w, logdet, tr


@njit(cache=True)
def ml_value(x: np.ndarray, e: np.ndarray, s: np.ndarray, logdet_s: float
             ) -> tuple[bool, float, np.ndarray, np.ndarray]:
    """lavaan's objective F/2 = (log|Sigma| + tr(S Sigma^-1) - log|S| - p) / 2, clamped at 0, and
    1e20 where lavaan calls Sigma not positive definite (an eigenvalue below PD_EIGEN).

    Returns (Sigma positive definite, F/2, Sigma^-1, phi(f_i, f_j)); Sigma^-1 is meaningless
    where Sigma is not positive definite.
    """
    p = s.shape[0]
    ph, sig = sigma_and_phi(x, e, p)
    ok, w, logdet, tr = inverse_logdet(sig)
    # the eigenvalues of Sigma are >= 1/tr(Sigma^-1) and the smallest is <= p/tr(Sigma^-1)
    if ok and 1.0 / tr < PD_EIGEN:
        if p / tr < PD_EIGEN or np.linalg.eigvalsh(sig)[0] < PD_EIGEN:
            ok = False
    if not ok:
        return False, HUGE, w, ph
    fx = logdet + dot(w, s) - logdet_s - p
    return True, 0.5 * fx if fx > 0 else 0.0, w, ph


@njit(cache=True)
def ml_gradient(x: np.ndarray, e: np.ndarray, s: np.ndarray, f: np.ndarray, m: int,
                pk: np.ndarray, pl: np.ndarray) -> np.ndarray:
    """Gradient of F/2 at x (see :func:`gradient`); where Sigma is not positive definite lavaan
    uses a generalised inverse (never on nlminb's path: such points are never accepted)."""
    ok, _, w, ph = ml_value(x, e, s, 0.0)
    if not ok:
        w = np.linalg.pinv(sigma_and_phi(x, e, s.shape[0])[1])
    return gradient(x, w, ph, s, f, m, pk, pl)


@njit(cache=True)
def gradient(x: np.ndarray, w: np.ndarray, ph: np.ndarray, s: np.ndarray, f: np.ndarray, m: int,
             pk: np.ndarray, pl: np.ndarray) -> np.ndarray:
    """Gradient of F/2: with M = W - W S W, d/dlambda = (M o Phi) lambda, d/dtheta_i = M_ii / 2,
    d/dphi_kl = sum over items i of factor k, j of factor l of lambda_i M_ij lambda_j."""
    p = w.shape[0]
    ws = matmul(w, s)
    mm = np.empty((p, p))
    acc = np.empty(p)
    for i in range(p):  # M = W - (W S) W, symmetric: the lower triangle, then its mirror
        wsi = ws[i]
        acc[:] = 0.0
        for q in range(p):
            c = wsi[q]
            wq = w[q]
            for j in range(i + 1):
                acc[j] += c * wq[j]
        for j in range(i + 1):
            mm[i, j] = w[i, j] - acc[j]
            mm[j, i] = mm[i, j]
    a = np.zeros((m, m))
    out = np.empty(2 * p + pk.shape[0])
    for i in range(p):
        g = 0.0
        for j in range(p):
            g += mm[i, j] * ph[i, j] * x[j]
            a[f[i], f[j]] += x[i] * mm[i, j] * x[j]
        out[i] = g
        out[p + i] = 0.5 * mm[i, i]
    for q in range(pk.shape[0]):
        out[2 * p + q] = a[pk[q], pl[q]]
    return out


@njit(cache=True)
def bfgs_update(hmat: np.ndarray, bmat: np.ndarray, step: np.ndarray, y: np.ndarray,
                hs: np.ndarray, damp: float) -> None:
    """BFGS update, in place, of H and of its inverse B (both kept whole and symmetric), with y
    damped to y's >= damp s'Hs (PORT's rule, which keeps H positive definite); ``hs`` = H s."""
    n = step.shape[0]
    shs = 0.0
    ys = 0.0
    for i in range(n):
        shs += step[i] * hs[i]
        ys += y[i] * step[i]
    if ys < damp * shs:
        theta = (1.0 - damp) * shs / (shs - ys)
        y = theta * y + (1.0 - theta) * hs
        ys = damp * shs
    by = symv(bmat, y)
    rho = 1.0 / ys
    yby = 0.0
    for i in range(n):
        yby += y[i] * by[i]
    c = (1.0 + rho * yby) * rho
    rys = 1.0 / ys
    rshs = 1.0 / shs
    for i in range(n):  # each term is symmetric in (i, j) to the last bit
        yi, hi, si, bi = y[i], hs[i], step[i], by[i]
        hrow = hmat[i]
        for j in range(n):
            hrow[j] += (yi * y[j]) * rys - (hi * hs[j]) * rshs
        brow = bmat[i]
        for j in range(n):
            brow[j] += c * (si * step[j]) - rho * (si * by[j] + bi * step[j])


@njit(cache=True)
def rel_dist(d: np.ndarray, x: np.ndarray, x0: np.ndarray) -> float:
    """nlminb's relative step max d|x - x0| / max d(|x| + |x0|) (0 where the denominator is)."""
    num = 0.0
    den = 0.0
    for i in range(x.shape[0]):
        a = d[i] * abs(x[i] - x0[i])
        b = d[i] * (abs(x[i]) + abs(x0[i]))
        if a > num:
            num = a
        if b > den:
            den = b
    return num / den if den > 0 else 0.0


@njit(cache=True)
def abs_max(v: np.ndarray) -> float:
    """max |v_i|."""
    out = 0.0
    for i in range(v.shape[0]):
        a = abs(v[i])
        if a > out:
            out = a
    return out


@njit(cache=True)
def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of a_i b_i over every element (vectors or matrices of one shape)."""
    fa = a.ravel()
    fb = b.ravel()
    t = 0.0
    for i in range(fa.shape[0]):
        t += fa[i] * fb[i]
    return t
