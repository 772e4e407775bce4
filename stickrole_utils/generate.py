"""Generation stage: from a params file to ``outputs/<run>/<model>/answers.parquet`` per model.

:func:`generate_from_params` is what ``stickrole generate PARAMS.yaml [--model NAME] [--force]``
and the generate notebook call. A run directory resumes where it stopped: finished (persona,
chunk) units are skipped, and results produced under a different configuration are refused
unless ``force``.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .administer import Unit, administer_unit, unit_permutations
from .backends import Backend, make_backend
from .config import ChunkSpec, GenerationConfig, ModelEntry, RunConfig, load_run_config
from .contexts import chunk_contexts, find_data_file, resolve_chunk
from .embedded import check_model_ref
from .errors import BackendError, ConfigError, StickroleError
from .instruments import get_instrument
from .io import check_out_dir
from .itembank import ItemBank, load_itembank
from .populations import Persona, load_population
from .prompts import Prompts
from .store import RunStore, git_commit, identity_hash

__all__ = [
    "check_run_config",
    "preflight",
    "resolved_chunks",
    "plan_units",
    "generate_model",
    "generate_from_params",
    "model_run_dir",
]

_log = logging.getLogger(__name__)

#: ModelEntry fields that do not change outputs (left out of the run identity).
_OPERATIONAL = {"n_threads", "timeout_s", "max_retries", "allow_cpu", "api_key_env"}


def _base_dir(cfg: RunConfig) -> Path | None:
    return Path(cfg.source).resolve().parent if cfg.source else None


def resolved_chunks(cfg: RunConfig) -> list[ChunkSpec]:
    """The params' chunks as complete specs (presets expanded), labels checked unique."""
    out = [resolve_chunk(c, f"generation.chunks[{i}]") for i, c in enumerate(cfg.generation.chunks)]
    labels = [c.label for c in out]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ConfigError(f"generation.chunks: labels must be unique; repeated: {', '.join(dup)}")
    return out


def _population(cfg: RunConfig) -> list[Persona]:
    people = load_population(cfg.generation.population, cfg.data_path)
    n = cfg.generation.n_personas
    return people[:n] if n is not None else people


def _banks(cfg: RunConfig, chunks: list[ChunkSpec]) -> dict[str, ItemBank]:
    gen = cfg.generation
    banks = {}
    for c in chunks:
        if c.questionnaire not in banks:
            banks[c.questionnaire] = load_itembank(c.questionnaire, gen.instrument_source,
                                                   cfg.data_path)
    return banks


def _items(gen: GenerationConfig, questionnaire: str) -> tuple[int, ...]:
    n = get_instrument(questionnaire).n_items
    if gen.items and questionnaire in gen.items:
        chosen = sorted(set(gen.items[questionnaire]))
        bad = [i for i in chosen if not 1 <= i <= n]
        if bad:
            raise ConfigError(f"generation.items.{questionnaire}: questionnaire {questionnaire!r} "
                              f"has items 1..{n}; got {bad}")
        return tuple(chosen)
    return tuple(range(1, n + 1))


def check_run_config(cfg: RunConfig) -> None:
    """Everything about a config that can be checked without loading a model.

    Raises
    ------
    ConfigError
        Prefixed with the params file: unknown chunk/population/instrument, missing model
        file or package, missing corpus or data path, items out of range.
    """
    src = cfg.source or "params"
    try:
        for i, m in enumerate(cfg.models):
            if m.backend == "llama_cpp":
                check_model_ref(m.model or "", where=f"models[{i}].model ({m.name})")
            if m.backend == "openai" and (m.mode or cfg.generation.mode) == "logprob":
                raise ConfigError(f"models[{i}] ({m.name}): the openai backend supports mode "
                                  "direct or cot, not logprob; set mode: direct or cot on it")
        chunks = resolved_chunks(cfg)
        people = _population(cfg)
        _banks(cfg, chunks)
        for c in chunks:
            _items(cfg.generation, c.questionnaire)
            if c.context == "corpus":
                find_data_file(c.corpus or "", cfg.data_path, _base_dir(cfg),
                               f"chunk {c.label}: corpus")
            if c.interlocutors_file:
                find_data_file(c.interlocutors_file, cfg.data_path, _base_dir(cfg),
                               f"chunk {c.label}: interlocutors_file")
            if c.interlocutor == "persona" and c.context != "none" and len(people) < 2:
                raise ConfigError(f"chunk {c.label}: a persona interlocutor needs at least 2 "
                                  "personas")
        for q in (cfg.generation.items or {}):
            get_instrument(q)
        Prompts.from_config(cfg.generation.prompts)
    except StickroleError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(src) else f"{src}: {msg}") from None


