"""Where a run's files live: the one owner of the run directory's layout.

Every other module asks a :class:`RunLayout` for a path instead of joining names itself::

    <output_dir>/<run>/                    RunLayout(run_dir)
        run_config.json  run_summary.json  leaderboard.csv  ranking.json
        <model>/                           model_dir(model)
            answers.parquet  conversations.jsonl  manifest.json  parts/   (generation)
            metrics.json  scores.parquet  rank_order.parquet  ipsative.parquet
            structure.parquet  cfa.parquet                                (analysis)
            .stamps/<stage>.json                                          (pipeline)
        notebooks/<model>/10_generate.ipynb ...   notebooks/40_leaderboard.ipynb
        report/index.html  report/leaderboard.html  report/model_<model>.html

An experiment (a params file with a grid) is a directory of runs, one per grid point::

    <output_dir>/<run>/                    RunLayout(run_dir)
        experiment.csv  comparisons.csv  reliability.csv  invariance.csv
        run_config.json  run_summary.json
        <point label>/                     point(label): a run directory as above
            params.json                    the point's params (what its stages read)
        report/index.html  report/experiment.html

A model's directory is named after the model as given in params (``stickrole analyze`` uses
the same rule for model names read from an answers table, :func:`model_dir_name`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RunLayout",
    "ModelFiles",
    "model_dir_name",
    "ANALYSIS_TABLES",
    "NOTEBOOK_FILES",
]

#: Per-model analysis tables, written as ``<name>.parquet`` beside metrics.json.
ANALYSIS_TABLES: tuple[str, ...] = ("scores", "rank_order", "ipsative", "structure", "cfa",
                                    "behaviour", "downstream_rank_order", "value_behaviour")

#: Stage -> notebook file name (in ``notebooks/`` and, executed, under ``<run>/notebooks/``).
NOTEBOOK_FILES: dict[str, str] = {
    "generate": "10_generate.py",
    "analyze": "20_analyze.py",
    "report": "30_model_report.py",
    "leaderboard": "40_leaderboard.py",
    "experiment": "50_experiment.py",
    "explorer": "90_explorer.py",
}

def model_dir_name(model: str) -> str:
    """Directory (and report page) name of a model: characters other than letters, digits and
    ``-_.+`` become ``_``; params model names are already of that form and stay as they are.

    >>> model_dir_name("meta/Llama 3.1 8B")
    'meta_Llama_3.1_8B'
    >>> model_dir_name("SmolLM2-135M")
    'SmolLM2-135M'
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in str(model)).strip(".")
    return safe or "model"


@dataclass(frozen=True)
class ModelFiles:
    """Paths inside one model's directory (``<run>/<model>``, or any directory holding a
    model's answers or analysis, e.g. ``stickrole analyze --out DIR``'s ``DIR/<model>``)."""

    dir: Path

    def __init__(self, model_dir: str | Path) -> None:
        object.__setattr__(self, "dir", Path(model_dir))

    @property
    def answers(self) -> Path:
        return self.dir / "answers.parquet"

    @property
    def parts(self) -> Path:
        """Finished generation units, one parquet file each, before they are combined."""
        return self.dir / "parts"

    @property
    def conversations(self) -> Path:
        return self.dir / "conversations.jsonl"

    @property
    def manifest(self) -> Path:
        return self.dir / "manifest.json"

    @property
    def metrics(self) -> Path:
        return self.dir / "metrics.json"

    def table(self, name: str) -> Path:
        """One of :data:`ANALYSIS_TABLES`."""
        if name not in ANALYSIS_TABLES:
            raise ValueError(f"unknown analysis table {name!r}; tables: {', '.join(ANALYSIS_TABLES)}")
        return self.dir / f"{name}.parquet"

    def stamp(self, stage: str) -> Path:
        return self.dir / ".stamps" / f"{stage}.json"


@dataclass(frozen=True)
class RunLayout:
    """Paths inside one run directory (``<output_dir>/<run>``)."""

    run_dir: Path

    def __init__(self, run_dir: str | Path) -> None:
        object.__setattr__(self, "run_dir", Path(run_dir))

    # run level
    @property
    def run_config(self) -> Path:
        return self.run_dir / "run_config.json"

    @property
    def run_summary(self) -> Path:
        return self.run_dir / "run_summary.json"

    @property
    def leaderboard_csv(self) -> Path:
        return self.run_dir / "leaderboard.csv"

    @property
    def ranking_json(self) -> Path:
        return self.run_dir / "ranking.json"

    @property
    def leaderboard_columns_csv(self) -> Path:
        return self.run_dir / "leaderboard_columns.csv"

    @property
    def params(self) -> Path:
        """The params of a grid point's run, written by the experiment (its stages read it)."""
        return self.run_dir / "params.json"

    @property
    def experiment_csv(self) -> Path:
        return self.run_dir / "experiment.csv"

    @property
    def comparisons_csv(self) -> Path:
        return self.run_dir / "comparisons.csv"

    @property
    def reliability_csv(self) -> Path:
        """ICCs across seeds, variance components and noise floors of an experiment."""
        return self.run_dir / "reliability.csv"

    @property
    def invariance_csv(self) -> Path:
        """Measurement invariance across contexts of an experiment's models."""
        return self.run_dir / "invariance.csv"

    @property
    def experiment_page(self) -> Path:
        return self.report_dir / "experiment.html"

    def point(self, label: str) -> RunLayout:
        """The run directory of one grid point of an experiment."""
        return RunLayout(self.run_dir / label)

    def point_dirs(self) -> list[Path]:
        """Run directories of an experiment's grid points (those holding a params.json),
        sorted by name."""
        name = RunLayout(".").params.name
        return sorted(p.parent for p in self.run_dir.glob(f"*/{name}"))

    @property
    def notebooks_dir(self) -> Path:
        return self.run_dir / "notebooks"

    @property
    def report_dir(self) -> Path:
        return self.run_dir / "report"

    @property
    def index_page(self) -> Path:
        return self.report_dir / "index.html"

    @property
    def leaderboard_page(self) -> Path:
        return self.report_dir / "leaderboard.html"

    # model level
    def model_dir(self, model: str) -> Path:
        return self.run_dir / model_dir_name(model)

    def model(self, model: str) -> ModelFiles:
        """The files of one model."""
        return ModelFiles(self.model_dir(model))

    def answers(self, model: str) -> Path:
        return self.model(model).answers

    def conversations(self, model: str) -> Path:
        return self.model(model).conversations

    def manifest(self, model: str) -> Path:
        return self.model(model).manifest

    def metrics(self, model: str) -> Path:
        return self.model(model).metrics

    def table(self, model: str, name: str) -> Path:
        """One of :data:`ANALYSIS_TABLES` of a model."""
        return self.model(model).table(name)

    def stamp(self, model: str | None, stage: str) -> Path:
        """Stamp of a stage's last success (``model=None``: a run-level stage)."""
        if model:
            return self.model(model).stamp(stage)
        return self.run_dir / ".stamps" / f"{stage}.json"

    def executed_notebook(self, model: str | None, stage: str) -> Path:
        name = Path(NOTEBOOK_FILES[stage]).with_suffix(".ipynb").name
        if model is None:
            return self.notebooks_dir / name
        return self.notebooks_dir / model_dir_name(model) / name

    def model_page(self, model: str) -> Path:
        return self.report_dir / f"model_{model_dir_name(model)}.html"

    def analysed_model_dirs(self) -> list[Path]:
        """Model directories holding a metrics.json, sorted by name."""
        name = ModelFiles(".").metrics.name
        return sorted(p.parent for p in self.run_dir.glob(f"*/{name}"))
