"""A model's analysis directory: ``metrics.json`` plus its tables as parquet.

The metrics go through :func:`~stickrole_utils.analysis.metrics.write_metrics` and
:func:`~stickrole_utils.analysis.metrics.read_metrics` (the one writer and reader of
metrics.json); the tables are those of :class:`~stickrole_utils.analysis.model.ModelAnalysis`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..io import atomic_replace
from ..layout import ANALYSIS_TABLES, ModelFiles
from .metrics import read_metrics, write_metrics
from .model import ModelAnalysis

__all__ = ["MODEL_TABLES", "write_model_analysis", "read_model_analysis"]

#: The tables of a :class:`ModelAnalysis`, each written as ``<name>.parquet``.
MODEL_TABLES: tuple[str, ...] = ANALYSIS_TABLES


def write_model_analysis(analysis: ModelAnalysis, model_dir: str | Path) -> Path:
    """Write ``metrics.json`` and the tables (parquet) of one model into ``model_dir``.

    Each file is written to a temporary name and renamed, so a crash leaves either the old file
    or the new one. Returns the path of metrics.json.
    """
    files = ModelFiles(model_dir)
    files.dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_TABLES:
        df = getattr(analysis, name)
        if df is not None and len(df):
            atomic_replace(files.table(name), lambda tmp, df=df: df.to_parquet(tmp, index=False))
    return write_metrics(analysis.metrics, files.metrics)


def read_model_analysis(model_dir: str | Path) -> ModelAnalysis:
    """Read back what :func:`write_model_analysis` wrote (metrics checked, tables as found;
    a missing table is empty).

    Raises
    ------
    DataError
        No metrics.json in ``model_dir``, or one :func:`read_metrics` rejects.
    """
    files = ModelFiles(model_dir)
    if not files.metrics.exists():
        raise DataError(f"{files.dir}: no metrics.json (run `stickrole analyze` first)")
    metrics = read_metrics(files.metrics)
    frames = {}
    for name in MODEL_TABLES:
        p = files.table(name)
        frames[name] = pd.read_parquet(p) if p.exists() else pd.DataFrame()
    return ModelAnalysis(model=metrics.model or files.dir.name, metrics=metrics, **frames)
