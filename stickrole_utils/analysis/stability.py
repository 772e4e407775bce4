"""Rank-order and ipsative stability (``docs/method.md``: Rank-order stability, Ipsative stability).

Correlations are Spearman's rho. A constant input (e.g. every persona has the same centered score
for a value in a chunk) makes rho undefined: the result is NaN with the reason recorded in a
``reason`` column, never an exception. Means skip NaN and report how many entries were NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

__all__ = [
    "rank_order_fast",
    "rank_order_arrays",
    "rank_pair_correlations",
    "spearman",
    "rank_order",
    "rank_order_summary",
    "ipsative",
    "ipsative_summary",
    "RANK_ORDER_COLUMNS",
    "IPSATIVE_COLUMNS",
]

#: Columns of :func:`rank_order`.
RANK_ORDER_COLUMNS = ("value", "chunk_a", "chunk_b", "r", "n", "reason")
#: Columns of :func:`ipsative`.
IPSATIVE_COLUMNS = ("persona", "chunk_a", "chunk_b", "r", "reason")


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    """Spearman's rho of two equal-length vectors (NaN pairs dropped) and a reason when undefined.

    Notes
    -----
    rho = Pearson correlation of the average ranks (ties get mean ranks), as
    ``scipy.stats.spearmanr``. Undefined (NaN) when fewer than 3 complete pairs remain or either
    vector is constant.

    Examples
    --------
    >>> spearman(np.array([1, 2, 3]), np.array([10, 20, 35]))
    (1.0, '')
    >>> spearman(np.array([1, 2, 3]), np.array([5, 5, 5]))
    (nan, 'constant second input')
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3:
        return float("nan"), f"only {len(x)} complete pair(s)"
    if np.ptp(x) == 0:
        return float("nan"), "constant first input"
    if np.ptp(y) == 0:
        return float("nan"), "constant second input"
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    r = float(rx @ ry / np.sqrt((rx @ rx) * (ry @ ry)))
    return min(1.0, max(-1.0, r)), ""


def _wide(scores: pd.DataFrame, score: str) -> dict[str, pd.DataFrame]:
    """chunk -> persona x value table of the chosen score column."""
    return {
        c: g.pivot(index="persona", columns="value", values=score)
        for c, g in scores.groupby("chunk", sort=False)
    }


def rank_order(
    scores: pd.DataFrame, chunks: Sequence[str], *, score: str = "centered"
) -> pd.DataFrame:
    """Rank-order stability of each value for each unordered chunk pair.

    Parameters
    ----------
    scores : DataFrame
        :func:`stickrole_utils.analysis.scoring.value_scores` output for one model.
    chunks : sequence of str
        Chunk order; pairs are ``itertools.combinations(chunks, 2)``.
    score : str
        Score column to correlate (``centered`` as the original).

    Returns
    -------
    DataFrame
        Columns :data:`RANK_ORDER_COLUMNS`: ``r`` = Spearman over the personas present in both
        chunks of the value's scores in ``chunk_a`` vs ``chunk_b``; ``n`` personas used;
        ``reason`` says why ``r`` is NaN (``""`` otherwise).

    Examples
    --------
    >>> from stickrole_utils.datasets import synthetic_answers
    >>> from stickrole_utils.analysis.scoring import value_scores
    >>> df = synthetic_answers(["m"], chunks=["a", "b"], n_personas=10)
    >>> s = value_scores(df)
    >>> same = pd.concat([s[s.chunk == "a"], s[s.chunk == "a"].assign(chunk="b")])
    >>> rank_order(same, ["a", "b"])["r"].tolist() == [1.0] * 10
    True
    """
    wide = _wide(scores, score)
    values = list(dict.fromkeys(scores["value"]))
    rows = []
    for a, b in combinations(chunks, 2):
        wa, wb = wide[a], wide[b]
        common = wa.index.intersection(wb.index)
        for v in values:
            x = wa[v].reindex(common).to_numpy() if v in wa else np.full(len(common), np.nan)
            y = wb[v].reindex(common).to_numpy() if v in wb else np.full(len(common), np.nan)
            r, why = spearman(x, y)
            if why:
                why = why.replace("first input", f"scores for {v} in {a}").replace(
                    "second input", f"scores for {v} in {b}"
                )
            rows.append((v, a, b, r, int(len(common)), why))
    return pd.DataFrame(rows, columns=list(RANK_ORDER_COLUMNS))


