"""The callers of the llama.cpp batch engine: several units administered at once, and one call's
requests decoded together.

With ``n_parallel > 1`` generation administers up to ``n_parallel`` units side by side, each in a
thread of its own; each thread sees the model through a :class:`UnitView`, which turns the
protocol's calls into requests for the backend's :class:`~stickrole_utils.generation.backends.
llama_batch.BatchEngine`, served by the generating thread. So the conversation turns of several
units are decoded together, a unit's items (and several units' items) fill the sequences in
flight, the SVS dialogues of several personas proceed side by side (each sequential within its
persona), and ``logprob`` items are scored together.

The view keeps each speaker's history under the key ``(unit, speaker)``: a conversation turn or
an SVS question continues its speaker's history (only new tokens are evaluated: with
``n_messages: 3`` the context is evaluated once per speaker); the items after the conversation
branch from the persona's history, after their common prefix (the questionnaire's instructions)
has been added to it once. :meth:`UnitView.close` drops the unit's histories.

:func:`generate_batched` and :func:`score_batched` serve one call's requests on the calling thread
(``LlamaCppBackend.chat_many`` and ``option_logprobs`` outside a side-by-side run).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from ...config import SamplingConfig
from .base import BackendBase, Generation, Message
from .llama_batch import BatchEngine, Request, common_prefix_len
from .templates import STOP_STRINGS, cut_reply

__all__ = ["UnitView", "generate_batched", "score_batched"]


class UnitView(BackendBase):
    """One unit's view of a :class:`~stickrole_utils.generation.backends.llama_cpp.
    LlamaCppBackend` whose engine is served by another thread (the backend protocol that
    :func:`~stickrole_utils.generation.administer.administer_unit` uses)."""

    def __init__(self, backend: Any, engine: BatchEngine, unit: Hashable):
        self.backend, self.engine, self.unit = backend, engine, unit
        self.entry, self.opts, self._usage = backend.entry, backend.opts, backend._usage
        self.speaker = "persona"
        self.system_role_supported = backend.system_role_supported
        self.modes = backend.modes
        self.n_parallel = backend.n_parallel

    def speak_as(self, speaker: str) -> None:
        """Who speaks next: later requests continue or branch from that speaker's history."""
        self.speaker = speaker

    def _key(self) -> Hashable:
        return (self.unit, self.speaker)

    def _stop(self) -> tuple[str, ...]:
        return STOP_STRINGS if self.backend.labelled else ()

    def _cut(self, gen: Generation) -> Generation:
        # as chat's stop strings: the text up to the next labelled turn
        return dataclasses.replace(gen, text=cut_reply(gen.text)) if self.backend.labelled \
            else gen

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        """A turn that continues the current speaker's history (conversation, SVS dialogue); a
        reasoning model's reasoning stays in that history's KV only as long as its template
        keeps it in the next prompt (the engine reuses the common prefix)."""
        toks, opened = self.backend.prompt(messages)
        reply = sampling.max_tokens or 256
        tracker = self.backend.tracker(opened, reply)
        max_tokens = tracker.max_tokens if tracker is not None else reply
        self.backend._check_fits(len(toks), max_tokens)
        fut = self.engine.submit(Request(toks, "generate", sampling, seed, max_tokens,
                                         self._stop(), key=self._key(), keep=True,
                                         tracker=tracker))
        return self._cut(fut.result())

    def _branch(self, toks: list[list[int]], make: Any) -> list[Any]:
        """Requests that branch from the current speaker's history, after extending it by
        their common prefix."""
        key = self._key()
        if len(toks) == 1:  # a question on its own (SVS dialogue): continue the history
            return [self.engine.submit(dataclasses.replace(make(toks[0], 0, key), keep=True))
                    .result()]
        shared = common_prefix_len(toks) if self.backend.prefix_reuse else 0
        if shared:  # nothing shared (a model without BOS, say): every item branches as is
            self.engine.submit(Request(list(toks[0][:shared]), "evaluate", key=key, keep=True,
                                       counted=False)).result()
        futs = [self.engine.submit(make(t, j, key)) for j, t in enumerate(toks)]
        return [f.result() for f in futs]

    def chat_many(self, messages: list[list[Message]], sampling: SamplingConfig,
                  seeds: list[int]) -> list[Generation]:
        """Independent replies (a unit's items), all in flight together."""
        prompts = [self.backend.prompt(m) for m in messages]
        toks = [t for t, _ in prompts]
        reply = sampling.max_tokens or 256
        trackers = [self.backend.tracker(opened, reply) for _, opened in prompts]
        max_tokens = trackers[0].max_tokens if trackers[0] is not None else reply
        for t in toks:
            self.backend._check_fits(len(t), max_tokens)
        gens = self._branch(toks, lambda t, j, key: Request(
            t, "generate", sampling, seeds[j], max_tokens, self._stop(), key=key,
            tracker=trackers[j]))
        return [self._cut(g) for g in gens]

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int] | None = None) -> list[np.ndarray]:
        """Letter log-probabilities of independent prompts, scored together."""
        toks = [self.backend.tokens(m, suffix=answer_prefix) for m in prompts]
        for t in toks:
            self.backend._check_fits(len(t), 1)
        logits = self._branch(toks, lambda t, j, key: Request(t, "score", key=key))
        return [self.backend.letter_logprobs(x, lets)
                for x, lets in zip(logits, letters, strict=True)]

    def close(self) -> None:
        """Drop the unit's histories."""
        unit = self.unit
        self.engine.release(lambda k: isinstance(k, tuple) and len(k) == 2 and k[0] == unit)


_ANON = itertools.count()


def _run_shared(engine: BatchEngine, toks: list[list[int]], make: Callable[[list[int], int,
                Hashable], Request]) -> list[Any]:
    """One call's requests through ``engine`` (served in this thread): their common prefix is
    evaluated once as a history of its own, each request branches from it."""
    key = ("call", next(_ANON))
    shared = common_prefix_len(toks) if engine.b.prefix_reuse and len(toks) > 1 else 0
    try:
        if shared:
            # the prefix in sequence 0, reusing what it holds (the persona's history after a
            # conversation on the one-at-a-time path), then copied to each request's sequence
            engine.b._hold_prefix(toks[0][:shared])
            engine.borrow_seq0(key, shared)
        futs = [engine.submit(make(t, j, key if shared else None)) for j, t in enumerate(toks)]
        engine.serve(lambda: all(f.done() for f in futs))
        return [f.result() for f in futs]
    finally:
        engine.release(lambda k: k == key)
        engine._do_releases()


def generate_batched(backend: Any, toks: list[list[int]], sampling: SamplingConfig,
                     seeds: list[int], max_tokens: int,
                     stop: tuple[str, ...] = (),
                     trackers: list[Any] | None = None) -> list[Generation]:
    """Replies to the prompts ``toks`` (token ids), up to ``backend.n_parallel`` in flight, on
    ``backend.engine``: the prompts' common prefix is evaluated once and copied to each
    sequence. A sequence also ends once its reply contains one of ``stop`` (the text is
    returned whole: the caller cuts it, as ``create_completion``'s stop strings would).
    ``trackers`` (a reasoning model's, one per prompt): each reply's reasoning and reply stop
    at their own budgets (``max_tokens`` is the reply's), and come back split.

    Raises
    ------
    BackendError
        The sequences in flight cannot fit ``n_ctx`` (one line: lower n_parallel, raise n_ctx
        or max_tokens), or ``llama_decode`` fails.
    """
    trackers = trackers or [None] * len(toks)
    return _run_shared(backend.engine, toks, lambda t, j, key: Request(
        list(t), "generate", sampling, seeds[j],
        trackers[j].max_tokens if trackers[j] is not None else max_tokens, tuple(stop),
        key=key, tracker=trackers[j]))


def score_batched(backend: Any, toks: list[list[int]]) -> list[np.ndarray]:
    """Next-token logits of several prompts (``logprob`` mode, ``n_parallel > 1``): their common
    prefix once, then each prompt's own tokens as a parallel sequence."""
    return _run_shared(backend.engine, toks, lambda t, j, key: Request(list(t), key=key))
