"""The leaderboard: all models' per-chunk columns, Cardinal and Ordinal scores, leaderboard.csv.

``docs/method.md``, Leaderboard (Cardinal and Ordinal): each model's row of per-chunk columns
and its Cardinal score come from :mod:`stickrole_utils.analysis.columns`; this module stacks the
rows of all models (on the chunks they share), adds what needs several models (the Ordinal win
rates, the ranking's sensitivity) and writes ``leaderboard.csv``, ``leaderboard_columns.csv`` and
``ranking.json``. Metrics enter as checked :class:`~stickrole_utils.analysis.metrics.Metrics`
(:func:`load_metrics` reads files; a plain dict is checked once on entry).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..analysis.columns import cardinal_score, column_names, model_columns
from ..analysis.metrics import PER_CHUNK_KEYS, Metrics, as_metrics, read_metrics
from ..design.chunks import order_chunks
from ..errors import DataError
from ..io import atomic_write_text
from ..records import LEADERBOARD_COLUMNS
from .sensitivity import ranking_robustness

__all__ = [
    "LEADERBOARD_COLUMNS",
    "load_metrics",
    "checked_metrics",
    "leaderboard_columns",
    "cardinal_scores",
    "win_rates",
    "ordinal_scores",
    "leaderboard_table",
    "leaderboard_files",
    "write_leaderboard_files",
    "write_leaderboard",
]

logger = logging.getLogger(__name__)


Ties = Literal["loss", "half"]


# --------------------------------------------------------------------------------------------
# Metrics in
# --------------------------------------------------------------------------------------------


def _find_metric_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("metrics.json") if p.is_file())
    if path.is_file():
        return [path]
    raise DataError(f"{path}: no such file or directory (give metrics.json files or run "
                    f"directories containing <model>/metrics.json)")


def load_metrics(paths: Sequence[str | Path]) -> dict[str, Metrics]:
    """Read per-model metrics.json files.

    Parameters
    ----------
    paths
        metrics.json files, or directories searched recursively for files named
        ``metrics.json`` (a run directory holds ``<model>/metrics.json``).

    Returns
    -------
    dict
        model name -> :class:`Metrics` (checked), in the order found (paths in the given order,
        files within a directory sorted). The model name is ``metrics.model`` if set, else the
        name of the file's parent directory.

    Raises
    ------
    DataError
        Unreadable or malformed JSON (with line and column), a missing required key or chunk,
        the same model name in two different files, or no metrics file at all.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, Metrics] = {}
    source_of: dict[str, Path] = {}
    seen: set[Path] = set()
    for given in paths:
        for file in _find_metric_files(Path(given)):
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            metrics = read_metrics(file)
            name = metrics.model or resolved.parent.name
            if name in out:
                raise DataError(f"model {name!r} appears in two metrics files: "
                                f"{source_of[name]} and {file}; keep one of them or set distinct "
                                f"'model' names")
            out[name] = metrics
            source_of[name] = file
    if not out:
        raise DataError(f"no metrics.json found in {[str(p) for p in paths]}; run "
                        f"`stickrole analyze` first or point to its output directory")
    return out


def checked_metrics(metrics: Mapping[str, Metrics | Mapping[str, Any]]) -> dict[str, Metrics]:
    """model -> :class:`Metrics` of the models the leaderboard ranks: those already checked as
    they are, mappings (metrics.json content) checked once here; models with only downstream
    chunks are left out (with a warning).

    Raises
    ------
    DataError
        No model, no model with values chunks, or a mapping :meth:`Metrics.parse` rejects
        (naming the model).
    """
    if not metrics:
        raise DataError("no models to put on the leaderboard")
    checked = {name: as_metrics(m, f"metrics of model {name!r}") for name, m in metrics.items()}
    ranked = {name: m for name, m in checked.items() if m.chunks}
    for name in checked.keys() - ranked.keys():
        logger.warning("leaderboard: model %r left out: it has no PVQ-40 or SVS-57 chunks (only "
                       "downstream tasks), and the leaderboard ranks values stability", name)
    if not ranked:
        raise DataError(f"no model has PVQ-40 or SVS-57 chunks to rank (models: "
                        f"{', '.join(checked)}); their downstream metrics are in metrics.json")
    return ranked