def rank_order_summary(ro: pd.DataFrame, chunks: Sequence[str]) -> dict:
    """Aggregate :func:`rank_order` as the original does.

    Returns
    -------
    dict
        ``rank_order`` (mean of all (value, pair) r), ``rank_order_per_value`` {value: mean over
        pairs}, ``pairwise_rank_order`` {chunk: {chunk: mean over values}} with diagonal 1 and
        both triangles filled, ``rank_order_nan`` (number of NaN r skipped by these means),
        ``rank_order_nan_reasons`` (distinct reasons).

    Notes
    -----
    The original averages with ``np.mean``, so one undefined correlation turns the whole mean into
    NaN; here means skip NaN and ``rank_order_nan`` says how many were skipped.
    """
    r = ro["r"]
    per_value = ro.groupby("value", sort=False)["r"].mean()
    pair_means = ro.groupby(["chunk_a", "chunk_b"], sort=False)["r"].mean()
    pairwise: dict[str, dict[str, float]] = {c: {} for c in chunks}
    for c in chunks:
        pairwise[c][c] = 1.0
    for (a, b), m in pair_means.items():
        pairwise[a][b] = float(m)
        pairwise[b][a] = float(m)
    return {
        "rank_order": float(r.mean()) if r.notna().any() else float("nan"),
        "rank_order_per_value": {k: float(v) for k, v in per_value.items()},
        "pairwise_rank_order": pairwise,
        "rank_order_nan": int(r.isna().sum()),
        "rank_order_nan_reasons": sorted(set(ro.loc[r.isna(), "reason"])),
    }


def rank_order_fast(
    scores: pd.DataFrame, chunks: Sequence[str], *, score: str = "centered"
) -> dict | None:
    """``rank_order_summary(rank_order(scores, chunks))``'s ``rank_order``,
    ``rank_order_per_value``, ``pairwise_rank_order`` and ``rank_order_nan``, vectorised over
    values (ranks once per chunk, not once per pair): the statistic of every Cardinal
    bootstrap resample. Equal to the definition up to rounding (a constant column: NaN,
    skipped, as :func:`spearman`); ``None`` when a persona lacks a score in a chunk or fewer
    than 3 personas remain (then only the definition says which pairs to use)."""
    chunks = list(chunks)
    wide = _wide(scores, score)
    values = list(dict.fromkeys(scores["value"]))
    if any(c not in wide for c in chunks):
        return None
    personas = wide[chunks[0]].index
    arrays = {c: wide[c].reindex(index=personas, columns=values).to_numpy(float)
              for c in chunks}
    if len(personas) < 3 or any(len(wide[c]) != len(personas) or not np.isfinite(a).all()
                                for c, a in arrays.items()):
        return None
    return rank_order_arrays([arrays[c] for c in chunks], chunks, values)


def rank_pair_correlations(ranks: np.ndarray) -> np.ndarray:
    """Spearman's r per value for every chunk pair, from the average ranks of complete data.

    Parameters
    ----------
    ranks : numpy.ndarray
        Shape (persona, chunk, value): each (chunk, value) column's average ranks over the
        personas (``scipy.stats.rankdata(x, axis=0)``), the same personas in every chunk.
        Changed in place (centred).

    Returns
    -------
    numpy.ndarray
        Shape (pairs, values), pairs in ``itertools.combinations`` order: the Pearson
        correlation of the ranks, not clipped; a constant column gives NaN (its centred ranks
        are exactly 0).

    Notes
    -----
    Average ranks are multiples of 1/2 and their mean is (n + 1)/2, so the centred ranks, their
    products and the sums of those are exact in floating point: the result does not depend on
    the order of the personas (nor on how the sums are grouped); only the final square root and
    division round.
    """
    r = ranks
    r -= r.mean(axis=0)
    norm = np.sqrt((r * r).sum(axis=0))
    ia, ib = np.triu_indices(r.shape[1], 1)  # row-major: combinations order
    with np.errstate(invalid="ignore", divide="ignore"):
        return (r[:, ia] * r[:, ib]).sum(axis=0) / (norm[ia] * norm[ib])


