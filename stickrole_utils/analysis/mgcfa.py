"""Multi-group confirmatory factor analysis by maximum likelihood, with equality constraints
across groups: the estimator behind measurement invariance (:mod:`.invariance`) and McDonald's
omega (:mod:`.reliability`).

Why a module of its own beside :mod:`.cfa`: that one mirrors lavaan's single-group fit as the
leaderboard uses it (start values, optimizer and convergence verdicts) and is being rewritten;
invariance needs a mean structure, several groups and parameters shared between groups, which
semopy does not offer with lavaan's multi-group fit measures. The model is lavaan's
``cfa(model, data, group = ..., std.lv = TRUE, group.equal = ...)``:

.. math::
    \\mu_g = \\nu_g + \\Lambda_g \\alpha_g, \\qquad
    \\Sigma_g = \\Lambda_g \\Phi_g \\Lambda_g^\\top + \\Theta_g,

minimising :math:`F = \\sum_g \\frac{N_g}{N}\\big(\\log|\\Sigma_g| + \\operatorname{tr}(S_g
\\Sigma_g^{-1}) - \\log|S_g| - p + (\\bar x_g - \\mu_g)^\\top \\Sigma_g^{-1} (\\bar x_g -
\\mu_g)\\big)` (covariances with divisor :math:`N_g`), :math:`\\chi^2 = N F`. Parameters are
indices into one vector, so a parameter shared by several groups (or matrix cells) is an
equality constraint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

__all__ = ["GroupSpec", "MGFit", "fit_multigroup", "fit_indices"]


@dataclass
class GroupSpec:
    """One group's model matrices as parameter indices (-1: fixed at the value in ``fixed``).

    Attributes
    ----------
    lam : (p, m) int array
        Loadings.
    phi : (m, m) int array
        Latent covariances (symmetric; the same index in both triangles).
    theta : (p, p) int array
        Residual covariances (diagonal, plus any correlated residuals; symmetric).
    nu : (p,) int array
        Intercepts.
    alpha : (m,) int array
        Latent means.
    fixed : dict
        Matrix name -> array of fixed values where the index is -1 (default: identity for
        ``phi``, zeros elsewhere).
    """

    lam: np.ndarray
    phi: np.ndarray
    theta: np.ndarray
    nu: np.ndarray
    alpha: np.ndarray
    fixed: dict[str, np.ndarray] = field(default_factory=dict)

    def value(self, name: str, x: np.ndarray) -> np.ndarray:
        idx = getattr(self, name)
        base = self.fixed.get(name)
        if base is None:
            base = np.eye(idx.shape[0]) if name == "phi" else np.zeros(idx.shape)
        out = np.array(base, dtype=float)
        free = idx >= 0
        out[free] = x[idx[free]]
        return out


@dataclass
class MGFit:
    """A fitted multi-group model."""

    x: np.ndarray
    fmin: float
    chi2: float
    df: float
    n_free: int
    converged: bool
    message: str
    groups: list[GroupSpec]
    matrices: list[dict[str, np.ndarray]]


def _moments(data: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, int]]:
    return [(d.mean(axis=0), np.cov(d, rowvar=False, bias=True), d.shape[0]) for d in data]


def _objective(x, groups, moments, n_total, want_grad=True):
    f = 0.0
    grad = np.zeros_like(x)
    for spec, (xbar, s, n) in zip(groups, moments, strict=True):
        lam, phi, theta = spec.value("lam", x), spec.value("phi", x), spec.value("theta", x)
        nu, alpha = spec.value("nu", x), spec.value("alpha", x)
        sigma = lam @ phi @ lam.T + theta
        mu = nu + lam @ alpha
        try:
            c = np.linalg.cholesky(sigma)
        except np.linalg.LinAlgError:
            return (1e20, grad) if want_grad else 1e20
        inv = np.linalg.inv(sigma)
        d = xbar - mu
        logdet = 2 * np.log(np.diag(c)).sum()
        w = n / n_total
        p = len(xbar)
        f += w * (logdet + np.trace(s @ inv) - np.linalg.slogdet(s)[1] - p + d @ inv @ d)
        if not want_grad:
            continue
        g_sigma = w * (inv - inv @ (s + np.outer(d, d)) @ inv)  # dF/dSigma (symmetric)
        g_mu = -2 * w * (inv @ d)
        g_lam = 2 * g_sigma @ lam @ phi + np.outer(g_mu, alpha)
        g_phi = lam.T @ g_sigma @ lam
        g_phi = 2 * g_phi - np.diag(np.diag(g_phi))  # one parameter per symmetric pair
        g_theta = 2 * g_sigma - np.diag(np.diag(g_sigma))
        for name, g in (("lam", g_lam), ("nu", g_mu), ("alpha", lam.T @ g_mu)):
            idx = getattr(spec, name)
            free = idx >= 0
            np.add.at(grad, idx[free], g[free])
        for name, g in (("phi", g_phi), ("theta", g_theta)):
            idx = np.triu(getattr(spec, name) + 1) - 1  # upper triangle once
            free = idx >= 0
            np.add.at(grad, idx[free], g[free])
    return (f, grad) if want_grad else f


def fit_indices(chi2: float, df: float, chi2_0: float, df_0: float, n: int,
                n_groups: int = 1) -> dict[str, float]:
    """CFI, TLI and RMSEA as lavaan 0.6 computes them for one or several groups.

    :math:`CFI = 1 - \\max(\\chi^2 - df, 0)/\\max(\\chi^2 - df, \\chi^2_0 - df_0, 0)`;
    :math:`RMSEA = \\sqrt{G}\\sqrt{\\max(\\chi^2/(N\\,df) - 1/N, 0)}` (lavaan's multi-group
    RMSEA, Steiger 1998); TLI as :func:`~stickrole_utils.analysis.cfa.fit_measures`.

    >>> round(fit_indices(120.0, 100.0, 1000.0, 120.0, 300)["cfi"], 4)
    0.9773
    """
    t1 = max(chi2 - df, 0.0)
    t2 = max(chi2 - df, chi2_0 - df_0, 0.0)
    cfi = 1.0 if t2 == 0 else 1.0 - t1 / t2
    tli = 1.0 - ((chi2 - df) * df_0) / ((chi2_0 - df_0) * df) if df > 0 else 1.0
    rmsea = float(np.sqrt(n_groups) * np.sqrt(max(chi2 / (n * df) - 1.0 / n, 0.0))) \
        if df > 0 else 0.0
    return {"cfi": float(cfi), "tli": float(tli), "rmsea": rmsea}


def fit_multigroup(data: list[np.ndarray], groups: list[GroupSpec], start: np.ndarray, *,
                   max_iter: int = 2000, restarts: int = 4) -> MGFit:
    """Fit ``groups`` (one :class:`GroupSpec` per data set) by ML from ``start``.

    Parameters
    ----------
    data : list of (N_g, p) arrays
        Complete cases of each group.
    groups : list of GroupSpec
        The model of each group; indices into one parameter vector.
    start : array
        Starting values of the parameter vector.

    max_iter : int
        Iterations of one quasi-Newton search.
    restarts : int
        Searches at most (each from where the last stopped): on answers without a factor
        structure (random answering) the likelihood has no interior minimum and the search
        would go on; lavaan stops there too and reports no convergence.

    Returns
    -------
    MGFit
        ``converged`` when the quasi-Newton (BFGS) search ended with every gradient element
        of :math:`F/2` below 1e-3 (lavaan's check).
    """
    moments = _moments(data)
    n_total = sum(n for *_, n in moments)
    # BFGS (scipy's line search backs off the 1e20 of a non-positive-definite Sigma, where
    # L-BFGS-B stops); converged or not is judged by the gradient below, as lavaan does
    args = (groups, moments, n_total)

    def bfgs(x: np.ndarray):
        for _ in range(restarts):  # a restart drops a stale Hessian ("precision loss")
            res = minimize(_objective, x, args=args, jac=True, method="BFGS",
                           options={"maxiter": max_iter, "gtol": 1e-9})
            f, g = _objective(res.x, *args)
            moved = np.abs(res.x - x).max()
            x = res.x
            if np.abs(g / 2).max() < 1e-6 or moved < 1e-12:
                break
        return res, f, g

    # the matrices are tiny: BLAS threads only contend (6x slower on a loaded 2-core machine)
    with threadpool_limits(1):
        res, f, g = bfgs(np.asarray(start, dtype=float))
        if not np.abs(g / 2).max() < 1e-3:
            # BFGS can stall far from the minimum when its line search meets a Sigma that is
            # not positive definite (the 1e20 wall) again and again; a truncated Newton
            # search from the start, polished by BFGS, gets past it (seen on 60 personas)
            tnc = minimize(_objective, np.asarray(start, dtype=float), args=args, jac=True,
                           method="TNC", options={"maxfun": 20 * max_iter})
            other = bfgs(tnc.x)
            if other[1] < f:
                res, f, g = other
    p = data[0].shape[1]
    moments_count = len(data) * (p * (p + 1) / 2 + p)
    n_free = len(start)
    converged = bool(np.isfinite(f) and f < 1e19 and np.abs(g / 2).max() < 1e-3)
    mats = [{name: spec.value(name, res.x) for name in ("lam", "phi", "theta", "nu", "alpha")}
            for spec in groups]
    return MGFit(x=res.x, fmin=float(f), chi2=float(n_total * f), df=moments_count - n_free,
                 n_free=n_free, converged=converged, message=str(res.message), groups=groups,
                 matrices=mats)