def preflight(cfg: RunConfig, entries: list[ModelEntry], force: bool = False) -> None:
    """What generating ``entries`` reads, checked before any model loads (after
    :func:`check_run_config`, which ``load_run_config`` runs): the chunks' corpora and
    interlocutor files (:func:`plan_units`), each model's run directory and, unless ``force``, its
    earlier manifest. ``stickrole generate`` and ``stickrole run`` call it for every model first,
    so that a bad input stops the command before it has changed anything.

    Raises
    ------
    ConfigError, DataError
        Prefixed with the params file where the params name the culprit.
    """
    src = cfg.source or "params"
    try:
        plan_units(cfg, entries[0].name if entries else "_")
    except StickroleError as exc:
        msg = str(exc)
        raise type(exc)(msg if msg.startswith(src) else f"{src}: {msg}") from None
    for entry in entries:
        store = RunStore(model_run_dir(cfg, entry))
        check_out_dir(store.run_dir, f"{src}: output_dir: run directory")
        if not force:
            store.read_manifest()


def plan_units(cfg: RunConfig, model: str) -> list[Unit]:
    """Every (chunk, persona) unit of one model, in run order (chunk by chunk)."""
    gen = cfg.generation
    chunks = resolved_chunks(cfg)
    people = _population(cfg)
    banks = _banks(cfg, chunks)
    units = []
    for chunk in chunks:
        contexts = chunk_contexts(chunk, people, cfg.data_path, _base_dir(cfg))
        items = _items(gen, chunk.questionnaire)
        for idx, (persona, ctx) in enumerate(zip(people, contexts, strict=True)):
            perms = unit_permutations(gen, chunk, persona, idx, len(people), chunk.questionnaire)
            units.append(Unit(model=model, chunk=chunk, persona=persona, persona_index=idx,
                              context=ctx, bank=banks[chunk.questionnaire], items=items,
                              permutations=perms))
    return units


def model_run_dir(cfg: RunConfig, entry: ModelEntry) -> Path:
    """``<output_dir>/<run>/<model name>``."""
    return cfg.run_dir / entry.name


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
    backend_id = {k: info.get(k) for k in ("backend", "gguf_sha256", "chat_format",
                                           "chat_template_sha256", "llama_cpp_python", "offload",
                                           "base_url", "model")
                  if k in info}
    return {
        "generation": gen,
        "model": entry.model_dump(mode="json", exclude=_OPERATIONAL),
        "backend": backend_id,
        "persona_placement": placement,
        "mode": mode,
        "instrument_source": cfg.generation.instrument_source,
    }


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


def generate_model(cfg: RunConfig, entry: ModelEntry, force: bool = False,
                   progress: bool | str = True, backend: Backend | None = None) -> Path:
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
    store = RunStore(model_run_dir(cfg, entry))
    mode = entry.mode or gen.mode
    prompts = Prompts.from_config(gen.prompts)
    own_backend = backend is None
    t0 = time.perf_counter()
    backend = backend or make_backend(entry)
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
        manifest: dict[str, Any] = {
            "stickrole_version": __version__,
            "git_commit": git_commit(),
            "params_file": cfg.source,
            "run": cfg.run,
            "model_name": entry.name,
            "created": old.get("created") or datetime.now(timezone.utc).isoformat(),
            "identity": identity,
            "identity_sha256": identity_hash(identity),
            "backend_info": info,
            "chunk_specs": {**old_chunks, **chunk_specs},
            "chunk_order": list(dict.fromkeys([*old.get("chunk_order", []), *chunk_specs])),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "status": "running",
        }
        store.write_manifest(manifest)
        todo = [u for u in units if not store.is_done(
            (entry.name, u.chunk.label, u.persona.id, u.bank.name))]
        n_items = sum(len(u.items) for u in todo)
        _log.info("%s: %d of %d units to do (%d items)", entry.name, len(todo), len(units),
                  n_items)
        bar = _progress(n_items, entry.name, progress)
        try:
            for k, unit in enumerate(todo, 1):
                bar.set_postfix_str(f"unit {k}/{len(todo)} {unit.chunk.label}", refresh=False)
                result = administer_unit(backend, unit, gen, prompts, mode, placement,
                                         on_item=lambda: bar.update(1))
                store.write_unit((entry.name, unit.chunk.label, unit.persona.id, unit.bank.name),
                                 result.rows, result.conversation)
        finally:
            bar.close()
        store.consolidate()
        answers = store.read_parts()
        n = len(answers)
        unparsed = int((~answers["parsed"]).sum()) if n else 0
        skipped = (len(answers.loc[answers["error"] != "", ["chunk", "persona", "questionnaire"]]
                       .drop_duplicates()) if n else 0)
        manifest.update({
            "status": "complete",
            "stats": {
                "units": len(units), "units_run_now": len(todo), "items": n,
                "unparsed": unparsed, "unparsed_rate": unparsed / n if n else float("nan"),
                "units_skipped_overflow": int(skipped),
                "seconds_this_session": round(time.perf_counter() - t0, 2),
            },
        })
        store.write_manifest(manifest)
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
    cfg = load_run_config(params_path)
    entries = [cfg.model(model)] if model is not None else list(cfg.models)
    preflight(cfg, entries, force=force)
    return [generate_model(cfg, e, force=force, progress=progress) for e in entries]
