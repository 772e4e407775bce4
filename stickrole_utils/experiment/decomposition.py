"""Variance decomposition of value scores over the crossed factors of an experiment
(``docs/method.md``, Signal and noise).

Every persona answers in every context at every seed (and at every value of any other grid
key, or quantization of a model family): a fully crossed design with one score per cell. Its
variance splits into components, one per main effect and interaction of the factors, by the
random-effects ANOVA (expected mean squares) estimators of generalizability theory:

- :func:`anova_components`: the components of an array whose last axes are the factors,
  vectorised over leading axes (values, bootstrap replicates);
- :func:`decompose`: per value and pooled over values, each component and its share of the
  total, with percentile bootstrap intervals over personas.

What the shares mean: ``persona`` is the signal a role-play should carry (personas differ);
``context`` shifts every persona alike; ``persona:context`` is the instability that rank-order
stability measures (personas re-order between contexts); every component with ``seed`` is
noise (a repetition of the same protocol changes the score).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

__all__ = [
    "DECOMPOSITION_COLUMNS",
    "component_names",
    "anova_components",
    "mean_squares",
    "decompose",
]

#: Columns of :func:`decompose`.
DECOMPOSITION_COLUMNS: tuple[str, ...] = (
    "value",  # str: a Schwartz value, or "all" (the mean of the values' components)
    "quantity",  # str: "component:<factors>" (a variance) or "share:<factors>" (its share)
    "estimate",  # float: ANOVA estimate (a component may be negative; shares count it as 0)
    "ci_low",  # float: percentile bootstrap bound over personas (see decompose)
    "ci_high",  # float
    "n",  # int: personas in the balanced design
)


def _subsets(n_factors: int) -> list[tuple[int, ...]]:
    """Non-empty subsets of the factor axes, lower orders first."""
    return [s for r in range(1, n_factors + 1) for s in combinations(range(n_factors), r)]


def component_names(factors: Sequence[str]) -> list[str]:
    """``"a:b"`` names of every main effect and interaction, lower orders first.

    >>> component_names(["persona", "context", "seed"])[3:]
    ['persona:context', 'persona:seed', 'context:seed', 'persona:context:seed']
    """
    return [":".join(factors[i] for i in s) for s in _subsets(len(factors))]


def mean_squares(y: np.ndarray, n_factors: int) -> dict[tuple[int, ...], np.ndarray]:
    """Mean squares of every effect of the last ``n_factors`` axes of ``y`` (one observation
    per cell), vectorised over the leading axes.

    The effect of a subset :math:`\\alpha` of the factors is the inclusion-exclusion sum of the
    marginal means :math:`\\sum_{\\beta \\subseteq \\alpha} (-1)^{|\\alpha|-|\\beta|}
    \\bar y_\\beta`; :math:`SS_\\alpha = (N / \\prod_{f \\in \\alpha} n_f) \\sum e_\\alpha^2`,
    :math:`df_\\alpha = \\prod_{f \\in \\alpha} (n_f - 1)`.
    """
    lead = y.ndim - n_factors
    shape = y.shape[lead:]
    total = int(np.prod(shape))
    means: dict[tuple[int, ...], np.ndarray] = {}
    for r in range(n_factors + 1):
        for beta in combinations(range(n_factors), r):
            axes = tuple(lead + f for f in range(n_factors) if f not in beta)
            means[beta] = y.mean(axis=axes, keepdims=True) if axes else y
    out = {}
    for alpha in _subsets(n_factors):
        effect = sum((-1) ** (len(alpha) - r) * means[beta]
                     for r in range(len(alpha) + 1) for beta in combinations(alpha, r))
        cells = int(np.prod([shape[f] for f in alpha]))
        df = int(np.prod([shape[f] - 1 for f in alpha]))
        ss = (total / cells) * (effect ** 2).sum(axis=tuple(range(lead, y.ndim)))
        out[alpha] = ss / df if df > 0 else np.full(ss.shape, np.nan)
    return out


def _solve(ms: dict[tuple[int, ...], np.ndarray], shape: Sequence[int]
           ) -> dict[tuple[int, ...], np.ndarray]:
    """Components from mean squares: :math:`E[MS_\\alpha] = \\sum_{\\beta \\supseteq \\alpha}
    (\\prod_{f \\notin \\beta} n_f)\\,\\sigma^2_\\beta`, solved from the highest order down."""
    n_factors = len(shape)
    coef = {b: float(np.prod([shape[f] for f in range(n_factors) if f not in b]))
            for b in ms}
    sigma: dict[tuple[int, ...], np.ndarray] = {}
    for alpha in sorted(ms, key=len, reverse=True):
        rest = sum((coef[b] * sigma[b] for b in sigma if set(alpha) < set(b)),
                   np.zeros_like(ms[alpha]))
        sigma[alpha] = (ms[alpha] - rest) / coef[alpha]
    return {a: sigma[a] for a in ms}  # lower orders first


def anova_components(y: np.ndarray, n_factors: int) -> dict[tuple[int, ...], np.ndarray]:
    """Random-effects variance components of the last ``n_factors`` axes of ``y``.

    Parameters
    ----------
    y : numpy.ndarray
        Shape ``(..., n_1, ..., n_F)``: one score per cell of a fully crossed design.
    n_factors : int
        F, the number of trailing factor axes.

    Returns
    -------
    dict
        subset of factor axes (tuple, e.g. ``(0, 1)``) -> component, of the leading shape. The
        highest-order interaction includes the residual (one observation per cell).

    Notes
    -----
    The ANOVA (method of moments) estimators of generalizability theory (Cronbach et al. 1972;
    Brennan 2001, ch. 3): unbiased, not truncated (a negative estimate says the component is
    about zero). For a balanced design they equal REML's (R: ``lme4::lmer(y ~ (1|p) + (1|c) +
    (1|s) + (1|p:c) + (1|p:s) + (1|c:s))``) whenever none is negative
    (``tests/reference/decomposition_lme4.R``).

    Examples
    --------
    >>> y = np.add.outer(np.array([0.0, 2.0, 4.0]), np.array([0.0, 1.0]))  # rows + columns
    >>> {k: float(v) for k, v in anova_components(y, 2).items()}
    {(0,): 4.0, (1,): 0.5, (0, 1): 0.0}
    """
    shape = y.shape[y.ndim - n_factors:]
    return _solve(mean_squares(y, n_factors), shape)


def _balanced(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop personas (axis 1 of ``[value, persona, ...]``) with a missing score anywhere."""
    keep = np.isfinite(cube).all(axis=tuple(i for i in range(cube.ndim) if i != 1))
    return cube[:, keep], keep


