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

Shape: like PORT itself, the step control is a *reverse-communication* routine,
:func:`port_next`, compiled with numba: it keeps its whole state in arrays and returns whenever
it needs the function or the gradient at ``x`` (or starts an iteration), and the caller answers
and calls again. :func:`nlminb` drives it with Python callables; the CFA fitter drives it from
compiled code with the ML discrepancy inline (``cfa_ml``), so that following lavaan's crawls to
their end (up to 3 x 10,000 iterations per fit on noise) costs microseconds per iteration, not
the ~27 us of a Python loop. Both drivers take the same steps, bit for bit.

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
from numba import njit

from . import cfa_kernels as kernels

__all__ = ["NlminbResult", "nlminb", "CONVERGED_CODES", "Workspace", "port_next",
           "REQ_F", "REQ_G", "REQ_ITERATION", "REQ_DONE"]

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

# What port_next asks its caller for.
REQ_F = 1  #: set ``v[F]`` to the function value at ``wk[X]``, then call again
REQ_G = 2  #: set ``wk[G]`` to the gradient at ``wk[X]``, then call again
REQ_ITERATION = 3  #: an iteration starts at ``wk[X]`` (gradient ``wk[G]``): stop here or call again
REQ_DONE = 4  #: finished, PORT code in ``iv[CODE]``

# The state, PORT-style: scalars in a float vector v and an integer vector iv, vectors in the
# rows of wk, the Hessian approximation H and its inverse B.
(F, F0, FDIF, PREDUC, NREDUC, GTSTEP, DSTNRM, DST0, STPPAR, RADIUS, RADFAC, RELDX, FLSTGD,
 PLSTGD, GTSLST, DSTSAV, DGNORM, GTHG,
 REL_TOL, X_TOL, XF_TOL, ABS_TOL, STEP_MIN, LMAXS, SING_TOL) = range(25)
_NV = 25
# f, f0: value at x and at the iteration's start; fdif = f0 - f; preduc, nreduc: reductions the
# quadratic model predicts for the step and for the full Newton step; gtstep = g.step;
# dstnrm, dst0: |D step|, |D Newton step|; stppar: 0 for a full Newton step; radfac: next
# radius = radfac * dstnrm; flstgd, plstgd, gtslst, dstsav: the best step of this iteration,
# kept while a longer one is tried; dgnorm = |g / D|; gthg = sqrt(dig' H dig).
(IRC, XIRC, RESTOR, STAGE, RADINC, MODEL, MLSTGD, SWITCH, NFCALL, NFGCAL, NGCALL, NITER,
 CNVCOD, PHASE, CHECK_LIMIT, NEWTON_OK, RSTRST, HAVE_HSTEP, MAX_ITER, MAX_EVAL, UNIT,
 CODE) = range(22)
_NIV = 22
# irc: what the assessment asks for next (see _assess); restor: 1 restore x0, 2 save step,
# 3 restore the saved step; model/mlstgd/switch: PORT's model switching (nlminb has one model).
X, X0, G, G0, STEP, LSTGST, NWT, DIG, D, INVD2, HSTEP, TMP = range(12)
_NWK = 12

# port_next's resume points
_P_START, _P_GOT_F0, _P_GOT_G0, _P_ITER_CHECK, _P_ITER, _P_TRIAL, _P_TRIAL_DONE, _P_ACCEPT, \
    _P_GOT_G = range(9)


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


class Workspace:
    """port_next's state for one run from ``x0``; the controls default to lavaan 0.6-14's
    (see :func:`nlminb`)."""

    def __init__(self, x0: np.ndarray, scale: np.ndarray, *, max_iter: int = 10000,
                 max_eval: int = 20000, rel_tol: float = 1e-10, x_tol: float = 1.5e-8,
                 xf_tol: float = 2.2e-14, abs_tol: float = 10 * np.finfo(float).eps,
                 step_min: float = 1.0, step_max: float = 1.0, sing_tol: float = 1e-10) -> None:
        n = len(x0)
        self.v = np.zeros(_NV)
        self.iv = np.zeros(_NIV, dtype=np.int64)
        self.wk = np.zeros((_NWK, n))
        self.h = np.zeros((n, n))
        self.b = np.zeros((n, n))
        self.wk[X] = x0
        self.wk[D] = scale
        self.v[[REL_TOL, X_TOL, XF_TOL, ABS_TOL, STEP_MIN, LMAXS, SING_TOL]] = (
            rel_tol, x_tol, xf_tol, abs_tol, step_min, step_max, sing_tol)
        self.iv[MAX_ITER] = max_iter
        self.iv[MAX_EVAL] = max_eval

    def next(self) -> int:
        return port_next(self.v, self.iv, self.wk, self.h, self.b)

    def result(self, code: int) -> NlminbResult:
        return NlminbResult(self.wk[X].copy(), float(self.v[F]), code, int(self.iv[NITER]),
                            int(self.iv[NFCALL]), int(self.iv[NGCALL]))


