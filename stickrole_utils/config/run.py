"""Typed run configuration: a params YAML file validated in one place, before any model loads.

``load_run_config(path)`` is the only way settings enter generation, analysis and reports. Every
model has ``extra="forbid"``: an unknown key is an error, not a warning. Relative paths in a params
file (``output_dir``, ``data_path``, model files, corpora, persona files) are relative to the
directory of the params file; :func:`load_run_config` makes them absolute.
"""

from __future__ import annotations

import logging
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from ..errors import ConfigError, format_validation_error
from ..io import read_yaml
from .analysis import AnalysisSettings
from .base import Strict
from .generation import GenerationConfig
from .grid import ExperimentSettings, grid_points, point_generation, point_label
from .leaderboard import LeaderboardSettings

__all__ = [
    "ModelEntry",
    "ReportSettings",
    "ExecutionSettings",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
    "expand_grid",
    "run_spec",
]

_log = logging.getLogger(__name__)



class ModelEntry(Strict):
    """One model to run: its name, its backend, and the backend's options.

    A params file writes a model entry flat (``{name: m, backend: <name>, model: x.gguf,
    n_ctx: 8192}``): the keys below are common to every backend; every other key is an option of
    the backend, kept in :attr:`options` and validated by the backend's own options model when
    the params are checked for generation (``generation.backends``: each backend declares its
    options, with their defaults and one-line errors; ``docs/params.md`` lists them). Dumps
    write the entry flat again. ``factors`` are the entry's labels for an experiment's analysis
    (a common key: no backend sees them).
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._+-]+$")
    """Model name in the answers table and the run directory name (letters, digits, ``._+-``)."""

    backend: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    """The name of a registered backend (``generation.backends``): the in-process GGUF runner,
    an OpenAI-compatible HTTP server (llama-server, vLLM), the random baseline, or one of your
    own (``docs/extending.md``); ``docs/params.md`` lists them with their options."""

    mode: Literal["logprob", "direct", "cot"] | None = None
    """Per-model override of ``generation.mode`` (``None``: use generation.mode)."""

    n_parallel: int | Literal["auto"] = 1
    """Requests of this model in flight together, 1 to 64, or ``auto`` (the backend's choice by
    device and answer mode). What it means is the backend's: an in-process model decodes that
    many sequences together, a served one keeps that many requests in flight to its server.
    1: one after the other."""

    gpus: float | None = Field(default=None, ge=0)
    """GPUs the model's generation task needs (a Ray resource request; Ray then sets the task's
    ``CUDA_VISIBLE_DEVICES``). ``None``: the backend's default (an in-process model: 1 when it
    offloads layers, else 0); a cluster without GPUs runs a GPU request with 0 (logged)."""

    factors: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Labels of this entry as a factor of an experiment's variance decomposition, e.g.
    ``{family: smollm2, quantization: q4_k_m}``: entries with the same ``family`` are analysed
    together, each other key (here ``quantization``) a factor beside persona, context and seed
    (``docs/method.md``, Signal and noise). Labels only: they change nothing that is generated."""

    options: dict[str, Any] = Field(default_factory=dict)
    """The backend's options (every other key of the entry), checked by its options model."""

    @model_validator(mode="before")
    @classmethod
    def _collect_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        common = set(cls.model_fields) - {"options"}
        given = data.get("options") or {}
        if not isinstance(given, dict):
            return data
        out = {k: v for k, v in data.items() if k in common}
        out["options"] = {**given, **{k: v for k, v in data.items()
                                      if k not in common and k != "options"}}
        return out

    @model_serializer(mode="wrap")
    def _flat(self, handler: Any) -> Any:
        """Dumps write the entry as a params file does: the options beside the common keys."""
        data = handler(self)
        if isinstance(data, dict) and isinstance(data.get("options"), dict):
            options = data.pop("options")
            data.update(options)
        return data

    @field_validator("n_parallel", mode="before")
    @classmethod
    def _n_parallel(cls, value: Any) -> Any:
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
            raise ValueError("n_parallel must be an integer from 1 to 64, or auto")
        return value


class ReportSettings(Strict):
    """Options of the HTML report."""

    title: str = "stickrole value-stability report"
    """Title shown on the report pages."""


class ExecutionSettings(Strict):
    """How ``stickrole run`` executes the stage notebooks (one kernel per model and stage)."""

    stall_timeout_s: float = Field(default=120.0, gt=0)
    """A stage whose kernel has finished a cell but whose reply has not reached the runner after
    this many seconds is stopped and reported as failed (it would otherwise wait forever)."""

    cell_timeout_s: float | None = Field(default=None, gt=0)
    """Longest time one notebook cell may run before its stage is stopped and reported as
    failed; ``None``: no limit (generating with a large model can take hours)."""

    engine: Literal["ray", "local"] = "ray"
    """``ray``: every stage is a Ray task (a local Ray instance, or the cluster of
    ``stickrole run --address``); ``local``: one stage after the other in this process (no Ray;
    what the unit tests of the stages use)."""

    max_retries: int = Field(default=2, ge=0)
    """Ray: times a stage is run again when its process is lost (a dead worker, node or kernel)
    or its kernel failed to start."""


