"""Statistics resampled over personas, for the bootstrap intervals of one model's metrics
(``docs/method.md``, Bootstrap intervals).

:func:`rank_order_statistic` is the fast statistic behind ``rank_order_ci`` (1000 resamples by
default): ranks and Pearson correlations vectorised over values. :func:`exact_rank_order` is the
slow, readable definition it must equal (:func:`~stickrole_utils.analysis.stability.rank_order`
on the resampled scores table); the fast statistic falls back to it when a persona is missing
from a chunk. :func:`persona_resampler` gives the resampled answers table for statistics that
recompute everything (the Cardinal interval).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .stability import rank_order, rank_order_summary

__all__ = ["persona_resampler", "exact_rank_order", "rank_order_statistic"]


def persona_resampler(table: pd.DataFrame,
                      personas: np.ndarray) -> Callable[[np.ndarray], pd.DataFrame]:
    """``idx -> `` the table (answers or scores) restricted to the personas ``personas[idx]``.

    Draws are with repetition: the k-th draw gets the id ``"{persona}#{k}"``, so a persona drawn
    twice counts as two. The table is split by persona once, not at every resample."""
    by_persona = dict(tuple(table.groupby("persona", sort=False)))

    def resample(idx: np.ndarray) -> pd.DataFrame:
        return pd.concat([by_persona[personas[i]].assign(persona=f"{personas[i]}#{k}")
                          for k, i in enumerate(idx)], ignore_index=True)

    return resample


def exact_rank_order(scores: pd.DataFrame, chunks: Sequence[str], personas: np.ndarray,
                     idx: np.ndarray) -> float:
    """Rank-order stability of the personas ``personas[idx]``, by its definition: the mean over
    values and chunk pairs of Spearman's r (NaN skipped) on the resampled scores table, via
    :func:`rank_order` and :func:`rank_order_summary`. Slow; the reference for
    :func:`rank_order_statistic`.

    Parameters
    ----------
    scores : DataFrame
        ``chunk, persona, value, centered``, as from
        :func:`~stickrole_utils.analysis.scoring.value_scores`.
    chunks : sequence of str
        Chunk order.
    personas : array of str
        The persona ids indexed by ``idx``.
    idx : array of int
        A bootstrap draw of indices into ``personas``.
    """
    sc = persona_resampler(scores, personas)(idx)
    return rank_order_summary(rank_order(sc, chunks), chunks)["rank_order"]


def rank_order_statistic(scores: pd.DataFrame, chunks: Sequence[str],
                         personas: np.ndarray) -> Callable[[np.ndarray], float]:
    """``idx -> `` rank-order stability of the personas ``personas[idx]``, fast.

    Parameters
    ----------
    scores : DataFrame
        ``chunk, persona, value, centered``.
    chunks : sequence of str
        Chunk order (pairs in ``itertools.combinations`` order).
    personas : array of str
        The personas resampled.

    Returns
    -------
    callable
        Equal to :func:`exact_rank_order` (up to rounding). Vectorised over values: ranks per
        column (average ties), Pearson of the ranks per column pair; a constant column gives
        NaN, skipped by the mean as in :func:`rank_order_summary`. When a persona is missing
        from a chunk the pairs it touches use the complete rows only, through
        :func:`exact_rank_order`.
    """
    chunks = list(chunks)
    values = list(dict.fromkeys(scores["value"]))
    arrays = {
        c: g.pivot(index="persona", columns="value", values="centered")
        .reindex(index=personas, columns=values).to_numpy()
        for c, g in scores.groupby("chunk", sort=False)
    }
    complete = all(np.isfinite(a).all() for a in arrays.values())
    resample = None if complete else persona_resampler(scores, personas)

    def stat(idx: np.ndarray) -> float:
        if resample is not None:
            return rank_order_summary(rank_order(resample(idx), chunks), chunks)["rank_order"]
        ranked = {}
        for c in chunks:
            r = rankdata(arrays[c][idx], axis=0)
            r -= r.mean(axis=0)
            ranked[c] = (r, np.sqrt((r * r).sum(axis=0)))
        rs = []
        for i, a in enumerate(chunks):
            ra, na = ranked[a]
            for b in chunks[i + 1:]:
                rb, nb = ranked[b]
                with np.errstate(invalid="ignore", divide="ignore"):
                    rs.append((ra * rb).sum(axis=0) / (na * nb))
        arr = np.concatenate(rs)
        arr = arr[np.isfinite(arr)]
        return float(arr.mean()) if len(arr) else float("nan")

    return stat