def _resolve_chunks(metrics: Mapping[str, Metrics], chunks: Sequence[str] | None) -> list[str]:
    """``chunks`` (each must be in every model), else the chunks all models share, in
    :func:`order_chunks` order (a warning names the chunks left out per model)."""
    if chunks is not None:
        for name, m in metrics.items():
            lacking = [c for c in chunks if c not in m.chunks]
            if lacking:
                raise DataError(f"model {name!r} has no chunk(s) {lacking}; its chunks are "
                                f"{m.chunks}")
        chunks = list(chunks)
    else:
        common = set.intersection(*(set(m.chunks) for m in metrics.values()))
        for name, m in metrics.items():
            dropped = [c for c in m.chunks if c not in common]
            if dropped:
                logger.warning("leaderboard: model %r: chunk(s) %s left out (not analysed for "
                               "every model)", name, dropped)
        chunks = order_chunks(common)
    if len(chunks) < 2:
        raise DataError(f"the leaderboard needs at least 2 chunks common to all models, got "
                        f"{chunks}; models and their chunks: "
                        f"{ {n: m.chunks for n, m in metrics.items()} }")
    return chunks


# --------------------------------------------------------------------------------------------
# Columns and scores
# --------------------------------------------------------------------------------------------


def _columns(metrics: Mapping[str, Metrics], chunks: Sequence[str]) -> pd.DataFrame:
    rows = {name: model_columns(m, chunks) for name, m in metrics.items()}
    out = pd.DataFrame.from_dict(rows, orient="index", columns=column_names(chunks), dtype=float)
    out.index.name = "Model"
    return out


def leaderboard_columns(
    metrics: Mapping[str, Metrics | Mapping[str, Any]], chunks: Sequence[str] | None = None
) -> pd.DataFrame:
    """The per-chunk leaderboard columns of all models, higher is better.

    Parameters
    ----------
    metrics
        model name -> Metrics (see :func:`load_metrics`) or metrics.json content.
    chunks
        Chunks to use, in column order. ``None``: the chunks common to all models, in
        :func:`~stickrole_utils.design.chunks.order_chunks` order (a warning names the chunks
        left out per model).

    Returns
    -------
    pandas.DataFrame
        Index: model (name ``Model``), in the order of ``metrics``; columns
        :func:`~stickrole_utils.analysis.columns.column_names` (9 chunks: 36 RO + 36 validity
        = 72); row values :func:`~stickrole_utils.analysis.columns.model_columns`.

    Raises
    ------
    DataError
        Invalid metrics, a requested chunk missing, or fewer than 2 chunks.
    """
    metrics = checked_metrics(metrics)
    return _columns(metrics, _resolve_chunks(metrics, chunks))


def cardinal_scores(columns: pd.DataFrame) -> pd.Series:
    """Cardinal score of each row: :func:`~stickrole_utils.analysis.columns.cardinal_score`
    (mean of the columns, NaN skipped; NaN when every column is NaN)."""
    return pd.Series([cardinal_score(row) for row in columns.to_numpy(dtype=float)],
                     index=columns.index, name="Cardinal (Score)", dtype=float)


