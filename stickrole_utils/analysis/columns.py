"""One model's leaderboard columns and its Cardinal score (``docs/method.md``, Leaderboard
(Cardinal and Ordinal)).

From one model's metrics: one column per unordered chunk pair (rank-order stability) and, per
chunk, 1 - Stress, CFI, 1 - SRMR and 1 - RMSEA (9 chunks: 36 + 36 = 72 columns, higher is
better). The model's Cardinal score is the mean of its columns, NaN skipped. The per-chunk CFA
values arrive with the analysis' CFA-failure rule already applied. The leaderboard stacks these
rows for all models and adds what needs several models (the Ordinal win rates).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .metrics import Metrics

__all__ = ["column_names", "model_columns", "cardinal_score", "cardinal_of"]

#: Per-chunk column prefixes and how each is read from the metrics (higher is better).
_PER_CHUNK: tuple[tuple[str, str, bool], ...] = (
    ("1-Stress", "stress", True),
    ("CFI", "cfi", False),
    ("1-SRMR", "srmr", True),
    ("1-RMSEA", "rmsea", True),
)


def column_names(chunks: Sequence[str]) -> list[str]:
    """Names of the per-chunk columns, in order.

    One ``RO-{c1}-{c2}`` per pair in ``itertools.combinations(chunks, 2)``, then per chunk
    ``1-Stress-{c}``, ``CFI-{c}``, ``1-SRMR-{c}``, ``1-RMSEA-{c}``.

    Examples
    --------
    >>> column_names(["a", "b"])
    ['RO-a-b', '1-Stress-a', 'CFI-a', '1-SRMR-a', '1-RMSEA-a', '1-Stress-b', 'CFI-b', '1-SRMR-b', '1-RMSEA-b']
    """
    ro = [f"RO-{c1}-{c2}" for c1, c2 in itertools.combinations(chunks, 2)]
    per = [f"{p}-{c}" for c in chunks for p, _, _ in _PER_CHUNK]
    return ro + per


def model_columns(metrics: Metrics, chunks: Sequence[str] | None = None) -> list[float]:
    """One model's leaderboard columns, in :func:`column_names` order.

    Parameters
    ----------
    metrics : Metrics
        The model's metrics (checked).
    chunks : sequence of str, optional
        Chunks to use, in column order (each must be in ``metrics.chunks``); default all of
        ``metrics.chunks``.

    Returns
    -------
    list of float
        ``RO-{c1}-{c2}`` = ``pairwise_rank_order[c1][c2]`` (or ``[c2][c1]``),
        ``1-Stress-{c}`` = 1 - stress[c], ``CFI-{c}`` = cfi[c], ``1-SRMR-{c}`` = 1 - srmr[c],
        ``1-RMSEA-{c}`` = 1 - rmsea[c]; NaN stays NaN.
    """
    chunks = metrics.chunks if chunks is None else chunks
    row = [metrics.pair(c1, c2) for c1, c2 in itertools.combinations(chunks, 2)]
    for c in chunks:
        for _, key, flipped in _PER_CHUNK:
            v = float(getattr(metrics, key)[c])
            row.append(1.0 - v if flipped else v)
    return row


def cardinal_score(columns: Sequence[float]) -> float:
    """Cardinal score of one model: the mean of its columns, NaN skipped; NaN if all are NaN.

    >>> cardinal_score([0.5, float("nan"), 1.0])
    0.75
    """
    arr = np.asarray(columns, dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")


def cardinal_of(metrics: Metrics, chunks: Sequence[str] | None = None) -> float:
    """A model's Cardinal score: :func:`cardinal_score` of :func:`model_columns`."""
    return cardinal_score(model_columns(metrics, chunks))