def rank_order_arrays(arrays: Sequence[np.ndarray], chunks: Sequence[str],
                      values: Sequence[str]) -> dict:
    """:func:`rank_order_fast` from complete persona x value arrays (one per chunk, in
    ``chunks`` order, the same personas in the same rows and ``values`` as columns): what a
    Cardinal bootstrap resample computes once the scores are arrays."""
    chunks = list(chunks)
    pairs = list(combinations(chunks, 2))
    const = np.stack([np.ptp(a, axis=0) == 0 for a in arrays])
    ia, ib = np.triu_indices(len(chunks), 1)
    ranks = rankdata(np.concatenate(arrays, axis=1), axis=0)  # one call for all chunks
    ranks = ranks.reshape(len(ranks), len(chunks), -1)
    rs = np.where(const[ia] | const[ib], np.nan,
                  np.clip(rank_pair_correlations(ranks), -1.0, 1.0))
    pairwise: dict[str, dict[str, float]] = {c: {c: 1.0} for c in chunks}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN pair or value: NaN
        for (a, b), row in zip(pairs, np.nanmean(rs, axis=1), strict=True):
            pairwise[a][b] = pairwise[b][a] = float(row)
        per_value = np.nanmean(rs, axis=0)
    finite = np.isfinite(rs)
    return {
        "rank_order": float(rs[finite].mean()) if finite.any() else float("nan"),
        "rank_order_per_value": {v: float(x) for v, x in zip(values, per_value, strict=True)},
        "pairwise_rank_order": pairwise,
        "rank_order_nan": int((~finite).sum()),
        "rank_order_nan_reasons": [],
    }


def ipsative(
    scores: pd.DataFrame, chunks: Sequence[str], *, score: str = "centered"
) -> pd.DataFrame:
    """Ipsative stability: per persona and chunk pair, Spearman over the values of the profiles.

    Returns
    -------
    DataFrame
        Columns :data:`IPSATIVE_COLUMNS`, one row per (persona present in both chunks, pair).

    Notes
    -----
    Centering is irrelevant here (a per-persona constant shift does not change ranks).
    """
    wide = _wide(scores, score)
    frames = []
    for a, b in combinations(chunks, 2):
        wa, wb = wide[a], wide[b]
        cols = wa.columns.intersection(wb.columns)
        personas = wa.index.intersection(wb.index)
        xa = wa.loc[personas, cols].to_numpy(dtype=float)
        xb = wb.loc[personas, cols].to_numpy(dtype=float)
        r = np.full(len(personas), np.nan)
        reason = np.full(len(personas), "", dtype=object)
        complete = np.isfinite(xa).all(axis=1) & np.isfinite(xb).all(axis=1)
        if len(cols) >= 3 and complete.any():
            # vectorised Spearman per row: Pearson of the within-row average ranks
            ra = rankdata(xa[complete], axis=1)
            rb = rankdata(xb[complete], axis=1)
            ra -= ra.mean(axis=1, keepdims=True)
            rb -= rb.mean(axis=1, keepdims=True)
            den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
            with np.errstate(invalid="ignore", divide="ignore"):
                r[complete] = np.clip((ra * rb).sum(axis=1) / den, -1.0, 1.0)
        for k in np.flatnonzero(~complete | ~np.isfinite(r)):
            # incomplete rows and undefined correlations: the exact scalar path, with its reason
            r[k], why = spearman(xa[k], xb[k])
            reason[k] = why.replace("first input", f"profile of {personas[k]} in {a}").replace(
                "second input", f"profile of {personas[k]} in {b}")
        frames.append(pd.DataFrame({"persona": personas, "chunk_a": a, "chunk_b": b,
                                    "r": r, "reason": reason}))
    if not frames:
        return pd.DataFrame(columns=list(IPSATIVE_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    out["persona"] = out["persona"].astype(str)
    out["reason"] = out["reason"].astype(str)
    return out[list(IPSATIVE_COLUMNS)]


def ipsative_summary(ips: pd.DataFrame) -> dict:
    """``ipsative`` (mean over all (persona, pair), NaN skipped), ``ipsative_nan`` (count),
    ``ipsative_per_persona`` {persona: mean over pairs}."""
    r = ips["r"]
    return {
        "ipsative": float(r.mean()) if r.notna().any() else float("nan"),
        "ipsative_nan": int(r.isna().sum()),
        "ipsative_per_persona": {
            k: float(v) for k, v in ips.groupby("persona", sort=False)["r"].mean().items()
        },
    }
