"""Generation stage: from a params file to ``outputs/<run>/<model>/answers.parquet`` per model.

:func:`generate_from_params` is what ``stickrole generate PARAMS.yaml [--model NAME] [--force]``
and the generate notebook call. A run directory resumes where it stopped: finished (persona,
chunk) units are skipped, and results produced under a different configuration are refused
unless ``force``.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..config import GenerationConfig, ModelEntry, RunConfig
from ..design.contexts import describe_context
from ..design.prompts import Prompts
from ..errors import BackendError, ConfigError
from .administer import Unit, UnitResult, administer_unit
from .backends import (
    Backend,
    TokenUsage,
    backend_class,
    backend_usage,
    make_backend,
    model_options,
)
from .manifest import Manifest, ManifestStats, ManifestUsage
from .plan import load_params, model_run_dir, plan_units, preflight
from .store import RunStore, git_commit, identity_hash

__all__ = [
    "generate_model",
    "generate_from_params",
]

_log = logging.getLogger(__name__)

def _placement(gen: GenerationConfig, backend: Backend, entry: ModelEntry) -> str:
    if gen.system_role == "user":
        return "user"
    if gen.system_role == "system":
        if not backend.system_role_supported:
            raise BackendError(f"model {entry.name}: its chat template rejects a system turn; "
                               "set generation.system_role: auto or user")
        return "system"
    return "system" if backend.system_role_supported else "user"


def _identity(cfg: RunConfig, entry: ModelEntry, info: dict[str, Any], placement: str,
              mode: str) -> dict[str, Any]:
    gen = cfg.generation.model_dump(mode="json", exclude={"chunks"})
    backend_id = {k: info.get(k) for k in backend_class(entry.backend).identity_keys
                  if k in info}
    opts = model_options(entry)
    # factors label the entry for the analysis; they change nothing that is generated
    model = {**entry.model_dump(mode="json", exclude={"options", "gpus", "factors"}),
             **opts.model_dump(mode="json", exclude=set(opts.operational))}
    return {
        "generation": gen,
        "model": model,
        "backend": backend_id,
        "persona_placement": placement,
        "mode": mode,
        "instrument_source": cfg.generation.instrument_source,
    }


def _executor(executor: dict[str, Any]) -> dict[str, Any]:
    return {**executor, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}


def _progress(total: int, desc: str, mode: bool | str) -> Any:
    """A tqdm bar: ``True``/``"auto"`` picks a widget in notebooks and text in terminals;
    ``"text"`` forces text on stderr (a notebook run headless by papermill, whose stderr the
    batch runner passes through to the terminal); ``False`` disables it."""
    if mode == "text":
        import sys

        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="item", file=sys.stderr, mininterval=2.0,
                    smoothing=0.1, ascii=True)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not mode, dynamic_ncols=True,
                smoothing=0.1)


def _added(usage: ManifestUsage, tokens: TokenUsage, seconds: float) -> ManifestUsage:
    return ManifestUsage(prompt_tokens=usage.prompt_tokens + tokens.prompt_tokens,
                         evaluated_tokens=usage.evaluated_tokens + tokens.evaluated_tokens,
                         generated_tokens=usage.generated_tokens + tokens.generated_tokens,
                         reasoning_tokens=usage.reasoning_tokens + tokens.reasoning_tokens,
                         seconds=round(usage.seconds + seconds, 3))


def _one_by_one(backend: Backend, todo: list[Unit], gen: GenerationConfig, prompts: Prompts,
                mode: str, placement: str, bar: Any,
                landed: Callable[[Unit, UnitResult], None]) -> None:
    for k, unit in enumerate(todo, 1):
        bar.set_postfix_str(f"unit {k}/{len(todo)} {unit.chunk.label}", refresh=False)
        landed(unit, administer_unit(backend, unit, gen, prompts, mode, placement,
                                     on_item=lambda: bar.update(1)))


def _side_by_side(backend: Backend, todo: list[Unit], gen: GenerationConfig, prompts: Prompts,
                  mode: str, placement: str, bar: Any,
                  landed: Callable[[Unit, UnitResult], None]) -> None:
    """Up to ``backend.units_in_flight`` units administered at once, each in a thread of its own
    that sees the model through ``backend.unit_view``; this thread serves the model's batch
    engine where it has one (an in-process model; a served model batches on its server) and stores each
    unit as soon as it is finished, in whatever order they finish: a unit is stored whole or
    not at all. When a unit fails, no further unit starts, those in flight finish and are
    stored, then the first error is raised (a failed engine fails them all at once)."""
    engine = backend.engine
    if engine is not None:
        engine.reset()
    backend.prepare(mode)  # e.g. a vocabulary scan, once, before the threads start
    width = min(int(backend.units_in_flight), len(todo))
    lock = threading.Lock()

    def on_item() -> None:
        with lock:
            bar.update(1)

    def work(k: int, unit: Unit) -> UnitResult:
        view = backend.unit_view(k)
        try:
            return administer_unit(view, unit, gen, prompts, mode, placement, on_item=on_item)
        finally:
            if view is not backend:
                view.close()

    queue = list(enumerate(todo))[::-1]
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="unit") as pool:
        running: dict[Future, Unit] = {}
        while running or (queue and error is None):
            while queue and error is None and len(running) < width:
                k, unit = queue.pop()
                fut = pool.submit(work, k, unit)
                if engine is not None:
                    fut.add_done_callback(lambda _: engine.wake())
                running[fut] = unit
            if engine is not None:
                try:
                    engine.serve(lambda: any(f.done() for f in running))
                except BaseException as exc:  # the engine failed every request: units end
                    error = error or exc
                    wait(list(running))
            else:
                wait(list(running), return_when=FIRST_COMPLETED)
            for fut in [f for f in running if f.done()]:
                unit = running.pop(fut)
                if fut.exception() is None:
                    landed(unit, fut.result())
                elif error is None:
                    error = fut.exception()
            bar.set_postfix_str(f"{len(running)} units in flight, {len(queue)} to start",
                                refresh=False)
    if error is not None:
        raise error


def generate_model(cfg: RunConfig, entry: ModelEntry, force: bool = False,
                   progress: bool | str = True, backend: Backend | None = None,
                   executor: dict[str, Any] | None = None) -> Path:
    """Generate (or resume) the answers of one model.

    Parameters
    ----------
    cfg : RunConfig
        The validated params.
    entry : ModelEntry
        The model to run (one of ``cfg.models``).
    force : bool
        Delete earlier results in the run directory first (also when they were produced under
        another configuration).
    progress : bool or {"auto", "text"}
        Show a progress bar with items/s and an ETA: ``True``/``"auto"`` as a widget in a
        notebook and text in a terminal; ``"text"`` always text on stderr; ``False`` none.
    backend : Backend, optional
        An already-built backend (tests, benchmarks); default: built from ``entry``.
    executor : dict, optional
        Where this session runs (``stickrole run`` passes ``{engine, address, node, gpu_ids}``;
        empty or ``None``: nothing recorded); recorded as the manifest's ``executor``, with the ``CUDA_VISIBLE_DEVICES`` this process
        sees added as ``cuda_visible_devices``.

    Returns
    -------
    Path
        The model's run directory, holding ``answers.parquet``, ``conversations.jsonl`` and
        ``manifest.json``.

    Raises
    ------
    ConfigError
        Earlier results under a different configuration (without ``force``).
    BackendError
        The model cannot be loaded or reached.
    """
    gen = cfg.generation
    units = plan_units(cfg, entry.name)  # validates population, chunks, items before loading
    chunk_specs = {u.chunk.label: u.chunk.model_dump(mode="json") for u in units}
    chunk_contexts = {label: describe_context(
        next(u.chunk for u in units if u.chunk.label == label),
        [u.context for u in units if u.chunk.label == label], gen.n_messages)
        for label in chunk_specs}
    store = RunStore(model_run_dir(cfg, entry))
    mode = entry.mode or gen.mode
    prompts = Prompts.for_generation(gen)
    own_backend = backend is None
    t0 = time.perf_counter()
    backend = backend or make_backend(
        backend_class(entry.backend).for_run(entry, mode, gen.parsing))
    try:
        info = backend.info()
        placement = _placement(gen, backend, entry)
        identity = _identity(cfg, entry, info, placement, mode)
        store.check_identity(identity, force=force)
        old = store.read_manifest()
        old_chunks = old.get("chunk_specs", {}) if store.has_results() else {}
        changed = [c for c in chunk_specs if c in old_chunks and old_chunks[c] != chunk_specs[c]]
        if changed:
            raise ConfigError(f"{store.run_dir}: chunk(s) {', '.join(changed)} were generated "
                              "with different chunk settings; use --force to start over")
        # what earlier sessions of this run directory recorded (none after --force)
        usage = ManifestUsage.model_validate(old.get("usage") or {})
        manifest = Manifest(
            stickrole_version=__version__,
            git_commit=git_commit(),
            params_file=cfg.source,
            run=cfg.run,
            model_name=entry.name,
            created=old.get("created") or datetime.now(timezone.utc).isoformat(),
            identity=identity,
            identity_sha256=identity_hash(identity),
            backend_info=info,
            chunk_specs={**old_chunks, **chunk_specs},
            chunk_order=list(dict.fromkeys([*old.get("chunk_order", []), *chunk_specs])),
            chunk_contexts={**old.get("chunk_contexts", {}), **chunk_contexts},
            python=sys.version.split()[0],
            platform=platform.platform(),
            status="running",
            **({"usage": usage} if old.get("usage") else {}),
            executor=_executor(executor) if executor else None,
        )
        store.write_manifest(manifest)
        todo = [u for u in units if not store.is_done(
            (entry.name, u.chunk.label, u.persona.id, u.bank.name))]
        n_items = sum(len(u.items) for u in todo)
        _log.info("%s: %d of %d units to do (%d items)", entry.name, len(todo), len(units),
                  n_items)
        bar = _progress(n_items, entry.name, progress)
        u0, started = backend_usage(backend), time.perf_counter()

        def landed(unit: Unit, result: UnitResult) -> None:
            nonlocal manifest
            store.write_unit((entry.name, unit.chunk.label, unit.persona.id, unit.bank.name),
                             result.rows, result.conversation)
            # this session's usage so far, on top of what earlier sessions recorded
            manifest = manifest.model_copy(update={"usage": _added(
                usage, backend_usage(backend) - u0, time.perf_counter() - started)})
            store.write_manifest(manifest)

        try:
            run = _side_by_side if backend.units_in_flight > 1 else _one_by_one
            run(backend, todo, gen, prompts, mode, placement, bar, landed)
        finally:
            bar.close()
        usage = manifest.usage or usage
        store.consolidate()
        answers = store.read_parts()
        n = len(answers)
        unparsed = int((~answers["parsed"]).sum()) if n else 0
        unclosed = int((answers["parse_reason"] == "reasoning_unclosed").sum()) if n else 0
        skipped = (len(answers.loc[answers["error"] != "", ["chunk", "persona", "questionnaire"]]
                       .drop_duplicates()) if n else 0)
        turns = sum(max(0, len(r.get("conversation") or []) - 1)
                    for r in store.read_conversations())
        stats = ManifestStats(
            units=len(units), units_run_now=len(todo), items=n, unparsed=unparsed,
            unparsed_rate=unparsed / n if n else float("nan"),
            units_skipped_overflow=int(skipped), reasoning_unclosed=unclosed,
            conversation_turns=turns,
            seconds_this_session=round(time.perf_counter() - t0, 2))
        store.write_manifest(manifest.model_copy(update={"status": "complete", "stats": stats,
                                                         "usage": usage}))
    finally:
        if own_backend:
            backend.close()
    return store.run_dir


def generate_from_params(params_path: str | Path, model: str | None = None,
                         force: bool = False, progress: bool = True) -> list[Path]:
    """Run generation for every model of a params file (or only ``model``).

    Returns
    -------
    list of Path
        The per-model run directories, in params order.
    """
    cfg = load_params(params_path)
    entries = [cfg.model(model)] if model is not None else list(cfg.models)
    preflight(cfg, entries, force=force)
    return [generate_model(cfg, e, force=force, progress=progress) for e in entries]