@njit(cache=True)
def _assess(v: np.ndarray, iv: np.ndarray) -> None:
    """Judge the trial step (Dennis-Gay-Welsch): accept it, retry with another radius, or stop.

    Sets ``iv[IRC]``: 1/5 retry with radius ``radfac * dstnrm``, 2/3/4 accept (3: let gradient
    tests decide whether the radius grows), 6 recompute a step of length ``lmaxs`` for the
    singular-convergence test, 7 X-convergence, 8 relative-function convergence, 9 both,
    10 absolute-function convergence, 11 singular convergence, 12 false convergence. With one
    quadratic model and no oversized steps (nlminb's setting here) the model-switching branches
    reduce to the ones below.
    """
    nfc = iv[NFCALL]
    iv[SWITCH] = 0
    iv[RESTOR] = 0
    rfac1 = 1.0
    goodx = True
    irc = iv[IRC]
    stglim = 1

    if irc == 6:  # singular-convergence test with the step of length lmaxs just computed
        v[GTSTEP] = v[GTSLST]
        v[DSTNRM] = abs(v[DSTSAV])
        iv[IRC] = iv[XIRC]
        if v[DSTSAV] <= 0:
            iv[IRC] = 12
        v[NREDUC] = -v[PREDUC]
        v[PREDUC] = v[PLSTGD]
        iv[RESTOR] = 3
        if -v[NREDUC] <= v[SING_TOL] * abs(v[F0]):
            iv[IRC] = 11
        return

    if irc == 3 or irc == 4:  # first step of a new iteration
        iv[STAGE] = 1
        iv[RADINC] = 0
        v[FLSTGD] = v[F0]
    elif irc == 1 or irc == 2 or irc == 5:
        if irc == 1 and iv[MODEL] == iv[MLSTGD]:
            iv[STAGE] = stglim
            iv[RADINC] = -1
        else:
            if irc == 1 or irc == 2:
                iv[STAGE] += 1
            if v[F] >= v[FLSTGD]:  # the new step is worse than the best one of this iteration
                if iv[MODEL] != iv[MLSTGD]:
                    iv[MODEL] = iv[MLSTGD]
                    iv[SWITCH] = 1
                if v[FLSTGD] < v[F0]:  # an earlier step of this iteration did decrease f
                    if iv[STAGE] < stglim or nfc < iv[NFGCAL] + stglim + 2 or iv[SWITCH] != 0:
                        goodx = False
                    iv[RESTOR] = 3
                    v[F] = v[FLSTGD]
                    v[PREDUC] = v[PLSTGD]
                    v[GTSTEP] = v[GTSLST]
                    if iv[SWITCH] == 0:
                        rfac1 = v[DSTNRM] / v[DSTSAV]
                    v[DSTNRM] = v[DSTSAV]
                    if goodx:  # take that earlier step
                        v[FDIF] = v[F0] - v[F]
                        iv[IRC] = 4
                        v[RADFAC] = rfac1
                        return
                    nfc = iv[NFGCAL]
    else:
        iv[IRC] = 13
        return

    v[FDIF] = v[F0] - v[F]
    good_decrease = False
    if v[FDIF] <= _TUNER2 * v[PREDUC] and iv[RADINC] <= 0:
        # no (or a trivial) decrease: smaller radius
        if v[F] >= v[F0]:
            iv[MLSTGD] = iv[MODEL]
            v[FLSTGD] = v[F]
            v[F] = v[F0]
            iv[RESTOR] = 1
        else:
            iv[NFGCAL] = nfc
        iv[IRC] = 1
        if iv[STAGE] >= stglim:
            iv[IRC] = 5
            iv[RADINC] -= 1
        decrease_tested = False
    else:
        iv[NFGCAL] = nfc
        rfac1 = 1.0
        v[DSTSAV] = v[DSTNRM]
        good_decrease = v[FDIF] > v[PREDUC] * _TUNER1
        decrease_tested = True
        if not good_decrease:  # much less than predicted: accept, smaller radius
            iv[IRC] = 4 if iv[STAGE] >= stglim else 2

    if decrease_tested and good_decrease:
        r = iv[RESTOR]
        if v[FDIF] < -_TUNER3 * v[GTSTEP] or iv[RADINC] < 0 or r == 1 or r == 3:
            v[RADFAC] = 1.0
            iv[IRC] = 3
            iv[XIRC] = iv[IRC]
        else:  # try a longer step unless this was a Newton step
            v[RADFAC] = _RDFCMX
            gts = v[GTSTEP]
            if v[FDIF] < (0.5 / v[RADFAC] - 1.0) * gts:
                v[RADFAC] = max(_INCFAC, 0.5 * gts / (gts + v[FDIF]))
            iv[IRC] = 4
            longer = not (
                v[STPPAR] == 0
                or (v[DST0] >= 0 and (v[DST0] < 2 * v[DSTNRM] or v[NREDUC] < 1.2 * v[FDIF]))
            )
            if longer:
                iv[IRC] = 5
                iv[RADINC] += 1
                _save_good_step(v, iv, nfc)
            iv[XIRC] = iv[IRC]
    else:
        # Fletcher's decrease factor for the radius, then the false-convergence test
        iv[XIRC] = iv[IRC]
        emax = v[GTSTEP] + v[FDIF]
        v[RADFAC] = 0.5 * rfac1
        if emax < v[GTSTEP]:
            v[RADFAC] = rfac1 * max(_RDFCMN, 0.5 * v[GTSTEP] / emax)
        if v[RELDX] <= v[XF_TOL]:
            iv[IRC] = 12
            _convergence_tests(v, iv, goodx)
            return
        iv[IRC] = iv[XIRC]
        if v[F] < v[F0]:
            _save_good_step(v, iv, nfc)
        iv[XIRC] = iv[IRC]

    _convergence_tests(v, iv, goodx)


