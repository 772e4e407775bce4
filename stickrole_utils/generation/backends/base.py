"""What a model backend is, and the registry that builds one by name.

Every backend subclasses :class:`BackendBase` and offers

* ``chat(messages, sampling, seed) -> Generation`` -- a reply to a chat;
* ``option_logprobs(prompts, letters, answer_prefix, seeds) -> list[np.ndarray]`` -- for each
  prompt, the log-probability of each option letter as the next token after the assistant turn
  started with ``answer_prefix`` (``logprob`` mode);
* ``info() -> dict`` -- everything about the backend that can change outputs (for the manifest).

:class:`BackendBase` gives every other capability generation relies on a default that a backend
overrides where it does better: ``usage()`` (tokens presented, evaluated and generated),
``system_role_supported``, ``modes`` (the answer modes it serves: the one owner of rules such as
"an OpenAI-compatible server cannot do ``logprob``"), ``speak_as(speaker)`` (who speaks next in
a simulated conversation, for a backend that keeps a KV history per speaker),
``chat_many(messages, sampling, seeds)`` (independent chats, several in flight), ``n_parallel``,
``units_in_flight`` and ``unit_view(unit)`` (units administered side by side), ``engine`` (a
batch engine the generating thread serves), ``prepare(mode)`` and ``close()``; and, as class
methods that see only the params, its options model (``Options``: the keys of a model entry
besides the common ones, validated with one-line errors before any model loads), its checks,
its resource needs and what its ``auto`` settings mean.

A backend class registers itself under its params name with :func:`register_backend`;
:func:`make_backend` builds the one a :class:`~stickrole_utils.config.run.ModelEntry` names;
:func:`resolve_model` validates an entry's options. The modules that register are imported by
the package ``__init__``, so importing anything under ``generation.backends`` fills the
registry. Adding a backend: one module with the class and its ``Options``, and one import in
``backends/__init__.py`` (``docs/extending.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError, format_validation_error

__all__ = [
    "ANSWER_MODES",
    "REASONING_KEY",
    "Generation",
    "TokenUsage",
    "UsageCounter",
    "TEMPLATE_TOKENS_PER_MESSAGE",
    "estimate_tokens",
    "estimate_prompt_tokens",
    "backend_usage",
    "BackendOptions",
    "BackendBase",
    "Backend",
    "ContextOverflowError",
    "register_backend",
    "backend_class",
    "backend_names",
    "mode_problem",
    "make_backend",
    "resolve_model",
    "model_options",
]

Message = dict[str, str]

#: Every answer mode, in the order messages list them.
ANSWER_MODES: tuple[str, ...] = ("logprob", "direct", "cot")

#: Key of an assistant message holding that turn's own reasoning (never its content): the
#: backend decides what the model sees of it (a chat template may keep or drop it; see
#: ``backends.reasoning``).
REASONING_KEY = "reasoning"


class ContextOverflowError(BackendError):
    """A prompt (plus the reply budget) does not fit the model's context window."""


@dataclass(frozen=True)
class Generation:
    """One model reply: text and token counts (0 where the backend does not report them).

    A reasoning model's ``text`` is its reply alone: its reasoning is in ``reasoning``, how it
    ended in ``reasoning_status`` (``backends.reasoning``: ``""`` none expected, ``closed``,
    ``doubled``, ``unclosed``, ``absent``), and ``reasoning_tokens`` counts it (a part of
    ``completion_tokens``).
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning: str = ""
    reasoning_status: str = ""
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of some model work.

    ``prompt_tokens``: prompt tokens presented to the model; ``evaluated_tokens``: prompt tokens
    actually computed (fewer than presented where a cached prefix is reused; generated tokens
    are not included); ``generated_tokens``: tokens sampled as replies, reasoning included;
    ``reasoning_tokens``: the part of them a reasoning model spent reasoning.

    >>> TokenUsage(10, 4, 2) + TokenUsage(1, 1, 1, 1) - TokenUsage(1, 0, 0)
    TokenUsage(prompt_tokens=10, evaluated_tokens=5, generated_tokens=3, reasoning_tokens=1)
    """

    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    generated_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.prompt_tokens + other.prompt_tokens,
                          self.evaluated_tokens + other.evaluated_tokens,
                          self.generated_tokens + other.generated_tokens,
                          self.reasoning_tokens + other.reasoning_tokens)

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.prompt_tokens - other.prompt_tokens,
                          self.evaluated_tokens - other.evaluated_tokens,
                          self.generated_tokens - other.generated_tokens,
                          self.reasoning_tokens - other.reasoning_tokens)


