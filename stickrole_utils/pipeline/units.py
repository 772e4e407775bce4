"""One stage of a run (:class:`StageSpec`), how it runs (:func:`run_stage`: its notebook in a
fresh kernel, or its computation in this process, skipped when its stamp is current) and what it
returns (:class:`StageResult`). Both engines of ``stickrole run`` -- in process, and as Ray
tasks (:mod:`.on_ray`) -- run every stage through :func:`run_stage`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import DataError
from ..layout import RunLayout
from ..report import notebook_to_html
from .execute import execute_stage, failure_reason
from .stamps import inputs_digest, is_current, write_stamp

__all__ = ["INTERRUPTED", "NOT_STARTED", "StageResult", "StageSpec", "is_up_to_date", "run_stage",
           "run_in_turn"]

log = logging.getLogger("stickrole_utils.pipeline")

Status = Literal["ok", "up to date", "failed", "skipped", "stopped"]

#: ``reason`` of a ``stopped`` stage that Ctrl-C stopped while it ran (or waited to), and of one
#: it kept from starting.
INTERRUPTED = "interrupted (Ctrl-C)"
NOT_STARTED = "not started: the run was interrupted (Ctrl-C)"


@dataclass
class StageResult:
    """Outcome of one (model, stage).

    ``status``: ``ok`` (ran and succeeded), ``up to date`` (not re-run: same inputs as its last
    success), ``failed`` (``reason`` holds the error; ``notebook`` shows it), ``skipped`` (an
    earlier stage of the model failed), ``stopped`` (Ctrl-C stopped the run while the stage ran,
    waited, or had not started; run again to resume).
    """

    model: str
    stage: str
    status: Status
    reason: str = ""
    notebook: Path | None = None
    seconds: float = 0.0


@dataclass
class StageSpec:
    model: str | None
    stage: str
    parameters: dict
    section: dict
    """The params section the stage depends on."""
    inputs: list[Path]
    """Input files (hashed when the stage is about to run: earlier stages write them)."""
    outputs: list[Path]
    notebook: Path | None
    """Executed notebook (None: a stage computed in this process)."""
    html: Path | None = None
    """Page rendered from the executed notebook (report stages)."""
    compute: Callable[[], object] | None = None
    """In-process stages: the computation (instead of a notebook)."""
    notebook_stage: str | None = None
    """Key of the notebook in NOTEBOOK_FILES (default: ``stage``)."""


def is_up_to_date(spec: StageSpec, layout: RunLayout) -> bool:
    """Whether the stage succeeded before on the inputs it has now and its outputs exist."""
    return is_current(layout.stamp(spec.model, spec.stage),
                      inputs_digest(spec.section, spec.inputs), spec.outputs)


def run_in_turn(specs: Sequence[StageSpec], run: Callable[[StageSpec, str], StageResult],
                model: str, *, blocked: str | None = None, stop: Any = None,
                labels: Callable[[], str] = lambda: "") -> list[StageResult]:
    """Stages of one chain (a model's generate -> analyze -> report; the leaderboard and its
    page; the experiment and its page) one after the other: ``run(spec, label)`` runs one.

    After a stage fails, the later ones are ``skipped`` with the reason (``<stage> failed``);
    ``blocked`` skips them all from the start (e.g. ``no model was analysed``); once ``stop``
    (a ``threading.Event``) is set, the remaining ones are ``stopped`` (Ctrl-C). The one loop
    every engine uses (in process, and in the Ray tasks that run a chain).

    Returns
    -------
    list of StageResult
        One per spec, in order.
    """
    results: list[StageResult] = []
    reason = blocked
    for spec in specs:
        label = labels()
        if stop is not None and stop.is_set():
            results.append(StageResult(model, spec.stage, "stopped", NOT_STARTED))
            continue
        if reason is not None:
            results.append(StageResult(model, spec.stage, "skipped", reason))
            log.info("%s %-11s %-11s skipped (%s)", label, spec.stage, model, reason)
            continue
        result = run(spec, label)
        results.append(result)
        if result.status == "failed":
            reason = f"{spec.stage} failed"
    return results


def run_stage(spec: StageSpec, layout: RunLayout, *, kernel_name: str, force: bool,
               notebook_dir: Path | None, label: str, execution=None) -> StageResult:
    model = spec.model or "(all models)"
    stamp = layout.stamp(spec.model, spec.stage)
    digest = inputs_digest(spec.section, spec.inputs)
    if not force and is_current(stamp, digest, spec.outputs):
        log.info("%s %-11s %-11s up to date", label, spec.stage, model)
        return StageResult(model, spec.stage, "up to date", "", spec.notebook, 0.0)
    t0 = time.perf_counter()
    try:
        if spec.compute is not None:
            spec.compute()
        else:
            limits = ({} if execution is None else
                      {"stall_timeout": execution.stall_timeout_s,
                       "execution_timeout": execution.cell_timeout_s})
            _interruptible(lambda: execute_stage(
                spec.notebook_stage or spec.stage, spec.notebook, spec.parameters,
                kernel_name=kernel_name, notebook_dir=notebook_dir,
                stream_stderr=spec.stage == "generate", **limits))
        missing = [str(o) for o in spec.outputs if not Path(o).exists() and o != spec.html]
        if missing:
            raise DataError(f"the stage finished but did not write {', '.join(missing)}")
        if spec.html is not None:
            notebook_to_html(spec.notebook, spec.html, title=spec.model or None)
    except Exception as exc:  # noqa: BLE001 - any failure of one model is data, not a crash
        dt = time.perf_counter() - t0
        reason = failure_reason(exc)
        log.warning("%s %-11s %-11s FAILED after %.1f s: %s%s", label, spec.stage, model, dt,
                    reason, f" (see {spec.notebook})" if spec.notebook else "")
        return StageResult(model, spec.stage, "failed", reason, spec.notebook, dt)
    dt = time.perf_counter() - t0
    write_stamp(stamp, digest, spec.parameters, dt)
    log.info("%s %-11s %-11s ok (%.1f s)", label, spec.stage, model, dt)
    return StageResult(model, spec.stage, "ok", "", spec.notebook, dt)


def _interruptible(execute: Callable[[], None]) -> None:
    """Run a notebook (``execute``) so that Ctrl-C stops it and its kernel at once.

    In the main thread, ``execute`` runs in a thread of its own while this one waits: Ctrl-C
    (``KeyboardInterrupt``, or ``SystemExit`` from a SIGTERM handler) then kills the kernels
    this process started meanwhile and is raised again. Run in the main thread itself, nbclient
    would take SIGINT for its own (a polite kernel shutdown, seconds later, reported as a
    failed stage) and the run would go on with the next stage. The kernel is killed outright:
    a generation unit is stored atomically (whole or not at all), so nothing is lost but the
    units in flight.
    """
    if threading.current_thread() is not threading.main_thread():
        execute()
        return
    before = _kernel_pids()
    box: dict[str, BaseException] = {}

    def target() -> None:
        try:
            execute()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="stickrole-stage", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.25)
    except BaseException:
        for pid in _kernel_pids() - before:
            _kill_group(pid)
        worker.join(5.0)  # nbclient notices the dead kernel within a second or two
        raise
    if "error" in box:
        raise box["error"]


def _kernel_pids() -> set[int]:
    """Live Jupyter kernels this process started (their ``JPY_PARENT_PID`` is this process);
    empty without psutil (a dependency of ipykernel)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - ipykernel requires it
        return set()
    me = str(os.getpid())
    out = set()
    for child in psutil.Process().children():
        try:
            if child.environ().get("JPY_PARENT_PID") == me:
                out.add(child.pid)
        except psutil.Error:
            continue
    return out


def _kill_group(pid: int) -> None:
    """SIGKILL a kernel and what it started (jupyter_client starts each kernel in a session of
    its own, so its process group is its pid)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


