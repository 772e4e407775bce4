"""lavaan's ML estimation of one CFA model: discrepancy, gradient, starting values, attempts.

Written from the behaviour of lavaan 0.6-14 (``cfa(model, data, std.lv = TRUE)``), not from its
code. What it does and how we mirror it:

* The objective is F/2 with F = log|Sigma| + tr(S Sigma^-1) - log|S| - p (S with divisor N),
  clamped at 0, and 1e20 wherever Sigma has an eigenvalue below sqrt(machine epsilon) (lavaan
  then calls Sigma "not positive definite").
* Free parameters in lavaan's order: loadings, residual variances, factor correlations
  (factor variances fixed to 1); no bounds.
* nlminb (:mod:`.cfa_nlminb`) with lavaan's control (10,000 iterations, 20,000 evaluations,
  rel.tol 1e-10, x.tol 1.5e-8, step bounds 1) in up to four attempts, each only if the one before
  did not converge: (1) lavaan's default start with nlminb's ``scale`` = 1/|start| where
  |start| > 1; (2) the same start, scale 1 (lavaan asks for standardized parameter scaling
  here, but under a name its own check does not recognise, so only the scale changes);
  (3) the "simple" start (loadings 0.7, residual variances 1, correlations 0), scale 1;
  (4) = (3) again for the same reason as (2), so it is not rerun. An attempt converges when
  nlminb reports convergence (PORT codes 3-6) and no gradient element of F/2 exceeds
  ``optim.dx.tol`` = 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from . import cfa_kernels as kernels
from . import cfa_nlminb as nl
from .cfa_nlminb import NlminbResult

__all__ = ["MLProblem", "Attempt", "attempt_plans", "run_attempt", "CRAWL_RULE", "CrawlRule", "MLFit", "fit_ml", "lavaan_start", "simple_start"]

#: lavaan's ``optim.dx.tol``: largest |gradient element| of F/2 accepted at a solution.
GRADIENT_TOL: float = 1e-3

class MLProblem:
    """F/2 and its gradient for Sigma = Lambda Phi Lambda' + Theta (one loading per item).

    Parameters x = (loadings (p), residual variances (p), factor correlations below the diagonal
    (m(m-1)/2), in lavaan's order (1,2), (1,3), ..., (2,3), ...).
    """

    def __init__(self, s: np.ndarray, factor_of: np.ndarray, m: int) -> None:
        self.s = np.ascontiguousarray(s, dtype=float)
        self.p = p = s.shape[0]
        self.f = np.ascontiguousarray(factor_of, dtype=np.int64)
        self.m = m
        self.n_par = 2 * p + m * (m - 1) // 2
        # lavaan's order of the correlations: (1,2), (1,3), ..., (2,3), ...
        self.pairs = [(k, ll) for k in range(m) for ll in range(k + 1, m)]
        pair_index = {pq: 1 + i for i, pq in enumerate(self.pairs)}
        # phi(f_i, f_j) = [1, r_1, r_2, ...][E_ij]
        self._e = np.array([[0 if a == b else pair_index[(min(a, b), max(a, b))]
                             for b in self.f] for a in self.f], dtype=np.int64).reshape(p, p)
        self._g = np.zeros((p, m))
        self._g[np.arange(p), self.f] = 1.0
        self._pk = np.array([k for k, _ in self.pairs], dtype=np.int64)
        self._pl = np.array([ll for _, ll in self.pairs], dtype=np.int64)
        self.logdet_s = float(np.linalg.slogdet(s)[1])

    def phi(self, x: np.ndarray) -> np.ndarray:
        """The m x m factor correlation matrix."""
        out = np.eye(self.m)
        for i, (k, ll) in enumerate(self.pairs):
            out[k, ll] = out[ll, k] = x[2 * self.p + i]
        return out

    def _expanded(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(phi(f_i, f_j) for every item pair, Sigma)."""
        return kernels.sigma_and_phi(x, self._e, self.p)

    def sigma(self, x: np.ndarray) -> np.ndarray:
        return self._expanded(x)[1]

    def value(self, x: np.ndarray) -> float:
        """lavaan's objective F/2 (1e20 where Sigma is not positive definite)."""
        return kernels.ml_value(x, self._e, self.s, self.logdet_s)[1]

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Gradient of F/2: with W = Sigma^-1, M = W - W S W and Phi_ij = phi(f_i, f_j),
        d/dlambda = (M o Phi) lambda, d/dtheta_i = M_ii / 2, d/dphi_kl = (Lambda' M Lambda)_kl.
        """
        return kernels.ml_gradient(x, self._e, self.s, self.f, self.m, self._pk, self._pl)

    def fisher(self, x: np.ndarray) -> np.ndarray:
        """Expected Hessian of F/2 (Fisher information up to a factor)."""
        lam = x[: self.p]
        w = np.linalg.inv(self.sigma(x))
        lm = self._g * lam[:, None]
        bm = (lm @ self.phi(x))[:, self.f]
        k, ll = self._pk, self._pl
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
        return 0.5 * np.block([[h_ll, h_lt, h_lp], [h_lt.T, h_tt, h_tp], [h_lp.T, h_tp.T, h_pp]])


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


def lavaan_start(s: np.ndarray, factor_of: np.ndarray, m: int) -> np.ndarray:
    """lavaan's default starting values: per-factor FABIN 3 / three-indicator loadings
    (:func:`_one_factor_start`), residual variances half the item variances, correlations 0."""
    p = s.shape[0]
    lam = np.zeros(p)
    for f in range(m):
        idx = np.flatnonzero(factor_of == f)
        lam[idx] = _one_factor_start(s[np.ix_(idx, idx)])
    return np.concatenate([lam, 0.5 * np.diag(s), np.zeros(m * (m - 1) // 2)])


def simple_start(p: int, m: int) -> np.ndarray:
    """lavaan's ``start = "simple"``: loadings 0.7, residual variances 1, correlations 0."""
    return np.concatenate([np.full(p, 0.7), np.ones(p), np.zeros(m * (m - 1) // 2)])


@dataclass(frozen=True)
class CrawlRule:
    """How an attempt still running after a few hundred iterations is judged without running on.

    On near-random answers the ML discrepancy often has no minimum: F keeps decreasing along a
    valley (a loading running off to infinity with its residual variance to minus infinity, or
    a latent correlation running off) and nlminb crawls along it for thousands of iterations
    until one of its convergence tests fires or its 10,000-iteration limit stops it; lavaan
    accepts the point where a test fires when no gradient element there exceeds 1e-3. Where
    along the valley the crawl stops is decided by rounding; the level at which the optimizer's
    gradient hovers during the crawl is not, and it tells the two outcomes apart well: on the
    reference noise chunks, the crawls lavaan stably accepts hover at a median max |gradient|
    of 1e-3 to 5e-3 and stop at a dip below 1e-3; those hovering above ~1e-2 end rejected (a
    test fires with the gradient still large, false or singular convergence, the limit).

    The rule: an attempt still running after ``first_look`` iterations whose median max
    |gradient| over the second half of them exceeds ``first_limit`` counts as failed; one still
    running after ``last_look`` iterations counts as converged, at its current point, when that
    median (over iterations last_look/2 .. last_look) is below ``last_limit``, and as failed
    otherwise. Attempts that end before are lavaan's own, step for step. The Cardinal
    bootstrap's resamples use it (following every crawl of 50 resamples of a random-answer model
    to its end takes minutes); the point estimate follows crawls by default. The limits are
    chosen on the reference noise chunks; on all labelled fits the rule gives lavaan's stable
    verdict on 441 of 450 (following the crawls, 449), and its random baseline (mean CFI over
    seven nine-chunk noise sets) is 0.386 against lavaan's 0.366 (following: 0.371). Rules that
    look later miss fewer stable verdicts but accept crawls lavaan goes on to reject:
    (600, 1.5e-2, 1500, 3e-3) misses 3 of 450 yet puts that baseline at 0.405
    (``benchmarks/cfa_crawl_rules.py``,
    docs/performance.md).
    """

    first_look: int = 150  #: iterations after which a crawl with a large gradient stops
    first_limit: float = 1.5e-2  #: ... large: the median max |gradient| above this
    last_look: int = 600  #: iterations after which every crawl is judged
    last_limit: float = 4e-3  #: converged when the median max |gradient| is below this


#: the rule stickrole uses by default
CRAWL_RULE = CrawlRule()


@dataclass
class Attempt:
    """One optimizer attempt: how nlminb ended and lavaan's verdict on it."""

    start: str  # "default" or "simple"
    scaled: bool  # nlminb's scale = 1/|start| (attempt 1) or 1
    result: NlminbResult
    grad_max: float  # max |gradient of F/2| at the end (NaN when nlminb did not converge)
    crawl: bool | None = None  # judged by the CrawlRule: predicted accepted (True) or not

    @property
    def converged(self) -> bool:
        if self.crawl is not None:
            return self.crawl
        return self.result.converged and self.grad_max <= GRADIENT_TOL

    def describe(self) -> str:
        r = self.result
        return f"{r.iterations}/{r.code}/{int(self.converged)}"


@dataclass
class MLFit:
    """lavaan's estimate: the last attempt's point, and every attempt made."""

    x: np.ndarray
    fx: float  # F/2 at x
    converged: bool
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        return self.attempts[-1].result.iterations if self.attempts else 0

    @property
    def crawled(self) -> bool:
        """The verdict was predicted from a crawl (see :class:`CrawlRule`)."""
        return bool(self.attempts) and self.attempts[-1].crawl is not None


def attempt_plans(problem: MLProblem, start: np.ndarray
                  ) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """lavaan's optimizer attempts, in order: (start name, start, nlminb's ``scale``). The
    default start with scale 1/|start| where |start| > 1, the same start unscaled, the simple
    start unscaled (see the module docstring)."""
    scale = np.ones_like(start)
    big = np.abs(start) > 1
    scale[big] = 1.0 / np.abs(start[big])
    return [("default", start, scale), ("default", start, np.ones_like(start)),
            ("simple", simple_start(problem.p, problem.m), np.ones(problem.n_par))]


@njit(cache=True)
def _run_attempt(s: np.ndarray, logdet_s: float, e: np.ndarray, f: np.ndarray, m: int,
                 pk: np.ndarray, pl: np.ndarray, v: np.ndarray, iv: np.ndarray, wk: np.ndarray,
                 hmat: np.ndarray, bmat: np.ndarray, first_look: int, first_limit: float,
                 last_look: int, last_limit: float, trace: np.ndarray, path: np.ndarray,
                 path_every: int) -> int:
    """One nlminb run on F/2, compiled end to end (the objective inline, no Python per
    iteration); the crawl rule's looks at -1 never judge. Returns the rule's verdict (1
    converged, 0 failed) or -1 where nlminb ended by itself (its code in ``iv[CODE]``).
    ``trace[k]`` is max |gradient| at the start of iteration k (as far as ``trace`` reaches);
    ``path[r]`` the point at the start of iteration r * path_every (ditto; for the crawl-rule
    replay in ``benchmarks/cfa_crawl_rules.py``)."""
    x, g = wk[nl.X], wk[nl.G]
    n = x.shape[0]
    x_eval = np.empty(n)  # the point of the last evaluation, whose W and Phi are kept
    w_eval = np.zeros((s.shape[0], s.shape[0]))
    ph_eval = np.zeros((s.shape[0], s.shape[0]))
    kept = False
    while True:
        req = nl.port_next(v, iv, wk, hmat, bmat)
        if req == nl.REQ_F:
            ok, fx, w, ph = kernels.ml_value(x, e, s, logdet_s)
            v[nl.F] = fx
            kept = ok
            if ok:
                x_eval[:] = x
                w_eval, ph_eval = w, ph
        elif req == nl.REQ_G:
            same = kept
            if same:
                for i in range(n):
                    if x_eval[i] != x[i]:
                        same = False
                        break
            if same:
                g[:] = kernels.gradient(x, w_eval, ph_eval, s, f, m, pk, pl)
            else:
                g[:] = kernels.ml_gradient(x, e, s, f, m, pk, pl)
        elif req == nl.REQ_ITERATION:
            k = iv[nl.NITER]
            if k < trace.shape[0]:
                trace[k] = kernels.abs_max(g)
            if path_every > 0 and k % path_every == 0 and k // path_every < path.shape[0]:
                path[k // path_every] = x
            if k == first_look and np.median(trace[k // 2:k]) > first_limit:
                return 0
            if k == last_look:
                return 1 if np.median(trace[k // 2:k]) < last_limit else 0
        else:
            return -1


def run_attempt(problem: MLProblem, x0: np.ndarray, scale: np.ndarray,
                looks: tuple[int, float, int, float], trace: np.ndarray,
                path: np.ndarray | None = None, path_every: int = 0) -> tuple[NlminbResult, int]:
    """One nlminb run from ``x0`` (see :func:`_run_attempt`): (its result, the crawl rule's
    verdict or -1); a run stopped by the rule has code 0."""
    ws = nl.Workspace(x0, scale)  # lavaan's control
    verdict = _run_attempt(problem.s, problem.logdet_s, problem._e, problem.f, problem.m,
                           problem._pk, problem._pl, ws.v, ws.iv, ws.wk, ws.h, ws.b, *looks,
                           trace, np.zeros((0, x0.size)) if path is None else path, path_every)
    return ws.result(0 if verdict >= 0 else int(ws.iv[nl.CODE])), verdict


def fit_ml(problem: MLProblem, start: np.ndarray, crawl: CrawlRule | None = None) -> MLFit:
    """lavaan's optimizer attempts (see module docstring) from lavaan's default ``start``.

    ``crawl`` judges attempts still running after a few hundred iterations (see
    :class:`CrawlRule`); None (default) runs every attempt to nlminb's own end, as lavaan does
    (exact: up to 3 x 10,000 iterations on noise, compiled).
    """
    looks = ((-1, 0.0, -1, 0.0) if crawl is None else
             (crawl.first_look, crawl.first_limit, crawl.last_look, crawl.last_limit))
    trace = np.zeros(max(looks[0], looks[2]) + 1)
    attempts: list[Attempt] = []
    for k, (name, x0, scale) in enumerate(attempt_plans(problem, start)):
        scaled = k == 0  # the first plan is the scaled one
        res, verdict = run_attempt(problem, x0, scale, looks, trace)
        if verdict >= 0:  # stopped by the crawl rule
            att = Attempt(name, scaled, res, float(trace[res.iterations]), crawl=bool(verdict))
        else:
            gmax = kernels.abs_max(problem.gradient(res.x)) if res.converged else np.nan
            att = Attempt(name, scaled, res, gmax)
        attempts.append(att)
        if att.converged:
            break
    last = attempts[-1]
    return MLFit(last.result.x, float(problem.value(last.result.x)), last.converged, attempts)