def win_rates(columns: pd.DataFrame, ties: Ties = "loss") -> pd.DataFrame:
    """Per-column win rates (``docs/method.md``, Leaderboard (Cardinal and Ordinal)).

    Parameters
    ----------
    columns
        One row per model, one column per criterion (higher is better).
    ties
        ``"loss"`` (original): a tie counts for neither model. ``"half"``: half a win each.

    Returns
    -------
    pandas.DataFrame
        Same shape as ``columns``: win_ij = (#{k : x_kj < x_ij} + h #{k != i : x_kj = x_ij})
        / (N - 1), h = 0 or 1/2, over all N models. A NaN value never wins and is never beaten
        (every comparison with NaN is false). NaN everywhere when N < 2.

    Examples
    --------
    >>> cols = pd.DataFrame({"a": [1.0, 2.0, 2.0]}, index=["x", "y", "z"])
    >>> win_rates(cols)["a"].tolist()
    [0.0, 0.5, 0.5]
    >>> win_rates(cols, ties="half")["a"].tolist()
    [0.0, 0.75, 0.75]
    """
    if ties not in ("loss", "half"):
        raise ValueError(f"ties must be 'loss' or 'half', got {ties!r}")
    x = columns.to_numpy(dtype=float, na_value=np.nan)
    n = x.shape[0]
    if n < 2:
        return pd.DataFrame(np.nan, index=columns.index, columns=columns.columns)
    with np.errstate(invalid="ignore"):
        wins = (x[:, None, :] > x[None, :, :]).sum(axis=1).astype(float)
        if ties == "half":
            eq = (x[:, None, :] == x[None, :, :]).sum(axis=1) - ~np.isnan(x)  # minus self
            wins += 0.5 * eq
    return pd.DataFrame(wins / (n - 1), index=columns.index, columns=columns.columns)


def ordinal_scores(columns: pd.DataFrame, ties: Ties = "loss") -> pd.Series:
    """Ordinal score: row mean of :func:`win_rates`."""
    return win_rates(columns, ties=ties).mean(axis=1).rename("Ordinal (Win rate)")


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Table and files
# --------------------------------------------------------------------------------------------


def _chunk_mean(m: Metrics, key: str, chunks: Sequence[str]) -> float:
    vals = np.array([getattr(m, key)[c] for c in chunks], dtype=float)
    return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def _ci(ci: tuple[float, float] | None) -> tuple[float, float]:
    return (float("nan"), float("nan")) if ci is None else (float(ci[0]), float(ci[1]))


