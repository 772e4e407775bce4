"""What a model backend is, and the registry that builds one by name.

Every backend offers

* ``chat(messages, sampling, seed) -> Generation`` -- a reply to a chat;
* ``option_logprobs(prompts, letters, answer_prefix, seeds) -> list[np.ndarray]`` -- for each
  prompt, the log-probability of each option letter as the next token after the assistant turn
  started with ``answer_prefix`` (``logprob`` mode);
* ``info() -> dict`` -- everything about the backend that can change outputs (for the manifest);
* ``system_role_supported`` -- whether the chat template accepts a system turn;
* ``modes`` -- the answer modes it can serve (a class attribute: the one owner of rules such as
  "an OpenAI-compatible server cannot do ``logprob``").

A backend class registers itself under its params name with :func:`register_backend`;
:func:`make_backend` builds the one a :class:`~stickrole_utils.config.run.ModelEntry` names and
:func:`mode_problem` says whether a backend can serve a mode. The modules that register are
imported by the package ``__init__``, so importing anything under ``generation.backends`` fills
the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError

__all__ = [
    "ANSWER_MODES",
    "Generation",
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
