"""The leaderboard: per-chunk columns, Cardinal and Ordinal scores, leaderboard.csv.

Original-method.md §4: from each model's metrics (``metrics.json``, DESIGN.md contract) the
leaderboard builds one column per unordered chunk pair (rank-order stability) and, per chunk,
1 - Stress, CFI, 1 - SRMR and 1 - RMSEA (9 chunks: 36 + 36 = 72 columns, higher is better).
Cardinal = row mean of the columns; Ordinal = row mean of the per-column win rates.
The per-chunk CFA values arrive with the analysis' CFA-failure rule already applied.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..config.analysis import LEADERBOARD_CHUNKS
from ..errors import DataError, shown
from ..io import read_json
from .sensitivity import ranking_robustness

__all__ = [
    "REQUIRED_KEYS",
    "LEADERBOARD_COLUMNS",
    "load_metrics",
    "validate_metrics",
    "order_chunks",
    "column_names",
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

#: metrics.json keys the leaderboard needs.
REQUIRED_KEYS: tuple[str, ...] = ("chunks", "pairwise_rank_order", "stress", "cfi", "srmr", "rmsea")

#: The contract columns of leaderboard.csv, in order (extras follow).
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "Model",  # str
    "Ordinal (Win rate)",  # float in [0, 1]: mean over the columns of the win rate
    "Cardinal (Score)",  # float: mean of the per-chunk columns (NaN skipped)
    "RO Stability",  # float: mean of the RO-{c1}-{c2} columns (NaN skipped)
    "Stress",  # float: mean over chunks of the raw Stress (lower is better)
    "CFI",  # float: mean over chunks of CFI (mean of the 4 CFA models per chunk)
    "SRMR",  # float: mean over chunks of SRMR (lower is better)
    "RMSEA",  # float: mean over chunks of RMSEA (lower is better)
)

_PER_CHUNK_KEYS: tuple[str, ...] = ("stress", "cfi", "srmr", "rmsea")
Ties = Literal["loss", "half"]


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


def _float(x: Any) -> float:
    """JSON number / null / NaN token -> float (null -> NaN)."""
    if x is None:
        return float("nan")
    return float(x)


def validate_metrics(metrics: Mapping[str, Any], source: str) -> None:
    """Check that a metrics dict has what the leaderboard needs.

    Parameters
    ----------
    metrics
        One model's metrics (metrics.json contract).
    source
        Where it came from (a file name), for the error message.

    Raises
    ------
    DataError
        Naming ``source`` and the missing key, chunk or bad value.
    """
    if not isinstance(metrics, Mapping):
        raise DataError(f"{source}: expected a JSON object of metrics, got {type(metrics).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in metrics]
    if missing:
        raise DataError(f"{source}: missing key(s) {missing}; a metrics.json needs "
                        f"{list(REQUIRED_KEYS)} (re-run `stickrole analyze` to write it)")
    chunks = metrics["chunks"]
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
        raise DataError(f"{source}: 'chunks' must be a list of chunk labels, got {chunks!r}")
    if len(set(chunks)) != len(chunks):
        raise DataError(f"{source}: 'chunks' lists a chunk twice: {chunks}")
    for key in ("pairwise_rank_order", *_PER_CHUNK_KEYS):
        if not isinstance(metrics[key], Mapping):
            raise DataError(f"{source}: {key!r} must be an object keyed by chunk, "
                            f"got {type(metrics[key]).__name__}")
    pro = metrics["pairwise_rank_order"]
    for c1, c2 in itertools.combinations(chunks, 2):
        if _pair_value(pro, c1, c2) is _MISSING:
            raise DataError(f"{source}: 'pairwise_rank_order' lacks the pair ({c1!r}, {c2!r}); "
                            f"it needs a value for every pair of the chunks {chunks}")
    for c1, c2 in itertools.combinations(chunks, 2):
        _check_number(_pair_value(pro, c1, c2), source,
                      f"pairwise_rank_order[{c1!r}][{c2!r}]")
    for key in _PER_CHUNK_KEYS:
        lacking = [c for c in chunks if c not in metrics[key]]
        if lacking:
            raise DataError(f"{source}: {key!r} lacks chunk(s) {lacking}; it needs a value "
                            f"(NaN allowed) for every chunk in 'chunks'")
        for c in chunks:
            _check_number(metrics[key][c], source, f"{key}[{c!r}]")
    for key in ("ipsative", "unparsed_rate"):
        _check_number(metrics.get(key), source, key)
    for key in ("rank_order_ci", "cardinal_ci"):
        ci = metrics.get(key)
        if ci is None:
            continue
        if not isinstance(ci, list | tuple) or len(ci) != 2:
            raise DataError(f"{source}: {key!r} must be [low, high] (numbers or NaN); got "
                            f"{shown(ci)}")
        for k, v in enumerate(ci):
            _check_number(v, source, f"{key}[{k}]")
    failures = metrics.get("cfa_failures")
    if failures is not None and (isinstance(failures, bool)
                                 or not isinstance(failures, numbers.Integral)
                                 or not 0 <= failures < 2**31):
        raise DataError(f"{source}: cfa_failures = {shown(failures)} is not a count (a whole "
                        "number >= 0)")
    for key, kind in (("settings", Mapping), ("model", str)):
        if metrics.get(key) is not None and not isinstance(metrics[key], kind):
            raise DataError(f"{source}: {key!r} must be "
                            f"{'an object' if kind is Mapping else 'text'}; got "
                            f"{shown(metrics[key])}")


def _check_number(value: Any, source: str, where: str) -> None:
    """A metric value: a JSON number, NaN/Infinity token or null (NaN); never text or a list."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"{source}: {where} = {shown(value)} is not a number")
    try:
        float(value)
    except OverflowError:
        raise DataError(f"{source}: {where} = {shown(value)} is out of range for a "
                        "number") from None


