"""``stickrole run`` on Ray: every (model, stage) is a Ray task, the leaderboard one more.

The task graph is Ray's: a model's ``analyze`` task takes its ``generate`` task's result as an
argument (Ray starts it when that result exists), ``report`` takes ``analyze``'s, and the
leaderboard task (the leaderboard stage, then its page, in one task) takes every model's
``analyze`` result. Each task runs :func:`~.units.run_stage` -- the stage's notebook in a fresh
kernel, skipped when its stamp is current -- and returns only a small
:class:`~.units.StageResult`; the data travel through the run directory, which every node must
see at the same path (a shared filesystem on a cluster).

Resources: a model's ``generate`` task asks for its entry's ``gpus``, or its backend's default
(``gpus_needed``), GPUs (Ray sets the task's ``CUDA_VISIBLE_DEVICES``; we never do), every other
task for one CPU. A GPU request on a cluster with no GPUs runs with 0 (logged), so the same
params run on a laptop; a model generating on the CPU asks for the CPUs its backend says
(``cpus_needed``: an in-process model's threads; :func:`_resources`).

Faults: a task whose process is lost (the worker, its node, or the notebook's kernel: a kernel
that dies takes its worker down with it, ``os._exit``, so that Ray sees a lost worker) is run
again by Ray up to ``execution.max_retries`` times; a kernel that failed to *start* (a start-up
race) raises :class:`KernelStartFailed`, the one exception Ray retries. Every other failure is
a ``failed`` result, as in the in-process engine; a later stage of that model is ``skipped``.

Which cluster: :func:`~.ray_cluster.connect` (``--address``, else ``RAY_ADDRESS``, else a new
local instance; never one found on the machine).

Ctrl-C (:func:`run_models_on_ray`'s ``stop``): every task not finished is cancelled, its worker
and the stage's kernel killed; finished stages keep their results, the others are ``stopped``.

``ray`` is imported where it is used (:func:`_ray`), not with this module: every stage
notebook imports :mod:`stickrole_utils.pipeline`, and importing Ray costs seconds per kernel.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..generation.backends import backend_class, model_options
from ..layout import RunLayout
from .ray_cluster import connect
from .units import (
    INTERRUPTED,
    NOT_STARTED,
    StageResult,
    StageSpec,
    is_up_to_date,
    run_in_turn,
    run_stage,
)

__all__ = ["KernelStartFailed", "RayOptions", "connect", "run_models_on_ray"]

log = logging.getLogger("stickrole_utils.pipeline")

#: Failure reasons of a kernel that never started (jupyter_client's words).
_START_FAILURES = ("Kernel didn't respond", "Kernel died before replying to kernel_info")
#: Failure reason of a kernel that died while running a cell (nbclient's DeadKernelError).
_DEAD_KERNEL = "DeadKernelError"


class KernelStartFailed(RuntimeError):
    """A stage's kernel did not start (retried by Ray)."""


@dataclass(frozen=True)
class RayOptions:
    """What every task of a run needs besides its stage."""

    kernel_name: str
    force: bool
    notebook_dir: Path
    execution: Any
    """``ExecutionSettings`` of the run."""
    address: str | None
    """The cluster's address as given (``None``: a local instance)."""


def _ray():
    import ray

    return ray


def _executor(address: str | None) -> dict[str, Any]:
    """Where and when the task runs: recorded in the manifest (``task_started``: when the Ray
    task began, before its notebook kernel started)."""
    ctx = _ray().get_runtime_context()
    return {"engine": "ray", "address": address or "local", "node": ctx.get_node_id(),
            "gpu_ids": [str(g) for g in ctx.get_accelerator_ids().get("GPU", [])],
            "task_started": datetime.now(timezone.utc).isoformat()}


def _stage_task(spec: StageSpec, previous: StageResult | None, layout: RunLayout,
                opts: RayOptions, label: str) -> StageResult:
    """One (model, stage) in a Ray worker."""
    if previous is not None and previous.status in ("failed", "skipped"):
        return StageResult(spec.model, spec.stage, "skipped", f"{previous.stage} failed")
    if spec.stage == "generate":
        spec = replace(spec, parameters={**spec.parameters, "executor": _executor(opts.address)})
    result = run_stage(spec, layout, kernel_name=opts.kernel_name, force=opts.force,
                       notebook_dir=opts.notebook_dir, label=label, execution=opts.execution)
    if result.status == "failed" and any(s in result.reason for s in _START_FAILURES):
        raise KernelStartFailed(result.reason)
    if result.status == "failed" and result.reason.startswith(_DEAD_KERNEL):
        os._exit(1)  # the process running the stage is lost: Ray retries it (max_retries)
    return result