class RunConfig(Strict):
    """A whole experiment: models, generation protocol, analysis and report settings."""

    version: Literal[1]
    """Params file format version (currently 1)."""

    run: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._+-]+$")
    """Run name: results go to ``<output_dir>/<run>/<model name>/``."""

    output_dir: str = "outputs"
    """Root of all run directories (relative to the params file)."""

    data_path: str | None = None
    """The original's data directory (``value_stability_data``), needed for the Reddit chunks,
    ``original:`` populations and ``instrument_source: original``."""

    models: list[ModelEntry] = Field(min_length=1)
    """Models to run, each in its own run directory."""

    generation: GenerationConfig = GenerationConfig()
    """The protocol every model follows."""

    analysis: AnalysisSettings = AnalysisSettings()
    """Analysis options (see ``settings.AnalysisSettings``)."""

    leaderboard: LeaderboardSettings = LeaderboardSettings()
    """How the models are ranked (win-rate ties, chunks, sensitivity seed)."""

    report: ReportSettings = ReportSettings()
    """HTML report options."""

    execution: ExecutionSettings = ExecutionSettings()
    """How the stage notebooks are executed (stall and cell time limits)."""

    experiment: ExperimentSettings | None = None
    """A grid of generation settings (``config.grid``): each point is a run under
    ``<output_dir>/<run>/<point>``, then the experiment stage compares the models over seeds;
    ``None``: a single run."""

    source: str | None = None
    """Path of the params file this config was read from (set by ``load_run_config``)."""

    @model_validator(mode="after")
    def _unique_models(self) -> RunConfig:
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dup)}")
        return self

    @model_validator(mode="after")
    def _floor_models(self) -> RunConfig:
        if self.experiment is not None:
            names = [m.name for m in self.models]
            unknown = [f for f in self.experiment.reliability.floor_models if f not in names]
            if unknown:
                raise ValueError(f"experiment.reliability.floor_models: no model named "
                                 f"{', '.join(map(repr, unknown))}; models: {', '.join(names)}")
        return self

    @model_validator(mode="after")
    def _grid_values(self) -> RunConfig:
        if self.experiment is not None:
            for key, values in self.experiment.grid.items():
                for v in values:
                    try:
                        point_generation(self.generation, {key: v})
                    except ValueError as exc:
                        raise ValueError(f"experiment.grid.{key}: {exc}") from None
        return self

    @property
    def run_dir(self) -> Path:
        """``<output_dir>/<run>``."""
        return Path(self.output_dir) / self.run

    def model(self, name: str) -> ModelEntry:
        """The model entry called ``name``."""
        for m in self.models:
            if m.name == name:
                return m
        raise ConfigError(
            f"{self.source or 'params'}: no model named {name!r}; models: "
            f"{', '.join(m.name for m in self.models)}"
        )


def run_spec(cfg: RunConfig) -> dict[str, Any]:
    """The complete run specification as JSON data: every setting explicit, chunks expanded, paths
    absolute (what ``run_config.json`` and a grid point's ``params.json`` hold). Reading it back
    with :func:`parse_run_config` gives a config whose spec is the same (``source`` aside, which
    names the file a config was read from).

    >>> cfg = parse_run_config({"version": 1, "run": "r", "output_dir": "/o",
    ...     "models": [{"name": "d", "backend": "dummy"}],
    ...     "generation": {"chunks": ["chunk_chess_0"]}})
    >>> spec = run_spec(cfg)
    >>> spec["generation"]["chunks"][0]["interlocutor"]
    'persona'
    >>> run_spec(parse_run_config(spec)) == spec
    True
    """
    return cfg.model_dump(mode="json", exclude={"source"})


def expand_grid(cfg: RunConfig) -> list[tuple[dict[str, Any], RunConfig]]:
    """The runs of an experiment: one ``(point, config)`` per grid point, in grid order.

    A point's config is ``cfg`` with the point's generation settings
    (:func:`~stickrole_utils.config.grid.point_generation`), ``output_dir`` set to the
    experiment's directory and ``run`` to the point's label, so that its run directory is
    ``<output_dir>/<run>/<label>`` (e.g. ``.../seed_0-n_messages_3``); it has no experiment
    section. A config without an experiment section is one point, ``({}, cfg)``.

    Examples
    --------
    >>> cfg = parse_run_config({"version": 1, "run": "r", "output_dir": "/o",
    ...     "models": [{"name": "d", "backend": "dummy"}],
    ...     "experiment": {"grid": {"seed": [0, 1], "n_messages": [1, 3]}}})
    >>> [(p, str(c.run_dir), c.generation.n_messages) for p, c in expand_grid(cfg)][1]
    ({'seed': 0, 'n_messages': 3}, '/o/r/seed_0-n_messages_3', 3)
    """
    if cfg.experiment is None:
        return [({}, cfg)]
    out = []
    for point in grid_points(cfg.experiment.grid):
        gen = point_generation(cfg.generation, point)
        out.append((point, cfg.model_copy(update={
            "generation": gen, "experiment": None, "run": point_label(point),
            "output_dir": str(cfg.run_dir)})))
    return out