_MISSING = object()


def _pair_value(pro: Mapping[str, Any], c1: str, c2: str) -> Any:
    """pairwise_rank_order[c1][c2], falling back to [c2][c1]; _MISSING if neither exists."""
    for a, b in ((c1, c2), (c2, c1)):
        row = pro.get(a)
        if isinstance(row, Mapping) and b in row:
            return row[b]
    return _MISSING


def _find_metric_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("metrics.json") if p.is_file())
    if path.is_file():
        return [path]
    raise DataError(f"{path}: no such file or directory (give metrics.json files or run "
                    f"directories containing <model>/metrics.json)")


def load_metrics(paths: Sequence[str | Path]) -> dict[str, dict]:
    """Read per-model metrics.json files.

    Parameters
    ----------
    paths
        metrics.json files, or directories searched recursively for files named
        ``metrics.json`` (a run directory holds ``<model>/metrics.json``).

    Returns
    -------
    dict
        model name -> metrics dict, in the order found (paths in the given order, files within
        a directory sorted). The model name is ``metrics["model"]`` if present, else the name
        of the file's parent directory.

    Raises
    ------
    DataError
        Unreadable or malformed JSON (with line and column), a missing required key or chunk,
        the same model name in two different files, or no metrics file at all.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: dict[str, dict] = {}
    source_of: dict[str, Path] = {}
    seen: set[Path] = set()
    for given in paths:
        for file in _find_metric_files(Path(given)):
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            metrics = read_json(file, "metrics file")
            validate_metrics(metrics, str(file))
            name = metrics.get("model")
            name = str(name) if name not in (None, "") else file.resolve().parent.name
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


# --------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------


def order_chunks(chunks: Sequence[str]) -> list[str]:
    """Leaderboard order: the known chunks in :data:`LEADERBOARD_CHUNKS` order, then others
    alphabetically.

    Examples
    --------
    >>> order_chunks(["chunk_x", "chunk_no_conv", "chunk_0", "chunk_a"])
    ['chunk_0', 'chunk_no_conv', 'chunk_a', 'chunk_x']
    """
    known = [c for c in LEADERBOARD_CHUNKS if c in chunks]
    return known + sorted(set(chunks) - set(LEADERBOARD_CHUNKS))


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
    per = [f"{p}-{c}" for c in chunks for p in ("1-Stress", "CFI", "1-SRMR", "1-RMSEA")]
    return ro + per


def _resolve_chunks(metrics: Mapping[str, dict], chunks: Sequence[str] | None) -> list[str]:
    if chunks is not None:
        chunks = list(chunks)
        for name, m in metrics.items():
            lacking = [c for c in chunks if c not in m["chunks"]]
            if lacking:
                raise DataError(f"model {name!r} has no chunk(s) {lacking}; its chunks are "
                                f"{m['chunks']}")
    else:
        common = set.intersection(*(set(m["chunks"]) for m in metrics.values()))
        for name, m in metrics.items():
            dropped = [c for c in m["chunks"] if c not in common]
            if dropped:
                logger.warning("leaderboard: model %r: chunk(s) %s left out (not analysed for "
                               "every model)", name, dropped)
        chunks = order_chunks(sorted(common))
    if len(chunks) < 2:
        raise DataError(f"the leaderboard needs at least 2 chunks common to all models, got "
                        f"{chunks}; models and their chunks: "
                        f"{ {n: m['chunks'] for n, m in metrics.items()} }")
    return chunks


def leaderboard_columns(
    metrics: Mapping[str, dict], chunks: Sequence[str] | None = None
) -> pd.DataFrame:
    """The per-chunk leaderboard columns (original-method.md §4.2), higher is better.

    Parameters
    ----------
    metrics
        model name -> metrics dict (see :func:`load_metrics`).
    chunks
        Chunks to use, in column order. ``None``: the chunks common to all models, in
        :func:`order_chunks` order (a warning names the chunks left out per model).

    Returns
    -------
    pandas.DataFrame
        Index: model (name ``Model``), in the order of ``metrics``; columns
        :func:`column_names` (9 chunks: 36 RO + 36 validity = 72). Values:
        ``RO-{c1}-{c2}`` = ``pairwise_rank_order[c1][c2]`` (or ``[c2][c1]``),
        ``1-Stress-{c}`` = 1 - stress[c], ``CFI-{c}`` = cfi[c], ``1-SRMR-{c}`` = 1 - srmr[c],
        ``1-RMSEA-{c}`` = 1 - rmsea[c]; NaN stays NaN.

    Raises
    ------
    DataError
        Invalid metrics, a requested chunk missing, or fewer than 2 chunks.
    """
    if not metrics:
        raise DataError("no models to put on the leaderboard")
    for name, m in metrics.items():
        validate_metrics(m, f"metrics of model {name!r}")
    chunks = _resolve_chunks(metrics, chunks)
    rows = {}
    for name, m in metrics.items():
        row = [_float(_pair_value(m["pairwise_rank_order"], c1, c2))
               for c1, c2 in itertools.combinations(chunks, 2)]
        for c in chunks:
            row += [1.0 - _float(m["stress"][c]), _float(m["cfi"][c]),
                    1.0 - _float(m["srmr"][c]), 1.0 - _float(m["rmsea"][c])]
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index", columns=column_names(chunks), dtype=float)
    out.index.name = "Model"
    return out


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


def cardinal_scores(columns: pd.DataFrame) -> pd.Series:
    """Cardinal score: row mean of the columns, NaN skipped (original-method.md §4.3).

    A model whose every column is NaN gets NaN.
    """
    return columns.mean(axis=1, skipna=True).rename("Cardinal (Score)")


def win_rates(columns: pd.DataFrame, ties: Ties = "loss") -> pd.DataFrame:
    """Per-column win rates (original-method.md §4.4).

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
    """Ordinal score: row mean of :func:`win_rates` (original-method.md §4.4)."""
    return win_rates(columns, ties=ties).mean(axis=1).rename("Ordinal (Win rate)")


