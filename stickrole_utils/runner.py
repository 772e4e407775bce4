"""Batch runs: every stage notebook for every model, headless through papermill.

``run_experiment(params)`` executes, for each model of a params file, the stage notebooks
``10_generate`` -> ``20_analyze`` -> ``30_model_report`` (one papermill run, hence one fresh kernel
process, per model and stage, so a model's memory is freed before the next one loads), then
``40_leaderboard`` over the models that were analysed, and writes the HTML report.

- A failing stage never stops the other models; its later stages are marked ``skipped``.
- A stage whose inputs (its params section, its input files and the notebook source) have the
  hash recorded in its stamp (``<run>/<model>/.stamps/<stage>.json``) after its last success, and
  whose outputs exist, is not re-run (``up to date``), unless ``force``.
- Executed notebooks are kept as logs under ``<run>/notebooks/<model>/`` (and
  ``<run>/notebooks/40_leaderboard.ipynb``); a failed stage's notebook shows the error.
- One log line (logger ``stickrole_utils.runner``, level INFO) per model and stage with the
  elapsed time; the generation progress bar (the kernel's stderr) is passed through to stderr.

The notebooks' parameters are declared here (:data:`NOTEBOOK_PARAMETERS`), and each notebook's
second cell calls :func:`check_parameters`, so a wrongly-typed parameter stops a notebook at its
start with a message naming the parameter, the expected type and the value received.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, DataError

__all__ = [
    "DEFAULT_KERNEL",
    "NOTEBOOK_FILES",
    "NOTEBOOK_PARAMETERS",
    "MODEL_STAGES",
    "StageResult",
    "RunSummary",
    "notebooks_dir",
    "check_parameters",
    "check_kernel",
    "load_notebook",
    "execute_stage",
    "execute_notebook",
    "StageStalled",
    "stall_reason",
    "file_digest",
    "inputs_digest",
    "run_experiment",
]

log = logging.getLogger(__name__)

#: Kernel the Makefile registers (``python -m ipykernel install --sys-prefix --name stickrole``).
DEFAULT_KERNEL = "stickrole"

#: Stage -> jupytext percent source in ``notebooks/``; names show the stage order.
NOTEBOOK_FILES: dict[str, str] = {
    "generate": "10_generate.py",
    "analyze": "20_analyze.py",
    "report": "30_model_report.py",
    "leaderboard": "40_leaderboard.py",
    "explorer": "90_explorer.py",
}

#: Per-model stages in execution order.
MODEL_STAGES: tuple[str, ...] = ("generate", "analyze", "report")

Status = Literal["ok", "up to date", "failed", "skipped"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GenerateParameters(_Params):
    """Parameters of ``10_generate``."""

    params_path: str
    """Params YAML file of the run."""
    model: str
    """Name of the model (as in the params file's ``models``)."""
    force: bool = False
    """Discard earlier answers of this model and start over."""
    progress: Literal["auto", "text", "none"] = "auto"
    """Progress bar: ``auto`` (a widget in JupyterLab), ``text`` (on stderr: what the batch
    runner passes to the terminal), ``none``."""


class AnalyzeParameters(_Params):
    """Parameters of ``20_analyze``."""

    params_path: str
    model: str


class ModelReportParameters(_Params):
    """Parameters of ``30_model_report``."""

    run_dir: str
    """Run directory (``<output_dir>/<run>``) holding ``<model>/metrics.json``."""
    model: str


class LeaderboardParameters(_Params):
    """Parameters of ``40_leaderboard``."""

    run_dir: str
    models: list[str] = []
    """Models to rank (``[]``: every ``<model>/metrics.json`` in the run directory)."""
    ties: Literal["loss", "half"] = "loss"
    """Win-rate tie rule (``analysis.ties``)."""
    chunks: list[str] = []
    """Chunk order and subset of the columns (``[]``: the leaderboard's default order)."""
    title: str = ""
    """Report title (``report.title``)."""


class ExplorerParameters(_Params):
    """Parameters of ``90_explorer``."""

    run_dir: str


#: Stage -> pydantic model of its notebook parameters.
NOTEBOOK_PARAMETERS: dict[str, type[_Params]] = {
    "generate": GenerateParameters,
    "analyze": AnalyzeParameters,
    "report": ModelReportParameters,
    "leaderboard": LeaderboardParameters,
    "explorer": ExplorerParameters,
}


def check_parameters(stage: str, **values: Any) -> _Params:
    """Validate a notebook's parameters (called in each notebook's second cell).

    Parameters
    ----------
    stage : str
        Key of :data:`NOTEBOOK_PARAMETERS`.
    **values
        The parameter values, by name.

    Returns
    -------
    pydantic.BaseModel
        The validated parameters.

    Raises
    ------
    ConfigError
        Unknown stage, unknown parameter, or a value of the wrong type (strict: ``"yes"`` is not a
        bool, ``1`` is not a str): the message names the notebook, the parameter, the expected
        type and the value received.

    Examples
    --------
    >>> check_parameters("report", run_dir="outputs/demo", model="dummy").model
    'dummy'
    >>> check_parameters("generate", params_path="p.yaml", model="m", force="yes")
    Traceback (most recent call last):
    ...
    stickrole_utils.errors.ConfigError: notebook 10_generate.py: parameter 'force' must be bool, got str 'yes'
    """
    if stage not in NOTEBOOK_PARAMETERS:
        raise ConfigError(f"unknown notebook stage {stage!r}; stages: {', '.join(NOTEBOOK_PARAMETERS)}")
    cls = NOTEBOOK_PARAMETERS[stage]
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            top = str(err["loc"][0])
            if err["type"] == "extra_forbidden":
                msgs.append(f"unknown parameter {name!r}; parameters: {', '.join(cls.model_fields)}")
            elif err["type"] == "missing":
                msgs.append(f"parameter {name!r} is required")
            else:
                given = err.get("input")
                expected = _type_name(cls.model_fields[top].annotation) if top in cls.model_fields else "?"
                msgs.append(f"parameter {top!r} must be {expected}, got "
                            f"{type(given).__name__} {given!r}")
        msgs = list(dict.fromkeys(msgs))
        raise ConfigError(f"notebook {NOTEBOOK_FILES[stage]}: " + "; ".join(msgs)) from None


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    if name in ("str", "bool", "int", "float"):
        return name
    text = str(tp).replace("typing.", "")
    return text


def notebooks_dir() -> Path:
    """The stage notebooks (jupytext percent ``.py``) shipped beside the package.

    Raises
    ------
    ConfigError
        If the folder is missing (the package is installed without its source tree: install it
        with ``pip install -e .`` from a checkout).
    """
    path = Path(__file__).resolve().parent.parent / "notebooks"
    if not (path / NOTEBOOK_FILES["generate"]).is_file():
        raise ConfigError(f"stage notebooks not found in {path}; install stickrole from a checkout "
                          "with `pip install -e .` (the notebooks live in the repository)")
    return path


def check_kernel(kernel_name: str) -> None:
    """Fail early, with the fix, if the Jupyter kernel ``kernel_name`` is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise ConfigError(
            f"Jupyter kernel {kernel_name!r} is not installed; register it with "
            f"`{sys.executable} -m ipykernel install --sys-prefix --name {kernel_name}` "
            "(`make env` does this)") from None


def load_notebook(stage: str, directory: Path | None = None):
    """The stage notebook as an ``nbformat`` node, made from its jupytext percent source."""
    import jupytext

    path = (directory or notebooks_dir()) / NOTEBOOK_FILES[stage]
    if not path.is_file():
        raise ConfigError(f"notebook {path} not found")
    return jupytext.read(path, fmt="py:percent")


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (streamed), or ``"missing"``."""
    if not path.is_file():
        return "missing"
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def inputs_digest(params: Mapping[str, Any], files: Sequence[Path]) -> str:
    """One hash of a stage's inputs: its params section (canonical JSON) and its input files."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for f in files:
        h.update(f"\0{Path(f).name}\0{file_digest(Path(f))}".encode())
    return h.hexdigest()


@dataclass
class StageResult:
    """Outcome of one (model, stage).

    ``status``: ``ok`` (ran and succeeded), ``up to date`` (not re-run: same inputs as its last
    success), ``failed`` (``reason`` holds the error; ``notebook`` shows it), ``skipped`` (an
    earlier stage of the model failed).
    """

    model: str
    stage: str
    status: Status
    reason: str = ""
    notebook: Path | None = None
    seconds: float = 0.0


@dataclass
class RunSummary:
    """All stage results of a run, in execution order."""

    run_dir: Path
    results: list[StageResult] = field(default_factory=list)
    index_html: Path | None = None

    @property
    def ok(self) -> bool:
        """True when no stage failed or was skipped."""
        return all(r.status in ("ok", "up to date") for r in self.results)

    def table(self) -> pd.DataFrame:
        """Columns ``model, stage, status, seconds, reason, notebook``."""
        return pd.DataFrame(
            [{"model": r.model, "stage": r.stage, "status": r.status,
              "seconds": round(r.seconds, 1), "reason": r.reason,
              "notebook": str(r.notebook) if r.notebook else ""} for r in self.results],
            columns=["model", "stage", "status", "seconds", "reason", "notebook"],
        )

    def to_text(self) -> str:
        """The summary table as plain text (for the terminal)."""
        if not self.results:
            return "(no stages run)"
        return self.table().to_string(index=False, max_colwidth=90)

    def to_json(self) -> dict:
        return {"run_dir": str(self.run_dir), "ok": self.ok,
                "index_html": str(self.index_html) if self.index_html else None,
                "results": self.table().to_dict(orient="records")}


def _reason(exc: BaseException) -> str:
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


#: Seconds a finished cell's reply may take before the stage counts as stalled (params:
#: ``execution.stall_timeout_s``).
DEFAULT_STALL_TIMEOUT: float = 120.0

#: Name of our papermill engine (:func:`_register_engine`).
ENGINE_NAME = "stickrole"


class StageStalled(RuntimeError):
    """The kernel finished a cell but its reply never reached the runner (see ``_GuardedClient``)."""


def stall_reason(idle_since: float | None, now: float, limit: float | None) -> str | None:
    """Why a stage counts as stalled, or None: the kernel has been idle since ``idle_since``
    (monotonic seconds; None while busy) for longer than ``limit`` seconds without the reply."""
    if limit is None or idle_since is None or now - idle_since <= limit:
        return None
    return (f"the kernel finished a cell {now - idle_since:.0f} s ago but its reply never "
            f"arrived (execution.stall_timeout_s = {limit:g})")


def _guarded_client_class():
    """papermill's notebook client, made unable to wait forever for a cell's reply.

    Why not papermill's own client as it is: nbclient waits for a cell's ``execute_reply`` with
    one unbounded poll of the shell socket, while its mock of the ipywidgets Output widget
    *sends* on that same socket (state updates, as a frontend would). On a zmq asyncio socket a
    send can consume the readiness edge of a reply that arrives meanwhile, so the poll is never
    woken: the kernel is idle, the cell is done, and the client waits forever
    (jupyter/nbclient#312; the fix proposed there, #311, polls in slices, which nbclient has not
    merged). Here the wait is cut into one-second polls -- a missed wake-up then costs at most
    a second -- and, as a last resort, a reply still missing ``stall_timeout`` seconds after
    the kernel reported the cell finished stops the stage with :class:`StageStalled`.
    """
    from queue import Empty

    from papermill.clientwrap import PapermillNotebookClient
    from traitlets import Float

    class _GuardedClient(PapermillNotebookClient):
        stall_timeout = Float(default_value=None, allow_none=True).tag(config=True)

        def process_message(self, msg, cell, cell_index):
            content = msg.get("content", {})
            if msg.get("msg_type") == "status":
                busy = content.get("execution_state") == "busy"
                self._idle_since = None if busy else time.monotonic()
            return super().process_message(msg, cell, cell_index)

        def execute_cell(self, *args, **kwargs):
            self._idle_since = None  # a new request: the last cell's idle time no longer counts
            return super().execute_cell(*args, **kwargs)

        def start_new_kernel_client(self):
            kc = super().start_new_kernel_client()
            self._idle_since = None
            channel = kc.shell_channel
            unbounded_get = channel.get_msg
            client = self

            async def get_msg(timeout=None):
                deadline = None if timeout is None else time.monotonic() + timeout
                while True:
                    left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                    try:
                        return await unbounded_get(timeout=max(left, 0.0))
                    except Empty:
                        client._check_stalled()
                        if deadline is not None and time.monotonic() >= deadline:
                            raise

            channel.get_msg = get_msg
            return kc

        def _check_stalled(self) -> None:
            reason = stall_reason(getattr(self, "_idle_since", None), time.monotonic(),
                                  self.stall_timeout)
            if reason:
                raise StageStalled(reason)

    return _GuardedClient


def _register_engine() -> None:
    """Register the papermill engine that runs notebooks with :func:`_guarded_client_class`."""
    from papermill.engines import NBClientEngine, papermill_engines

    if ENGINE_NAME in papermill_engines._engines:
        return
    client_class = _guarded_client_class()

    class _Engine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, stall_timeout=None, **kwargs):
            from papermill.engines import logger
            from papermill.utils import merge_kwargs, remove_args

            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout,
                                 startup_timeout=start_timeout, kernel_name=kernel_name,
                                 log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file, stall_timeout=stall_timeout)
            return client_class(nb_man, **final).execute()

    papermill_engines.register(ENGINE_NAME, _Engine)


def execute_stage(
    stage: str,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    notebook_dir: Path | None = None,
    stream_stderr: bool = False,
    cwd: Path | None = None,
    execution_timeout: float | None = None,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
) -> None:
    """Run one stage notebook headless with papermill (a fresh kernel process).

    Parameters
    ----------
    stage : str
        Key of :data:`NOTEBOOK_FILES`.
    output : Path
        Where the executed notebook is written (also when it fails: it shows the error).
    parameters : mapping
        Injected after the notebook's ``parameters`` cell.
    kernel_name : str
        Jupyter kernel (always explicit: the notebooks' metadata is not trusted).
    stream_stderr : bool
        Copy the kernel's stderr (progress bars) to this process's stderr while it runs.
    cwd : Path, optional
        Working directory of the kernel (default: the current one).
    execution_timeout : float, optional
        Seconds a single cell may run before the stage fails (default: no limit; generation of
        a large model can take hours).
    stall_timeout : float, optional
        Seconds to wait for a cell's reply once the kernel has reported the cell finished;
        past it the stage fails with :class:`StageStalled` instead of waiting forever
        (``None``: wait forever).

    Raises
    ------
    papermill.PapermillExecutionError
        A cell raised; ``ename``/``evalue`` hold the error.
    """
    execute_notebook(load_notebook(stage, notebook_dir), output, parameters,
                     kernel_name=kernel_name, stream_stderr=stream_stderr, cwd=cwd,
                     execution_timeout=execution_timeout, stall_timeout=stall_timeout)


def execute_notebook(
    nb: Any,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = DEFAULT_KERNEL,
    stream_stderr: bool = False,
    cwd: Path | None = None,
    execution_timeout: float | None = None,
    stall_timeout: float | None = DEFAULT_STALL_TIMEOUT,
) -> None:
    """Run a notebook (an ``nbformat`` node) headless; see :func:`execute_stage`."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    pm_log = logging.getLogger("papermill")
    level = pm_log.level
    pm_log.setLevel(max(level, logging.WARNING))  # our one line per stage replaces its chatter
    try:
        _register_engine()
        pm.execute_notebook(
            nb,
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            language="python",
            progress_bar=False,
            stderr_file=sys.stderr if stream_stderr else None,
            cwd=str(cwd or Path.cwd()),
            execution_timeout=execution_timeout,
            engine_name=ENGINE_NAME,
            stall_timeout=stall_timeout,
            # the kernel's own start-up warnings (e.g. "running over TCP without encryption")
            # would print once per stage; cell errors and outputs are unaffected
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    finally:
        pm_log.setLevel(level)


def _stamp_path(run_dir: Path, model: str | None, stage: str) -> Path:
    base = run_dir / model if model else run_dir
    return base / ".stamps" / f"{stage}.json"


def _is_current(stamp: Path, digest: str, outputs: Sequence[Path]) -> bool:
    if not stamp.is_file() or not all(Path(o).exists() for o in outputs):
        return False
    try:
        return json.loads(stamp.read_text()).get("inputs") == digest
    except (json.JSONDecodeError, OSError):
        return False


def _write_stamp(stamp: Path, digest: str, parameters: Mapping[str, Any], seconds: float) -> None:
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps({"inputs": digest, "parameters": dict(parameters),
                               "seconds": round(seconds, 3),
                               "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1))
    tmp.replace(stamp)


@dataclass
class _Stage:
    model: str | None
    stage: str
    parameters: dict
    section: dict
    """The params section the stage depends on."""
    inputs: list[Path]
    """Input files (hashed when the stage is about to run: earlier stages write them)."""
    outputs: list[Path]
    notebook: Path
    html: Path | None = None
    """Page rendered from the executed notebook (report stages)."""


def _run_stage(spec: _Stage, run_dir: Path, *, kernel_name: str, force: bool,
               notebook_dir: Path | None, label: str, execution=None) -> StageResult:
    from .report import notebook_to_html

    model = spec.model or "(all models)"
    stamp = _stamp_path(run_dir, spec.model, spec.stage)
    digest = inputs_digest(spec.section, spec.inputs)
    if not force and _is_current(stamp, digest, spec.outputs):
        log.info("%s %-10s %-11s up to date", label, spec.stage, model)
        return StageResult(model, spec.stage, "up to date", "", spec.notebook, 0.0)
    t0 = time.perf_counter()
    try:
        limits = ({} if execution is None else
                  {"stall_timeout": execution.stall_timeout_s,
                   "execution_timeout": execution.cell_timeout_s})
        execute_stage(spec.stage, spec.notebook, spec.parameters, kernel_name=kernel_name,
                      notebook_dir=notebook_dir, stream_stderr=spec.stage == "generate",
                      **limits)
        missing = [str(o) for o in spec.outputs if not Path(o).exists() and o != spec.html]
        if missing:
            raise DataError(f"the notebook finished but did not write {', '.join(missing)}")
        if spec.html is not None:
            notebook_to_html(spec.notebook, spec.html)
    except Exception as exc:  # noqa: BLE001 - any failure of one model is data, not a crash
        dt = time.perf_counter() - t0
        reason = _reason(exc)
        log.warning("%s %-10s %-11s FAILED after %.1f s: %s (see %s)", label, spec.stage, model,
                    dt, reason, spec.notebook)
        return StageResult(model, spec.stage, "failed", reason, spec.notebook, dt)
    dt = time.perf_counter() - t0
    _write_stamp(stamp, digest, spec.parameters, dt)
    log.info("%s %-10s %-11s ok (%.1f s)", label, spec.stage, model, dt)
    return StageResult(model, spec.stage, "ok", "", spec.notebook, dt)


def _model_stages(cfg, entry, run_dir: Path, params_path: Path, nb_src: Path,
                  force_generate: bool) -> list[_Stage]:
    from .report import model_page_path

    dump = cfg.model_dump(mode="json")
    model_dir = run_dir / entry.name
    logs = run_dir / "notebooks" / entry.name
    gen_section = {k: v for k, v in dump.items()
                   if k not in ("analysis", "report", "models", "source", "execution")}
    gen_section["model"] = entry.model_dump(mode="json")
    answers = model_dir / "answers.parquet"
    nb = {s: nb_src / NOTEBOOK_FILES[s] for s in MODEL_STAGES}
    report_inputs = [model_dir / f for f in ("metrics.json", "scores.parquet", "rank_order.parquet",
                                             "ipsative.parquet", "structure.parquet",
                                             "cfa.parquet", "manifest.json")]
    return [
        _Stage(entry.name, "generate",
               {"params_path": str(params_path), "model": entry.name, "force": force_generate,
                "progress": "text"},
               gen_section, [nb["generate"]], [answers],
               logs / "10_generate.ipynb"),
        _Stage(entry.name, "analyze", {"params_path": str(params_path), "model": entry.name},
               {"analysis": dump["analysis"]}, [answers, nb["analyze"]],
               [model_dir / "metrics.json"], logs / "20_analyze.ipynb"),
        _Stage(entry.name, "report", {"run_dir": str(run_dir), "model": entry.name},
               {}, [*report_inputs, nb["report"]],
               [model_page_path(run_dir, entry.name)], logs / "30_model_report.ipynb",
               html=model_page_path(run_dir, entry.name)),
    ]


def run_experiment(
    params_path: str | Path,
    *,
    kernel_name: str = DEFAULT_KERNEL,
    force: bool = False,
    models: Sequence[str] | None = None,
    notebook_dir: str | Path | None = None,
) -> RunSummary:
    """Run generate -> analyze -> model report for every model, then the leaderboard and report.

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
        Where the stage notebooks are (default: :func:`notebooks_dir`).

    Returns
    -------
    RunSummary
        One :class:`StageResult` per (model, stage), then the leaderboard; ``index_html`` is the
        report's entry page. Also written to ``<run>/run_summary.json``.

    Raises
    ------
    ConfigError
        Invalid params, unknown model name, missing kernel or notebooks (nothing has run then).
    """
    from .config import load_run_config
    from .report import leaderboard_page_path, write_index

    params_path = Path(params_path).resolve()
    cfg = load_run_config(params_path)
    entries = list(cfg.models) if models is None else [cfg.model(m) for m in models]
    nb_src = Path(notebook_dir) if notebook_dir is not None else notebooks_dir()
    for stage in ("generate", "analyze", "report", "leaderboard"):
        if not (nb_src / NOTEBOOK_FILES[stage]).is_file():
            raise ConfigError(f"notebook {nb_src / NOTEBOOK_FILES[stage]} not found")
    check_kernel(kernel_name)
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run_config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=1))
    summary = RunSummary(run_dir=run_dir)
    n_steps = len(entries) * len(MODEL_STAGES) + 1
    step = 0
    t_run = time.perf_counter()

    analysed: list[str] = []
    for entry in entries:
        failed_at: str | None = None
        for spec in _model_stages(cfg, entry, run_dir, params_path, nb_src, force):
            step += 1
            label = f"[{step}/{n_steps}]"
            if failed_at is not None:
                summary.results.append(StageResult(entry.name, spec.stage, "skipped",
                                                   f"{failed_at} failed"))
                log.info("%s %-10s %-11s skipped (%s failed)", label, spec.stage, entry.name,
                         failed_at)
                continue
            result = _run_stage(spec, run_dir, kernel_name=kernel_name, force=force,
                                notebook_dir=nb_src, label=label,
                                execution=cfg.execution)
            summary.results.append(result)
            if result.status == "failed":
                failed_at = spec.stage
            elif spec.stage == "analyze":
                analysed.append(entry.name)

    step += 1
    label = f"[{step}/{n_steps}]"
    # models left out of this invocation (``models=``) keep their place if they were analysed
    skipped_here = [m.name for m in cfg.models if m not in entries
                    and (run_dir / m.name / "metrics.json").is_file()]
    ranked = [m.name for m in cfg.models if m.name in analysed or m.name in skipped_here]
    if analysed:
        metric_files = [run_dir / m / "metrics.json" for m in ranked]
        nb = nb_src / NOTEBOOK_FILES["leaderboard"]
        lb_params = {"run_dir": str(run_dir), "models": ranked, "ties": cfg.analysis.ties,
                     "chunks": list(cfg.analysis.chunks or []), "title": cfg.report.title}
        html = leaderboard_page_path(run_dir)
        spec = _Stage(None, "leaderboard", lb_params, lb_params, [*metric_files, nb],
                      [run_dir / "leaderboard.csv", html],
                      run_dir / "notebooks" / "40_leaderboard.ipynb", html=html)
        summary.results.append(_run_stage(
            spec, run_dir, kernel_name=kernel_name, force=force, notebook_dir=nb_src,
            label=label, execution=cfg.execution))
    else:
        summary.results.append(StageResult("(all models)", "leaderboard", "skipped",
                                           "no model was analysed"))
        log.info("%s %-10s %-11s skipped (no model was analysed)", label, "leaderboard",
                 "(all models)")
    summary.index_html = write_index(run_dir, summary=summary, title=cfg.report.title)
    (run_dir / "run_summary.json").write_text(json.dumps(summary.to_json(), indent=1))
    failed = sum(r.status in ("failed", "skipped") for r in summary.results)
    log.log(logging.INFO if summary.ok else logging.WARNING,
            "run %s finished in %.1f s: %s; report: %s", cfg.run, time.perf_counter() - t_run,
            "all stages ok" if summary.ok else f"{failed} stage(s) failed or skipped",
            summary.index_html)
    return summary

