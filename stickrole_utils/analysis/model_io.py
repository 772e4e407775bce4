"""A model's analysis directory: ``metrics.json`` plus its tables as parquet.

The metrics go through :func:`~stickrole_utils.analysis.metrics.write_metrics` and
:func:`~stickrole_utils.analysis.metrics.read_metrics` (the one writer and reader of
metrics.json); the tables are those of :class:`~stickrole_utils.analysis.model.ModelAnalysis`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from .metrics import read_metrics, write_metrics
from .model import ModelAnalysis

__all__ = ["MODEL_TABLES", "write_model_analysis", "read_model_analysis"]

#: The tables of a :class:`ModelAnalysis`, each written as ``<name>.parquet``.
MODEL_TABLES: tuple[str, ...] = ("scores", "rank_order", "ipsative", "structure", "cfa")


def write_model_analysis(analysis: ModelAnalysis, model_dir: str | Path) -> Path:
    """Write ``metrics.json`` and the tables (parquet) of one model into ``model_dir``.

    Each file is written to a temporary name and renamed, so a crash leaves either the old file
    or the new one. Returns the path of metrics.json.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_TABLES:
        df = getattr(analysis, name)
        if df is not None and len(df):
            tmp = model_dir / f".{name}.parquet.tmp"
            df.to_parquet(tmp, index=False)
            tmp.replace(model_dir / f"{name}.parquet")
    return write_metrics(analysis.metrics, model_dir / "metrics.json")


def read_model_analysis(model_dir: str | Path) -> ModelAnalysis:
    """Read back what :func:`write_model_analysis` wrote (metrics checked, tables as found;
    a missing table is empty).

    Raises
    ------
    DataError
        No metrics.json in ``model_dir``, or one :func:`read_metrics` rejects.
    """
    model_dir = Path(model_dir)
    path = model_dir / "metrics.json"
    if not path.exists():
        raise DataError(f"{model_dir}: no metrics.json (run `stickrole analyze` first)")
    metrics = read_metrics(path)
    frames = {}
    for name in MODEL_TABLES:
        p = model_dir / f"{name}.parquet"
        frames[name] = pd.read_parquet(p) if p.exists() else pd.DataFrame()
    return ModelAnalysis(model=metrics.model or model_dir.name, metrics=metrics, **frames)