@njit(cache=True)
def _save_good_step(v: np.ndarray, iv: np.ndarray, nfc: int) -> None:
    v[FLSTGD] = v[F]
    iv[MLSTGD] = iv[MODEL]
    if iv[RESTOR] == 0:
        iv[RESTOR] = 2
    v[DSTSAV] = v[DSTNRM]
    iv[NFGCAL] = nfc
    v[PLSTGD] = v[PREDUC]
    v[GTSLST] = v[GTSTEP]


@njit(cache=True)
def _convergence_tests(v: np.ndarray, iv: np.ndarray, goodx: bool) -> None:
    lmaxs = v[LMAXS]
    if iv[RESTOR] == 1 and v[FLSTGD] < v[F0]:
        iv[RESTOR] = 3
    if abs(v[F]) < v[ABS_TOL]:
        iv[IRC] = 10
    if 0.5 * v[FDIF] > v[PREDUC]:  # the step did much better than the model: no tests
        return
    emax = v[REL_TOL] * abs(v[F0])
    emaxs = v[SING_TOL] * abs(v[F0])
    if v[PREDUC] <= emaxs and (v[DSTNRM] > lmaxs or v[STPPAR] == 0):
        iv[IRC] = 11
    if v[DST0] >= 0:
        i = 0
        if (0 < v[NREDUC] <= emax) or (v[NREDUC] == 0 and v[PREDUC] == 0):
            i = 2
        if v[STPPAR] == 0 and v[RELDX] <= v[X_TOL] and goodx:
            i += 1
        if i > 0:
            iv[IRC] = i + 6
    # consider a step of length lmaxs for the singular-convergence test
    if iv[IRC] > 5 and iv[IRC] != 12:
        return
    if v[STPPAR] == 0:
        return
    if v[DSTNRM] > lmaxs:
        if 0.5 * v[DSTNRM] <= lmaxs:
            return
        xmax = lmaxs / v[DSTNRM]
        if xmax * (2 - xmax) * v[PREDUC] >= emaxs:
            return
    else:
        if v[PREDUC] >= emaxs:
            return
        if v[DST0] > 0 and 0.5 * v[DST0] <= lmaxs:
            return
    if v[NREDUC] < 0:
        if -v[NREDUC] <= v[SING_TOL] * abs(v[F0]):
            iv[IRC] = 11
        return
    v[GTSLST] = v[GTSTEP]
    v[DSTSAV] = v[DSTNRM]
    if iv[IRC] == 12:
        v[DSTSAV] = -v[DSTSAV]
    v[PLSTGD] = v[PREDUC]
    i = iv[RESTOR]
    iv[RESTOR] = 2
    if i == 3:
        iv[RESTOR] = 0
    iv[IRC] = 6


