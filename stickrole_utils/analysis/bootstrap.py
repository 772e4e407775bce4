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

from .stability import rank_order, rank_order_summary, rank_pair_correlations

__all__ = ["persona_resampler", "resampled_rows", "exact_rank_order", "rank_order_statistic"]


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


def resampled_rows(personas: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The rows ``personas[idx]`` in the order a wide table pivoted from
    :func:`persona_resampler`'s table holds them: sorted by the resampled ids
    ``"{persona}#{k}"``.

    Indexing an array with one row per persona of ``personas`` by the result gives, row for
    row, the pivot (e.g. :func:`~stickrole_utils.analysis.scoring.item_matrix`) of the
    resampled table: the same numbers in the same order, so sums over personas round the same.

    >>> resampled_rows(np.array(["a", "b"]), np.array([1, 0, 1])).tolist()  # a#1, b#0, b#2
    [0, 1, 1]
    >>> resampled_rows(np.array([f"p{i}" for i in range(11)]), np.array([10, 2])).tolist()
    [10, 2]
    """
    ids = np.array([f"{personas[i]}#{k}" for k, i in enumerate(idx)])
    return np.asarray(idx)[np.argsort(ids, kind="stable")]


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
        Equal to :func:`exact_rank_order` (up to rounding). Vectorised over values and chunks:
        average ranks per column (by counting, :class:`_ResampleRanks`), Pearson of the ranks
        per column pair (:func:`~.stability.rank_pair_correlations`); a constant column gives
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
    if not all(np.isfinite(a).all() for a in arrays.values()):
        resample = persona_resampler(scores, personas)
        return lambda idx: rank_order_summary(rank_order(resample(idx), chunks),
                                              chunks)["rank_order"]
    ranker = _ResampleRanks(np.concatenate([arrays[c] for c in chunks], axis=1))

    def stat(idx: np.ndarray) -> float:
        ranks = ranker(idx).reshape(len(idx), len(chunks), len(values))
        arr = rank_pair_correlations(ranks).ravel()
        arr = arr[np.isfinite(arr)]
        return float(arr.mean()) if len(arr) else float("nan")

    return stat


class _ResampleRanks:
    """``idx ->`` ``scipy.stats.rankdata(x[idx], axis=0)``, by counting.

    Each column's values are coded once by their order among the column's distinct values; a
    resample's average ranks are then, per column, the number of drawn values below a code
    plus (ties + 1) / 2: one ``bincount`` for all columns instead of a sort per column. Average
    ranks are multiples of 1/2, so both ways give the same floats.
    """

    def __init__(self, x: np.ndarray) -> None:
        n_cols = x.shape[1]
        self.codes = (rankdata(x, axis=0, method="dense") - 1).astype(np.intp)
        self.width = int(self.codes.max()) + 1 if x.size else 1
        self.codes += np.arange(n_cols) * self.width  # column blocks in one bincount
        self.size = n_cols * self.width

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        codes = self.codes[idx]
        count = np.bincount(codes.ravel(), minlength=self.size)
        below = np.cumsum(count.reshape(-1, self.width), axis=1).ravel() - count
        return below[codes] + (count[codes] + 1) / 2
