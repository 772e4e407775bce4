"""Synthetic experiments with known variance components (seeded), the truth that the
decomposition and the reliability coefficients are tested against.

:func:`synthetic_cube` draws every main effect and interaction of the crossed factors from a
normal distribution with the chosen variance (the random-effects model that
:func:`~stickrole_utils.experiment.decomposition.decompose` estimates); :func:`synthetic_scores`
lays such cubes out as the stacked ``scores.parquet`` tables of an experiment (one model per
cube), and :func:`true_icc` gives the reliability these components imply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..design.values import VALUES
from .decomposition import component_names

__all__ = ["DEFAULT_COMPONENTS", "synthetic_cube", "synthetic_scores", "true_icc"]

#: Components of a moderately stable model: personas carry half the variance, persona x
#: context a fifth, seeds (noise) the rest.
DEFAULT_COMPONENTS: dict[str, float] = {
    "persona": 0.5, "context": 0.05, "seed": 0.0, "persona:context": 0.2,
    "persona:seed": 0.05, "context:seed": 0.0, "persona:context:seed": 0.2,
}


def synthetic_cube(components: Mapping[str, float], levels: Mapping[str, int], *,
                   n_values: int = 10, rng: np.random.Generator) -> np.ndarray:
    """Scores ``[value, <factors in the order of levels>]`` of the random-effects model.

    Parameters
    ----------
    components : mapping
        ``"a:b"`` effect name (factors in the order of ``levels``) -> its variance; absent
        effects are 0.
    levels : mapping
        Factor -> number of levels, e.g. ``{persona: 50, context: 5, seed: 5}``.
    n_values : int
        Independent replications (values), each with its own effects.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        Shape ``(n_values, *levels.values())``: the sum of every effect, each drawn
        independently per cell of its factors from :math:`N(0, \\sigma^2)`, plus a value mean.

    Examples
    --------
    >>> y = synthetic_cube({"persona": 1.0}, {"persona": 3, "seed": 2}, n_values=1,
    ...                    rng=np.random.default_rng(0))
    >>> y.shape, bool((y[0, :, 0] == y[0, :, 1]).all())
    ((1, 3, 2), True)
    """
    factors = list(levels)
    names = component_names(factors)
    unknown = sorted(set(components) - set(names))
    if unknown:
        raise ValueError(f"unknown effect(s) {', '.join(unknown)}; effects of "
                         f"{', '.join(factors)}: {', '.join(names)}")
    shape = (n_values, *levels.values())
    y = np.broadcast_to(rng.normal(3.5, 0.5, (n_values,) + (1,) * len(factors)), shape).copy()
    for name in names:
        var = float(components.get(name, 0.0))
        if var <= 0:
            continue
        used = name.split(":")
        cells = (n_values, *(levels[f] if f in used else 1 for f in factors))
        y += rng.normal(0.0, np.sqrt(var), cells)
    return y


def synthetic_scores(cubes: Mapping[str, np.ndarray], levels: Mapping[str, int],
                     values: Sequence[str] = VALUES) -> pd.DataFrame:
    """Stack cubes (model -> :func:`synthetic_cube` with factors persona, context, seed in
    ``levels``' order, then any others) into an experiment's scores table.

    Returns
    -------
    DataFrame
        ``model, seed, chunk, persona, value, centered`` and one column per other factor;
        personas ``p00``..., chunks ``chunk_0``..., seeds ``0``...
    """
    factors = list(levels)
    parts = []
    for model, cube in cubes.items():
        idx = np.indices(cube.shape).reshape(cube.ndim, -1)
        part = {"model": model, "value": np.asarray(values)[idx[0]]}
        for k, f in enumerate(factors, start=1):
            labels = {"persona": [f"p{i:02d}" for i in range(levels[f])],
                      "context": [f"chunk_{i}" for i in range(levels[f])]}.get(f)
            part["chunk" if f == "context" else f] = (np.asarray(labels)[idx[k]] if labels
                                                      else idx[k])
        part["centered"] = cube.ravel()
        parts.append(pd.DataFrame(part))
    out = pd.concat(parts, ignore_index=True)
    first = ["model", "seed", "chunk", "persona", "value", "centered"]
    return out[[*first, *(c for c in out.columns if c not in first)]]


def true_icc(components: Mapping[str, float], n_seeds: int) -> tuple[float, float]:
    """ICC(2,1) and ICC(2,k) within one context that ``components`` (persona, context, seed
    design) imply: targets are personas, raters seeds, the context fixed.

    Within a context the persona variance is :math:`\\sigma^2_p + \\sigma^2_{pc}`, the rater
    (seed) variance :math:`\\sigma^2_s + \\sigma^2_{cs}`, the error
    :math:`\\sigma^2_{ps} + \\sigma^2_{pcs}`;
    ICC(2,1) :math:`= \\tau / (\\tau + \\sigma^2_r + \\sigma^2_e)`, ICC(2,k)
    :math:`= \\tau / (\\tau + (\\sigma^2_r + \\sigma^2_e)/k)`.

    >>> [round(r, 4) for r in true_icc({"persona": 0.6, "persona:context:seed": 0.4}, 4)]
    [0.6, 0.8571]
    """
    g = components.get
    tau = g("persona", 0.0) + g("persona:context", 0.0)
    rater = g("seed", 0.0) + g("context:seed", 0.0)
    err = g("persona:seed", 0.0) + g("persona:context:seed", 0.0)
    return tau / (tau + rater + err), tau / (tau + (rater + err) / n_seeds)
