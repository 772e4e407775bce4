"""CFA "magnifying glass": four higher-order confirmatory factor models and their fit.

The leaderboard fits, per chunk, four lavaan models ``cfa(model, data, std.lv = TRUE)``
(conservation, openness to change, self-transcendence, self-enhancement; one factor per basic
value) and reports lavaan's standard ``fitMeasures`` CFI, TLI, SRMR and RMSEA; a failed fit
(error, non-convergence, a latent correlation >= 1) enters the leaderboard as CFI 0, SRMR 1,
RMSEA 1.

Estimator (as lavaan's defaults): ML on the sample covariance with divisor N, no mean
structure, factor variances fixed to 1, all loadings and factor covariances free, no bounds
(Heywood cases allowed), listwise deletion, lavaan's starting values (FABIN 3 / three-indicator
loadings, half the item variances, zero factor correlations). Fit-measure formulas are lavaan
0.6-14's ``lav_fit_cfi``, ``lav_fit_nnfi``, ``lav_fit_rmsea`` and ``srmr_bentler``.

How lavaan decides "converged" (0.6-14, read from its source) and how we mirror it:

* lavaan minimises F/2 with ``nlminb`` (PORT: quasi-Newton, trust region; ``iter.max`` 10000,
  ``eval.max`` 20000, ``rel.tol`` 1e-10, ``x.tol`` 1.5e-8, no bounds, a non-positive-definite
  implied covariance costs 1e20), in up to four attempts (default start; the same with
  parameters scaled by the item standard deviations; the "simple" start 0.7 / 1 / 0; both).
  It reports ``converged`` when an attempt ends with nlminb's X- or relative-function
  convergence *and* every element of the gradient of F/2 is below ``optim.dx.tol`` = 1e-3.
* Where the ML discrepancy has a minimum (proper, or improper with a negative residual
  variance), lavaan's first attempt ends there within a few dozen iterations. We reach the
  same point from lavaan's starting values: Fisher scoring when it converges within a few
  steps (well-posed fits), else a quasi-Newton (BFGS) search, which like nlminb stays in the
  starting values' basin, polished by Fisher scoring; we check the same gradient rule and
  report the point with ``improper`` set and the reason in ``note``. On the committed
  reference set (301 lavaan fits: structured, weak, near-random and uniform answers, constant
  and near-constant items, 20-200 personas, PVQ-40 and SVS-57) we make lavaan's used/failed
  decision on 204 of the 205 such fits (99.5 %) and the indices agree to ~4e-7. The solution is
  reported in the orientation of the starting values (:func:`_orient_like`), as lavaan's
  optimizer keeps it, because the original's failure rule looks at the sign of a latent
  correlation.
* On near-random answers the discrepancy often has *no* minimum: F keeps decreasing while one
  loading runs off to infinity with its residual variance to minus infinity (or a latent
  correlation runs off). nlminb then crawls along that valley for thousands of iterations and
  stops wherever rounding lets its tests fire; lavaan's verdict there is not a property of the
  data: the same answers with the personas in another order (only the last bits of S change)
  flip it between converged and not converged, and about a quarter of such fits come out
  "converged" with the fit values of the point where nlminb happened to stop. No
  re-implementation can reproduce that verdict fit by fit. We detect the run-off (standardized
  loading beyond :data:`DIVERGENCE_LOADING`, latent correlation beyond
  :data:`DIVERGENCE_CORRELATION`; at lavaan's minima in the reference set they reach at most 2.7
  and 2.5) and report non-convergence (``"diverging Heywood case"``), as lavaan does for most
  of them (74 % of the 96 such fits in the reference set). Consequence on pure noise: our
  CFA columns are those of lavaan's runs in which no such coin flip came out "converged"
  (nine uniform-noise chunks: mean CFI 0.250, where lavaan gives 0.444 or 0.167 depending on
  the order of the personas).

Why our own fitter instead of semopy (installed and used as a cross-check in the tests) or R:
semopy reports no SRMR and does not bound CFI as lavaan does; the model is small, so the ML
discrepancy, its gradient and Fisher information take a few lines; and speed matters (9 chunks
x 4 models per LLM). Measured on the shared 2-core machine: one model's 36 fits take ~0.2 s on
structured answers and ~1.2-2.2 s on uniform noise (lavaan: 2 s and several minutes); the
quasi-Newton search costs no more than the Fisher-scoring run-offs it replaced on noise.
Reference numbers from lavaan itself are in ``tests/reference/cfa_lavaan.csv``.

Why one module past ~450 lines: it is one concept, lavaan's CFA fit as the leaderboard uses it;
the model syntax, the ML estimator, lavaan's start values and convergence rule and the fit
measures are one computation whose parts must agree with lavaan together (tests compare the
whole against lavaan runs), and the length is mostly the documentation of how each lavaan choice
is mirrored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..design.instruments import Instrument
from ..design.values import HIGHER_ORDER, VALUE_CODES

__all__ = [
    "CFA_GROUPS",
    "cfa_syntax",
    "fit_cfa",
    "fit_magnifying_glass",
    "fit_measures",
]

log = logging.getLogger(__name__)

#: The four "magnifying glass" models, in the original's order.
CFA_GROUPS: tuple[str, ...] = tuple(HIGHER_ORDER)

#: lavaan's ``optim.dx.tol``: largest |gradient| of F/2 accepted at a solution.
GRADIENT_TOL: float = 1e-3

#: Standardized loading beyond which the iteration is taken to run off to infinity.
DIVERGENCE_LOADING: float = 3.0

#: |Latent correlation| beyond which the iteration is taken to run off to infinity.
DIVERGENCE_CORRELATION: float = 10.0

#: Fisher-scoring steps tried from the start before the quasi-Newton search takes over.
QUICK_SCORING_STEPS: int = 25

#: A residual variance below this fraction of the item's sample variance counts as ~0 (improper).
NEAR_ZERO_VARIANCE: float = 1e-4


def _check_group(group: str) -> tuple[str, ...]:
    try:
        return HIGHER_ORDER[group]
    except KeyError:
        raise ValueError(
            f"unknown CFA model {group!r}; models are: {', '.join(CFA_GROUPS)}"
        ) from None


def _factors(instrument: Instrument, group: str) -> list[tuple[str, tuple[int, ...]]]:
    """(factor name, item numbers) per basic value of ``group``."""
    return [(VALUE_CODES[v], tuple(instrument.key[v])) for v in _check_group(group)]


def cfa_syntax(instrument: Instrument, group: str) -> str:
    """lavaan / semopy measurement-model syntax for one higher-order group.

    Parameters
    ----------
    instrument : Instrument
        Supplies the item -> value key (``instrument.key``).
    group : str
        One of :data:`CFA_GROUPS` (``conservation``, ``openness_to_change``,
        ``self_transcendence``, ``self_enhancement``); the basic values are
        :data:`~stickrole_utils.design.values.HIGHER_ORDER` [group].

    Returns
    -------
    str
        One line ``CODE =~ itemA + itemB + ...`` per basic value (factor named by its value code),
        items named ``item<number>`` as in the original's data file.

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> print(cfa_syntax(PVQ40, "self_enhancement"))
    AC =~ item4 + item13 + item24 + item32
    PO =~ item2 + item17 + item39
    """
    return "\n".join(
        f"{name} =~ " + " + ".join(f"item{i}" for i in its)
        for name, its in _factors(instrument, group)
    )


@dataclass
class _Estimate:
    lam: np.ndarray  # (p,) loading of each item on its factor
    theta: np.ndarray  # (p,) residual variances
    phi: np.ndarray  # (m, m) factor covariance (= correlation, variances fixed to 1)
    sigma: np.ndarray  # (p, p) model-implied covariance
    fmin: float  # F_ML at the solution
    grad_max: float  # max |d(F/2)/dx|
    success: bool
    message: str
    n_iter: int


class _Model:
    """F_ML(x) = log|Sigma| + tr(S Sigma^-1) - log|S| - p, its gradient and expected Hessian.

    Parameters x = (loadings lambda (p), residual variances theta (p), factor correlations
    phi below the diagonal (m(m-1)/2)).
    """

    def __init__(self, s: np.ndarray, factor_of: np.ndarray, m: int) -> None:
        self.s = s
        self.p = s.shape[0]
        self.f = factor_of
        self.m = m
        self.tri = np.tril_indices(m, -1)
        self.logdet_s = np.linalg.slogdet(s)[1]

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, m = self.p, self.m
        lam, theta = x[:p], x[p : 2 * p]
        phi = np.eye(m)
        phi[self.tri] = x[2 * p :]
        phi[self.tri[1], self.tri[0]] = x[2 * p :]
        return lam, theta, phi

    def lmat(self, lam: np.ndarray) -> np.ndarray:
        out = np.zeros((self.p, self.m))
        out[np.arange(self.p), self.f] = lam
        return out

    def sigma(self, x: np.ndarray) -> np.ndarray:
        lam, theta, phi = self.unpack(x)
        lm = self.lmat(lam)
        return lm @ phi @ lm.T + np.diag(theta)

    def value(self, x: np.ndarray) -> float:
        """F_ML, or +inf where Sigma is not positive definite (lavaan: a huge value)."""
        try:
            c = np.linalg.cholesky(self.sigma(x))
        except np.linalg.LinAlgError:
            return np.inf
        inv_c = np.linalg.inv(c)
        logdet = 2 * np.log(np.diag(c)).sum()
        tr = np.sum((inv_c @ self.s) * inv_c)  # tr(S Sigma^-1) with Sigma^-1 = C^-T C^-1
        return float(logdet + tr - self.logdet_s - self.p)

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """F_ML and its gradient (see :meth:`derivatives`) from one Cholesky factorisation;
        (+inf, 0) where Sigma is not positive definite."""
        lam, _, phi = self.unpack(x)
        lm = self.lmat(lam)
        try:
            c = np.linalg.cholesky(lm @ phi @ lm.T + np.diag(x[self.p : 2 * self.p]))
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(x)
        inv_c = np.linalg.inv(c)
        w = inv_c.T @ inv_c
        ws = w @ self.s
        f = 2 * np.log(np.diag(c)).sum() + np.trace(ws) - self.logdet_s - self.p
        mm = w - ws @ w
        bm = (lm @ phi)[:, self.f]
        k, ll = self.tri
        grad = np.concatenate(
            [2 * np.einsum("ij,ji->i", mm, bm), np.diag(mm), 2 * (lm.T @ mm @ lm)[k, ll]]
        )
        return float(f), grad

    def derivatives(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of F_ML and its expected Hessian (Fisher information up to a factor).

        With W = Sigma^-1, M = W - W S W and Delta_k = dSigma/dx_k: g_k = tr(M Delta_k) and
        H_kl = tr(W Delta_k W Delta_l), written out per parameter block (b_i = column f_i of
        Lambda Phi, B = [b_1 .. b_p], D = W Lambda, C = Lambda' W Lambda):

        * g_lambda = 2 diag(M B), g_theta = diag(M), g_phi = 2 (Lambda' M Lambda)_kl;
        * H_ll = 2 (W o B'WB + WB o (WB)'), H_lt[i, j] = 2 W_ij (WB)_ji, H_tt = W o W,
          H_lp[i, kl] = 2 ((B'D)_ik D_il + (B'D)_il D_ik), H_tp[i, kl] = 2 D_ik D_il,
          H_pp[kl, uv] = 2 (C_lu C_kv + C_lv C_ku).
        """
        lam, theta, phi = self.unpack(x)
        lm = self.lmat(lam)
        c = np.linalg.cholesky(self.sigma(x))
        inv_c = np.linalg.inv(c)
        w = inv_c.T @ inv_c
        bm = (lm @ phi)[:, self.f]  # column i = b_i
        mm = w - w @ self.s @ w
        k, ll = self.tri
        g_lam = 2 * np.einsum("ij,ji->i", mm, bm)
        g_phi = 2 * (lm.T @ mm @ lm)[k, ll]
        grad = np.concatenate([g_lam, np.diag(mm), g_phi])
        wb = w @ bm
        dm = w @ lm
        cm = lm.T @ dm
        bd = bm.T @ dm
        h_ll = 2 * (w * (bm.T @ wb) + wb * wb.T)
        h_lt = 2 * w * wb.T
        h_tt = w * w
        h_lp = 2 * (bd[:, k] * dm[:, ll] + bd[:, ll] * dm[:, k])
        h_tp = 2 * dm[:, k] * dm[:, ll]
        h_pp = 2 * (cm[np.ix_(ll, k)] * cm[np.ix_(k, ll)] + cm[np.ix_(ll, ll)] * cm[np.ix_(k, k)])
        hess = np.block([[h_ll, h_lt, h_lp], [h_lt.T, h_tt, h_tp], [h_lp.T, h_tp.T, h_pp]])
        return grad, hess


