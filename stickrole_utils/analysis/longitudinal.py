"""Longitudinal measurement invariance of the four "magnifying glass" CFA models across
contexts: the same personas answer in every context (``docs/method.md``, Measurement
invariance).

The multi-group form (:mod:`.invariance`) treats the contexts as independent samples. Here
they are repeated measures of the same personas: ONE group whose indicators are the (context,
item) pairs of the personas present in every context, and whose factors are the (context,
value) pairs, as lavaan fits it (and semTools' ``measEq.syntax(..., longFacNames = ...)``
writes it) with ``std.lv``-style identification:

* ``configural``: every loading and intercept free in each context; factor variances 1 and
  means 0 in every context; factor covariances free within and across contexts; each item's
  residuals correlated across contexts (a free residual covariance between the same item in
  every pair of contexts: its item-specific part persists);
* ``metric``: each item's loading equal across contexts; factor variances free beyond the
  first context;
* ``scalar``: each item's intercept equal too; latent means free beyond the first context.

Residual variances and covariances stay free at every level. The decisions (ΔCFI, ΔRMSEA) and
the partial-invariance search are those of the multi-group form. CFI's baseline is lavaan's
for one group with a mean structure: the independence model (free means and variances, no
covariances, so also none between an item and itself in another context).

The design needs more complete personas than indicators (items x contexts), and grows fast:
a 13-item model over 5 contexts has 65 indicators and ~330 parameters; with fewer personas
the rows say so (``converged`` False and a note) instead of fitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..design.instruments import Instrument
from ..design.values import HIGHER_ORDER
from .invariance import (
    LEVEL_COLUMNS,
    _factors,
    _levels_table,
    _not_fitted,
    _renumber,
    _start,
    invariance,
)
from .mgcfa import GroupSpec, MGFit, fit_indices, fit_multigroup

__all__ = ["context_invariance", "longitudinal_spec", "fit_longitudinal", "longitudinal_panel",
           "longitudinal_invariance"]


def longitudinal_spec(p: int, factor_of: np.ndarray, m: int, n_contexts: int, level: str,
                      free_loadings: frozenset[int] = frozenset(),
                      free_intercepts: frozenset[int] = frozenset()
                      ) -> tuple[GroupSpec, int]:
    """The one-group :class:`~.mgcfa.GroupSpec` of the longitudinal model at ``level``, and
    its number of parameters.

    Indicator ``t * p + i`` is item ``i`` (0-based position) in context ``t``; factor
    ``t * m + k`` is factor ``k`` in context ``t``. A parameter index shared by several cells
    is an equality constraint. ``free_loadings`` / ``free_intercepts``: items whose loading /
    intercept stays free in every context (partial invariance).

    Examples
    --------
    Two items on one factor, two contexts, metric: the loadings are shared, the second
    context's factor variance is free, and each item's residuals covary across contexts.

    >>> spec, n = longitudinal_spec(2, np.array([0, 0]), 1, 2, "metric")
    >>> spec.lam.ravel().tolist()  # rows: item 0 t0, item 1 t0, item 0 t1, item 1 t1
    [0, -1, 1, -1, -1, 0, -1, 1]
    >>> int(spec.theta[0, 2]) >= 0 and int(spec.theta[0, 3]) == -1
    True
    >>> spec.phi.tolist(), n  # variance 1 at t0, free at t1; covariance free
    ([[-1, 13], [13, 10]], 14)
    """
    counter = iter(range(10**9))

    def new(k: int) -> np.ndarray:
        return np.array([next(counter) for _ in range(k)], dtype=int)

    big_p, big_m = p * n_contexts, m * n_contexts
    lam = np.full((big_p, big_m), -1)
    nu = np.full(big_p, -1)
    theta = np.full((big_p, big_p), -1)
    phi = np.full((big_m, big_m), -1)
    alpha = np.full(big_m, -1)
    shared_lam, shared_nu = new(p), new(p)
    eq_lam = np.array([level in ("metric", "scalar") and i not in free_loadings
                       for i in range(p)])
    eq_nu = np.array([level == "scalar" and i not in free_intercepts for i in range(p)])
    for t in range(n_contexts):
        rows = t * p + np.arange(p)
        lam[rows, t * m + factor_of] = np.where(eq_lam, shared_lam, new(p))
        nu[rows] = np.where(eq_nu, shared_nu, new(p))
        theta[rows, rows] = new(p)
        if t > 0 and level != "configural":
            phi[t * m + np.arange(m), t * m + np.arange(m)] = new(m)
        if t > 0 and level == "scalar":
            alpha[t * m:(t + 1) * m] = new(m)
    for i in range(p):  # the same item in two contexts: correlated residuals
        for t in range(n_contexts):
            for s in range(t + 1, n_contexts):
                theta[t * p + i, s * p + i] = theta[s * p + i, t * p + i] = next(counter)
    for a in range(big_m):  # factor covariances, within and across contexts
        for b in range(a + 1, big_m):
            phi[a, b] = phi[b, a] = next(counter)
    spec = GroupSpec(lam=lam, phi=phi, theta=theta, nu=nu, alpha=alpha)
    return spec, _renumber([spec])


def fit_longitudinal(x: np.ndarray, factor_of: np.ndarray, m: int, n_contexts: int,
                     level: str, free_loadings: frozenset[int] = frozenset(),
                     free_intercepts: frozenset[int] = frozenset(),
                     lower: MGFit | None = None) -> dict[str, Any]:
    """Fit one level of the longitudinal model to the wide panel ``x`` (personas x
    (context, item), contexts outermost, as :func:`longitudinal_panel`); returns the fit,
    ``chi2, df, converged`` and lavaan's ``cfi, tli, rmsea`` (one group; the baseline is
    the independence model with free means, :math:`\\chi^2_0 = N(\\sum_j \\log s_{jj} -
    \\log|S|)` on :math:`P(P-1)/2` degrees of freedom), and ``proper``: False where the
    solution is improper (a latent correlation matrix or residual covariance matrix that is
    not positive definite, as from a factor correlation beyond 1 or a negative variance).

    ``lower``: the fit of the level below; the search then also starts from its estimates
    (shared parameters at the mean of the cells they join) and the lower minimum is kept. On
    weak structure the likelihood has several minima and the default start alone can stop at
    a worse one than lavaan's."""
    p = x.shape[1] // n_contexts
    spec, n_par = longitudinal_spec(p, factor_of, m, n_contexts, level, free_loadings,
                                    free_intercepts)
    fit = fit_multigroup([x], [spec], _start([spec], [x], n_par))
    if lower is not None:
        other = fit_multigroup([x], [spec], _start_from(spec, n_par, lower.matrices[0]))
        if (other.converged, -other.fmin) > (fit.converged, -fit.fmin):
            fit = other
    n, big_p = x.shape
    chi2_0 = n * (np.log(x.var(axis=0)).sum()
                  - np.linalg.slogdet(np.cov(x, rowvar=False, bias=True))[1])
    return {"fit": fit, "chi2": fit.chi2, "df": fit.df, "converged": fit.converged,
            "proper": _proper(fit.matrices[0]),
            **fit_indices(fit.chi2, fit.df, chi2_0, big_p * (big_p - 1) / 2, n, 1)}