class UsageCounter:
    """A backend's running :class:`TokenUsage` (safe to add to from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = TokenUsage()

    def add(self, prompt: int = 0, evaluated: int = 0, generated: int = 0,
            reasoning: int = 0) -> None:
        with self._lock:
            self._total = self._total + TokenUsage(int(prompt), int(evaluated), int(generated),
                                                   int(reasoning))

    def total(self) -> TokenUsage:
        with self._lock:
            return self._total


#: Tokens a chat template adds around each message, in tokenizer-free estimates.
TEMPLATE_TOKENS_PER_MESSAGE = 4


def estimate_tokens(text: str) -> int:
    """Tokenizer-free token count: characters / 4, rounded up.

    >>> estimate_tokens("Answer: (B)"), estimate_tokens("")
    (3, 0)
    """
    return (len(text) + 3) // 4


def estimate_prompt_tokens(messages: list[Message], suffix: str = "") -> int:
    """Tokenizer-free size of a chat prompt: :func:`estimate_tokens` of every message's content
    plus :data:`TEMPLATE_TOKENS_PER_MESSAGE` per message for the chat template, plus ``suffix``
    (e.g. the answer prefix of ``logprob`` mode)."""
    return (sum(estimate_tokens(m.get("content", "")) + TEMPLATE_TOKENS_PER_MESSAGE
                for m in messages) + estimate_tokens(suffix))


def backend_usage(backend: BackendBase) -> TokenUsage:
    """``backend.usage()`` (zeros for a backend that does not count tokens)."""
    return backend.usage()


class BackendOptions(BaseModel):
    """A backend's options: the keys of a model entry besides the common ones (name, backend,
    mode, n_parallel, gpus). A backend subclasses it with a docstring per field; an unknown key
    is an error naming the keys allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    #: Option fields holding a file path, relative to the params file unless absolute.
    path_fields: ClassVar[tuple[str, ...]] = ()
    #: Options that do not change outputs: left out of the run identity.
    operational: ClassVar[frozenset[str]] = frozenset()


class BackendBase:
    """The defaults of every capability generation uses; a backend overrides what it does
    better. Built as ``cls(entry, **kwargs)`` by :func:`make_backend`, with ``entry.options``
    complete (:func:`resolve_model`); ``self.opts`` is the typed options."""

    #: The backend's options model.
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: Answer modes the backend serves.
    modes: ClassVar[tuple[str, ...]] = ANSWER_MODES
    #: Whether it computes prompts at all (the dummy does not: its plan evaluates nothing).
    evaluates_prompts: ClassVar[bool] = True
    #: Keys of :meth:`info` that are part of the run identity (results made under other values
    #: are refused).
    identity_keys: ClassVar[tuple[str, ...]] = ("backend",)
    #: Whether the chat template accepts a system turn.
    system_role_supported: bool = True
    #: Requests in flight together (``chat_many``, items of a unit).
    n_parallel: int = 1
    #: A batch engine the generating thread serves while units run side by side, or None.
    engine: Any = None

    def __init__(self, entry: ModelEntry):
        self.entry = entry
        self.opts = model_options(entry)
        self._usage = UsageCounter()

    # -- the protocol -------------------------------------------------------------------

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        """Reply to ``messages``."""
        raise NotImplementedError

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        """Per prompt, log P(letter | prompt + answer_prefix) for each letter."""
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """Settings and identity, for the manifest."""
        return {"backend": self.entry.backend}

    # -- optional capabilities, with their defaults ---------------------------------------

    def usage(self) -> TokenUsage:
        """Tokens presented, evaluated and generated since the backend was built."""
        return self._usage.total()

    def speak_as(self, speaker: str) -> None:
        """Who speaks next in a simulated conversation (``persona``, ``interlocutor``); a
        backend that caches prompts keeps a history per speaker. Default: nothing to do."""

    def chat_many(self, messages: list[list[Message]], sampling: SamplingConfig,
                  seeds: list[int]) -> list[Generation]:
        """Replies to independent chats (a unit's items). Default: one after the other."""
        return [self.chat(m, sampling, s) for m, s in zip(messages, seeds, strict=True)]

    @property
    def units_in_flight(self) -> int:
        """Units generation may administer side by side through :meth:`unit_view`."""
        return 1

    def unit_view(self, unit: Any) -> BackendBase:
        """The model as one of several units administered at once sees it (default: itself)."""
        return self

    def prepare(self, mode: str) -> None:
        """Work to do once before units run side by side in ``mode`` (default: none)."""

    def close(self) -> None:
        """Free resources (a unit view: drop the unit's state)."""

    # -- what the params alone decide (no model loaded) ---------------------------------

    @classmethod
    def check(cls, entry: ModelEntry, options: BackendOptions, where: str) -> None:
        """Raise a one-line error starting with ``where`` (e.g. ``models[0] (name)``) for what
        the options cannot be together with the common fields, or a file they name that is
        missing or unreadable. Default: nothing to check."""

    @classmethod
    def for_run(cls, entry: ModelEntry, mode: str, parsing: str) -> ModelEntry:
        """The entry a run builds the backend from, ``auto`` settings that depend on the
        answer ``mode`` or ``generation.parsing`` made readable: ``n_parallel: auto`` depends
        on the mode, which the backend then reads from ``entry.mode`` (the run identity keeps
        the entry as given)."""
        if entry.n_parallel == "auto" and entry.mode is None:
            return entry.model_copy(update={"mode": mode})
        return entry

    @classmethod
    def gpus_needed(cls, entry: ModelEntry, options: BackendOptions) -> float:
        """GPUs its generation task asks Ray for when the entry's ``gpus`` is not set."""
        return 0.0

    @classmethod
    def cpus_needed(cls, entry: ModelEntry, options: BackendOptions,
                    node_cpus: float) -> float | None:
        """CPUs its generation task asks Ray for when it runs on no GPU (``None``: one)."""
        return None

    @classmethod
    def context_window(cls, options: BackendOptions) -> int | None:
        """Tokens a prompt and its reply may take (``None``: unknown), for the plan."""
        return None

    @classmethod
    def reasoning_budget(cls, entry: ModelEntry, options: BackendOptions) -> int:
        """Tokens each generated reply may spend reasoning before it (its upper bound, for the
        plan): 0 for a model that does not reason (the default)."""
        return 0