def _one_factor_start(s: np.ndarray) -> np.ndarray:
    """Starting loadings of one factor from its items' covariances, as lavaan 0.6 computes them.

    lavaan starts each factor's loadings with Hagglund's FABIN 3 estimator (4+ indicators) or
    the closed-form three-indicator solution (3 indicators), both with loadings bounded so that
    the factor variance stays >= 10% of the first item's variance, then rescales them to a unit
    factor variance (``std.lv = TRUE``): loadings * sign(psi) * sqrt(|psi|). A negative triad
    (three indicators whose covariances multiply to a negative number) starts at 0.7 each.
    Written from the behaviour of ``lav_cfa_1fac_fabin`` / ``lav_cfa_1fac_3ind`` (not their code).
    """
    k = s.shape[0]
    lower_psi = 0.1 * s[0, 0]
    if k == 3:
        s21, s31, s32 = s[1, 0], s[2, 0], s[2, 1]
        if s21 * s31 * s32 < 0:
            return np.full(3, 0.7)
        with np.errstate(divide="ignore", invalid="ignore"):
            psi = s21 * s31 / s32
            lam = np.array([1.0, s32 / s31, s32 / s21])
        psi = min(max(psi, lower_psi), s[0, 0])
    else:
        lam = np.ones(k)
        for i in range(1, k):
            rest = [j for j in range(k) if j not in (0, i)]
            s_i3, s_31 = s[i, rest], s[rest, 0]
            try:
                w = np.linalg.solve(s[np.ix_(rest, rest)], s_31)
                lam[i] = (s_i3 @ w) / (s_31 @ w)
            except np.linalg.LinAlgError:
                lam[i] = (s_i3 @ s_31) / (s_31 @ s_31)
        bound = np.sqrt(np.diag(s)[1:] / lower_psi)
        lam[1:] = np.clip(lam[1:], -bound, bound)
        d = np.outer(lam, lam) / (lam @ lam)
        try:
            theta = np.linalg.solve(np.eye(k) - d * d, np.diag(s - d @ s @ d))
        except np.linalg.LinAlgError:
            theta = np.full(k, np.nan)
        l2 = lam @ lam
        psi = (lam @ (s - np.diag(theta)) @ lam) / (l2 * l2)
    if k == 3:
        bound = np.sqrt(np.diag(s)[1:] / lower_psi)
        lam[1:] = np.clip(lam[1:], -bound, bound)
    lam = lam * np.sign(psi) * np.sqrt(abs(psi))
    lam[~np.isfinite(lam)] = 1.0
    return lam