def _start_from(spec: GroupSpec, n_par: int, matrices: dict[str, np.ndarray]) -> np.ndarray:
    x = np.zeros(n_par)
    count = np.zeros(n_par)
    for name in ("lam", "phi", "theta", "nu", "alpha"):
        idx = getattr(spec, name)
        free = idx >= 0
        np.add.at(x, idx[free], matrices[name][free])
        np.add.at(count, idx[free], 1)
    return x / np.maximum(count, 1)


def _proper(matrices: dict[str, np.ndarray]) -> bool:
    phi, theta = matrices["phi"], matrices["theta"]
    d = np.diag(phi)
    if (d <= 0).any() or (np.diag(theta) < 0).any():
        return False
    corr = phi / np.sqrt(np.outer(d, d))
    return bool(np.linalg.eigvalsh(corr).min() > 0 and np.linalg.eigvalsh(theta).min() >= 0)


def longitudinal_panel(items: dict[str, pd.DataFrame], cols: list[int]
                       ) -> tuple[np.ndarray, str]:
    """The wide panel of the personas answering every item in every context: rows personas
    (the index shared by ``items``' frames), columns ``(context, item)``, contexts in
    ``items``' order, items in ``cols`` order; and a note where it cannot be fitted (fewer
    than two contexts, no more complete personas than indicators, a constant indicator),
    else ``""``."""
    contexts = list(items)
    common = pd.Index(items[contexts[0]].index) if contexts else pd.Index([])
    for c in contexts[1:]:
        common = common.intersection(items[c].index, sort=False)
    wide = pd.concat([items[c].reindex(index=common, columns=cols).astype(float)
                      for c in contexts], axis=1, keys=contexts).dropna()
    x = wide.to_numpy()
    n, big_p = x.shape
    if len(contexts) < 2:
        return x, f"{len(contexts)} context: nothing to compare"
    if n <= big_p:
        return x, (f"{n} complete personas for {big_p} indicators ({len(cols)} items x "
                   f"{len(contexts)} contexts): the longitudinal form needs more than "
                   f"{big_p}")
    constant = [f"item {i} in {c}" for (c, i), v in zip(wide.columns, x.var(axis=0),
                                                          strict=True) if v <= 1e-12]
    if constant:
        return x, f"{n} complete personas, constant indicator(s): {', '.join(constant)}"
    return x, ""