# --------------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------------


def _chunk_mean(m: Mapping[str, Any], key: str, chunks: Sequence[str]) -> float:
    vals = np.array([_float(m[key][c]) for c in chunks])
    return float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")


def _ci(m: Mapping[str, Any], key: str) -> tuple[float, float]:
    ci = m.get(key)
    if ci is None:
        return (float("nan"), float("nan"))
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        raise DataError(f"model {m.get('model', '?')!r}: {key!r} must be [low, high], got {ci!r}")
    return (_float(ci[0]), _float(ci[1]))


def leaderboard_table(
    metrics: Mapping[str, dict], chunks: Sequence[str] | None = None, ties: Ties = "loss"
) -> pd.DataFrame:
    """The leaderboard (leaderboard.csv contract, original-method.md §4.6).

    Parameters
    ----------
    metrics
        model name -> metrics dict.
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
    cols = leaderboard_columns(metrics, chunks)
    used = _chunks_of(cols)
    ro_cols = [c for c in cols.columns if c.startswith("RO-")]
    table = pd.DataFrame({
        "Model": cols.index.astype(str),
        "Ordinal (Win rate)": ordinal_scores(cols, ties=ties).to_numpy(),
        "Cardinal (Score)": cardinal_scores(cols).to_numpy(),
        "RO Stability": cols[ro_cols].mean(axis=1, skipna=True).to_numpy(),
    })
    models = list(cols.index)
    for key, label in zip(_PER_CHUNK_KEYS, ("Stress", "CFI", "SRMR", "RMSEA"), strict=True):
        table[label] = [_chunk_mean(metrics[m], key, used) for m in models]

    def present(key: str) -> bool:
        return any(metrics[m].get(key) is not None for m in models)

    if present("ipsative"):
        table["Ipsative"] = [_float(metrics[m].get("ipsative")) for m in models]
    for key, label in (("rank_order_ci", "RO Stability"), ("cardinal_ci", "Cardinal")):
        if present(key):
            cis = [_ci(metrics[m], key) for m in models]
            table[f"{label} CI low"] = [c[0] for c in cis]
            table[f"{label} CI high"] = [c[1] for c in cis]
    if present("unparsed_rate"):
        table["Unparsed rate"] = [_float(metrics[m].get("unparsed_rate")) for m in models]
    if present("cfa_failures"):
        table["CFA failures"] = pd.array(
            [metrics[m].get("cfa_failures") for m in models], dtype="Int64")
    table["Chunks"] = len(used)
    table = table.sort_values(["Ordinal (Win rate)", "Cardinal (Score)"], ascending=False,
                              kind="mergesort", na_position="last")
    return table.reset_index(drop=True)


def leaderboard_files(
    metrics: Mapping[str, dict],
    chunks: Sequence[str] | None = None,
    ties: Ties = "loss",
    seed: int = 0,
) -> dict[str, str]:
    """The text of ``leaderboard.csv``, ``leaderboard_columns.csv`` and ``ranking.json``,
    computed (and every input checked) without writing anything; see :func:`write_leaderboard`.
    """
    cols = leaderboard_columns(metrics, chunks)
    table = leaderboard_table(metrics, chunks=_chunks_of(cols), ties=ties)
    ranking = ranking_robustness(cols, seed=seed)
    ranking.update(models=[str(m) for m in cols.index], chunks=_chunks_of(cols), ties=ties)
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
        (out / name).write_text(text, encoding="utf-8")
    path = out / "leaderboard.csv"
    header, *rows = files["leaderboard_columns.csv"].splitlines()
    logger.info("leaderboard: %d models x %d columns -> %s", len(rows), header.count(","), path)
    return path


def write_leaderboard(
    metrics: Mapping[str, dict],
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


def _chunks_of(cols: pd.DataFrame) -> list[str]:
    return [c[len("1-Stress-"):] for c in cols.columns if c.startswith("1-Stress-")]
