"""The quasi-Newton trust-region minimiser behind R's ``nlminb``, as lavaan calls it.

lavaan 0.6-14 fits a CFA by handing ``F/2`` and its gradient to ``nlminb``, which runs the PORT
library's unconstrained minimiser with analytic gradient (Gay 1983, the ``dmng`` reverse-
communication solver): BFGS secant updates of a Cholesky factor of the Hessian approximation and
Dennis & Mei's double-dogleg step inside a trust region, with the Dennis-Gay-Welsch step
assessment deciding how the radius changes and when to stop. This module is our own
implementation of that step control, written from the algorithm's description and from reading
R's ``src/library/stats/src/portsrc.f`` to learn its constants and the order of its tests.

Why not scipy: lavaan's used/failed verdict is the verdict of this particular algorithm on this
particular path. Where the ML discrepancy has a minimum, every decent optimizer finds it; but
on near-random answers the minimum a quasi-Newton search reaches depends on the path (several
basins, and valleys without a minimum where a loading runs off to infinity), and whether nlminb
*stops* - and with which code - is decided by its trust-region radius history and its
relative-function, X- and singular-convergence tests. scipy's BFGS (line search), trust-constr,
trust-krylov etc. take other steps and stop by other rules; with them stickrole missed minima
lavaan reaches in 72-246 iterations and could not tell which long runs lavaan gives up on
(issue 17). Only the same step control reaches the same points.

Differences from PORT that change nothing but rounding: PORT keeps a Cholesky factor L of the
Hessian approximation H = L L' and updates it by Goldfarb's recurrence; we keep H and its
inverse and apply the same (damped) BFGS update to both, which saves the triangular solves
(measured: the same iteration count as lavaan on 97.5 % of 199 fits that reach a minimum, the
others being noise fits whose path rounding decides). The scale vector is fixed (nlminb's
default), and a function that cannot be evaluated is never reported as such (lavaan returns
1e20 there, which nlminb treats as a very large value).

References
----------
Gay, D. M. (1983). Algorithm 611: Subroutines for unconstrained minimization using a
model/trust-region approach. ACM TOMS 9(4), 503-524.
Dennis, J. E. and Mei, H. H. W. (1979). Two new unconstrained optimization algorithms which use
function and gradient values. J. Optim. Theory Appl. 28, 453-482.
Dennis, J. E., Gay, D. M. and Welsch, R. E. (1981). An adaptive nonlinear least-squares
algorithm. ACM TOMS 7(3), 348-368.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import sqrt

import numpy as np

from . import cfa_kernels as kernels

__all__ = ["NlminbResult", "nlminb", "CONVERGED_CODES"]

#: PORT return codes that R's nlminb reports as convergence (X-, relative-function, both,
#: absolute-function); 7 singular convergence, 8 false convergence, 9 evaluation limit and
#: 10 iteration limit are failures.
CONVERGED_CODES = (3, 4, 5, 6)

# Step-control constants: PORT's defaults for general optimisation (R's nlminb), except where
# lavaan's control list sets them (rel.tol, x.tol, xf.tol, abs.tol, step.min, step.max).
_BIAS = 0.8  # relaxed Newton step: this far from the full to the fully relaxed Newton step
_TUNER1 = 0.1  # reduction below this fraction of the predicted one: shrink the radius
_TUNER2 = 1e-4  # reduction below this fraction of the predicted one: reject the step
_TUNER3 = 0.75  # reduction above this fraction of -g's: keep the radius
_TUNER4 = 0.5  # gradient tests that allow the radius to grow
_TUNER5 = 0.75
_INCFAC = 2.0  # least radius increase
_RDFCMN = 0.1  # radius factor bounds
_RDFCMX = 4.0
_EPS_DAMP = 0.1  # BFGS: y's is kept at >= 0.1 s'Hs


@dataclass
class NlminbResult:
    """End of one nlminb run: point, value, PORT code, counts."""

    x: np.ndarray
    f: float
    code: int  # PORT code (see CONVERGED_CODES); 0 when stopped by ``cap`` (see nlminb)
    iterations: int
    evaluations: int
    gradients: int

    @property
    def converged(self) -> bool:
        return self.code in CONVERGED_CODES


def _rel_dist(d: np.ndarray, x: np.ndarray, x0: np.ndarray) -> float:
    """Scaled relative change max d|x - x0| / max d(|x| + |x0|)."""
    return kernels.rel_dist(d, x, x0)


class _State:
    """Everything the step control carries from one trial step to the next."""

    def __init__(self, n: int) -> None:
        self.f = 0.0  # value at x
        self.f0 = 0.0  # value at the start of the iteration
        self.fdif = 0.0  # f0 - f
        self.preduc = 0.0  # reduction the quadratic model predicts for the step
        self.nreduc = 0.0  # ... for the full Newton step
        self.gtstep = 0.0  # g . step
        self.dstnrm = 0.0  # |D step|
        self.dst0 = 0.0  # |D Newton step|
        self.stppar = 0.0  # 0 for a full Newton step
        self.radius = 0.0
        self.radfac = 0.0  # next radius = radfac * dstnrm
        self.reldx = 0.0
        # the best step of this iteration, kept while a longer one is tried
        self.flstgd = 0.0
        self.plstgd = 0.0
        self.gtslst = 0.0
        self.dstsav = 0.0
        self.lstgst = np.zeros(n)
        self.irc = 0  # what the assessment asks for next (see _assess)
        self.xirc = 0
        self.restor = 0  # 1 restore x0, 2 save step, 3 restore saved step
        self.stage = 0
        self.radinc = 0
        self.model = 1  # PORT can switch quadratic models; nlminb has one
        self.mlstgd = 0
        self.switch = 0
        self.nfcall = 0
        self.nfgcal = 0


def _assess(s: _State, lmaxs: float, rel_tol: float, sing_tol: float, x_tol: float,
            xf_tol: float, abs_tol: float) -> None:
    """Judge the trial step (Dennis-Gay-Welsch): accept it, retry with another radius, or stop.

    Sets ``s.irc``: 1/5 retry with radius ``s.radfac * s.dstnrm``, 2/3/4 accept (3: let gradient
    tests decide whether the radius grows), 6 recompute a step of length ``lmaxs`` for the
    singular-convergence test, 7 X-convergence, 8 relative-function convergence, 9 both,
    10 absolute-function convergence, 11 singular convergence, 12 false convergence. With one
    quadratic model and no oversized steps (nlminb's setting here) the model-switching branches
    reduce to the ones below.
    """
    nfc = s.nfcall
    s.switch = 0
    s.restor = 0
    rfac1 = 1.0
    goodx = True
    irc = s.irc
    stglim = 1

    if irc == 6:  # singular-convergence test with the step of length lmaxs just computed
        s.gtstep = s.gtslst
        s.dstnrm = abs(s.dstsav)
        s.irc = s.xirc
        if s.dstsav <= 0:
            s.irc = 12
        s.nreduc = -s.preduc
        s.preduc = s.plstgd
        s.restor = 3
        if -s.nreduc <= sing_tol * abs(s.f0):
            s.irc = 11
        return

    if irc in (3, 4):  # first step of a new iteration
        s.stage = 1
        s.radinc = 0
        s.flstgd = s.f0
    elif irc in (1, 2, 5):
        if irc == 1 and s.model == s.mlstgd:
            s.stage = stglim
            s.radinc = -1
        else:
            if irc in (1, 2):
                s.stage += 1
            if s.f >= s.flstgd:  # the new step is worse than the best one of this iteration
                if s.model != s.mlstgd:
                    s.model = s.mlstgd
                    s.switch = 1
                if s.flstgd < s.f0:  # an earlier step of this iteration did decrease f
                    if s.stage < stglim or nfc < s.nfgcal + stglim + 2 or s.switch != 0:
                        goodx = False
                    s.restor = 3
                    s.f = s.flstgd
                    s.preduc = s.plstgd
                    s.gtstep = s.gtslst
                    if s.switch == 0:
                        rfac1 = s.dstnrm / s.dstsav
                    s.dstnrm = s.dstsav
                    if goodx:  # take that earlier step
                        s.fdif = s.f0 - s.f
                        s.irc = 4
                        s.radfac = rfac1
                        return
                    nfc = s.nfgcal
    else:
        s.irc = 13
        return

    s.fdif = s.f0 - s.f
    if s.fdif <= _TUNER2 * s.preduc and s.radinc <= 0:
        # no (or a trivial) decrease: smaller radius
        if s.f >= s.f0:
            s.mlstgd = s.model
            s.flstgd = s.f
            s.f = s.f0
            s.restor = 1
        else:
            s.nfgcal = nfc
        s.irc = 1
        if s.stage >= stglim:
            s.irc = 5
            s.radinc -= 1
        good_decrease = None
    else:
        s.nfgcal = nfc
        rfac1 = 1.0
        s.dstsav = s.dstnrm
        good_decrease = s.fdif > s.preduc * _TUNER1
        if not good_decrease:  # much less than predicted: accept, smaller radius
            s.irc = 4 if s.stage >= stglim else 2

    if good_decrease:
        if (s.fdif < -_TUNER3 * s.gtstep or s.radinc < 0 or s.restor in (1, 3)):
            s.radfac = 1.0
            s.irc = 3
            s.xirc = s.irc
        else:  # try a longer step unless this was a Newton step
            s.radfac = _RDFCMX
            gts = s.gtstep
            if s.fdif < (0.5 / s.radfac - 1.0) * gts:
                s.radfac = max(_INCFAC, 0.5 * gts / (gts + s.fdif))
            s.irc = 4
            longer = not (
                s.stppar == 0
                or (s.dst0 >= 0 and (s.dst0 < 2 * s.dstnrm or s.nreduc < 1.2 * s.fdif))
            )
            if longer:
                s.irc = 5
                s.radinc += 1
                _save_good_step(s, nfc)
            s.xirc = s.irc
    else:
        # Fletcher's decrease factor for the radius, then the false-convergence test
        s.xirc = s.irc
        emax = s.gtstep + s.fdif
        s.radfac = 0.5 * rfac1
        if emax < s.gtstep:
            s.radfac = rfac1 * max(_RDFCMN, 0.5 * s.gtstep / emax)
        if s.reldx <= xf_tol:
            s.irc = 12
            _convergence_tests(s, goodx, lmaxs, rel_tol, sing_tol, x_tol, abs_tol)
            return
        s.irc = s.xirc
        if s.f < s.f0:
            _save_good_step(s, nfc)
        s.xirc = s.irc

    _convergence_tests(s, goodx, lmaxs, rel_tol, sing_tol, x_tol, abs_tol)


def _save_good_step(s: _State, nfc: int) -> None:
    s.flstgd = s.f
    s.mlstgd = s.model
    if s.restor == 0:
        s.restor = 2
    s.dstsav = s.dstnrm
    s.nfgcal = nfc
    s.plstgd = s.preduc
    s.gtslst = s.gtstep


def _convergence_tests(s: _State, goodx: bool, lmaxs: float, rel_tol: float, sing_tol: float,
                       x_tol: float, abs_tol: float) -> None:
    if s.restor == 1 and s.flstgd < s.f0:
        s.restor = 3
    if abs(s.f) < abs_tol:
        s.irc = 10
    if 0.5 * s.fdif > s.preduc:  # the step did much better than the model: no tests
        return
    emax = rel_tol * abs(s.f0)
    emaxs = sing_tol * abs(s.f0)
    if s.preduc <= emaxs and (s.dstnrm > lmaxs or s.stppar == 0):
        s.irc = 11
    if s.dst0 >= 0:
        i = 0
        if (0 < s.nreduc <= emax) or (s.nreduc == 0 and s.preduc == 0):
            i = 2
        if s.stppar == 0 and s.reldx <= x_tol and goodx:
            i += 1
        if i > 0:
            s.irc = i + 6
    # consider a step of length lmaxs for the singular-convergence test
    if s.irc > 5 and s.irc != 12:
        return
    if s.stppar == 0:
        return
    if s.dstnrm > lmaxs:
        if 0.5 * s.dstnrm <= lmaxs:
            return
        xmax = lmaxs / s.dstnrm
        if xmax * (2 - xmax) * s.preduc >= emaxs:
            return
    else:
        if s.preduc >= emaxs:
            return
        if s.dst0 > 0 and 0.5 * s.dst0 <= lmaxs:
            return
    if s.nreduc < 0:
        if -s.nreduc <= sing_tol * abs(s.f0):
            s.irc = 11
        return
    s.gtslst = s.gtstep
    s.dstsav = s.dstnrm
    if s.irc == 12:
        s.dstsav = -s.dstsav
    s.plstgd = s.preduc
    i = s.restor
    s.restor = 2
    if i == 3:
        s.restor = 0
    s.irc = 6


def _dogleg(s: _State, dig: np.ndarray, nwt: np.ndarray, dgnorm: float, gthg: float
            ) -> np.ndarray:
    """Double-dogleg step (Dennis & Mei) for radius ``s.radius``; ``nwt`` = H^-1 g,
    ``dig`` = g / d^2. Sets dstnrm, stppar, gtstep, preduc."""
    nwtnrm = s.dst0
    rlambd = s.radius / nwtnrm if nwtnrm > 0 else 1.0
    ghinvg = 2.0 * s.nreduc
    if rlambd >= 1.0:  # the Newton step lies inside the trust region
        s.stppar = 0.0
        s.dstnrm = nwtnrm
        s.gtstep = -ghinvg
        s.preduc = s.nreduc
        return -nwt
    s.dstnrm = s.radius
    cfact = (dgnorm / gthg) ** 2
    cnorm = dgnorm * cfact  # length of the Cauchy step
    relax = 1.0 - _BIAS * (1.0 - dgnorm * cnorm / ghinvg)
    if rlambd >= relax:  # between the relaxed and the full Newton step
        s.stppar = 1.0 - (rlambd - relax) / (1.0 - relax)
        s.gtstep = -rlambd * ghinvg
        s.preduc = rlambd * (1.0 - 0.5 * rlambd) * ghinvg
        return -rlambd * nwt
    if cnorm >= s.radius:  # the Cauchy step leaves the region: steepest descent to its edge
        t = -s.radius / dgnorm
        s.stppar = 1.0 + cnorm / s.radius
        s.gtstep = -s.radius * dgnorm
        s.preduc = s.radius * (dgnorm - 0.5 * s.radius * (gthg / dgnorm) ** 2)
        return t * dig
    # on the leg from the Cauchy point to the relaxed Newton step
    ctrnwt = cfact * relax * ghinvg / dgnorm
    t1 = ctrnwt - dgnorm * cfact**2
    t2 = s.radius * (s.radius / dgnorm) - dgnorm * cfact**2
    t = relax * nwtnrm
    femnsq = (t / dgnorm) * t - ctrnwt - t1
    t = t2 / (t1 + sqrt(t1 * t1 + femnsq * t2))
    t1 = (t - 1.0) * cfact
    t2 = -t * relax
    s.stppar = 2.0 - t
    s.gtstep = t1 * dgnorm**2 + t2 * ghinvg
    s.preduc = (-t1 * dgnorm * ((t2 + 1.0) * dgnorm) - t2 * (1.0 + 0.5 * t2) * ghinvg
                - 0.5 * (gthg * t1) ** 2)
    return t1 * dig + t2 * nwt


def _bfgs_update(hmat: np.ndarray, bmat: np.ndarray, step: np.ndarray, y: np.ndarray,
                 hs: np.ndarray | None) -> None:
    """BFGS update, in place, of H and of its inverse B, with y damped to y's >= 0.1 s'Hs
    (PORT's rule, which keeps H positive definite)."""
    kernels.bfgs_update(hmat, bmat, step, y, kernels.matvec(hmat, step) if hs is None else hs, _EPS_DAMP)


def nlminb(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    scale: np.ndarray,
    *,
    max_iter: int = 10000,
    max_eval: int = 20000,
    rel_tol: float = 1e-10,
    x_tol: float = 1.5e-8,
    xf_tol: float = 2.2e-14,
    abs_tol: float = 10 * np.finfo(float).eps,
    step_min: float = 1.0,
    step_max: float = 1.0,
    sing_tol: float = 1e-10,
    cap: Callable[[int, np.ndarray, np.ndarray, _State], bool] | None = None,
) -> NlminbResult:
    """Minimise ``fun`` from ``x0`` as R's ``nlminb(x0, fun, grad, scale = scale)`` does.

    Parameters
    ----------
    fun, grad : callable
        Objective and its gradient. ``fun`` may return a huge value (lavaan: 1e20) where the
        objective is undefined; the step is then rejected and the radius shrinks.
    x0 : numpy.ndarray
        Start.
    scale : numpy.ndarray
        nlminb's ``scale`` (PORT's D): the trust region is a ball in ``scale * x``; the initial
        Hessian approximation is diag(scale)^2.
    max_iter, max_eval, rel_tol, x_tol, xf_tol, abs_tol, step_min, step_max, sing_tol
        nlminb's ``control`` (defaults: lavaan 0.6-14's values; ``sing_tol`` is PORT's default);
        ``step_min`` is the first step's radius, ``step_max`` the step length of the singular-
        convergence test.
    cap : callable, optional
        ``cap(iteration, x, g, state)`` called at the start of every iteration (``state.f`` is
        the value at x, ``state.nreduc`` the reduction predicted for the last Newton step);
        returning True stops the run there (``code`` 0).

    Returns
    -------
    NlminbResult
        ``code`` is PORT's return code: 3 X-convergence, 4 relative-function convergence, 5 both,
        6 absolute-function convergence (these four are nlminb's ``convergence = 0``),
        7 singular convergence, 8 false convergence, 9 evaluation limit, 10 iteration limit.
    """
    x = np.array(x0, dtype=float)
    d = np.asarray(scale, dtype=float)
    n = x.size
    s = _State(n)
    h0 = np.where(d > 0, d, 1.0) ** 2
    hmat = np.diag(h0)  # H0 = diag(d)^2
    bmat = np.diag(1.0 / h0)  # its inverse, kept alongside
    inv_d2 = 1.0 / (d * d)
    unit = bool(np.all(d == 1.0))
    s.f = fun(x)
    s.nfcall = 1
    s.nfgcal = 1
    ngcall = 1
    g = grad(x)
    dg = g / d
    dgnorm = sqrt(kernels.dot(dg, dg))
    s.radius = step_min
    niter = 0
    lmaxs = step_max
    cnvcod = 0

    def done(code: int) -> NlminbResult:
        return NlminbResult(x, s.f, code, niter, s.nfcall, ngcall)

    while True:  # iterations
        if niter >= max_iter:
            return done(10)
        if cap is not None and cap(niter, x, g, s):
            return done(0)
        niter += 1
        if niter > 1:
            s.radius = s.radfac * s.dstnrm
        s.f0 = s.f
        s.irc = 4
        x0_it = x  # arrays are replaced, never changed in place
        g0 = g
        newton = None
        check_limit = True
        while True:  # trial steps of this iteration
            if check_limit and s.nfcall >= max_eval:
                if s.f >= s.f0:
                    return done(9)
                cnvcod = 9
                break
            check_limit = True
            if newton is None:  # Newton step and model quantities for this iteration
                nwt = kernels.matvec(bmat, g)  # H^-1 g
                s.nreduc = 0.5 * kernels.dot(g, nwt)
                if unit:
                    s.dst0 = sqrt(kernels.dot(nwt, nwt))
                    dig = g
                else:
                    dn = nwt * d
                    s.dst0 = sqrt(kernels.dot(dn, dn))
                    dig = g * inv_d2
                gthg = sqrt(kernels.dot(dig, kernels.matvec(hmat, dig)))
                newton = nwt
            step = _dogleg(s, dig, newton, dgnorm, gthg)
            if s.irc == 6:
                rstrst = 3 if s.restor != 2 else 2
            elif s.dstnrm <= 0:
                rstrst = 3
            elif s.irc == 5 and s.radfac > 1 and s.preduc <= 1.2 * s.fdif:
                rstrst = 3 if s.restor != 2 else 0
            else:
                x = x0_it + step
                s.nfcall += 1
                s.f = fun(x)
                rstrst = 3
            s.reldx = _rel_dist(d, x, x0_it)
            _assess(s, lmaxs, rel_tol, sing_tol, x_tol, xf_tol, abs_tol)
            if s.restor == 1:
                x = x0_it
            elif s.restor == 2:
                s.lstgst = step
            elif s.restor == 3:
                step = s.lstgst
                x = x0_it + step
                s.reldx = _rel_dist(d, x, x0_it)
                s.restor = rstrst
            k = s.irc
            if k in (1, 5):
                s.radius = s.radfac * s.dstnrm
                continue
            if k == 6:
                s.radius = lmaxs
                check_limit = False
                continue
            if 7 <= k <= 12:
                cnvcod = k - 4
                if s.f >= s.f0 or s.xirc == 14:
                    return done(cnvcod)
                s.xirc = 14
                break
            if k == 13:
                return done(64)
            break  # 2, 3, 4: accept
        hstep = kernels.matvec(hmat, step) if s.irc == 3 else None
        g = grad(x)
        ngcall += 1
        dg = g if unit else g / d
        dgnorm = sqrt(kernels.dot(dg, dg))
        if cnvcod:
            return done(cnvcod)
        y = g - g0
        if hstep is not None:
            t = hstep - y if unit else (hstep - y) / d
            if (sqrt(kernels.dot(t, t)) <= dgnorm * _TUNER4
                    or kernels.dot(g, step) < s.gtstep * _TUNER5):
                s.radfac = _INCFAC
        _bfgs_update(hmat, bmat, step, y, hstep)
