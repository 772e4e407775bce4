"""Reading and validating answers tables (the schema is :mod:`stickrole_utils.schema`)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..design.instruments import INSTRUMENTS
from ..errors import DataError, one_line
from ..io import read_text_utf8
from ..layout import ModelFiles
from ..schema import ANSWER_COLUMNS, ROW_KEY

__all__ = [
    "read_answers",
    "validate_answers",
    "check_unique_rows",
    "concat_answers",
]

# --------------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------------




_log = logging.getLogger(__name__)
_MAX_SHOWN = 5


def _show(values) -> str:
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    shown = ", ".join(repr(v) for v in values[:_MAX_SHOWN])
    more = f" (and {len(values) - _MAX_SHOWN} more)" if len(values) > _MAX_SHOWN else ""
    return shown + more


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read an answers table (parquet, or CSV) and validate it.

    Parameters
    ----------
    path : str or Path
        ``.parquet``/``.pq`` files are read with pyarrow; anything else as CSV.

    Returns
    -------
    pandas.DataFrame
        The table with at least :data:`ANSWER_COLUMNS`, dtypes normalised (see
        :func:`validate_answers`).

    Raises
    ------
    DataError
        Missing or empty file, unreadable content, or any problem :func:`validate_answers` finds;
        the message names the file, the column and the offending values.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: answers file not found")
    if path.is_dir():
        candidate = ModelFiles(path).answers
        if not candidate.exists():
            raise DataError(f"{path}: is a directory without answers.parquet; give the table's path")
        path = candidate
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected an answers table with columns "
                        f"{', '.join(ANSWER_COLUMNS)}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, keep_default_na=True, dtype={"gender": "string"})
    except UnicodeDecodeError:
        read_text_utf8(path, "answers table")  # raises, naming the byte's line and column
        raise
    except Exception as exc:  # pandas/pyarrow raise many types; report them uniformly
        raise DataError(f"{path}: cannot be read as {'parquet' if path.suffix == '.parquet' else 'CSV'}"
                        f" ({type(exc).__name__}: {one_line(str(exc))})") from None
    return validate_answers(df, source=str(path))


def validate_answers(df: pd.DataFrame, source: str = "<answers>") -> pd.DataFrame:
    """Check an answers table against the contract and normalise dtypes.

    Checks: the seven columns exist; the table is not empty; ``questionnaire`` names a known
    instrument; ``item`` is an integer within 1..n_items of its instrument; ``score`` is numeric,
    and NaN or within the instrument's scale; no duplicate (model, chunk, persona, questionnaire,
    item) rows. ``gender`` NaN becomes ``""``.

    Returns
    -------
    pandas.DataFrame
        A copy with ``model, chunk, persona, gender, questionnaire`` as str, ``item`` int64,
        ``score`` float64; extra columns kept.

    Raises
    ------
    DataError
        One message naming ``source``, the column and the offending values.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"model": ["m"], "chunk": ["c"], "persona": ["p"], "gender": ["F"],
    ...                     "questionnaire": ["pvq40"], "item": [41], "score": [3.0]})
    >>> validate_answers(bad, "t.csv")
    Traceback (most recent call last):
    ...
    stickrole_utils.errors.DataError: t.csv: column 'item': questionnaire 'pvq40' has items 1..40; got 41
    """
    missing = [c for c in ANSWER_COLUMNS if c not in df.columns]
    if missing:
        hint = ""
        lower = {c.lower().strip(): c for c in df.columns.astype(str)}
        near = [f"{lower[m]!r} -> {m!r}" for m in missing if m in lower]
        if near:
            hint = f"; rename {', '.join(near)}"
        raise DataError(
            f"{source}: missing column(s) {', '.join(map(repr, missing))}; the answers table needs "
            f"{', '.join(ANSWER_COLUMNS)} (found: {', '.join(map(str, df.columns)) or 'no columns'}){hint}"
        )
    if len(df) == 0:
        raise DataError(f"{source}: the answers table has no rows")
    df = df.copy()
    for col in ("model", "chunk", "persona", "questionnaire"):
        if df[col].isna().any():
            rows = df.index[df[col].isna()].tolist()
            raise DataError(f"{source}: column {col!r} is empty in row(s) {_show(rows)}")
        df[col] = df[col].astype(str)
    df["gender"] = df["gender"].astype("string").fillna("").astype(str)

    unknown = sorted(set(df["questionnaire"]) - set(INSTRUMENTS))
    if unknown:
        raise DataError(
            f"{source}: column 'questionnaire': unknown value(s) {_show(unknown)}; known: "
            f"{', '.join(INSTRUMENTS)}"
        )

    item = pd.to_numeric(df["item"], errors="coerce").astype("float64")
    bad = df["item"][~np.isfinite(item) | (item != np.floor(item))]
    if len(bad):
        raise DataError(f"{source}: column 'item' must hold whole numbers; got {_show(bad.unique())}")
    # the range is checked before the cast, so that a huge number is reported as given
    n_items = df["questionnaire"].map(lambda q: INSTRUMENTS[q].n_items)
    out = (item < 1) | (item > n_items)
    if out.any():
        name = sorted(df.loc[out, "questionnaire"].unique())[0]
        inst = INSTRUMENTS[name]
        given = df["item"][out & (df["questionnaire"] == name)]
        raise DataError(
            f"{source}: column 'item': questionnaire {name!r} has items 1..{inst.n_items}; "
            f"got {_show(sorted(given.unique(), key=float))}"
        )
    df["item"] = item.astype("int64")

    score = pd.to_numeric(df["score"], errors="coerce")
    bad = df["score"][score.isna() & df["score"].notna()]
    if len(bad):
        raise DataError(f"{source}: column 'score' must be numeric (or empty for no answer); got "
                        f"{_show(bad.unique())}")
    df["score"] = score.astype("float64")

    for name, rows in df.groupby("questionnaire", sort=True):
        inst = INSTRUMENTS[name]
        s = rows["score"]
        off = rows[s.notna() & ((s < inst.scale_min) | (s > inst.scale_max) | (s != np.floor(s)))]
        if len(off):
            examples = [
                f"{r.model}/{r.chunk}/{r.persona} item {r.item} = {r.score:g}"
                for r in off.head(_MAX_SHOWN).itertuples()
            ]
            raise DataError(
                f"{source}: column 'score': questionnaire {name!r} answers are whole numbers in "
                f"{inst.scale_min}..{inst.scale_max}; {len(off)} row(s) are not, e.g. "
                + "; ".join(examples)
            )

    check_unique_rows(df, source)
    return df


def check_unique_rows(df: pd.DataFrame, source: str = "<answers>") -> None:
    """Each (model, chunk, persona, questionnaire, item) once: the one check that validated
    tables can fail once concatenated (see :func:`concat_answers`).

    Raises
    ------
    DataError
        Naming ``source``, the number of duplicate rows and a few of their keys.
    """
    dup = df.duplicated(list(ROW_KEY), keep=False)
    if dup.any():
        d = df.loc[dup, list(ROW_KEY)].drop_duplicates().head(_MAX_SHOWN)
        examples = ["/".join(str(v) for v in r) for r in d.itertuples(index=False)]
        raise DataError(
            f"{source}: {int(dup.sum())} duplicate rows for the same (model, chunk, persona, "
            f"questionnaire, item), e.g. {'; '.join(examples)}; each item must be answered once"
        )


def concat_answers(tables: list[pd.DataFrame], source: str = "<answers>") -> pd.DataFrame:
    """Concatenate tables that :func:`validate_answers` has accepted, one by one (so that its
    messages named each file), checking only what their union can break: duplicate rows.

    Raises
    ------
    DataError
        No table with rows, or duplicate rows across the tables.
    """
    tables = [t for t in tables if len(t)]
    if not tables:
        raise DataError(f"{source}: the answers table has no rows")
    df = pd.concat(tables, ignore_index=True)
    check_unique_rows(df, source)
    return df