#: What generation needs of a model: :class:`BackendBase` and its subclasses, and the views
#: they hand out for units administered side by side.
Backend = BackendBase


# ------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {}
_T = TypeVar("_T", bound=type)


def register_backend(name: str) -> Callable[[_T], _T]:
    """Class decorator: make the class (a :class:`BackendBase`) the backend of
    ``backend: <name>`` in params.

    The class is built as ``cls(entry, **kwargs)`` by :func:`make_backend`; its ``Options``
    validate the entry's options and its ``modes`` say which answer modes it serves.
    """
    def register(cls: _T) -> _T:
        if not (isinstance(cls, type) and issubclass(cls, BackendBase)):
            raise TypeError(f"backend {name!r}: {cls!r} must subclass BackendBase")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"backend {name!r} is already registered by {_REGISTRY[name]!r}")
        cls.backend_name = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls
    return register


def backend_names() -> list[str]:
    """Names of the registered backends, sorted."""
    return sorted(_REGISTRY)


def backend_class(name: str) -> type:
    """The class registered as ``name``.

    Raises
    ------
    ConfigError
        One line naming the unknown backend and the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; registered: "
                          f"{', '.join(backend_names()) or 'none'}") from None


def _or(names: list[str]) -> str:
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]


def mode_problem(backend: str, mode: str) -> str | None:
    """Why backend ``backend`` cannot answer in ``mode`` (``None`` when it can), from the
    ``modes`` its class declares.

    >>> mode_problem("openai", "logprob")
    'the openai backend supports mode direct or cot, not logprob'
    >>> mode_problem("dummy", "logprob") is None
    True
    """
    modes = tuple(backend_class(backend).modes)
    if mode in modes:
        return None
    return f"the {backend} backend supports mode {_or(list(modes))}, not {mode}"


def model_options(entry: ModelEntry, where: str | None = None) -> BackendOptions:
    """The typed options of ``entry`` (its backend's ``Options`` over ``entry.options``).

    Raises
    ------
    ConfigError
        An unknown backend, an unknown option, a value of the wrong type: one line starting
        with ``where`` (default ``model <name>``) and naming the key.
    """
    where = where or f"model {entry.name}"
    try:
        cls = backend_class(entry.backend)
    except ConfigError as exc:
        raise ConfigError(f"{where}: backend: {exc}") from None
    try:
        return cls.Options.model_validate(entry.options)
    except ValidationError as exc:
        allowed = [k for k in ("name", "backend", "mode", "n_parallel", "gpus",
                               *cls.Options.model_fields)]
        raise ConfigError(format_validation_error(
            exc, where, allowed_keys=lambda loc: allowed if len(loc) <= 1 else None)) from None


def resolve_model(entry: ModelEntry, base_dir: str | Path | None = None,
                  where: str | None = None) -> ModelEntry:
    """``entry`` with complete options: validated by its backend's options model, every default
    explicit, relative file paths (the options' ``path_fields``) made absolute against
    ``base_dir`` (the params file's directory); then the backend's :meth:`~BackendBase.check`.
    Resolving twice is resolving once.

    Raises
    ------
    ConfigError, BackendError
        One line starting with ``where`` (default ``model <name>``) saying what is wrong.
    """
    where = where or f"model {entry.name}"
    opts = model_options(entry, where)
    update = {}
    for key in opts.path_fields:
        value = getattr(opts, key)
        if isinstance(value, str) and value and ":" not in value.split("/")[0]:
            path = Path(value).expanduser()
            if not path.is_absolute() and base_dir is not None:
                update[key] = str((Path(base_dir) / path).resolve())
    if update:
        opts = opts.model_copy(update=update)
    backend_class(entry.backend).check(entry, opts, where)
    return entry.model_copy(update={"options": opts.model_dump(mode="json")})


def make_backend(entry: ModelEntry, **kwargs: Any) -> Backend:
    """Instantiate the backend named by ``entry.backend`` (``kwargs`` go to its constructor,
    e.g. ``prefix_reuse=False`` for llama_cpp).

    Raises
    ------
    ConfigError
        An unknown backend name (one line listing the registered ones), invalid options.
    """
    return backend_class(entry.backend)(resolve_model(entry), **kwargs)
