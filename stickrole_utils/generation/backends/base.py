"""What a model backend is, and the registry that builds one by name.

Every backend offers

* ``chat(messages, sampling, seed) -> Generation`` -- a reply to a chat;
* ``option_logprobs(prompts, letters, answer_prefix, seeds) -> list[np.ndarray]`` -- for each
  prompt, the log-probability of each option letter as the next token after the assistant turn
  started with ``answer_prefix`` (``logprob`` mode);
* ``info() -> dict`` -- everything about the backend that can change outputs (for the manifest);
* ``usage() -> TokenUsage`` -- tokens presented, evaluated and generated since it was built
  (cumulative; generation takes differences around each unit for the manifest's ``usage``);
* ``system_role_supported`` -- whether the chat template accepts a system turn;
* ``modes`` -- the answer modes it can serve (a class attribute: the one owner of rules such as
  "an OpenAI-compatible server cannot do ``logprob``");
* optionally ``speak_as(speaker)`` -- who speaks next in a simulated conversation (``persona``,
  ``interlocutor``), so that a backend caching prompts keeps a history per speaker (llama_cpp)
  and ``chat_many(messages, sampling, seeds)`` -- independent chats, several in flight.

A backend class registers itself under its params name with :func:`register_backend`;
:func:`make_backend` builds the one a :class:`~stickrole_utils.config.run.ModelEntry` names and
:func:`mode_problem` says whether a backend can serve a mode. The modules that register are
imported by the package ``__init__``, so importing anything under ``generation.backends`` fills
the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError

__all__ = [
    "ANSWER_MODES",
    "Generation",
    "TokenUsage",
    "UsageCounter",
    "TEMPLATE_TOKENS_PER_MESSAGE",
    "estimate_tokens",
    "estimate_prompt_tokens",
    "backend_usage",
    "Backend",
    "ContextOverflowError",
    "register_backend",
    "backend_class",
    "backend_names",
    "mode_problem",
    "make_backend",
]

Message = dict[str, str]

#: Every answer mode, in the order messages list them.
ANSWER_MODES: tuple[str, ...] = ("logprob", "direct", "cot")


class ContextOverflowError(BackendError):
    """A prompt (plus the reply budget) does not fit the model's context window."""


@dataclass(frozen=True)
class Generation:
    """One model reply: text and token counts (0 where the backend does not report them)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of some model work.

    ``prompt_tokens``: prompt tokens presented to the model; ``evaluated_tokens``: prompt tokens
    actually computed (fewer than presented where a cached prefix is reused; generated tokens
    are not included); ``generated_tokens``: tokens sampled as replies.

    >>> TokenUsage(10, 4, 2) + TokenUsage(1, 1, 1) - TokenUsage(1, 0, 0)
    TokenUsage(prompt_tokens=10, evaluated_tokens=5, generated_tokens=3)
    """

    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    generated_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.prompt_tokens + other.prompt_tokens,
                          self.evaluated_tokens + other.evaluated_tokens,
                          self.generated_tokens + other.generated_tokens)

    def __sub__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.prompt_tokens - other.prompt_tokens,
                          self.evaluated_tokens - other.evaluated_tokens,
                          self.generated_tokens - other.generated_tokens)


class UsageCounter:
    """A backend's running :class:`TokenUsage` (safe to add to from several threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = TokenUsage()

    def add(self, prompt: int = 0, evaluated: int = 0, generated: int = 0) -> None:
        with self._lock:
            self._total = self._total + TokenUsage(int(prompt), int(evaluated), int(generated))

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


def backend_usage(backend: object) -> TokenUsage:
    """``backend.usage()``, or zeros for a backend that does not count tokens."""
    usage = getattr(backend, "usage", None)
    return usage() if callable(usage) else TokenUsage()


class Backend(Protocol):
    """What administer needs from a model."""

    system_role_supported: bool
    modes: tuple[str, ...]

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        """Reply to ``messages``."""
        ...

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        """Per prompt, log P(letter | prompt + answer_prefix) for each letter."""
        ...

    def info(self) -> dict[str, Any]:
        """Settings and identity, for the manifest."""
        ...

    def usage(self) -> TokenUsage:
        """Tokens presented, evaluated and generated since the backend was built."""
        ...

    def close(self) -> None:
        """Free resources."""
        ...


# ------------------------------------------------------------------------------------------
# registry
# ------------------------------------------------------------------------------------------

_REGISTRY: dict[str, type] = {}
_T = TypeVar("_T", bound=type)


def register_backend(name: str) -> Callable[[_T], _T]:
    """Class decorator: make the class the backend of ``backend: <name>`` in params.

    The class is built as ``cls(entry, **options)`` by :func:`make_backend` and declares the
    answer modes it serves in a ``modes`` class attribute (default: all of
    :data:`ANSWER_MODES`).
    """
    def register(cls: _T) -> _T:
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
    modes = tuple(getattr(backend_class(backend), "modes", ANSWER_MODES))
    if mode in modes:
        return None
    return f"the {backend} backend supports mode {_or(list(modes))}, not {mode}"


def make_backend(entry: ModelEntry, **options: Any) -> Backend:
    """Instantiate the backend named by ``entry.backend`` (``options`` go to its constructor,
    e.g. ``prefix_reuse=False`` for llama_cpp).

    Raises
    ------
    ConfigError
        An unknown backend name (one line listing the registered ones).
    """
    return backend_class(entry.backend)(entry, **options)
