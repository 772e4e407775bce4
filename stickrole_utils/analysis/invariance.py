"""Measurement invariance of the four "magnifying glass" CFA models across contexts, and
McDonald's omega per value (``docs/method.md``, Measurement invariance; McDonald's omega).

Does the questionnaire measure the same thing in every context? Per higher-order model
(conservation, openness to change, self-transcendence, self-enhancement) the contexts are the
groups of a multi-group CFA (:mod:`.mgcfa`), fitted at three nested levels, as lavaan's
``cfa(model, data, group = "chunk", std.lv = TRUE, group.equal = ...)``:

* ``configural``: the same factor pattern in every context, every parameter free;
* ``metric``: loadings equal across contexts (latent variances free beyond the first);
* ``scalar``: loadings and intercepts equal (latent means free beyond the first).

A level holds when, against the level below, CFI drops by no more than 0.010 and RMSEA rises by
no more than 0.015 (:data:`DELTA_CFI`, :data:`DELTA_RMSEA`; Cheung & Rensvold 2002; Chen
2007). When one fails, the constrained parameters (loadings for metric, intercepts for scalar)
are freed one item at a time, the item whose release lowers chi-square most first, until the
level holds: the partial-invariance items (Byrne, Shavelson & Muthén 1989).

The longitudinal form (one group, the same personas answering in every context, each item's
residuals correlated across contexts) is :mod:`.longitudinal`; its rows carry ``form`` =
``longitudinal``, these ``multigroup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..design.instruments import Instrument
from ..design.values import HIGHER_ORDER
from .mgcfa import GroupSpec, fit_indices, fit_multigroup

__all__ = ["LEVELS", "DELTA_CFI", "DELTA_RMSEA", "LEVEL_COLUMNS", "multigroup_specs",
           "fit_level", "invariance", "first_failing", "mcdonald_omega"]

#: The nested levels, weakest first.
LEVELS: tuple[str, ...] = ("configural", "metric", "scalar")
#: Largest drop in CFI from the level below that still counts as invariant.
DELTA_CFI: float = 0.010
#: Largest rise in RMSEA from the level below that still counts as invariant.
DELTA_RMSEA: float = 0.015
#: Columns of :func:`invariance`.
LEVEL_COLUMNS: tuple[str, ...] = (
    "group", "form", "level", "cfi", "rmsea", "chi2", "df", "delta_cfi", "delta_rmsea", "holds",
    "freed", "converged", "note")


def _factors(instrument: Instrument, group: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(v, tuple(instrument.key[v])) for v in HIGHER_ORDER[group]]


def multigroup_specs(p: int, factor_of: np.ndarray, m: int, n_groups: int, level: str,
                     free_loadings: frozenset[int] = frozenset(),
                     free_intercepts: frozenset[int] = frozenset()
                     ) -> tuple[list[GroupSpec], int]:
    """The :class:`~.mgcfa.GroupSpec` of each group at ``level`` (std.lv identification), and
    the number of parameters. ``free_loadings`` / ``free_intercepts``: items (0-based
    positions) whose loading / intercept stays free in every group (partial invariance)."""
    counter = iter(range(10**9))

    def new(shape):
        return np.array([next(counter) for _ in range(int(np.prod(shape)))]).reshape(shape)

    lam_mask = np.zeros((p, m), bool)
    lam_mask[np.arange(p), factor_of] = True
    shared_lam = new((p,))
    shared_nu = new((p,))
    specs = []
    for g in range(n_groups):
        lam = np.full((p, m), -1)
        eq_lam = level in ("metric", "scalar")
        lam_ids = np.where([eq_lam and i not in free_loadings for i in range(p)],
                           shared_lam, new((p,)))
        lam[lam_mask] = lam_ids[np.nonzero(lam_mask)[0]]
        phi = np.full((m, m), -1)
        for a in range(m):
            for b in range(a + 1 if (g == 0 or level == "configural") else a, m):
                if a == b:
                    phi[a, a] = next(counter)
                elif b > a:
                    phi[a, b] = phi[b, a] = next(counter)
        theta = np.full((p, p), -1)
        theta[np.arange(p), np.arange(p)] = new((p,))
        eq_nu = level == "scalar"
        nu = np.where([eq_nu and i not in free_intercepts for i in range(p)], shared_nu,
                      new((p,)))
        alpha = np.full(m, -1) if (g == 0 or level != "scalar") else new((m,))
        specs.append(GroupSpec(lam=lam, phi=phi, theta=theta, nu=nu, alpha=alpha))
    return specs, _renumber(specs)


def _renumber(specs: list[GroupSpec]) -> int:
    """Number the parameters the specs use 0, 1, ... in place (drops indices drawn but not
    used); returns how many there are."""
    used = sorted({int(i) for s in specs for a in (s.lam, s.phi, s.theta, s.nu, s.alpha)
                   for i in np.ravel(a) if i >= 0})
    remap = {old: new_ for new_, old in enumerate(used)}
    for s in specs:
        for name in ("lam", "phi", "theta", "nu", "alpha"):
            arr = getattr(s, name)
            setattr(s, name, np.vectorize(lambda i: remap.get(int(i), -1))(arr))
    return len(used)


def _start(specs: list[GroupSpec], data: list[np.ndarray], n_par: int) -> np.ndarray:
    x = np.zeros(n_par)
    count = np.zeros(n_par)
    for spec, d in zip(specs, data, strict=True):
        var = d.var(axis=0)
        mean = d.mean(axis=0)
        for name, values in (("lam", np.sqrt(var)[:, None] * 0.7 * np.ones(spec.lam.shape)),
                             ("theta", np.diag(var) * 0.5), ("nu", mean),
                             ("phi", np.eye(spec.phi.shape[0]))):
            idx = getattr(spec, name)
            free = idx >= 0
            np.add.at(x, idx[free], values[free])
            np.add.at(count, idx[free], 1)
    return np.where(count > 0, x / np.maximum(count, 1), 0.0)


def fit_level(data: list[np.ndarray], factor_of: np.ndarray, m: int, level: str,
              free_loadings: frozenset[int] = frozenset(),
              free_intercepts: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Fit one level to the groups' data; returns the fit, its indices and ``converged``.

    The configural model shares no parameter between groups, so its likelihood is the sum of
    the groups' own: each group is fitted alone (the same minimum, found several times
    faster; ``fit`` is then the list of the groups' fits)."""
    p = data[0].shape[1]
    n = sum(d.shape[0] for d in data)
    if level == "configural" and len(data) > 1:
        fits = [fit_level([d], factor_of, m, level)["fit"] for d in data]
        chi2 = sum(f.chi2 for f in fits)
        df = sum(f.df for f in fits)
        fit = fits
        converged = all(f.converged for f in fits)
    else:
        specs, n_par = multigroup_specs(p, factor_of, m, len(data), level, free_loadings,
                                        free_intercepts)
        fit = fit_multigroup(data, specs, _start(specs, data, n_par))
        chi2, df, converged = fit.chi2, fit.df, fit.converged
    chi2_0 = sum(d.shape[0] * (np.log(d.var(axis=0)).sum()
                               - np.linalg.slogdet(np.cov(d, rowvar=False, bias=True))[1])
                 for d in data)
    df_0 = len(data) * p * (p - 1) / 2
    return {"fit": fit, "chi2": chi2, "df": df, "converged": converged,
            **fit_indices(chi2, df, chi2_0, df_0, n, len(data))}