def longitudinal_invariance(items: dict[str, pd.DataFrame], instrument: Instrument,
                            group: str, max_free: int | None = None,
                            partial: bool = True) -> pd.DataFrame:
    """Configural, metric and scalar longitudinal invariance of one higher-order model across
    contexts (the same personas in every context).

    Parameters
    ----------
    items : dict
        Context -> wide raw answers (index personas, columns item numbers); only the personas
        present, with every item answered, in every context are used.
    instrument : Instrument
        PVQ40 or SVS57 (the same in every context).
    group : str
        A key of ``HIGHER_ORDER``.
    max_free : int, optional
        Most items freed in the search for partial invariance (default: half the items).
    partial : bool
        Search the partial-invariance items where a level fails.

    Returns
    -------
    DataFrame
        :data:`~.invariance.LEVEL_COLUMNS` with ``form`` = ``longitudinal``, rows as
        :func:`~.invariance.invariance`; where the design cannot be fitted, one row per level
        with ``converged`` False and the reason in ``note``.

    Notes
    -----
    lavaan equivalent (two contexts, one factor of items ``a``, ``b``, scalar level)::

        F_1 =~ NA*a_1 + la*a_1 + lb*b_1
        F_2 =~ NA*a_2 + la*a_2 + lb*b_2
        F_1 ~~ 1*F_1;  F_2 ~~ F_2;  F_1 ~ 0*1;  F_2 ~ 1
        a_1 ~ ia*1;  a_2 ~ ia*1;  b_1 ~ ib*1;  b_2 ~ ib*1
        a_1 ~~ a_2;  b_1 ~~ b_2
        cfa(model, data = wide, meanstructure = TRUE)

    (``tests/reference/longitudinal_lavaan.R``).
    """
    factors = _factors(instrument, group)
    cols = [i for _, its in factors for i in its]
    factor_of = np.array([k for k, (_, its) in enumerate(factors) for _ in its])
    x, note = longitudinal_panel(items, cols)
    if note:
        return _not_fitted(group, "longitudinal", note)
    n_contexts = len(items)
    full: dict[str, Any] = {}  # level -> fit of the full level: the next level's start

    def fit(level: str, free_loadings: frozenset[int], free_intercepts: frozenset[int]):
        below = {"metric": "configural", "scalar": "metric"}.get(level)
        res = fit_longitudinal(x, factor_of, len(factors), n_contexts, level, free_loadings,
                               free_intercepts, lower=full.get(below))
        if not free_loadings and not free_intercepts:
            full[level] = res["fit"]
        if res["converged"] and not res["proper"]:
            res["note"] = "improper solution (a latent correlation beyond 1 or a negative variance)"
        return res

    rows = _levels_table(fit, group, "longitudinal", cols, partial=partial,
                        max_free=len(cols) // 2 if max_free is None else max_free)
    return pd.DataFrame(rows, columns=list(LEVEL_COLUMNS))


def context_invariance(items: dict[str, pd.DataFrame], instrument: Instrument,
                       max_free: int = 2, longitudinal: bool = True
                       ) -> tuple[pd.DataFrame, dict[tuple[str, str], float]]:
    """:func:`~.invariance.invariance` of the four higher-order models (and, with
    ``longitudinal``, their :func:`longitudinal_invariance`) and the omega of every value in
    every context, from one set of fits (here, not in :mod:`.invariance`, which this module
    builds on).

    Parameters
    ----------
    items : dict
        Context -> wide raw answers (one row per persona, columns = item numbers).
    instrument : Instrument
        PVQ40 or SVS57.
    max_free : int
        Most items freed in the search for partial invariance; 0: no search.
    longitudinal : bool
        Also fit the longitudinal form (the personas present in every context; rows with
        ``converged`` False and a note where there are too few of them).

    Returns
    -------
    (DataFrame, dict)
        The tables stacked (:data:`LEVEL_COLUMNS`: the four multi-group ones, then the four
        longitudinal ones); ``(context, value) -> omega``.
    """
    omega: dict[tuple[str, str], float] = {}
    tables = [invariance(items, instrument, g, max_free=max_free, partial=max_free > 0,
                         omega=omega) for g in HIGHER_ORDER]
    if longitudinal:
        tables += [longitudinal_invariance(items, instrument, g, max_free=max_free,
                                           partial=max_free > 0) for g in HIGHER_ORDER]
    return pd.concat(tables, ignore_index=True), omega