@njit(cache=True)
def _dogleg(v: np.ndarray, dig: np.ndarray, nwt: np.ndarray, step: np.ndarray) -> None:
    """Double-dogleg step (Dennis & Mei) for radius ``v[RADIUS]`` into ``step``; ``nwt`` =
    H^-1 g, ``dig`` = g / d^2. Sets dstnrm, stppar, gtstep, preduc."""
    dgnorm = v[DGNORM]
    gthg = v[GTHG]
    radius = v[RADIUS]
    nwtnrm = v[DST0]
    rlambd = radius / nwtnrm if nwtnrm > 0 else 1.0
    ghinvg = 2.0 * v[NREDUC]
    n = step.shape[0]
    if rlambd >= 1.0:  # the Newton step lies inside the trust region
        v[STPPAR] = 0.0
        v[DSTNRM] = nwtnrm
        v[GTSTEP] = -ghinvg
        v[PREDUC] = v[NREDUC]
        for i in range(n):
            step[i] = -nwt[i]
        return
    v[DSTNRM] = radius
    cfact = (dgnorm / gthg) ** 2
    cnorm = dgnorm * cfact  # length of the Cauchy step
    relax = 1.0 - _BIAS * (1.0 - dgnorm * cnorm / ghinvg)
    if rlambd >= relax:  # between the relaxed and the full Newton step
        v[STPPAR] = 1.0 - (rlambd - relax) / (1.0 - relax)
        v[GTSTEP] = -rlambd * ghinvg
        v[PREDUC] = rlambd * (1.0 - 0.5 * rlambd) * ghinvg
        c = -rlambd
        for i in range(n):
            step[i] = c * nwt[i]
        return
    if cnorm >= radius:  # the Cauchy step leaves the region: steepest descent to its edge
        t = -radius / dgnorm
        v[STPPAR] = 1.0 + cnorm / radius
        v[GTSTEP] = -radius * dgnorm
        v[PREDUC] = radius * (dgnorm - 0.5 * radius * (gthg / dgnorm) ** 2)
        for i in range(n):
            step[i] = t * dig[i]
        return
    # on the leg from the Cauchy point to the relaxed Newton step
    ctrnwt = cfact * relax * ghinvg / dgnorm
    t1 = ctrnwt - dgnorm * cfact**2
    t2 = radius * (radius / dgnorm) - dgnorm * cfact**2
    t = relax * nwtnrm
    femnsq = (t / dgnorm) * t - ctrnwt - t1
    t = t2 / (t1 + sqrt(t1 * t1 + femnsq * t2))
    t1 = (t - 1.0) * cfact
    t2 = -t * relax
    v[STPPAR] = 2.0 - t
    v[GTSTEP] = t1 * dgnorm**2 + t2 * ghinvg
    v[PREDUC] = (-t1 * dgnorm * ((t2 + 1.0) * dgnorm) - t2 * (1.0 + 0.5 * t2) * ghinvg
                 - 0.5 * (gthg * t1) ** 2)
    for i in range(n):
        step[i] = t1 * dig[i] + t2 * nwt[i]


@njit(cache=True)
def _scaled_norm(g: np.ndarray, d: np.ndarray, unit: bool) -> float:
    """|g / d|."""
    t = 0.0
    for i in range(g.shape[0]):
        a = g[i] if unit else g[i] / d[i]
        t += a * a
    return sqrt(t)