def _group_data(items: dict[str, pd.DataFrame], cols: list[int]) -> tuple[list, list[str]]:
    data, notes = [], []
    for chunk, x in items.items():
        d = x.reindex(columns=cols).astype(float).dropna().to_numpy()
        if d.shape[0] <= len(cols) or (d.var(axis=0) <= 1e-12).any():
            notes.append(f"{chunk}: {d.shape[0]} complete personas for {len(cols)} items or a "
                         "constant item")
        data.append(d)
    return data, notes


def invariance(items: dict[str, pd.DataFrame], instrument: Instrument, group: str,
               max_free: int | None = None, partial: bool = True,
               omega: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Configural, metric and scalar invariance of one higher-order model across contexts.

    Parameters
    ----------
    items : dict
        Context -> wide raw answers (one row per persona, columns = item numbers).
    instrument : Instrument
        PVQ40 or SVS57 (the same in every context).
    group : str
        A key of ``HIGHER_ORDER``.
    max_free : int, optional
        Most items freed in the search for partial invariance (default: half the items).
    partial : bool
        Search the partial-invariance items where a level fails (refits: the slow part).
    omega : dict, optional
        Filled with ``(context, value) -> McDonald's omega`` from the configural fit (each
        context's own loadings: the same numbers as :func:`mcdonald_omega`, no extra fit).

    Returns
    -------
    DataFrame
        :data:`LEVEL_COLUMNS`, one row per level (``configural``, ``metric``, ``scalar``)
        and, where a level fails, one ``partial <level>`` row with the freed items (``freed``,
        item numbers: loadings at metric, intercepts at scalar) at which it holds (or the most
        tried). Each full level is lavaan's ``group.equal`` model; ``holds`` compares a level
        with the (partial) level below.
    """
    factors = _factors(instrument, group)
    cols = [i for _, its in factors for i in its]
    factor_of = np.array([k for k, (_, its) in enumerate(factors) for _ in its])
    data, notes = _group_data(items, cols)
    if notes:
        return _not_fitted(group, "multigroup", "; ".join(notes))

    def fit(level: str, free_loadings: frozenset[int], free_intercepts: frozenset[int]):
        return fit_level(data, factor_of, len(factors), level, free_loadings, free_intercepts)

    def keep_omega(res: dict) -> None:
        if omega is not None:
            fits = res["fit"] if isinstance(res["fit"], list) else [res["fit"]]
            for chunk, f in zip(items, fits, strict=True):
                omega.update({(chunk, v): w for v, w in _omega(f, factor_of, factors).items()})

    rows = _levels_table(fit, group, "multigroup", cols, partial=partial,
                        max_free=len(cols) // 2 if max_free is None else max_free,
                        on_configural=keep_omega)
    return pd.DataFrame(rows, columns=list(LEVEL_COLUMNS))


def _not_fitted(group: str, form: str, note: str) -> pd.DataFrame:
    """The :data:`LEVEL_COLUMNS` rows of a design that cannot be fitted: one per level,
    ``converged`` False and ``note`` saying why."""
    return pd.DataFrame([{"group": group, "form": form, "level": lv, "converged": False,
                          "holds": False, "note": note} for lv in LEVELS],
                        columns=list(LEVEL_COLUMNS))


def _levels_table(fit: Callable[[str, frozenset[int], frozenset[int]], dict], group: str,
                 form: str, cols: list[int], *, partial: bool, max_free: int,
                 on_configural: Callable[[dict], None] | None = None) -> list[dict]:
    """The rows of :func:`invariance` for any form: ``fit(level, free_loadings,
    free_intercepts)`` fits one level (a dict with ``chi2, df, cfi, rmsea, converged``);
    each full level, then a ``partial <level>`` row where it fails and ``partial``."""
    rows: list[dict] = []
    previous = None
    free: dict[str, frozenset[int]] = {"metric": frozenset(), "scalar": frozenset()}
    for level in LEVELS:
        res = fit(level, frozenset(), frozenset())  # lavaan's group.equal level
        if level == "configural" and on_configural is not None:
            on_configural(res)
        row = _row(group, form, level, res, previous, frozenset(), cols)
        rows.append(row)
        if partial and level != "configural" and not row["holds"] and res["converged"]:
            res, free[level] = _partial(fit, len(cols), level, previous, max_free,
                                        free["metric"])
            rows.append(_row(group, form, f"partial {level}", res, previous, free[level],
                             cols))
        previous = res
    return rows


def _holds(res: dict, previous: dict | None) -> tuple[float, float, bool]:
    if previous is None:
        return np.nan, np.nan, bool(res["converged"])
    dc = res["cfi"] - previous["cfi"]
    dr = res["rmsea"] - previous["rmsea"]
    return dc, dr, bool(res["converged"] and dc >= -DELTA_CFI and dr <= DELTA_RMSEA)


def _row(group, form, level, res, previous, freed, cols) -> dict:
    dc, dr, ok = _holds(res, previous)
    return {"group": group, "form": form, "level": level, "cfi": res["cfi"], "rmsea": res["rmsea"],
            "chi2": res["chi2"], "df": res["df"], "delta_cfi": dc, "delta_rmsea": dr,
            "holds": ok, "freed": " ".join(str(cols[i]) for i in sorted(freed)),
            "converged": res["converged"],
            "note": res.get("note", "") if res["converged"] else "not converged"}


def _partial(fit, n_items, level, previous, max_free, free_loadings):
    """Free the constrained parameter of one item after another (the one whose release lowers
    chi-square most first) until the level holds against ``previous``; the loadings freed at
    the metric level stay free at the scalar level."""
    freed: frozenset[int] = frozenset()
    best = None
    for _ in range(max_free):
        candidates = [i for i in range(n_items) if i not in freed]
        fits = {i: fit(level, freed | {i}, frozenset()) if level == "metric"
                else fit(level, free_loadings, freed | {i}) for i in candidates}
        i, best = min(fits.items(), key=lambda kv: kv[1]["chi2"])
        freed = freed | {i}
        if _holds(best, previous)[2]:
            break
    return best, freed


def mcdonald_omega(items: pd.DataFrame, instrument: Instrument) -> dict[str, float]:
    """McDonald's omega per value from the loadings of the four magnifying-glass CFA models.

    Parameters
    ----------
    items : DataFrame
        Wide raw answers of one context (one row per persona, columns = item numbers).
    instrument : Instrument
        PVQ40 or SVS57.

    Returns
    -------
    dict
        value -> :math:`\\omega_v = (\\sum_{i \\in v} \\lambda_i)^2 / ((\\sum_{i \\in v}
        \\lambda_i)^2 + \\sum_{i \\in v} \\theta_i)`, the ML loadings and residual variances of
        the higher-order model the value belongs to (factor variances 1); NaN where that fit
        does not converge or has fewer than 2 items' worth of complete data. Values in
        ``HIGHER_ORDER`` order (Hedonism with Openness to change).

    Notes
    -----
    McDonald (1999), omega total for a congeneric scale: the share of the unit-weighted sum
    score's variance due to the common factor. Unlike Cronbach's alpha it does not assume equal
    loadings (alpha <= omega then). Computed on the raw answers the CFA uses, where the
    existing alpha uses centered answers (the original's choice), so the two differ by more
    than the loadings.
    """
    out: dict[str, float] = {}
    for group in HIGHER_ORDER:
        factors = _factors(instrument, group)
        cols = [i for _, its in factors for i in its]
        factor_of = np.array([k for k, (_, its) in enumerate(factors) for _ in its])
        d = items.reindex(columns=cols).astype(float).dropna().to_numpy()
        ok = d.shape[0] > len(cols) and (d.var(axis=0) > 1e-12).all()
        res = fit_level([d], factor_of, len(factors), "configural") if ok else None
        out.update(_omega(res["fit"] if res else None, factor_of, factors))
    return out


def _omega(fit, factor_of: np.ndarray, factors: list) -> dict[str, float]:
    """Omega of each factor of one single-group fit (NaN where it did not converge)."""
    out: dict[str, float] = {}
    for k, (value, _) in enumerate(factors):
        if fit is None or not fit.converged:
            out[value] = float("nan")
            continue
        mats = fit.matrices[0]
        lam = np.abs(mats["lam"][factor_of == k, k].sum())
        theta = np.diag(mats["theta"])[factor_of == k].sum()
        out[value] = float(lam**2 / (lam**2 + theta))
    return out


def first_failing(table: pd.DataFrame) -> pd.DataFrame:
    """Per higher-order model and form of an :func:`invariance` table: the first full level
    that does not hold (``none`` when scalar holds; ``configural`` also when a fit did not
    converge), its ΔCFI and ΔRMSEA, and the items freed where partial invariance then holds.

    Columns: ``group, form, first_failing, delta_cfi, delta_rmsea, partial_holds, freed,
    note`` (a table without ``form`` is multi-group).
    """
    if "form" not in table.columns:
        table = table.assign(form="multigroup")
    rows = []
    for (group, form), g in table.groupby(["group", "form"], sort=False):
        full = g[g["level"].isin(LEVELS)].set_index("level")
        failing = next((lv for lv in LEVELS if lv in full.index
                        and not bool(full.at[lv, "holds"])), "none")
        row = {"group": group, "form": form, "first_failing": failing, "delta_cfi": np.nan,
               "delta_rmsea": np.nan, "partial_holds": None, "freed": "",
               "note": "; ".join(sorted({str(n) for n in g["note"].dropna() if n}))}
        if failing not in ("none",):
            row["delta_cfi"] = full.at[failing, "delta_cfi"]
            row["delta_rmsea"] = full.at[failing, "delta_rmsea"]
            part = g[g["level"] == f"partial {failing}"]
            if len(part):
                row["partial_holds"] = bool(part["holds"].iloc[0])
                row["freed"] = str(part["freed"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "form", "first_failing", "delta_cfi",
                                       "delta_rmsea", "partial_holds", "freed", "note"])
