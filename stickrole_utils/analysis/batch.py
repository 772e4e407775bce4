"""Several models at once: answers tables (files or one multi-model table) -> one
:class:`~stickrole_utils.analysis.model.ModelAnalysis` per model -> one directory per model.

``stickrole analyze`` is :func:`analyze_files`, then the leaderboard computed from the results
(:mod:`stickrole_utils.leaderboard`), then :func:`write_analyses` and the leaderboard files: all
is computed, and every input checked, before the first file is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ..config.analysis import AnalysisSettings
from ..errors import DataError
from .answers import concat_answers, read_answers, validate_answers
from .model import ModelAnalysis, analyze_model
from .model_io import write_model_analysis

__all__ = ["analyze_answers", "analyze_files", "write_analyses", "model_dir_name"]


def analyze_answers(answers: pd.DataFrame, settings: AnalysisSettings | None = None, *,
                    source: str = "<answers>", validate: bool = True) -> dict[str, ModelAnalysis]:
    """Analyse every model of a (possibly multi-model) answers table: model -> ModelAnalysis,
    models sorted by name.

    ``validate=False`` skips :func:`validate_answers` for a table the caller has just validated.
    """
    if validate:
        answers = validate_answers(answers, source)
    return {
        m: analyze_model(g, settings, source=source, validate=False)
        for m, g in answers.groupby("model", sort=True)
    }


def analyze_files(paths: Sequence[str | Path],
                  settings: AnalysisSettings | None = None) -> dict[str, ModelAnalysis]:
    """Read answers tables and analyse every model in them; nothing is written.

    Each file is validated once as it is read (errors name the file); several tables may hold
    the same model only if their rows do not overlap.

    Returns
    -------
    dict
        model -> ModelAnalysis, models sorted by name; write them with :func:`write_analyses`.

    Raises
    ------
    DataError
        No path, an unreadable or invalid table, overlapping rows, or anything
        :func:`analyze_model` rejects.
    """
    if not paths:
        raise DataError("no answers table given")
    source = str(paths[0]) if len(paths) == 1 else f"{len(paths)} answers tables"
    answers = concat_answers([read_answers(p) for p in paths], source)
    return analyze_answers(answers, settings, source=source, validate=False)


def write_analyses(results: Mapping[str, ModelAnalysis], out_dir: str | Path) -> dict[str, Path]:
    """Write each model's analysis into ``out_dir/<model_dir_name(model)>/``.

    Returns
    -------
    dict
        model -> path of its metrics.json.
    """
    out_dir = Path(out_dir)
    return {model: write_model_analysis(a, out_dir / model_dir_name(model))
            for model, a in results.items()}


def model_dir_name(model: str) -> str:
    """A directory name for a model name (path separators and odd characters replaced).

    >>> model_dir_name("org/phi-4 (q4)")
    'org_phi-4__q4_'
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in model).strip(".")
    return safe or "model"
