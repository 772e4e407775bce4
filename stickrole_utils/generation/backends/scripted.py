"""A scripted backend for tests: deterministic replies from a list or a function.

Not registered under a params name (``backend:`` in params cannot select it): tests build it
directly and pass it to ``generate_model(..., backend=...)`` or ``administer_unit``.

>>> b = ScriptedBackend(["Hello.", "Answer: (B)"])
>>> [b.chat([{"role": "user", "content": m}], None, 0).text for m in ("hi", "pick")]
['Hello.', 'Answer: (B)']
>>> [m[-1]["content"] for m in b.calls]
['hi', 'pick']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...errors import BackendError
from .base import (
    BackendBase,
    Generation,
    Message,
    UsageCounter,
    estimate_prompt_tokens,
    estimate_tokens,
)

__all__ = [
    "ScriptedBackend",
]

#: A reply function: (messages, seed) -> reply text (or a Generation); it may raise, e.g.
#: ``ContextOverflowError``.
ReplyFn = Callable[[list[Message], int], "str | Generation"]
#: A letter-distribution function: (messages, letters) -> probabilities over the letters.
ProbsFn = Callable[[list[Message], list[str]], Sequence[float]]


class ScriptedBackend(BackendBase):
    """Replies scripted by the test; records every call.

    Parameters
    ----------
    replies : str, sequence of str, or callable
        A string: the reply to every chat. A sequence: the replies in call order (running out
        raises :class:`BackendError`). A callable ``(messages, seed) -> str | Generation``: the
        reply computed from the call (it may raise, e.g. ``ContextOverflowError``).
    letter_probs : sequence of sequences, or callable, optional
        ``logprob`` mode: the letter probabilities per scored prompt, in call order, or
        ``(messages, letters) -> probabilities``. They are not renormalised, so a total below 1
        models probability mass off the option letters. Default: uniform over the letters.
    info : mapping, optional
        What :meth:`info` reports (default ``{"backend": "scripted"}``); give another backend's
        info to resume a run that backend started.
    system_role_supported : bool
        Whether the "chat template" accepts a system turn.

    Its :meth:`usage` evaluates nothing (``evaluated_tokens`` 0); prompt and generated tokens are
    those of a scripted :class:`Generation` where it gives them, else estimated without a
    tokenizer (characters / 4, plus 4 per prompt message), as the dummy backend does.

    Attributes
    ----------
    calls : list of list of dict
        The messages of every chat, in order (recorded before the reply is computed).
    seeds : list of int
        The seed of every chat.
    scored : list of list of dict
        The prompts scored by :meth:`option_logprobs`, in order.
    """

    def __init__(self, replies: str | Sequence[str] | ReplyFn = "",
                 letter_probs: Sequence[Sequence[float]] | ProbsFn | None = None,
                 info: Mapping[str, Any] | None = None, system_role_supported: bool = True):
        self.replies = replies
        self.letter_probs = letter_probs
        self._info = dict(info) if info is not None else {"backend": "scripted"}
        self.system_role_supported = system_role_supported
        self.calls: list[list[Message]] = []
        self.seeds: list[int] = []
        self.scored: list[list[Message]] = []
        self.closed = False
        self._usage = UsageCounter()

    def _reply(self, messages: list[Message], seed: int) -> str | Generation:
        if callable(self.replies):
            return self.replies(messages, seed)
        if isinstance(self.replies, str):
            return self.replies
        k = len(self.calls) - 1
        if k >= len(self.replies):
            raise BackendError(f"scripted backend: call {k + 1} but only {len(self.replies)} "
                               "scripted replies")
        return self.replies[k]

    def chat(self, messages: list[Message], sampling: Any, seed: int) -> Generation:
        self.calls.append([dict(m) for m in messages])
        self.seeds.append(seed)
        reply = self._reply(messages, seed)
        gen = reply if isinstance(reply, Generation) else Generation(text=reply)
        self._usage.add(prompt=gen.prompt_tokens or estimate_prompt_tokens(messages),
                        generated=gen.completion_tokens or estimate_tokens(gen.text))
        return gen

    def _probs(self, messages: list[Message], letters: list[str]) -> np.ndarray:
        k = len(self.scored) - 1
        if self.letter_probs is None:
            p = np.full(len(letters), 1.0 / len(letters))
        elif callable(self.letter_probs):
            p = np.asarray(self.letter_probs(messages, letters), dtype=float)
        elif k < len(self.letter_probs):
            p = np.asarray(self.letter_probs[k], dtype=float)
        else:
            raise BackendError(f"scripted backend: prompt {k + 1} scored but only "
                               f"{len(self.letter_probs)} scripted distributions")
        if p.shape != (len(letters),):
            raise BackendError(f"scripted backend: {len(p)} probabilities for "
                               f"{len(letters)} letters")
        return p

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int] | None = None) -> list[np.ndarray]:
        out = []
        for messages, lets in zip(prompts, letters, strict=True):
            self.scored.append([dict(m) for m in messages])
            self._usage.add(prompt=estimate_prompt_tokens(messages, answer_prefix))
            with np.errstate(divide="ignore"):
                out.append(np.log(self._probs(messages, lets)))
        return out

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def close(self) -> None:
        self.closed = True
