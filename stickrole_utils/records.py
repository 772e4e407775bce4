"""The run-level files, each with one typed reader and writer (:mod:`.layout` says where they
live, :mod:`.io` how bytes are read and written).

==================== ======================================= ============================
file                 record                                  reader / writer
==================== ======================================= ============================
``run_config.json``  :class:`~stickrole_utils.config.RunConfig` :func:`read_run_config` /
                     (the run's complete specification)     :func:`write_run_config`
``run_summary.json`` :class:`RunSummaryFile`                 :func:`read_run_summary` /
                                                             :func:`write_run_summary`
``leaderboard.csv``  DataFrame, :data:`LEADERBOARD_COLUMNS`  :func:`read_leaderboard`
                     first
``leaderboard_       DataFrame, models x per-chunk columns   :func:`read_leaderboard_columns`
columns.csv``
``ranking.json``     :class:`RankingFile`                    :func:`read_ranking`
``experiment.csv``,  DataFrames, :data:`EXPERIMENT_COLUMNS`, :func:`read_experiment`
``comparisons.csv``  :data:`COMPARISONS_COLUMNS` first
``reliability.csv``  DataFrame, :data:`RELIABILITY_COLUMNS`    :func:`read_reliability`
                     first
``invariance.csv``   DataFrame, :data:`INVARIANCE_COLUMNS`     :func:`read_invariance`
                     first
==================== ======================================= ============================

The files a model's stages write have their own owners: ``answers.parquet``
(:func:`stickrole_utils.generation.store.read_run_answers`,
:func:`stickrole_utils.analysis.read_answers`), ``conversations.jsonl``
(``RunStore.read_conversations``), ``manifest.json``
(:func:`stickrole_utils.generation.store.read_manifest`), ``metrics.json``
(:func:`stickrole_utils.analysis.metrics.read_metrics`). Every reader returns ``None`` for a file
that is not there and raises :class:`~stickrole_utils.errors.DataError` (one line naming the file
and what is wrong) for one that is malformed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from .config import RunConfig, parse_run_config
from .errors import ConfigError, DataError, format_validation_error
from .io import atomic_write_text, read_json
from .layout import RunLayout

__all__ = [
    "LEADERBOARD_COLUMNS",
    "EXPERIMENT_COLUMNS",
    "COMPARISONS_COLUMNS",
    "PAIRWISE_COLUMNS",
    "RELIABILITY_COLUMNS",
    "INVARIANCE_COLUMNS",
    "StageRow",
    "RunSummaryFile",
    "RankingFile",
    "read_run_config",
    "write_run_config",
    "read_run_summary",
    "write_run_summary",
    "read_leaderboard",
    "read_leaderboard_columns",
    "read_ranking",
    "read_experiment",
    "read_reliability",
    "read_invariance",
]

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
#: Leading columns of ``experiment.csv`` (one more column per other grid key follows).
EXPERIMENT_COLUMNS: tuple[str, ...] = ("model", "seed", "n_messages", "metric", "value")
#: Leading columns of ``comparisons.csv`` (one more column per other grid key follows).
COMPARISONS_COLUMNS: tuple[str, ...] = ("metric", "n_messages", "model_a", "model_b", "t", "p",
                                        "p_fdr")
#: Columns of the experiment's pairwise (chunk x chunk) table, before the other grid keys.
PAIRWISE_COLUMNS: tuple[str, ...] = ("model", "seed", "n_messages", "chunk_a", "chunk_b",
                                     "value")
#: Leading columns of ``reliability.csv`` (the setting columns follow: ``n_messages`` and the
#: other grid keys but seed; empty where the setting is a factor of a decomposition).
RELIABILITY_COLUMNS: tuple[str, ...] = (
    "model",  # str: a model, "family:<name>" (its entries together), or a noise floor's source
    "quantity",  # str: icc2_1, icc2_k, noise_ceiling, retest_rank_order, component:<effects>,
    #              share:<effects>, noise_floor:<metric>
    "value",  # str: a Schwartz value, or "all" (over values: the median of the ICCs over
    #           values and chunks, the mean of alpha / omega over values; or pooled)
    "chunk",  # str: a context, or "all"
    "estimate",  # float
    "ci_low",  # float: lower bound of the interval (NaN where none)
    "ci_high",  # float: upper bound
    "n",  # int: personas (decomposition, ICC) or draws (noise floor)
)

#: Leading columns of ``invariance.csv`` (the setting columns follow; docs/method.md,
#: Measurement invariance).
INVARIANCE_COLUMNS: tuple[str, ...] = (
    "model",  # str
    "seed",  # int: the seed whose answers were fitted (the lowest of the model and setting)
    "questionnaire",  # str: PVQ40 or SVS57
    "group",  # str: the higher-order CFA model (conservation, openness_to_change, ...)
    "form",  # str: multigroup (contexts as groups) or longitudinal (the same personas in
    #          every context, one group); files written before the longitudinal form: read
    #          as multigroup
    "level",  # str: configural, metric, scalar, or "partial <level>"
    "cfi", "rmsea", "chi2", "df",  # float: the multi-group fit (lavaan's)
    "delta_cfi", "delta_rmsea",  # float: against the level below (NaN for configural)
    "holds",  # bool: dCFI >= -0.010 and dRMSEA <= 0.015 (and converged)
    "freed",  # str: items (numbers) whose loadings/intercepts were freed (partial levels)
    "converged",  # bool
    "note",  # str: why a level could not be fitted
)


class StageRow(BaseModel):
    """One stage of a run in ``run_summary.json``."""

    model_config = ConfigDict(extra="allow")

    model: str
    """The model (``(all models)`` for the leaderboard and experiment stages; ``<point>/<model>``
    in an experiment's summary)."""
    stage: str
    status: str
    """``ok``, ``up to date``, ``failed``, ``skipped`` or ``stopped``."""
    seconds: float = 0.0
    """This run's time for the stage (0 for one that was up to date)."""
    reason: str = ""
    notebook: str = ""
    """The executed notebook (a log), if any."""
    work_seconds: float | None = None
    """The time the stage took in the run that did its work."""
    work_finished: str = ""
    """When that run finished the stage (ISO time)."""


class RunSummaryFile(BaseModel):
    """``run_summary.json``: what the last ``stickrole run`` of a directory did."""

    model_config = ConfigDict(extra="allow")

    run_dir: str = ""
    ok: bool | None = None
    """No stage failed, was skipped or stopped (``None``: not recorded)."""
    interrupted: bool = False
    """Ctrl-C stopped the run."""
    index_html: str | None = None
    results: list[StageRow] = []

    def table(self) -> pd.DataFrame:
        """The stages as a DataFrame (columns of :class:`StageRow`)."""
        return pd.DataFrame([r.model_dump() for r in self.results],
                            columns=list(StageRow.model_fields))


class RankingFile(BaseModel):
    """``ranking.json``: diversity and sensitivity of the leaderboard's ranking (numbers, or
    null where undefined; ``notes`` say why)."""

    model_config = ConfigDict(extra="allow")

    notes: list[str] = []


def _validated(model: type[BaseModel], data: Any, path: Path) -> Any:
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object; got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DataError(format_validation_error(exc, str(path))) from None


def read_run_config(run_dir: str | Path) -> RunConfig | None:
    """The run's specification, ``<run>/run_config.json`` (``None`` when absent).

    Raises
    ------
    DataError
        Not JSON, or not a valid run configuration.
    """
    path = RunLayout(run_dir).run_config
    if not path.is_file():
        return None
    try:
        return parse_run_config(read_json(path, "run config"), source=str(path),
                                base_dir=path.parent)
    except ConfigError as exc:
        raise DataError(str(exc)) from None


def write_run_config(run_dir: str | Path, cfg: RunConfig) -> Path:
    """Write ``<run>/run_config.json`` (the complete specification, atomically)."""
    return atomic_write_text(RunLayout(run_dir).run_config,
                             json.dumps(cfg.model_dump(mode="json"), indent=1))


def read_run_summary(run_dir: str | Path) -> RunSummaryFile | None:
    """``<run>/run_summary.json`` (``None`` when absent).

    Raises
    ------
    DataError
        Not JSON, or a field of the wrong type (e.g. ``results`` not a list).
    """
    path = RunLayout(run_dir).run_summary
    if not path.is_file():
        return None
    return _validated(RunSummaryFile, read_json(path, "run summary"), path)


def write_run_summary(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``<run>/run_summary.json`` from a summary's JSON data (validated first)."""
    path = RunLayout(run_dir).run_summary
    record = _validated(RunSummaryFile, summary, path)
    return atomic_write_text(path, json.dumps(record.model_dump(mode="json"), indent=1))


def _csv(path: Path, leading: tuple[str, ...], what: str, **kwargs: Any) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable {what} CSV ({str(exc).splitlines()[0]})") \
            from None
    lacking = [c for c in leading if c not in table.columns]
    if lacking:
        raise DataError(f"{path}: missing column(s) {', '.join(lacking)}; a {what} starts with "
                        f"{', '.join(leading)}")
    return table


def read_leaderboard(run_dir: str | Path) -> pd.DataFrame | None:
    """``<run>/leaderboard.csv``: one row per model, :data:`LEADERBOARD_COLUMNS` first (``None``
    when absent).

    Raises
    ------
    DataError
        Not CSV, or a leading column missing.
    """
    path = RunLayout(run_dir).leaderboard_csv
    return _csv(path, LEADERBOARD_COLUMNS, "leaderboard") if path.is_file() else None


def read_leaderboard_columns(run_dir: str | Path) -> pd.DataFrame | None:
    """``<run>/leaderboard_columns.csv``: models (index) x the per-chunk columns the Cardinal and
    Ordinal scores average (``None`` when absent)."""
    path = RunLayout(run_dir).leaderboard_columns_csv
    return _csv(path, (), "leaderboard columns", index_col=0) if path.is_file() else None


def read_ranking(run_dir: str | Path) -> RankingFile | None:
    """``<run>/ranking.json`` (``None`` when absent).

    Raises
    ------
    DataError
        Not JSON, or ``notes`` not a list of texts.
    """
    path = RunLayout(run_dir).ranking_json
    if not path.is_file():
        return None
    return _validated(RankingFile, read_json(path, "ranking"), path)


def read_experiment(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``<run>/experiment.csv`` and ``<run>/comparisons.csv`` (``None`` when the experiment
    table is absent; an absent comparisons table reads as empty).

    Raises
    ------
    DataError
        Not CSV, or a leading column missing.
    """
    layout = RunLayout(run_dir)
    if not layout.experiment_csv.is_file():
        return None
    table = _csv(layout.experiment_csv, EXPERIMENT_COLUMNS, "experiment table")
    comparisons = (_csv(layout.comparisons_csv, COMPARISONS_COLUMNS, "comparisons table")
                   if layout.comparisons_csv.is_file()
                   else pd.DataFrame(columns=list(COMPARISONS_COLUMNS)))
    return table, comparisons


def read_reliability(run_dir: str | Path) -> pd.DataFrame | None:
    """``<run>/reliability.csv`` (``None`` when absent): ICCs, noise ceilings, variance
    components and shares, noise floors (``docs/method.md``, Signal and noise).

    Raises
    ------
    DataError
        Not CSV, or a leading column missing.
    """
    path = RunLayout(run_dir).reliability_csv
    if not path.is_file():
        return None
    return _csv(path, RELIABILITY_COLUMNS, "reliability table",
                dtype={"model": str, "quantity": str, "value": str, "chunk": str})


def read_invariance(run_dir: str | Path) -> pd.DataFrame | None:
    """``<run>/invariance.csv`` (``None`` when absent): configural, metric and scalar
    invariance across contexts per model, setting and higher-order CFA model.

    Raises
    ------
    DataError
        Not CSV, or a leading column missing.
    """
    path = RunLayout(run_dir).invariance_csv
    if not path.is_file():
        return None
    table = _csv(path, tuple(c for c in INVARIANCE_COLUMNS if c != "form"), "invariance table",
                 dtype={"model": str, "questionnaire": str, "group": str, "form": str,
                        "level": str, "freed": str, "note": str})
    if "form" not in table.columns:  # written before the longitudinal form
        table.insert(list(table.columns).index("group") + 1, "form", "multigroup")
    return table