def _shares(comp: dict[tuple[int, ...], np.ndarray]) -> dict[tuple[int, ...], np.ndarray]:
    clipped = {a: np.clip(v, 0, None) for a, v in comp.items()}
    total = sum(clipped.values())
    with np.errstate(invalid="ignore", divide="ignore"):
        return {a: v / total for a, v in clipped.items()}


def decompose(cube: np.ndarray, factors: Sequence[str], values: Sequence[str], *,
              n_boot: int = 200, level: float = 0.95,
              rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Variance components and shares per value and pooled, with bootstrap intervals.

    Parameters
    ----------
    cube : numpy.ndarray
        Shape ``(n_values, n_personas, n_2, ..., n_F)``: scores; axis 1 is the persona factor,
        the others the remaining factors in the order of ``factors[1:]``. Personas with a
        missing score are left out (the design must be balanced).
    factors : sequence of str
        Names of the factor axes, ``persona`` first (e.g. persona, context, seed).
    values : sequence of str
        Names of the values (axis 0).
    n_boot : int
        Bootstrap replicates (0: no intervals).
    level : float
        Confidence level.
    rng : numpy.random.Generator
        Draws of the replicates (default: seed 0).

    Returns
    -------
    DataFrame
        :data:`DECOMPOSITION_COLUMNS`; per value, then ``all`` (components averaged over the
        values, shares of that average), one ``component:<name>`` and one ``share:<name>`` row
        per effect (:func:`component_names`).

    Notes
    -----
    A replicate draws the personas with replacement (the same draw for every value) and
    recomputes every mean square. Components that do not involve personas (``context``,
    ``seed``, ``context:seed``, ...) vary mostly with which contexts and seeds the experiment
    happened to use, which no persona resample shows; so in each replicate their mean squares
    are also multiplied by an independent :math:`\\chi^2_{df}/df` draw, their sampling
    distribution under the random-effects model (Satterthwaite's reasoning; Brennan 2001,
    ch. 6). The percentile interval of a share comes from the same replicates.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    cube, _ = _balanced(np.asarray(cube, dtype=float))
    n_factors = len(factors)
    shape = cube.shape[1:]
    names = component_names(factors)
    subsets = _subsets(n_factors)
    n = shape[0]
    if n < 2 or any(s < 2 for s in shape[1:]):
        est = {a: np.full(len(values) + 1, np.nan) for a in subsets}
        boot = None
    else:
        ms = mean_squares(cube, n_factors)
        comp = _solve(ms, shape)
        est = {a: np.append(v, v.mean()) for a, v in comp.items()}
        boot = _bootstrap(cube, n_factors, n_boot, rng) if n_boot > 0 else None
    shares = _shares(est)
    rows = []
    labels = [*values, "all"]
    q = ((1 - level) / 2, 1 - (1 - level) / 2)
    for kind, point in (("component", est), ("share", shares)):
        for a, name in zip(subsets, names, strict=True):
            if boot is not None:
                reps = boot[0][a] if kind == "component" else boot[1][a]  # (B, values + 1)
                reps = reps + (point[a] - np.nanmean(reps, axis=0))  # bias-centred
                lo, hi = np.nanquantile(reps, q, axis=0)
                if kind == "share":
                    lo, hi = np.clip(lo, 0, 1), np.clip(hi, 0, 1)
            else:
                lo = hi = np.full(len(labels), np.nan)
            for i, v in enumerate(labels):
                rows.append({"value": v, "quantity": f"{kind}:{name}",
                             "estimate": float(point[a][i]), "ci_low": float(lo[i]),
                             "ci_high": float(hi[i]), "n": n})
    out = pd.DataFrame(rows, columns=list(DECOMPOSITION_COLUMNS))
    order = {v: i for i, v in enumerate(labels)}
    return out.sort_values("value", key=lambda s: s.map(order), kind="stable",
                           ignore_index=True)


def _bootstrap(cube: np.ndarray, n_factors: int, n_boot: int, rng: np.random.Generator
               ) -> tuple[dict, dict]:
    """Replicates of the components and shares, each ``(n_boot, n_values + 1)``."""
    n_values, n = cube.shape[:2]
    shape = cube.shape[1:]
    comps: dict[tuple[int, ...], list[np.ndarray]] = {}
    chunk = max(1, int(2e7 // cube.size))  # replicates per batch (memory)
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(b, n))
        y = np.moveaxis(cube[:, idx], 0, 1)  # (b, values, personas, ...)
        ms = mean_squares(y, n_factors)
        for a in ms:
            if 0 not in a:  # no persona: add the sampling of contexts, seeds, ...
                df = int(np.prod([shape[f] - 1 for f in a]))
                ms[a] = ms[a] * (rng.chisquare(df, size=(b, 1)) / df)
        for a, v in _solve(ms, shape).items():
            comps.setdefault(a, []).append(np.concatenate([v, v.mean(axis=1, keepdims=True)],
                                                          axis=1))
    comp = {a: np.concatenate(v) for a, v in comps.items()}
    return comp, _shares(comp)