def _table(metrics: Mapping[str, Metrics], cols: pd.DataFrame, chunks: Sequence[str],
           ties: Ties) -> pd.DataFrame:
    """leaderboard.csv from checked metrics and their columns (see :func:`leaderboard_table`)."""
    ro_cols = column_names(chunks)[: len(chunks) * (len(chunks) - 1) // 2]
    table = pd.DataFrame({
        "Model": cols.index.astype(str),
        "Ordinal (Win rate)": ordinal_scores(cols, ties=ties).to_numpy(),
        "Cardinal (Score)": cardinal_scores(cols).to_numpy(),
        "RO Stability": cols[ro_cols].mean(axis=1, skipna=True).to_numpy(),
    })
    models = [metrics[m] for m in cols.index]
    for key, label in zip(PER_CHUNK_KEYS, ("Stress", "CFI", "SRMR", "RMSEA"), strict=True):
        table[label] = [_chunk_mean(m, key, chunks) for m in models]

    def present(key: str) -> bool:
        return any(getattr(m, key) is not None for m in models)

    def floats(key: str) -> list[float]:
        return [float("nan") if getattr(m, key) is None else float(getattr(m, key))
                for m in models]

    if present("ipsative"):
        table["Ipsative"] = floats("ipsative")
    for key, label in (("rank_order_ci", "RO Stability"), ("cardinal_ci", "Cardinal")):
        if present(key):
            cis = [_ci(getattr(m, key)) for m in models]
            table[f"{label} CI low"] = [c[0] for c in cis]
            table[f"{label} CI high"] = [c[1] for c in cis]
    if present("unparsed_rate"):
        table["Unparsed rate"] = floats("unparsed_rate")
    if present("cfa_failures"):
        table["CFA failures"] = pd.array([m.cfa_failures for m in models], dtype="Int64")
    table["Chunks"] = len(chunks)
    table = table.sort_values(["Ordinal (Win rate)", "Cardinal (Score)"], ascending=False,
                              kind="mergesort", na_position="last")
    return table.reset_index(drop=True)


def leaderboard_table(
    metrics: Mapping[str, Metrics | Mapping[str, Any]],
    chunks: Sequence[str] | None = None,
    ties: Ties = "loss",
) -> pd.DataFrame:
    """The leaderboard (leaderboard.csv contract).

    Parameters
    ----------
    metrics
        model name -> Metrics or metrics.json content.
    chunks
        As in :func:`leaderboard_columns`.
    ties
        As in :func:`win_rates`.

    Returns
    -------
    pandas.DataFrame
        One row per model, sorted by ``Ordinal (Win rate)`` then ``Cardinal (Score)``,
        descending (stable, NaN last). Columns :data:`LEADERBOARD_COLUMNS`, then the extras
        present in at least one model's metrics: ``Ipsative``, ``RO Stability CI low``,
        ``RO Stability CI high`` (from ``rank_order_ci``), ``Cardinal CI low``,
        ``Cardinal CI high`` (``cardinal_ci``), ``Unparsed rate``, ``CFA failures``; and
        always ``Chunks`` (number of chunks used).
    """
    metrics = checked_metrics(metrics)
    chunks = _resolve_chunks(metrics, chunks)
    return _table(metrics, _columns(metrics, chunks), chunks, ties)


def leaderboard_files(
    metrics: Mapping[str, Metrics | Mapping[str, Any]],
    chunks: Sequence[str] | None = None,
    ties: Ties = "loss",
    seed: int = 0,
) -> dict[str, str]:
    """The text of ``leaderboard.csv``, ``leaderboard_columns.csv`` and ``ranking.json``,
    computed (and every input checked) without writing anything; see :func:`write_leaderboard`.
    """
    metrics = checked_metrics(metrics)
    chunks = _resolve_chunks(metrics, chunks)
    cols = _columns(metrics, chunks)
    table = _table(metrics, cols, chunks, ties)
    ranking = ranking_robustness(cols, seed=seed)
    ranking.update(models=[str(m) for m in cols.index], chunks=list(chunks), ties=ties)
    ranking = {k: (None if isinstance(v, float) and math.isinf(v) else v)
               for k, v in ranking.items()}
    return {"leaderboard.csv": table.to_csv(index=False),
            "leaderboard_columns.csv": cols.to_csv(index=True),
            "ranking.json": json.dumps(ranking, indent=2) + "\n"}


def write_leaderboard_files(files: Mapping[str, str], out_dir: str | Path) -> Path:
    """Write what :func:`leaderboard_files` returned into ``out_dir`` (created if needed);
    returns the path of leaderboard.csv."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        atomic_write_text(out / name, text)
    path = out / "leaderboard.csv"
    header, *rows = files["leaderboard_columns.csv"].splitlines()
    logger.info("leaderboard: %d models x %d columns -> %s", len(rows), header.count(","), path)
    return path


def write_leaderboard(
    metrics: Mapping[str, Metrics | Mapping[str, Any]],
    out_dir: str | Path,
    chunks: Sequence[str] | None = None,
    ties: Ties = "loss",
    seed: int = 0,
) -> Path:
    """Write leaderboard.csv, leaderboard_columns.csv and ranking.json into ``out_dir``.

    Everything is computed and checked before the first file is written, so an invalid input
    changes nothing in ``out_dir``.

    Parameters
    ----------
    metrics, chunks, ties
        As in :func:`leaderboard_table`.
    out_dir
        Output directory (created if needed).
    seed
        Seed of the ordinal sensitivity (:func:`stickrole_utils.leaderboard.sensitivity.ranking_robustness`).

    Returns
    -------
    pathlib.Path
        Path of leaderboard.csv. Beside it: ``leaderboard_columns.csv`` (the per-chunk columns,
        index ``Model``) and ``ranking.json`` (diversity and sensitivity of the ranking, plus
        ``models``, ``chunks``, ``ties``; NaN written as the JSON NaN token, as in
        metrics.json).
    """
    return write_leaderboard_files(leaderboard_files(metrics, chunks, ties, seed), out_dir)