@njit(cache=True)
def port_next(v: np.ndarray, iv: np.ndarray, wk: np.ndarray, hmat: np.ndarray,
              bmat: np.ndarray) -> int:
    """Advance nlminb's minimisation to its next request (REQ_F, REQ_G, REQ_ITERATION,
    REQ_DONE); the state is :class:`Workspace`'s arrays, changed in place."""
    x, x0, g, g0, step, lstgst = wk[X], wk[X0], wk[G], wk[G0], wk[STEP], wk[LSTGST]
    nwt, dig, d, inv_d2, hstep, tmp = wk[NWT], wk[DIG], wk[D], wk[INVD2], wk[HSTEP], wk[TMP]
    n = x.shape[0]
    while True:
        phase = iv[PHASE]
        if phase == _P_START:
            unit = True
            for i in range(n):
                h0 = (d[i] if d[i] > 0 else 1.0) ** 2
                hmat[i, i] = h0  # H0 = diag(d)^2
                bmat[i, i] = 1.0 / h0  # its inverse, kept alongside
                inv_d2[i] = 1.0 / (d[i] * d[i])
                if d[i] != 1.0:
                    unit = False
            iv[UNIT] = 1 if unit else 0
            iv[PHASE] = _P_GOT_F0
            return REQ_F
        if phase == _P_GOT_F0:
            iv[NFCALL] = 1
            iv[NFGCAL] = 1
            iv[MODEL] = 1
            iv[PHASE] = _P_GOT_G0
            return REQ_G
        if phase == _P_GOT_G0:
            iv[NGCALL] = 1
            v[DGNORM] = _scaled_norm(g, d, False)
            v[RADIUS] = v[STEP_MIN]
            iv[NITER] = 0
            iv[PHASE] = _P_ITER_CHECK
            continue
        if phase == _P_ITER_CHECK:
            if iv[NITER] >= iv[MAX_ITER]:
                iv[CODE] = 10
                return REQ_DONE
            iv[PHASE] = _P_ITER
            return REQ_ITERATION
        if phase == _P_ITER:
            iv[NITER] += 1
            if iv[NITER] > 1:
                v[RADIUS] = v[RADFAC] * v[DSTNRM]
            v[F0] = v[F]
            iv[IRC] = 4
            x0[:] = x
            g0[:] = g
            iv[NEWTON_OK] = 0
            iv[CHECK_LIMIT] = 1
            iv[PHASE] = _P_TRIAL
            continue
        if phase == _P_TRIAL:
            if iv[CHECK_LIMIT] == 1 and iv[NFCALL] >= iv[MAX_EVAL]:
                if v[F] >= v[F0]:
                    iv[CODE] = 9
                    return REQ_DONE
                iv[CNVCOD] = 9
                iv[PHASE] = _P_ACCEPT
                continue
            iv[CHECK_LIMIT] = 1
            if iv[NEWTON_OK] == 0:  # Newton step and model quantities for this iteration
                nwt[:] = kernels.symv(bmat, g)  # H^-1 g
                v[NREDUC] = 0.5 * kernels.dot(g, nwt)
                if iv[UNIT] == 1:
                    v[DST0] = sqrt(kernels.dot(nwt, nwt))
                    dig[:] = g
                else:
                    for i in range(n):
                        tmp[i] = nwt[i] * d[i]
                    v[DST0] = sqrt(kernels.dot(tmp, tmp))
                    for i in range(n):
                        dig[i] = g[i] * inv_d2[i]
                v[GTHG] = sqrt(kernels.dot(dig, kernels.symv(hmat, dig)))
                iv[NEWTON_OK] = 1
            _dogleg(v, dig, nwt, step)
            if iv[IRC] == 6:
                iv[RSTRST] = 3 if iv[RESTOR] != 2 else 2
            elif v[DSTNRM] <= 0:
                iv[RSTRST] = 3
            elif iv[IRC] == 5 and v[RADFAC] > 1 and v[PREDUC] <= 1.2 * v[FDIF]:
                iv[RSTRST] = 3 if iv[RESTOR] != 2 else 0
            else:
                for i in range(n):
                    x[i] = x0[i] + step[i]
                iv[NFCALL] += 1
                iv[RSTRST] = 3
                iv[PHASE] = _P_TRIAL_DONE
                return REQ_F
            iv[PHASE] = _P_TRIAL_DONE
            continue
        if phase == _P_TRIAL_DONE:
            v[RELDX] = kernels.rel_dist(d, x, x0)
            _assess(v, iv)
            if iv[RESTOR] == 1:
                x[:] = x0
            elif iv[RESTOR] == 2:
                lstgst[:] = step
            elif iv[RESTOR] == 3:
                step[:] = lstgst
                for i in range(n):
                    x[i] = x0[i] + step[i]
                v[RELDX] = kernels.rel_dist(d, x, x0)
                iv[RESTOR] = iv[RSTRST]
            k = iv[IRC]
            if k == 1 or k == 5:
                v[RADIUS] = v[RADFAC] * v[DSTNRM]
                iv[PHASE] = _P_TRIAL
                continue
            if k == 6:
                v[RADIUS] = v[LMAXS]
                iv[CHECK_LIMIT] = 0
                iv[PHASE] = _P_TRIAL
                continue
            if 7 <= k <= 12:
                iv[CNVCOD] = k - 4
                if v[F] >= v[F0] or iv[XIRC] == 14:
                    iv[CODE] = iv[CNVCOD]
                    return REQ_DONE
                iv[XIRC] = 14
            elif k == 13:
                iv[CODE] = 64
                return REQ_DONE
            iv[PHASE] = _P_ACCEPT  # 2, 3, 4 (or a convergence code): accept
            continue
        if phase == _P_ACCEPT:
            iv[HAVE_HSTEP] = 1 if iv[IRC] == 3 else 0
            if iv[HAVE_HSTEP] == 1:
                hstep[:] = kernels.symv(hmat, step)
            iv[PHASE] = _P_GOT_G
            return REQ_G
        # _P_GOT_G: the gradient at the accepted point
        iv[NGCALL] += 1
        unit = iv[UNIT] == 1
        v[DGNORM] = _scaled_norm(g, d, unit)
        if iv[CNVCOD] != 0:
            iv[CODE] = iv[CNVCOD]
            return REQ_DONE
        y = g - g0
        if iv[HAVE_HSTEP] == 1:
            for i in range(n):
                tmp[i] = hstep[i] - y[i] if unit else (hstep[i] - y[i]) / d[i]
            if (sqrt(kernels.dot(tmp, tmp)) <= v[DGNORM] * _TUNER4
                    or kernels.dot(g, step) < v[GTSTEP] * _TUNER5):
                v[RADFAC] = _INCFAC
        else:
            hstep[:] = kernels.symv(hmat, step)
        kernels.bfgs_update(hmat, bmat, step, y, hstep, _EPS_DAMP)
        iv[PHASE] = _P_ITER_CHECK