def _board_task(build: Callable[[list[str]], list[StageSpec]], analyses: list, layout: RunLayout,
                opts: RayOptions, label: str) -> list[StageResult]:
    """The leaderboard stage, then its page, over the models whose analysis succeeded."""
    ray = _ray()
    done = []
    for ref in analyses:  # a list of refs: one lost model must not fail the leaderboard
        if isinstance(ref, str):  # a model whose analysis was up to date
            done.append(ref)
            continue
        try:
            r = ray.get(ref)
        except Exception:  # noqa: BLE001 - that model's failure is reported by its own task
            continue
        if r.status in ("ok", "up to date"):
            done.append(r.model)
    return run_in_turn(build(done), lambda spec, _: run_stage(
        spec, layout, kernel_name=opts.kernel_name, force=opts.force,
        notebook_dir=opts.notebook_dir, label=label, execution=opts.execution),
        "(all models)", blocked=None if done else "no model was analysed")


def _resources(entry, total_gpus: float, node_cpus: float) -> tuple[float, float, str | None]:
    """(CPUs, GPUs) the model's generation task asks for, or a reason it cannot run here.

    A model generating on the CPU asks for what its backend says (the in-process GGUF runner:
    its threads, default every CPU of the largest node, so that Ray never runs two of them on
    the same cores: llama.cpp's threads spin, two models sharing cores are many times slower
    than one after the other)."""
    cls = backend_class(entry.backend)
    options = model_options(entry)
    need = entry.gpus if entry.gpus is not None else cls.gpus_needed(entry, options)
    if need > 0 and total_gpus == 0:
        log.info("model %s asks for %g GPU(s) but the Ray cluster has none: running it on "
                 "the CPU (gpus: 0)", entry.name, need)
        need = 0.0
    if need > total_gpus:
        return 1.0, need, f"it needs {need:g} GPUs, the Ray cluster has {total_gpus:g}"
    cpus = 1.0
    if need == 0:
        cpus = cls.cpus_needed(entry, options, node_cpus) or 1.0
    return cpus, need, None


def run_models_on_ray(plans: Sequence[tuple[Any, list[StageSpec]]],
                      build_board: Callable[[list[str]], list[StageSpec]],
                      layout: RunLayout, opts: RayOptions, prefix: str = "",
                      stop: threading.Event | None = None
                      ) -> tuple[list[StageResult], list[StageResult]]:
    """Submit every model's stages and the leaderboard as Ray tasks; wait for all of them.

    Parameters
    ----------
    plans : sequence of (ModelEntry, stage specs)
        Per model, its stages in order (generate, analyze, report).
    build_board : callable
        The leaderboard's stage specs from the names of the models that were analysed.
    stop : threading.Event, optional
        Set (by Ctrl-C in another thread, or here when Ctrl-C reaches this one: it is set then)
        to stop: every task not finished is cancelled -- its worker killed, and with it the
        stage's kernel -- and reported ``stopped``; what finished keeps its result. A unit of
        generation is stored atomically, so a killed task leaves whole units only.

    Returns
    -------
    (model results, leaderboard results)
        Model results in params order (per model, in stage order), whatever order they finished.
    """
    ray = _ray()
    stop = stop if stop is not None else threading.Event()
    refs: dict[Any, tuple[str, str]] = {}
    chains: list[list[tuple[StageSpec, Any]]] = []
    board: Any = None
    n = sum(len(specs) for _, specs in plans) + 2
    try:
        board = _submit(plans, build_board, layout, opts, prefix, refs, chains)
        submitted = len(refs) + (0 if isinstance(board, list) else 1)  # the board: 2 stages
        log.info("%s%d of %d stages submitted to Ray", prefix, submitted, n)
        _log_as_they_finish(refs, n - submitted, n, prefix, stop)
    except KeyboardInterrupt:  # Ctrl-C in the thread that drives the run
        stop.set()
    stopped = stop.is_set()
    if stopped:
        _cancel(list(refs), prefix)
    model_results = []
    for i, (entry, specs) in enumerate(plans):
        failed_at = None
        items = {id(spec): item for spec, item in (chains[i] if i < len(chains) else [])}
        for spec in specs:
            item = items.get(id(spec))
            if item is None:  # Ctrl-C came before it was submitted
                r = StageResult(entry.name, spec.stage, "stopped", NOT_STARTED)
            else:
                r = item if isinstance(item, StageResult) else _result(item, spec, stopped)
            if failed_at is not None and r.status not in ("skipped", "stopped"):
                r = StageResult(spec.model, spec.stage, "skipped", f"{failed_at} failed")
            model_results.append(r)
            if r.status == "failed":
                failed_at = spec.stage
    if isinstance(board, list):
        return model_results, board
    board_results = None
    if board is not None:
        try:
            board_results = ray.get(board, timeout=0.5 if stopped else None)
        except Exception as exc:  # noqa: BLE001 - stopped, or lost: data either way
            if not stopped:
                raise
            log.debug("leaderboard task stopped: %s", exc)
    if board_results is None:
        reason = INTERRUPTED if board is not None else NOT_STARTED
        board_results = [StageResult("(all models)", stage, "stopped", reason)
                         for stage in ("leaderboard", "report")]
    return model_results, board_results


