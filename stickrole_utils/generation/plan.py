"""The work of a run, planned and checked before any model loads.

:func:`load_params` reads and checks a params file; :func:`check_run_config` checks names, files
and model references; :func:`preflight` what generating a model will read and write;
:func:`plan_units` lists every (chunk, persona) unit in run order.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ChunkSpec, GenerationConfig, ModelEntry, RunConfig, load_run_config
from ..design.contexts import chunk_contexts, resolve_chunk
from ..design.instruments import get_instrument
from ..design.itembank import ItemBank, load_itembank
from ..design.populations import Persona, load_population
from ..design.prompts import Prompts
from ..errors import ConfigError, StickroleError
from ..io import check_out_dir
from ..layout import RunLayout
from .administer import Unit
from .backends import backend_class, mode_problem, resolve_model
from .permutations import unit_permutations
from .store import RunStore

__all__ = [
    "load_params",
    "resolve_models",
    "check_run_config",
    "preflight",
    "resolved_chunks",
    "plan_units",
    "model_run_dir",
]


def _base_dir(cfg: RunConfig) -> Path | None:
    return Path(cfg.source).resolve().parent if cfg.source else None


def resolved_chunks(cfg: RunConfig, prompts: Prompts | None = None) -> list[ChunkSpec]:
    """The params' chunks (complete specs since the config was validated), each checked:
    questionnaire, context, topic (``prompts``' openers count as topics)."""
    openers = (prompts or Prompts.for_generation(cfg.generation)).openers
    return [resolve_chunk(c, f"generation.chunks[{i}]", openers)
            for i, c in enumerate(cfg.generation.chunks)]


def _check_files(cfg: RunConfig) -> None:
    """Every file or directory the params name exists, whether or not this run reads it (a typo
    must not pass silently): ``data_path`` and each chunk's ``corpus`` and
    ``interlocutors_file`` (made absolute when the params were read)."""
    if cfg.data_path is not None and not Path(cfg.data_path).is_dir():
        raise ConfigError(f"data_path: {cfg.data_path} is not a directory; point it to the "
                          "original's data directory (value_stability_data)")
    for i, c in enumerate(cfg.generation.chunks):
        for key in ("corpus", "interlocutors_file"):
            path = getattr(c, key)
            if path is not None and not Path(path).is_file():
                hint = "" if cfg.data_path else " (data_path is not set; relative paths are " \
                    "looked up there first, then next to the params file)"
                raise ConfigError(f"generation.chunks[{i}] ({c.label}).{key}: file {path} not "
                                  f"found{hint}")


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
        file or package, a mode the model's backend cannot serve (its class's ``modes``),
        missing corpus or data path, items out of range.
    """
    src = cfg.source or "params"
    try:
        for i, m in enumerate(cfg.models):
            resolve_model(m, _base_dir(cfg), where=f"models[{i}] ({m.name})")
            problem = mode_problem(m.backend, m.mode or cfg.generation.mode)
            if problem:
                modes = " or ".join(backend_class(m.backend).modes)
                raise ConfigError(f"models[{i}] ({m.name}): {problem}; set mode: {modes} on it")
        _check_files(cfg)
        prompts = Prompts.for_generation(cfg.generation)
        chunks = resolved_chunks(cfg, prompts)
        people = _population(cfg)
        _banks(cfg, chunks)
        for c in chunks:
            _items(cfg.generation, c.questionnaire)
            if c.interlocutor == "persona" and c.context != "none" and len(people) < 2:
                raise ConfigError(f"chunk {c.label}: a persona interlocutor needs at least 2 "
                                  "personas")
            if (c.interlocutor == "persona" and c.context != "none" and not c.interlocutors_file
                    and any(not p.description for p in people)):
                raise ConfigError(f"chunk {c.label}: a persona interlocutor is drawn from the "
                                  "population, whose participants here have no persona "
                                  f"({cfg.generation.population}); use interlocutor: human or "
                                  "an interlocutors_file")
        for q in (cfg.generation.items or {}):
            get_instrument(q)
    except StickroleError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(src) else f"{src}: {msg}") from None


def preflight(cfg: RunConfig, entries: list[ModelEntry], force: bool = False) -> None:
    """What generating ``entries`` reads, checked before any model loads (after
    :func:`check_run_config`, which :func:`load_params` runs): the chunks' corpora and
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
    prompts = Prompts.for_generation(gen)
    chunks = resolved_chunks(cfg, prompts)
    people = _population(cfg)
    banks = _banks(cfg, chunks)
    units = []
    for chunk in chunks:
        contexts = chunk_contexts(chunk, people, cfg.data_path, _base_dir(cfg), prompts.openers)
        items = _items(gen, chunk.questionnaire)
        for idx, (persona, ctx) in enumerate(zip(people, contexts, strict=True)):
            perms = unit_permutations(gen, chunk, persona, idx, len(people), chunk.questionnaire)
            units.append(Unit(model=model, chunk=chunk, persona=persona, persona_index=idx,
                              context=ctx, bank=banks[chunk.questionnaire], items=items,
                              permutations=perms))
    return units


def model_run_dir(cfg: RunConfig, entry: ModelEntry) -> Path:
    """``<output_dir>/<run>/<model name>`` (:meth:`RunLayout.model_dir`)."""
    return RunLayout(cfg.run_dir).model_dir(entry.name)


def load_params(path: str | Path) -> RunConfig:
    """Read a params file and check everything short of loading a model: the schema
    (:func:`~stickrole_utils.config.load_run_config`), then :func:`check_run_config`.

    Raises
    ------
    ConfigError
        One line naming the file, the key, what was given and what is allowed.
    """
    cfg = resolve_models(load_run_config(path))
    check_run_config(cfg)
    return cfg


def resolve_models(cfg: RunConfig) -> RunConfig:
    """``cfg`` with every model entry's options complete (validated by its backend's options
    model, defaults explicit, file paths absolute: :func:`~.backends.resolve_model`), so that
    the run specification written for a grid point names every option.

    Raises
    ------
    ConfigError
        One line naming the params file, the model and the option at fault.
    """
    src = cfg.source or "params"
    models = []
    for i, m in enumerate(cfg.models):
        try:
            models.append(resolve_model(m, _base_dir(cfg), where=f"models[{i}] ({m.name})"))
        except StickroleError as exc:
            raise type(exc)(f"{src}: {exc}") from None
    return cfg.model_copy(update={"models": models})
