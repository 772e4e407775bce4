"""``stickrole run``: every stage of every model, then the leaderboard.

With ``execution.engine: ray`` (the default) every stage below is a Ray task on a local Ray
instance or the cluster of ``--address`` (:mod:`.on_ray`: models run side by side as far as the
cluster's CPUs and GPUs allow); with ``local`` they run one after the other in this process.

:func:`run_experiment` executes, for each model of a params file, the stage notebooks
``10_generate`` -> ``20_analyze`` -> ``30_model_report`` (one papermill run, hence one fresh
kernel process, per model and stage, so a model's memory is freed before the next one loads),
then the leaderboard stage over the models that were analysed (in this process: it writes
``leaderboard.csv``, ``leaderboard_columns.csv`` and ``ranking.json``), the leaderboard page
(``40_leaderboard``, which only displays them) and the index page.

A params file with an ``experiment:`` grid runs every grid point as a run of its own under
``<output_dir>/<run>/<point label>/`` (its ``params.json`` written there, from
:func:`~stickrole_utils.config.expand_grid`; stamps make it resumable as any run), then the
experiment stage (in this process: ``experiment.csv`` and ``comparisons.csv``) and the
experiment's index page, which links every grid point's report. On Ray all grid points are
submitted at once (their stages run side by side as resources allow); in process, in turn.

- A failing stage never stops the other models; its later stages are marked ``skipped``.
- A stage whose inputs (its params section, its input files and the notebook source) have the
  hash recorded in its stamp after its last success, and whose outputs exist, is not re-run
  (``up to date``), unless ``force``.
- Executed notebooks are kept as logs under ``<run>/notebooks/``; a failed stage's notebook
  shows the error.
- One log line (logger ``stickrole_utils.pipeline``, level INFO) per model and stage with the
  elapsed time; the generation progress bar (the kernel's stderr) is passed through to stderr.
- Ctrl-C (SIGINT) stops the whole run, every grid point: Ray tasks are cancelled (their workers
  and kernels killed), in process the running stage's kernel is killed; no further stage
  starts. Units of generation are stored atomically, so a stopped generation keeps its whole
  units and a rerun resumes after them. The summary (``run_summary.json``, every grid
  point's too) marks what did not finish ``stopped`` and is then raised with
  :class:`RunInterrupted` (a ``KeyboardInterrupt``).

:func:`~.rebuild.build_report` re-renders the pages of a run directory (``stickrole report``)
from what the stages wrote; it never writes data.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from ..config import expand_grid, run_spec
from ..errors import ConfigError, DataError
from ..experiment import collect_experiment, collect_scores, write_experiment, write_signal
from ..generation import load_params
from ..io import atomic_write_text
from ..layout import RunLayout
from ..leaderboard.table import load_metrics, write_leaderboard
from ..records import write_run_config, write_run_summary
from ..report import write_index
from .execute import DEFAULT_KERNEL, check_kernel
from .on_ray import RayOptions, connect, run_models_on_ray
from .stages import MODEL_STAGES, NOTEBOOK_FILES, notebooks_dir
from .units import INTERRUPTED, NOT_STARTED, StageResult, StageSpec, run_in_turn, run_stage

__all__ = ["StageResult", "RunInterrupted", "RunSummary", "run_experiment", "write_grid_points"]

log = logging.getLogger("stickrole_utils.pipeline")


@dataclass
class RunSummary:
    """All stage results of a run, in execution order."""

    run_dir: Path
    results: list[StageResult] = field(default_factory=list)
    index_html: Path | None = None
    worked: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    """(model, stage) -> (seconds, finished) of the run that did the stage's work, from its
    stamp (:func:`_worked`): an ``up to date`` stage keeps the time it took when it ran."""
    interrupted: bool = False
    """Ctrl-C stopped the run (the stages it stopped have status ``stopped``)."""

    @property
    def ok(self) -> bool:
        """True when no stage failed or was skipped."""
        return all(r.status in ("ok", "up to date") for r in self.results)

    def table(self) -> pd.DataFrame:
        """Columns ``model, stage, status, seconds, reason, notebook, work_seconds,
        work_finished``: ``seconds`` is this run's time (0 for an ``up to date`` stage),
        ``work_seconds`` and ``work_finished`` those of the run that did the stage's work
        (this one, or the earlier one an ``up to date`` stage's stamp records)."""
        rows = []
        for r in self.results:
            secs, finished = self.worked.get((r.model, r.stage), (None, ""))
            if secs is None and r.status != "up to date":
                secs = r.seconds
            rows.append({"model": r.model, "stage": r.stage, "status": r.status,
                         "seconds": round(r.seconds, 1), "reason": r.reason,
                         "notebook": str(r.notebook) if r.notebook else "",
                         "work_seconds": None if secs is None else round(secs, 1),
                         "work_finished": finished})
        return pd.DataFrame(rows, columns=["model", "stage", "status", "seconds", "reason",
                                           "notebook", "work_seconds", "work_finished"])

    def to_text(self) -> str:
        """The summary table as plain text (for the terminal)."""
        if not self.results:
            return "(no stages run)"
        return self.table().iloc[:, :6].to_string(index=False, max_colwidth=90)

    def to_json(self) -> dict:
        return {"run_dir": str(self.run_dir), "ok": self.ok, "interrupted": self.interrupted,
                "index_html": str(self.index_html) if self.index_html else None,
                "results": self.table().to_dict(orient="records")}


def _worked(results: Sequence[StageResult], layout: RunLayout
            ) -> dict[tuple[str, str], tuple[float, str]]:
    """(model, stage) -> (seconds, finished) that the stamp of each stage that succeeded now or
    is up to date recorded when the stage did its work (absent where no stamp can be read)."""
    out = {}
    for r in results:
        if r.status not in ("ok", "up to date"):
            continue
        stamp = layout.stamp(None if r.model == "(all models)" else r.model, r.stage)
        try:
            data = json.loads(stamp.read_text())
            out[(r.model, r.stage)] = (float(data["seconds"]), str(data.get("finished", "")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`run_experiment`; ``summary`` (also in ``run_summary.json``) says
    what finished and what was ``stopped``. Running the same command again resumes."""

    def __init__(self, summary: RunSummary):
        super().__init__(f"interrupted: {summary.run_dir}")
        self.summary = summary

    @property
    def stopped(self) -> list[StageResult]:
        return [r for r in self.summary.results if r.status == "stopped"]


def _model_stages(cfg, entry, layout: RunLayout, params_path: Path, nb_src: Path,
                  force_generate: bool) -> list[StageSpec]:
    dump = cfg.model_dump(mode="json")
    name = entry.name
    gen_section = {k: v for k, v in dump.items()
                   if k not in ("analysis", "leaderboard", "report", "models", "source",
                                "execution")}
    gen_section["model"] = entry.model_dump(mode="json")
    answers = layout.answers(name)
    nb = {s: nb_src / NOTEBOOK_FILES[s] for s in MODEL_STAGES}
    report_inputs = [layout.metrics(name), layout.manifest(name),
                     *(layout.table(name, t) for t in ("scores", "rank_order", "ipsative",
                                                       "structure", "cfa"))]
    page = layout.model_page(name)
    return [
        StageSpec(name, "generate",
               {"params_path": str(params_path), "model": name, "force": force_generate,
                "progress": "text"},
               gen_section, [nb["generate"]], [answers],
               layout.executed_notebook(name, "generate")),
        StageSpec(name, "analyze", {"params_path": str(params_path), "model": name},
               {"analysis": dump["analysis"]}, [answers, nb["analyze"]],
               [layout.metrics(name)], layout.executed_notebook(name, "analyze")),
        StageSpec(name, "report", {"run_dir": str(layout.run_dir), "model": name},
               {}, [*report_inputs, nb["report"]], [page],
               layout.executed_notebook(name, "report"), html=page),
    ]


def _leaderboard_stages(cfg, layout: RunLayout, ranked: list[str], nb_src: Path) -> list[StageSpec]:
    """The leaderboard (computed here, from the models' metrics.json) and its page (``report``
    of the run, from the ``40_leaderboard`` notebook)."""
    metric_files = [layout.metrics(m) for m in ranked]
    settings = {**cfg.leaderboard.model_dump(mode="json"), "analysis_chunks": cfg.analysis.chunks}
    outputs = [layout.leaderboard_csv, layout.ranking_json]

    def compute() -> None:
        write_leaderboard(load_metrics(metric_files), layout.run_dir,
                          chunks=cfg.leaderboard.chunks or cfg.analysis.chunks,
                          ties=cfg.leaderboard.ties, seed=cfg.leaderboard.seed)

    page_params = {"run_dir": str(layout.run_dir), "title": cfg.report.title}
    nb = nb_src / NOTEBOOK_FILES["leaderboard"]
    return [
        StageSpec(None, "leaderboard", {"models": ranked, **settings}, {"models": ranked, **settings},
               metric_files, outputs, None, compute=compute),
        StageSpec(None, "report", page_params, page_params,
               [*outputs, nb], [layout.leaderboard_page],
               layout.executed_notebook(None, "leaderboard"), html=layout.leaderboard_page,
               notebook_stage="leaderboard"),
    ]


def run_experiment(
    params_path: str | Path,
    *,
    kernel_name: str = DEFAULT_KERNEL,
    force: bool = False,
    models: Sequence[str] | None = None,
    notebook_dir: str | Path | None = None,
    engine: str | None = None,
    address: str | None = None,
) -> RunSummary:
    """Run generate -> analyze -> model report for every model, then the leaderboard and report;
    with an ``experiment:`` grid, all of that for every grid point, then the experiment stage.

    Parameters
    ----------
    params_path : path
        Params YAML; validated completely (schema, names, files) before any notebook starts.
    kernel_name : str
        Jupyter kernel for every notebook (default ``stickrole``, registered by ``make env``).
    force : bool
        Re-run every stage even if up to date; generation then discards earlier answers and
        starts over (``stickrole generate --force``).
    models : sequence of str, optional
        Only these models (names as in the params file); default all.
    notebook_dir : path, optional
        Where the stage notebooks are (default: :func:`~.stages.notebooks_dir`).
    engine : {"ray", "local"}, optional
        Default ``execution.engine`` of the params: ``ray`` runs every stage as a Ray task
        (:mod:`.on_ray`), ``local`` one after the other in this process.
    address : str, optional
        Ray: the address (``host:port``) of an existing cluster's head to join; default: the
        ``RAY_ADDRESS`` environment variable if set, else a new local instance (or the one this
        process is already connected to). ``local`` forces a local instance. A cluster found on
        the machine (Ray's address file) is never joined by itself.

    Returns
    -------
    RunSummary
        One :class:`StageResult` per (model, stage), then the leaderboard and its page
        (with a grid: per grid point, the model named ``<point label>/<model>``, then the
        ``experiment`` stage); ``index_html`` is the report's entry page. Also written to ``<run>/run_summary.json``.

    Raises
    ------
    ConfigError
        Invalid params, unknown model name, missing kernel or notebooks, an unreachable Ray
        address (nothing has run then).
    RunInterrupted
        Ctrl-C (SIGINT) stopped the run; its ``summary`` has been written.
    """
    params_path = Path(params_path).resolve()
    cfg = load_params(params_path)
    entries = list(cfg.models) if models is None else [cfg.model(m) for m in models]
    nb_src = Path(notebook_dir) if notebook_dir is not None else notebooks_dir()
    for stage in ("generate", "analyze", "report", "leaderboard"):
        if not (nb_src / NOTEBOOK_FILES[stage]).is_file():
            raise ConfigError(f"notebook {nb_src / NOTEBOOK_FILES[stage]} not found")
    if cfg.experiment is not None and not (nb_src / NOTEBOOK_FILES["experiment"]).is_file():
        raise ConfigError(f"notebook {nb_src / NOTEBOOK_FILES['experiment']} not found")
    check_kernel(kernel_name)
    engine = engine or cfg.execution.engine
    if engine == "ray":
        address = connect(address)
    run = _Invocation(entries, nb_src, kernel_name, force, engine, address)
    summary = (_run_grid(cfg, params_path, run) if cfg.experiment is not None
               else _run_one(cfg, params_path, run))
    if summary.interrupted:
        raise RunInterrupted(summary)
    return summary


@dataclass
class _Invocation:
    """What ``run_experiment`` was asked, handed to every run of a grid."""

    entries: list
    nb_src: Path
    kernel_name: str
    force: bool
    engine: str = "local"
    address: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    """Set by Ctrl-C: no stage starts any more, running ones are stopped."""


def _board_stages(cfg, layout: RunLayout, nb_src: Path, entries: list,
                  analysed: list[str]) -> list[StageSpec]:
    """The leaderboard's stages over the models analysed now and those left out of this
    invocation (``models=``) that were analysed before (they keep their place)."""
    kept = [m.name for m in cfg.models if m not in entries and layout.metrics(m.name).is_file()]
    ranked = [m.name for m in cfg.models if m.name in analysed or m.name in kept]
    return _leaderboard_stages(cfg, layout, ranked, nb_src)


def _run_in_process(cfg, plans: list, build_board, layout: RunLayout, run: _Invocation,
                    prefix: str) -> list[StageResult]:
    """The stages one after the other in this process (``execution.engine: local``)."""
    results: list[StageResult] = []
    n_steps = sum(len(specs) for _, specs in plans) + 2
    step = 0

    def label() -> str:
        nonlocal step
        step += 1
        return f"{prefix}[{step}/{n_steps}]"

    analysed: list[str] = []
    for entry, specs in plans:
        chain = run_in_turn(specs, lambda spec, lab, name=entry.name: _run_stopping(
            spec, layout, run, cfg, lab, name), entry.name, stop=run.stop, labels=label)
        results.extend(chain)
        if any(r.stage == "analyze" and r.status in ("ok", "up to date") for r in chain):
            analysed.append(entry.name)
    results.extend(run_in_turn(
        build_board(analysed), lambda spec, lab: _run_stopping(spec, layout, run, cfg, lab,
                                                               "(all models)"),
        "(all models)", blocked=None if analysed else "no model was analysed", stop=run.stop,
        labels=label))
    return results


def _run_stopping(spec: StageSpec, layout: RunLayout, run: _Invocation, cfg, label: str,
                  model: str) -> StageResult:
    """:func:`run_stage` in this process; Ctrl-C while it runs stops it (its kernel killed,
    :func:`~.units.run_stage`), sets ``run.stop`` and returns it as ``stopped``."""
    t0 = time.perf_counter()
    try:
        return run_stage(spec, layout, kernel_name=run.kernel_name, force=run.force,
                         notebook_dir=run.nb_src, label=label, execution=cfg.execution)
    except KeyboardInterrupt:
        run.stop.set()
        dt = time.perf_counter() - t0
        log.warning("%s %-11s %-11s stopped after %.1f s (Ctrl-C)", label, spec.stage, model, dt)
        return StageResult(model, spec.stage, "stopped", INTERRUPTED, spec.notebook, dt)


def _run_one(cfg, params_path: Path, run: _Invocation, prefix: str = "") -> RunSummary:
    """Every stage of one run directory (a params file without a grid, or one grid point)."""
    entries, nb_src, kernel_name, force = run.entries, run.nb_src, run.kernel_name, run.force
    layout = RunLayout(cfg.run_dir)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(layout.run_dir, cfg)
    summary = RunSummary(run_dir=layout.run_dir)
    t_run = time.perf_counter()

    plans = [(e, _model_stages(cfg, e, layout, params_path, nb_src, force)) for e in entries]
    build_board = partial(_board_stages, cfg, layout, nb_src, entries)
    if run.stop.is_set():  # Ctrl-C before this grid point started
        summary.results.extend(_stopped(plans, build_board([])))
    elif run.engine == "ray":
        opts = RayOptions(kernel_name, force, nb_src, cfg.execution, run.address)
        model_results, board_results = run_models_on_ray(plans, build_board, layout, opts,
                                                         prefix, stop=run.stop)
        summary.results.extend([*model_results, *board_results])
    else:
        summary.results.extend(_run_in_process(cfg, plans, build_board, layout, run, prefix))
    summary.worked = _worked(summary.results, layout)
    summary.interrupted = run.stop.is_set()
    summary.index_html = write_index(layout.run_dir, stages=summary.table(),
                                     title=cfg.report.title)
    write_run_summary(layout.run_dir, summary.to_json())
    failed = sum(r.status in ("failed", "skipped") for r in summary.results)
    stopped = sum(r.status == "stopped" for r in summary.results)
    log.log(logging.INFO if summary.ok else logging.WARNING,
            "run %s %s in %.1f s: %s; report: %s", cfg.run,
            "stopped (Ctrl-C)" if summary.interrupted else "finished",
            time.perf_counter() - t_run,
            "all stages ok" if summary.ok else
            ", ".join(x for x in (f"{stopped} stage(s) stopped" if stopped else "",
                                  f"{failed} stage(s) failed or skipped" if failed else "") if x),
            summary.index_html)
    return summary


def _stopped(plans: list, board: list[StageSpec]) -> list[StageResult]:
    """Every stage of a run that Ctrl-C kept from starting, as ``stopped``."""
    return [*(StageResult(entry.name, spec.stage, "stopped", NOT_STARTED)
              for entry, specs in plans for spec in specs),
            *(StageResult("(all models)", spec.stage, "stopped", NOT_STARTED)
              for spec in board)]




def write_grid_points(cfg) -> list[tuple[dict, Path, object]]:
    """Write each grid point's ``params.json`` (its complete run specification,
    :func:`~stickrole_utils.config.run_spec`) and read it back as its stages will.

    Returns
    -------
    list of (point, params path, config read back)
        In grid order.

    Raises
    ------
    DataError
        A point's ``params.json`` does not read back to the specification it was written from
        (a point would then run something other than its params file says).
    """
    out = []
    for point, point_cfg in expand_grid(cfg):
        layout = RunLayout(point_cfg.run_dir)
        layout.run_dir.mkdir(parents=True, exist_ok=True)
        spec = run_spec(point_cfg)
        atomic_write_text(layout.params, json.dumps(spec, indent=1))
        loaded = load_params(layout.params)
        if run_spec(loaded) != spec:
            changed = sorted(k for k in spec if run_spec(loaded).get(k) != spec[k])
            raise DataError(f"{layout.params}: reads back differently from the grid point's "
                            f"specification (sections {', '.join(changed)}); this is a bug, "
                            "please report it")
        out.append((point, layout.params, loaded))
    return out


def _experiment_stages(cfg, layout: RunLayout, points: list, models: list[str],
                       nb_src: Path) -> list[StageSpec]:
    """The experiment stage (computed here: experiment.csv and comparisons.csv) and its page
    (``50_experiment``, which only displays them)."""
    metric_files = [f for _, c in points for m in models
                    for f in (RunLayout(c.run_dir).metrics(m), RunLayout(c.run_dir).table(m, "scores"),
                              RunLayout(c.run_dir).answers(m))]
    section = {"experiment": cfg.experiment.model_dump(mode="json"), "models": models}

    def compute() -> None:
        table = collect_experiment(points, models)
        if table.empty:
            raise DataError("no grid point has a model's metrics.json")
        table = write_signal(table, collect_scores(points, cfg.models), layout,
                             cfg.experiment.reliability, points, cfg.models)
        write_experiment(table, layout, cfg.experiment.comparisons.fdr)

    outputs = [layout.experiment_csv, layout.comparisons_csv, layout.reliability_csv]
    if cfg.experiment.reliability.invariance:
        outputs.append(layout.invariance_csv)
    page_params = {"run_dir": str(layout.run_dir), "title": cfg.report.title}
    nb = nb_src / NOTEBOOK_FILES["experiment"]
    return [
        StageSpec(None, "experiment", section, section, [f for f in metric_files if f.is_file()],
               outputs, None, compute=compute),
        StageSpec(None, "report", page_params, page_params, [*outputs, nb],
               [layout.experiment_page], layout.executed_notebook(None, "experiment"),
               html=layout.experiment_page, notebook_stage="experiment"),
    ]


def _run_grid(cfg, params_path: Path, run: _Invocation) -> RunSummary:
    """Every grid point's run (``<run>/<point label>``, each with its own ``params.json``), then
    the experiment stage and the experiment's index page."""
    layout = RunLayout(cfg.run_dir)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(layout.run_dir, cfg)
    summary = RunSummary(run_dir=layout.run_dir)
    t_run = time.perf_counter()
    points = expand_grid(cfg)
    prepared = [(i, loaded, path) for i, (_, path, loaded) in
                enumerate(write_grid_points(cfg), start=1)]

    def run_point(item: tuple) -> tuple:
        i, loaded, path = item
        return loaded, _run_one(loaded, path, run, prefix=f"({i}/{len(points)} {loaded.run}) ")

    if run.engine == "ray" and len(prepared) > 1:
        # Every point's task graph at once: each point's driver (submit, then wait) runs in a
        # thread of its own (Ray's driver API is thread-safe), so Ray schedules all points'
        # stages side by side on the cluster's GPUs instead of leaving them idle while one
        # point finishes (benchmarks/plan_cluster.py: a paper-sized grid on 8 GPUs 16.7 d in
        # turn vs 5.9 d at once). In process (engine local) the points run in turn.
        done = _run_points_side_by_side(run_point, prepared, run.stop)
    else:
        done = [run_point(item) for item in prepared]
    for loaded, sub in done:
        for r in sub.results:
            worked = sub.worked.get((r.model, r.stage))
            r.model = f"{loaded.run}/{r.model}"
            if worked is not None:
                summary.worked[(r.model, r.stage)] = worked
        summary.results.extend(sub.results)
    models = [m.name for m in cfg.models]
    own = run_in_turn(  # the experiment's stages (stamped in its directory)
        _experiment_stages(cfg, layout, points, models, run.nb_src),
        lambda spec, _: _run_stopping(spec, layout, run, cfg, f"[{spec.stage}]",
                                      "(all models)"), "(all models)", stop=run.stop)
    summary.results.extend(own)
    summary.worked.update(_worked(own, layout))
    summary.interrupted = run.stop.is_set()
    summary.index_html = write_index(layout.run_dir, stages=summary.table(),
                                     title=cfg.report.title)
    write_run_summary(layout.run_dir, summary.to_json())
    log.log(logging.INFO if summary.ok else logging.WARNING,
            "experiment %s (%d grid points) %s in %.1f s: %s; report: %s", cfg.run,
            len(points), "stopped (Ctrl-C)" if summary.interrupted else "finished",
            time.perf_counter() - t_run,
            "all stages ok" if summary.ok else
            "stages were stopped" if summary.interrupted else
            "some stages failed or were skipped",
            summary.index_html)
    return summary


def _run_points_side_by_side(run_point, prepared: list, stop: threading.Event) -> list:
    """``run_point`` of every grid point, each in a thread of its own; Ctrl-C (which reaches
    this, the main thread) sets ``stop``, which each point's thread sees within a second: it
    cancels its tasks and returns its summary, which this waits for."""
    pool = ThreadPoolExecutor(max_workers=min(len(prepared), 32),
                              thread_name_prefix="grid-point")
    try:
        futures = [pool.submit(run_point, item) for item in prepared]
        pending = set(futures)
        while pending:
            try:
                _, pending = wait_futures(pending, timeout=0.5)
            except KeyboardInterrupt:
                if stop.is_set():
                    raise  # a second Ctrl-C: leave now, without a summary
                log.warning("Ctrl-C: stopping every grid point (Ctrl-C again to leave now)")
                stop.set()
    finally:
        pool.shutdown(wait=False)
    return [f.result() for f in futures]