def _submit(plans, build_board, layout: RunLayout, opts: RayOptions, prefix: str,
            refs: dict, chains: list) -> Any:
    """Submit what is not up to date (filling ``refs`` and ``chains`` as it goes, so that an
    interrupted submission can be cancelled); returns the leaderboard's task, or its results
    when it is up to date."""
    ray = _ray()
    stage_task = ray.remote(num_cpus=1)(_stage_task)
    total_gpus = ray.cluster_resources().get("GPU", 0.0)
    node_cpus = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n["Alive"]),
                    default=1.0)
    retries = opts.execution.max_retries
    label = f"{prefix}[ray]"
    analyses, current = [], []
    for entry, specs in plans:
        cpus, gpus, impossible = _resources(entry, total_gpus, node_cpus)
        chain: list = []
        chains.append(chain)
        prev, blocked = None, ""
        for spec in specs:
            if prev is None and not (opts.force or blocked) and is_up_to_date(spec, layout):
                # an up-to-date prefix of the model's stages is not submitted at all
                chain.append((spec, StageResult(entry.name, spec.stage, "up to date", "",
                                                spec.notebook)))
                if spec.stage == "analyze":
                    current.append(entry.name)
                continue
            if blocked:
                chain.append((spec, StageResult(entry.name, spec.stage, "skipped", blocked)))
                continue
            if impossible and spec.stage == "generate":
                chain.append((spec, StageResult(entry.name, spec.stage, "failed", impossible)))
                blocked = "generate failed"
                continue
            generate = spec.stage == "generate"
            ref = stage_task.options(
                num_cpus=cpus if generate else 1, num_gpus=gpus if generate else 0,
                max_retries=retries,
                retry_exceptions=[KernelStartFailed],
                name=f"{spec.stage}:{entry.name}").remote(spec, prev, layout, opts, label)
            refs[ref] = (entry.name, spec.stage)
            chain.append((spec, ref))
            prev = ref
            if spec.stage == "analyze":
                analyses.append(ref)
    board_specs = None if analyses or opts.force else build_board(current)
    if board_specs and current and all(is_up_to_date(s, layout) for s in board_specs):
        return [StageResult("(all models)", s.stage, "up to date", "", s.notebook)
                for s in board_specs]
    board = ray.remote(num_cpus=1)(_board_task).options(name="leaderboard").remote(
        build_board, [*current, *analyses], layout, opts, label)
    refs[board] = ("(all models)", "leaderboard")
    return board


def _cancel(refs: list, prefix: str, wait_s: float = 5.0) -> None:
    """Cancel every task of ``refs`` not finished yet, killing its worker (``force``: a stage's
    notebook runs in a kernel process that a polite cancel would leave running; the kernel
    exits with its worker); waits up to ``wait_s`` seconds for Ray to confirm."""
    ray = _ray()
    if not refs:
        return
    _, running = ray.wait(refs, num_returns=len(refs), timeout=0)
    for ref in running:
        try:
            ray.cancel(ref, force=True)
        except Exception as exc:  # noqa: BLE001 - finished meanwhile, or its node is gone
            log.debug("cancel %s: %s", ref, exc)
    if running:
        ray.wait(running, num_returns=len(running), timeout=wait_s)
    log.warning("%sinterrupted: %d task(s) cancelled", prefix, len(running))


def _result(ref, spec: StageSpec, stopped: bool = False) -> StageResult:
    """A task's result; a task Ray gave up on (lost too often, or an error) as ``failed``, one
    cancelled by Ctrl-C (``stopped``) as ``stopped``."""
    ray = _ray()
    try:
        return ray.get(ref, timeout=0.5 if stopped else None)
    except Exception as exc:  # noqa: BLE001 - one model's failure is data
        if stopped:
            return StageResult(spec.model, spec.stage, "stopped", INTERRUPTED, spec.notebook)
        reason = " ".join(str(exc).split())[:400]
        return StageResult(spec.model, spec.stage, "failed", reason, spec.notebook)


def _log_as_they_finish(refs: dict, step: int, n: int, prefix: str,
                        stop: threading.Event) -> None:
    """One progress line per finished task (the leaderboard task counts for its two stages),
    counting on from ``step`` stages that were up to date; returns early once ``stop`` is set
    (looked at twice a second)."""
    ray = _ray()
    pending = list(refs)
    while pending and not stop.is_set():
        done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
        for ref in done:
            model, stage = refs[ref]
            try:
                got = ray.get(ref)
            except Exception as exc:  # noqa: BLE001
                got = StageResult(model, stage, "failed", " ".join(str(exc).split())[:200])
            for r in got if isinstance(got, list) else [got]:
                step += 1
                status = r.status + (f" ({r.seconds:.1f} s)" if r.status == "ok" else "")
                if r.status == "failed":
                    status += f": {r.reason}"
                log.log(logging.WARNING if r.status == "failed" else logging.INFO,
                        "%s[%d/%d] %-11s %-11s %s", prefix, step, n, r.stage, r.model, status)