def nlminb(
    fun: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    scale: np.ndarray,
    *,
    cap: Callable[[int, np.ndarray, np.ndarray], bool] | None = None,
    **control: float,
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
    cap : callable, optional
        ``cap(iteration, x, g)`` called at the start of every iteration (``iteration`` = the
        iterations done); returning True stops the run there (``code`` 0).
    **control
        nlminb's ``control``: max_iter, max_eval, rel_tol, x_tol, xf_tol, abs_tol, step_min,
        step_max, sing_tol (defaults: lavaan 0.6-14's values, see :class:`Workspace`;
        ``sing_tol`` is PORT's default); ``step_min`` is the first step's radius, ``step_max``
        the step length of the singular-convergence test.

    Returns
    -------
    NlminbResult
        ``code`` is PORT's return code: 3 X-convergence, 4 relative-function convergence, 5 both,
        6 absolute-function convergence (these four are nlminb's ``convergence = 0``),
        7 singular convergence, 8 false convergence, 9 evaluation limit, 10 iteration limit.
    """
    ws = Workspace(np.asarray(x0, dtype=float), np.asarray(scale, dtype=float), **control)
    while True:
        req = ws.next()
        if req == REQ_F:
            ws.v[F] = fun(ws.wk[X].copy())
        elif req == REQ_G:
            ws.wk[G] = grad(ws.wk[X].copy())
        elif req == REQ_ITERATION:
            if cap is not None and cap(int(ws.iv[NITER]), ws.wk[X].copy(), ws.wk[G].copy()):
                return ws.result(0)
        else:
            return ws.result(int(ws.iv[CODE]))