def _start(s: np.ndarray, factor_of: np.ndarray, m: int) -> np.ndarray:
    """lavaan's default starting values for ``cfa(model, data, std.lv = TRUE)``.

    Per-factor FABIN 3 / three-indicator loadings (:func:`_one_factor_start`), residual
    variances half the item variances, factor correlations 0.
    """
    p = s.shape[0]
    lam = np.zeros(p)
    for f in range(m):
        idx = np.flatnonzero(factor_of == f)
        lam[idx] = _one_factor_start(s[np.ix_(idx, idx)])
    return np.concatenate([lam, 0.5 * np.diag(s), np.zeros(m * (m - 1) // 2)])


def _orient_like(lam: np.ndarray, phi: np.ndarray, lam0: np.ndarray, factor_of: np.ndarray,
                 m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each factor's sign as in the starting loadings ``lam0``.

    With ``std.lv = TRUE`` a factor and its loadings can all change sign without changing the
    implied covariance, so the fit indices do not depend on it -- but the original's failure
    rule does: it rejects a latent correlation >= +1 and accepts one <= -1. lavaan's optimizer
    keeps the orientation of its starting values, so the solution is reported in that
    orientation here too (flipping factor k negates its loadings and its correlations).
    """
    sign = np.ones(m)
    for f in range(m):
        idx = factor_of == f
        if float(lam[idx] @ lam0[idx]) < 0:
            sign[f] = -1.0
    return lam * sign[factor_of], phi * np.outer(sign, sign)


def _diverging(model: _Model, x: np.ndarray, sd: np.ndarray, it: int) -> str:
    """Why ``x`` looks like a run-off to infinity (empty when it does not)."""
    std_load = np.abs(x[: model.p]) / sd
    if std_load.max() > DIVERGENCE_LOADING:
        return (
            f"diverging Heywood case: standardized loading {std_load.max():.3g} and "
            f"residual variance {x[model.p : 2 * model.p].min():.3g} still growing "
            f"after {it} iterations (no ML minimum)"
        )
    off = np.abs(x[2 * model.p :])
    if off.size and off.max() > DIVERGENCE_CORRELATION:
        return (
            f"diverging Heywood case (improper latent correlation matrix): latent "
            f"correlation {off.max():.3g} still growing after {it} iterations (no ML minimum)"
        )
    return ""


def _score(
    model: _Model, x: np.ndarray, sd: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, float, bool, str, int]:
    """Fisher scoring with step halving from ``x``: (x, F, success, message, iterations)."""
    fval = model.value(x)
    success, message, it = False, f"no stationary point after {max_iter} iterations", 0
    for it in range(1, max_iter + 1):  # noqa: B007 (reported)
        grad, hess = model.derivatives(x)
        gmax = np.abs(grad).max() / 2
        if gmax < tol:
            success, message = True, "converged"
            break
        message = _diverging(model, x, sd, it)
        if message:
            break
        ridge = 1e-10 * max(1.0, float(np.abs(np.diag(hess)).max()))
        try:
            step = np.linalg.solve(hess + ridge * np.eye(len(x)), grad)
        except np.linalg.LinAlgError:
            step = grad
        t, improved, fc = 1.0, False, fval
        for _ in range(40):
            cand = x - t * step
            fc = model.value(cand)
            if fc <= fval:
                improved = True
                break
            t /= 2
        if not improved:
            # No descent along the scoring direction: stationary up to rounding, or stuck.
            success = gmax < 1e-6
            message = "converged (no further decrease)" if success else "line search failed"
            break
        df_rel = (fval - fc) / max(1.0, abs(fval))
        x, fval = cand, fc
        if df_rel < 1e-15 and gmax < 1e-6:
            success, message = True, "converged (relative change)"
            break
    return x, fval, success, message, it


class _RunOff(Exception):
    pass


def _quasi_newton(
    model: _Model, x0: np.ndarray, sd: np.ndarray, max_iter: int
) -> tuple[np.ndarray | None, str]:
    """BFGS on F/2 from ``x0``, stopped as soon as it runs off: (end point or None, why).

    Why BFGS first and not Fisher scoring alone: lavaan's nlminb is a quasi-Newton method
    whose first steps are short (trust region of radius 1), so it stays in the basin of the
    starting values. On near-random answers a full Fisher-scoring step from the same start can
    overshoot that basin into a run-off valley: on the reference set, scoring alone missed 8
    of the 205 fits where lavaan reaches a minimum within a few dozen iterations (standardized
    loadings <= 1.2 there). PORT's nlminb is not in scipy; scipy's BFGS is the well-kept
    quasi-Newton method that follows the same basin, and it notices a run-off in fewer
    steps than scoring (measured: the 301 reference fits in 11 s instead of 18 s).
    """
    from scipy.optimize import minimize

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = model.value_and_gradient(x)
        # lavaan's objective is F/2, and a huge value where Sigma is not PD
        return (v / 2, g / 2) if np.isfinite(v) else (1e20, g)

    state = {"it": 0, "why": ""}

    def stop_on_run_off(x: np.ndarray) -> None:
        state["it"] += 1
        state["why"] = _diverging(model, x, sd, state["it"])
        if state["why"]:
            raise _RunOff

    try:
        res = minimize(fun, x0, jac=True, method="BFGS", callback=stop_on_run_off,
                       options={"gtol": 1e-6, "maxiter": max_iter})
    except _RunOff:
        return None, state["why"]
    why = _diverging(model, res.x, sd, state["it"])
    if why:
        return None, why
    if not np.isfinite(model.value(res.x)):
        return None, "quasi-Newton search ended where the implied covariance is not positive definite"
    return res.x, ""


def _fit_ml(
    s: np.ndarray,
    factor_of: np.ndarray,
    m: int,
    max_iter: int = 500,
    tol: float = 1e-9,
) -> _Estimate:
    """Fisher scoring from :func:`_start`; if it does not converge in a few steps, a
    quasi-Newton search from the same start, then Fisher scoring to polish its end point.

    The quasi-Newton search (:func:`_quasi_newton`) moves like lavaan's optimizer and stops
    on a run-off: a standardized loading |lambda_i| / sd_i above :data:`DIVERGENCE_LOADING`
    or a latent correlation beyond :data:`DIVERGENCE_CORRELATION` - the ML discrepancy has no
    minimum in that basin and the iteration runs off to infinity (a loading growing while its
    residual variance goes to minus infinity, or correlations growing while a factor's
    loadings shrink), which is what random answers often produce; lavaan then stops wherever
    nlminb gives up and calls that converged or not depending on rounding (see the module
    docstring). Fisher scoring with step halving (the classic SEM algorithm) then converges
    quadratically to the minimum: converged when the largest |gradient element| of F/2 is
    below ``tol`` (or F stops decreasing with the gradient below 1e-6).
    """
    model = _Model(s, factor_of, m)
    sd = np.sqrt(np.diag(s))
    x0 = _start(s, factor_of, m)
    if not np.isfinite(model.value(x0)):
        raise ValueError("starting values give a non-positive-definite implied covariance")
    # Well-posed fits (structured answers) converge in < 10 scoring steps from lavaan's start;
    # the rest go the quasi-Newton way lavaan goes (a few dozen scoring steps cannot overshoot
    # far, and where they would run off, the quasi-Newton search restarts from x0).
    x, fval, success, message, it = _score(model, x0, sd, QUICK_SCORING_STEPS, tol)
    if not success:
        x_qn, why = _quasi_newton(model, x0, sd, 4 * max_iter)
        if x_qn is None:
            x, fval, success, message, it = x0, model.value(x0), False, why, 0
        else:
            x, fval, success, message, it = _score(model, x_qn, sd, max_iter, tol)
    grad, _ = model.derivatives(x)
    lam, theta, phi = model.unpack(x)
    lam, phi = _orient_like(lam, phi, x0[: model.p], factor_of, m)
    return _Estimate(
        lam=lam,
        theta=theta,
        phi=phi,
        sigma=model.sigma(x),
        fmin=fval,
        grad_max=float(np.abs(grad).max() / 2),
        success=success,
        message=message,
        n_iter=it,
    )


def fit_measures(
    s: np.ndarray, sigma: np.ndarray, fmin: float, n: int, n_free: int
) -> dict[str, float]:
    """lavaan's standard (non-robust) fit measures from an ML solution.

    Parameters
    ----------
    s : numpy.ndarray
        Sample covariance matrix with divisor N (p x p).
    sigma : numpy.ndarray
        Model-implied covariance at the solution.
    fmin : float
        :math:`F_{ML} = \\log|\\Sigma| + \\operatorname{tr}(S\\Sigma^{-1}) - \\log|S| - p` at the
        solution.
    n : int
        Number of observations N.
    n_free : int
        Number of free parameters q.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``baseline_chi2``, ``baseline_df``, ``cfi``, ``tli``, ``rmsea``,
        ``srmr``.

    Notes
    -----
    As lavaan 0.6-14 (``lav_fit_cfi``, ``lav_fit_nnfi``, ``lav_fit_rmsea``, ``srmr_bentler``):

    * :math:`\\chi^2 = N F_{ML}`, :math:`df = p(p+1)/2 - q`;
    * baseline (independence, free variances):
      :math:`\\chi^2_0 = N(\\sum_i \\log s_{ii} - \\log|S|)`, :math:`df_0 = p(p-1)/2`;
    * :math:`CFI = 1 - \\max(\\chi^2-df, 0) / \\max(\\chi^2-df, \\chi^2_0-df_0, 0)`, 1 when both
      are 0 (bounded to [0, 1]);
    * :math:`TLI = 1 - \\frac{(\\chi^2-df)\\,df_0}{(\\chi^2_0-df_0)\\,df}` (unbounded; 1 when
      df = 0 or the denominator is 0);
    * :math:`RMSEA = \\sqrt{\\max(\\chi^2/(N\\,df) - 1/N, 0)}` (0 when df = 0);
    * :math:`SRMR = \\sqrt{\\operatorname{mean}_{i \\le j}
      \\big((s_{ij} - \\sigma_{ij}) / \\sqrt{s_{ii} s_{jj}}\\big)^2}` (Bentler, no mean
      structure; the mean runs over the p(p+1)/2 elements including the diagonal).

    Examples
    --------
    >>> s = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> fm = fit_measures(s, s, 0.0, 100, 3)
    >>> fm["cfi"], fm["rmsea"], fm["srmr"]
    (1.0, 0.0, 0.0)
    """
    p = s.shape[0]
    chi2 = n * fmin
    df = p * (p + 1) / 2 - n_free
    logdet_s = np.linalg.slogdet(s)[1]
    chi2_0 = n * (np.log(np.diag(s)).sum() - logdet_s)
    df_0 = p * (p - 1) / 2
    t1 = max(chi2 - df, 0.0)
    t2 = max(chi2 - df, chi2_0 - df_0, 0.0)
    # lavaan: isTRUE(all.equal(t, 0)) is |t| < 1.5e-8 for a zero target
    cfi = 1.0 if (abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8) else 1.0 - t1 / t2
    u1 = (chi2 - df) * df_0
    u2 = (chi2_0 - df_0) * df
    tli = 1.0 - u1 / u2 if (df > 0 and abs(u2) > 0) else 1.0
    rmsea = float(np.sqrt(max(chi2 / n / df - 1.0 / n, 0.0))) if df > 0 else 0.0
    sd = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(sd, sd)
    srmr = float(np.sqrt(np.mean(resid[np.tril_indices(p)] ** 2)))
    return {
        "chi2": float(chi2),
        "df": float(df),
        "baseline_chi2": float(chi2_0),
        "baseline_df": float(df_0),
        "cfi": float(cfi),
        "tli": float(tli),
        "rmsea": rmsea,
        "srmr": srmr,
    }


def _result(syntax: str, n: int, df: float, note: str, **fit: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cfi": np.nan,
        "tli": np.nan,
        "srmr": np.nan,
        "rmsea": np.nan,
        "chi2": np.nan,
        "df": df,
        "n": n,
        "converged": False,
        "improper": False,
        "note": note,
        "syntax": syntax,
    }
    out.update(fit)
    return out


def fit_cfa(items: pd.DataFrame, instrument: Instrument, group: str) -> dict[str, Any]:
    """Fit one "magnifying glass" CFA model by ML, as lavaan ``cfa(model, data, std.lv=TRUE)``.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (one row per persona, columns = 1-based item numbers). Rows with a
        missing answer on the model's items are dropped (listwise deletion).
    instrument : Instrument
        PVQ40 or SVS57.
    group : str
        One of :data:`CFA_GROUPS`.

    Returns
    -------
    dict
        ``cfi``, ``tli``, ``srmr``, ``rmsea``, ``chi2`` (float; NaN on failure), ``df``,
        ``n`` (complete cases), ``converged`` (bool), ``improper`` (bool), ``note`` (why it
        failed, or what is improper; empty when clean), ``syntax`` (lavaan syntax fitted).

    Notes
    -----
    Model: :math:`\\Sigma = \\Lambda \\Phi \\Lambda^\\top + \\Theta`, one free loading per
    item, :math:`\\operatorname{diag}\\Phi = 1`, free factor correlations, diagonal
    :math:`\\Theta`; minimises :math:`F_{ML}` (see :func:`fit_measures`) on
    :math:`S = \\frac{1}{N}\\sum (x-\\bar x)(x-\\bar x)^\\top`. Failure (fit values NaN,
    ``converged=False``): fewer than 2 complete cases, a zero-variance item or a singular
    S (lavaan stops with an error), optimizer failure or a gradient element of F/2 above
    1e-3 at the end (lavaan's non-convergence; typical of a Heywood case running off to
    infinity on noise), or a latent correlation >= 1 (the original's failure rule).
    Improper but kept (``improper=True``): a negative or ~0 residual variance, a latent
    correlation <= -1, or a non-positive-definite latent correlation matrix.

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(200, 2))
    >>> f[:, 1] = 0.6 * f[:, 0] + 0.8 * f[:, 1]  # Achievement and Power correlate 0.6
    >>> x = pd.DataFrame(rng.normal(size=(200, 40)), columns=range(1, 41))
    >>> for i in PVQ40.key["Achievement"]:
    ...     x[i] += f[:, 0]
    >>> for i in PVQ40.key["Power"]:
    ...     x[i] += f[:, 1]
    >>> res = fit_cfa(x, PVQ40, "self_enhancement")
    >>> res["converged"], res["df"], round(res["cfi"], 2)
    (True, 13.0, 1.0)
    """
    factors = _factors(instrument, group)
    syntax = cfa_syntax(instrument, group)
    cols = [i for _, its in factors for i in its]
    factor_of = np.array([k for k, (_, its) in enumerate(factors) for _ in its])
    m, p = len(factors), len(cols)
    n_free = 2 * p + m * (m - 1) // 2
    df = p * (p + 1) / 2 - n_free
    try:
        data = items.reindex(columns=cols).astype(float).dropna(axis=0, how="any").to_numpy()
    except (TypeError, ValueError) as exc:
        return _result(syntax, 0, df, f"answers are not numeric: {exc}")
    n = data.shape[0]
    if n < 2:
        return _result(syntax, n, df, f"{n} complete case(s); need at least 2")
    s = np.cov(data, rowvar=False, bias=True)
    var = np.diag(s)
    const = [cols[i] for i in np.flatnonzero(var <= 1e-12 * max(1.0, float(var.max())))]
    if const:
        return _result(syntax, n, df, f"zero-variance item(s) {const} (lavaan stops with an error)")
    if np.linalg.eigvalsh(s / np.sqrt(np.outer(var, var))).min() <= 1e-10:
        return _result(syntax, n, df, "sample covariance matrix is not positive definite")
    try:
        est = _fit_ml(s, factor_of, m)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        return _result(syntax, n, df, f"ML fit raised {type(exc).__name__}: {exc}")
    if not est.success:
        return _result(syntax, n, df, f"not converged: {est.message}")
    if est.grad_max > GRADIENT_TOL:
        return _result(
            syntax,
            n,
            df,
            f"no proper minimum: gradient {est.grad_max:.2g} > {GRADIENT_TOL} at the end "
            f"(max |loading| {np.abs(est.lam).max():.3g}); lavaan reports non-convergence",
        )
    off = est.phi[np.tril_indices(m, -1)]
    if off.size and off.max() >= 1:
        return _result(
            syntax, n, df, f"latent correlation {off.max():.4f} >= 1 (the original's failure rule)"
        )
    problems = []
    neg = [cols[i] for i in np.flatnonzero(est.theta < 0)]
    tiny = [
        cols[i] for i in np.flatnonzero((est.theta >= 0) & (est.theta < NEAR_ZERO_VARIANCE * var))
    ]
    if neg:
        problems.append(f"negative residual variance for item(s) {neg}")
    if tiny:
        problems.append(f"~0 residual variance for item(s) {tiny}")
    if off.size and off.min() <= -1:
        problems.append(f"latent correlation {off.min():.4f} <= -1")
    elif m > 1 and np.linalg.eigvalsh(est.phi).min() <= 0:
        problems.append("latent correlation matrix is not positive definite")
    fm = fit_measures(s, est.sigma, est.fmin, n, n_free)
    return _result(
        syntax,
        n,
        fm["df"],
        "; ".join(problems),
        converged=True,
        improper=bool(problems),
        chi2=fm["chi2"],
        cfi=fm["cfi"],
        tli=fm["tli"],
        srmr=fm["srmr"],
        rmsea=fm["rmsea"],
    )


def fit_magnifying_glass(items: pd.DataFrame, instrument: Instrument) -> dict[str, dict[str, Any]]:
    """Fit the four higher-order CFA models of one chunk.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (see :func:`fit_cfa`).
    instrument : Instrument
        PVQ40 or SVS57.

    Returns
    -------
    dict
        group -> :func:`fit_cfa` result, for every group of :data:`CFA_GROUPS` in order.
    """
    return {g: fit_cfa(items, instrument, g) for g in CFA_GROUPS}
