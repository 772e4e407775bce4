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

``ray`` is imported where it is used (:func:`_ray`), not with this module: every stage
notebook imports :mod:`stickrole_utils.pipeline`, and importing Ray costs seconds per kernel.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..generation.backends import backend_class, model_options
from ..layout import RunLayout
from .units import StageResult, StageSpec, is_up_to_date, run_stage

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


def connect(address: str | None) -> float:
    """Join the Ray cluster at ``address``, or start a local instance (no dashboard, its node
    registered as 127.0.0.1; Ray's servers still listen on every interface, guarded by Ray's
    token authentication, on by default for a local instance); nothing when this process is
    already connected. Returns the seconds it took."""
    t0 = time.perf_counter()
    if address:
        _use_token_if_available()  # before Ray is imported: it reads the mode once
    ray = _ray()
    if ray.is_initialized():
        return 0.0
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(_node_ip_address="127.0.0.1", **quiet)
    dt = time.perf_counter() - t0
    log.info("Ray %s in %.1f s: %s", "joined" if address else "started (local)", dt,
             ", ".join(f"{k} {v:g}" for k, v in sorted(ray.cluster_resources().items())
                       if k in ("CPU", "GPU")))
    return dt


def _use_token_if_available() -> None:
    """Ray (2.5x+) starts new clusters with token authentication when a token exists
    (``ray get-auth-token --generate``, kept in ``~/.ray/auth_token``) but a driver joining by
    address only sends it with ``RAY_AUTH_MODE=token``: set that when a token is at hand and the
    mode was not chosen explicitly."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _executor(address: str | None) -> dict[str, Any]:
    ctx = _ray().get_runtime_context()
    return {"engine": "ray", "address": address or "local", "node": ctx.get_node_id(),
            "gpu_ids": [str(g) for g in ctx.get_accelerator_ids().get("GPU", [])]}


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
    results: list[StageResult] = []
    failed_at = None if done else "no model was analysed"
    for spec in build(done):
        if failed_at is not None:
            results.append(StageResult("(all models)", spec.stage, "skipped", failed_at))
            continue
        r = run_stage(spec, layout, kernel_name=opts.kernel_name, force=opts.force,
                      notebook_dir=opts.notebook_dir, label=label, execution=opts.execution)
        results.append(r)
        if r.status == "failed":
            failed_at = f"{spec.stage} failed"
    return results


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
                      layout: RunLayout, opts: RayOptions, prefix: str = ""
                      ) -> tuple[list[StageResult], list[StageResult]]:
    """Submit every model's stages and the leaderboard as Ray tasks; wait for all of them.

    Parameters
    ----------
    plans : sequence of (ModelEntry, stage specs)
        Per model, its stages in order (generate, analyze, report).
    build_board : callable
        The leaderboard's stage specs from the names of the models that were analysed.

    Returns
    -------
    (model results, leaderboard results)
        Model results in params order (per model, in stage order), whatever order they finished.
    """
    ray = _ray()
    stage_task = ray.remote(num_cpus=1)(_stage_task)
    total_gpus = ray.cluster_resources().get("GPU", 0.0)
    node_cpus = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n["Alive"]),
                    default=1.0)
    retries = opts.execution.max_retries
    n = sum(len(specs) for _, specs in plans) + 2
    label = f"{prefix}[ray]"
    refs: dict[Any, tuple[str, str]] = {}
    chains: list[list[tuple[StageSpec, Any]]] = []
    analyses, current = [], []
    for entry, specs in plans:
        cpus, gpus, impossible = _resources(entry, total_gpus, node_cpus)
        chain, prev, blocked = [], None, ""
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
        chains.append(chain)
    board_specs = None if analyses or opts.force else build_board(current)
    if board_specs and current and all(is_up_to_date(s, layout) for s in board_specs):
        board = [StageResult("(all models)", s.stage, "up to date", "", s.notebook)
                 for s in board_specs]
    else:
        board = ray.remote(num_cpus=1)(_board_task).options(name="leaderboard").remote(
            build_board, [*current, *analyses], layout, opts, label)
        refs[board] = ("(all models)", "leaderboard")
    submitted = len(refs) + (0 if isinstance(board, list) else 1)  # the board: 2 stages
    log.info("%s%d of %d stages submitted to Ray", prefix, submitted, n)
    _log_as_they_finish(refs, n - submitted, n, prefix)
    model_results = []
    for chain in chains:
        failed_at = None
        for spec, item in chain:
            r = item if isinstance(item, StageResult) else _result(item, spec)
            if failed_at is not None and r.status != "skipped":
                r = StageResult(spec.model, spec.stage, "skipped", f"{failed_at} failed")
            model_results.append(r)
            if r.status == "failed":
                failed_at = spec.stage
    return model_results, board if isinstance(board, list) else ray.get(board)


def _result(ref, spec: StageSpec) -> StageResult:
    """A task's result; a task Ray gave up on (lost too often, or an error) as ``failed``."""
    ray = _ray()
    try:
        return ray.get(ref)
    except Exception as exc:  # noqa: BLE001 - one model's failure is data
        reason = " ".join(str(exc).split())[:400]
        return StageResult(spec.model, spec.stage, "failed", reason, spec.notebook)


def _log_as_they_finish(refs: dict, step: int, n: int, prefix: str) -> None:
    """One progress line per finished task (the leaderboard task counts for its two stages),
    counting on from ``step`` stages that were up to date."""
    ray = _ray()
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        model, stage = refs[done[0]]
        try:
            got = ray.get(done[0])
        except Exception as exc:  # noqa: BLE001
            got = StageResult(model, stage, "failed", " ".join(str(exc).split())[:200])
        for r in got if isinstance(got, list) else [got]:
            step += 1
            status = r.status + (f" ({r.seconds:.1f} s)" if r.status == "ok" else "")
            if r.status == "failed":
                status += f": {r.reason}"
            log.log(logging.WARNING if r.status == "failed" else logging.INFO,
                    "%s[%d/%d] %-11s %-11s %s", prefix, step, n, r.stage, r.model, status)