# ------------------------------------------------------------------------------------------
# Loading and error messages
# ------------------------------------------------------------------------------------------


def _fields_at(model_cls: Any, loc: tuple) -> list[str] | None:
    """Allowed keys of the mapping at ``loc`` (for "unknown key" messages)."""
    cls = model_cls
    for part in loc:
        cls = _unwrap(cls, part)
        if cls is None:
            return None
    cls = _unwrap(cls, None)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return list(cls.model_fields)
    return None


def _unwrap(tp: Any, part: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return _unwrap(arg, part)
            if typing.get_origin(arg) in (list, dict):
                return _unwrap(arg, part)
        return None
    if part is None:
        return tp
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if isinstance(part, str) and part in tp.model_fields:
            return tp.model_fields[part].annotation
        return tp if isinstance(part, str) and part in ("ChunkSpec",) else None
    if origin is list and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    return None


def _allowed_keys(loc: tuple) -> list[str] | None:
    allowed = _fields_at(RunConfig, loc)
    return [a for a in allowed if a != "source"] if allowed else None


def _format_errors(exc: ValidationError, source: str) -> str:
    return format_validation_error(exc, f"{source}: invalid params", allowed_keys=_allowed_keys,
                                   skip=("ChunkSpec", "str"))


def parse_run_config(data: Any, source: str = "<params>",
                     base_dir: str | Path | None = None) -> RunConfig:
    """Validate a params mapping (e.g. parsed YAML) into a :class:`RunConfig`.

    Parameters
    ----------
    data : mapping
        The parsed params.
    source : str
        Name used in error messages (the file path).
    base_dir : path, optional
        Directory that relative paths are resolved against (default: the current directory).

    Raises
    ------
    ConfigError
        One line naming ``source``, the key path, what was given and what is allowed.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a params file must be a mapping of keys (version, run, models,"
                          f" ...); got {type(data).__name__}")
    if "version" not in data:
        raise ConfigError(f"{source}: version: required key is missing; add 'version: 1'")
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    cfg = _resolve_paths(cfg, base, source)
    return cfg


def _abs(p: str | None, base: Path) -> str | None:
    if p is None:
        return None
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _is_population_file(pop: Any) -> bool:
    return (isinstance(pop, str) and pop.endswith((".json", ".yaml", ".yml"))
            and not pop.startswith("original:"))


def _data_file(rel: str | None, data_path: str | None, base: Path) -> str | None:
    """A chunk's file as the run will read it: an absolute path as given; a relative one under
    ``data_path`` if it is there, else next to the params file (where neither holds it, the
    first place looked: the generation preflight then names it as missing)."""
    if rel is None:
        return None
    path = Path(rel).expanduser()
    if path.is_absolute():
        return str(path)
    places = [*([Path(data_path) / path] if data_path else []), base / path]
    found = next((p for p in places if p.is_file()), places[0])
    return str(found.resolve())


def _resolve_paths(cfg: RunConfig, base: Path, source: str) -> RunConfig:
    gen = cfg.generation
    data_path = _abs(cfg.data_path, base)
    pop = gen.population
    if _is_population_file(pop):
        gen = gen.model_copy(update={"population": _abs(pop, base)})
    chunks = [c.model_copy(update={key: _data_file(getattr(c, key), data_path, base)
                                   for key in ("corpus", "interlocutors_file")})
              for c in gen.chunks]
    gen = gen.model_copy(update={"chunks": chunks,
                                 "prompts_file": _abs(gen.prompts_file, base)})
    exp = cfg.experiment
    if exp is not None and {"population", "prompts_file"} & set(exp.grid):
        grid = dict(exp.grid)
        if "population" in grid:
            grid["population"] = [_abs(p, base) if _is_population_file(p) else p
                                  for p in grid["population"]]
        if "prompts_file" in grid:
            grid["prompts_file"] = [_abs(p, base) for p in grid["prompts_file"]]
        exp = exp.model_copy(update={"grid": grid})
    return cfg.model_copy(update={
        "generation": gen,
        "experiment": exp,
        "output_dir": _abs(cfg.output_dir, base),
        "data_path": data_path,
        "source": source,
    })


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a params YAML file (the schema; see also ``generation.load_params``).

    Relative paths inside the file are resolved against the file's directory.

    Parameters
    ----------
    path : str or Path
        The params file.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        Missing or malformed file, unknown key, wrong type; one line naming the file, the key,
        what was given and what is allowed. Names of chunks, populations and instruments and the
        files a run reads are checked by :func:`stickrole_utils.generation.load_params`.
    """
    path = Path(path)
    data = read_yaml(path, "params file", ConfigError)
    return parse_run_config(data, source=str(path), base_dir=path.parent.resolve())
