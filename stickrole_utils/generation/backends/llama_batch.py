"""Batched generation for the llama.cpp backend: many replies of one model decoded together.

:func:`generate_batched` serves :meth:`LlamaCppBackend.chat_many <stickrole_utils.generation.
backends.llama_cpp.LlamaCppBackend.chat_many>`: the prompt prefix common to all requests (persona
and conversation, shared by a unit's items) is evaluated once in KV sequence 0 and copied to each
request's sequence (copies share cells); each request's own prompt tokens are evaluated in one
batch, then every active sequence gets one token per ``llama_decode``. Each request samples with
its own llama.cpp sampler chain, built exactly as llama-cpp-python builds it for
``create_completion`` (penalties, top-k, typical, top-p, min-p, temperature, seeded
distribution; greedy at temperature 0), so a request sees the same sampling as ``chat``. A
sequence stops at an end-of-generation token or ``max_tokens``; its cells are freed and the next
waiting request takes its slot (continuous batching). Protocol: ``docs/method.md``, Protocol.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...config import SamplingConfig
from ...errors import BackendError
from .base import Generation

__all__ = [
    "common_prefix_len",
    "kv_need",
    "generate_batched",
    "score_parallel",
]

#: llama-cpp-python's ``create_completion`` defaults, used where ``SamplingConfig`` has None.
_DEFAULTS = {"top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.0}


def common_prefix_len(toks: list[list[int]]) -> int:
    """Tokens shared by every prompt at its start, leaving each at least one token of its own
    (its last token must be decoded to give the logits of the first reply token).

    >>> common_prefix_len([[1, 2, 3, 4], [1, 2, 5]]), common_prefix_len([[1, 2], [1, 2]])
    (2, 1)
    """
    shared = min(len(t) for t in toks) - 1
    first = np.asarray(toks[0])
    for t in toks[1:]:
        m = min(len(t), shared)
        diff = np.nonzero(first[:m] != np.asarray(t[:m]))[0]
        shared = int(diff[0]) if len(diff) else m
    return max(0, shared)


def kv_need(toks: list[list[int]], shared: int, max_tokens: int, n_parallel: int) -> int:
    """KV cells needed with ``n_parallel`` sequences in flight: the shared prefix once, plus per
    sequence the longest own prompt part and the reply budget.

    >>> kv_need([[1, 2, 3], [1, 2, 4, 5]], 2, 10, 4)
    26
    """
    slots = min(n_parallel, len(toks))
    return shared + slots * (max(len(t) for t in toks) - shared + max_tokens)


@dataclass
class _Seq:
    """One request in flight: its KV sequence, tokens still to decode, sampler, reply so far."""

    req: int
    seq: int
    pending: list[int]
    pos: int
    sampler: Any
    out: list[int] = field(default_factory=list)
    tail: str = ""  # the reply's last characters, for stop strings


def _sampler(internals: Any, n_vocab: int, last_n: int, sampling: SamplingConfig,
             seed: int) -> Any:
    """The sampler chain llama-cpp-python's ``create_completion`` would build for ``sampling``."""
    opts = {k: getattr(sampling, k) if getattr(sampling, k) is not None else v
            for k, v in _DEFAULTS.items()}
    s = internals.LlamaSampler()
    s.add_penalties(n_vocab, last_n, opts["repeat_penalty"], 0.0, 0.0)
    temp = sampling.temperature
    if temp == 0.0:
        s.add_greedy()
    elif temp < 0.0:
        s.add_dist(seed)
    else:
        s.add_top_k(opts["top_k"])
        s.add_typical(1.0, 1)
        s.add_top_p(opts["top_p"], 1)
        s.add_min_p(opts["min_p"], 1)
        s.add_temp(temp)
        s.add_dist(seed)
    return s


def _fill(batch: Any, active: list[_Seq], n_batch: int) -> tuple[dict[int, int], int]:
    """Put pending tokens into ``batch`` (sequences with the fewest pending first: one token per
    generating sequence, then prompt parts, chunked at ``n_batch``). Returns the batch index of
    each sequence whose pending tokens are all in (its logits are wanted) and how many prompt
    tokens went in."""
    batch.n_tokens = 0
    want: dict[int, int] = {}
    n_prompt = 0
    for s in sorted(active, key=lambda s: len(s.pending)):
        room = n_batch - batch.n_tokens
        if room <= 0:
            break
        take = min(room, len(s.pending))
        for i in range(take):
            n = batch.n_tokens
            batch.token[n] = s.pending[i]
            batch.pos[n] = s.pos + i
            batch.seq_id[n][0] = s.seq
            batch.n_seq_id[n] = 1
            batch.logits[n] = i == len(s.pending) - 1
            batch.n_tokens = n + 1
        if not s.out:
            n_prompt += take
        if take == len(s.pending):
            want[s.seq] = batch.n_tokens - 1
        s.pending = s.pending[take:]
        s.pos += take
    return want, n_prompt


def generate_batched(backend: Any, toks: list[list[int]], sampling: SamplingConfig,
                     seeds: list[int], max_tokens: int,
                     stats: dict[str, float] | None = None,
                     stop: tuple[str, ...] = ()) -> list[Generation]:
    """Replies to the prompts ``toks`` (token ids), up to ``backend.n_parallel`` in flight.

    ``backend`` is a :class:`LlamaCppBackend` built with ``n_parallel > 1`` (its context holds
    ``n_parallel + 1`` sequences; sequence 0 keeps the shared prefix afterwards, so a later
    ``chat`` reuses it). Its usage counters grow by the prompt tokens presented, those
    evaluated (the shared prefix once, then each prompt's own part) and the tokens generated.
    ``stats``, when given, gains ``decode_steps``, ``decode_tokens`` and ``decode_seconds``
    (wall time, sampling included) of the steps that only fed back generated tokens (the
    engine's pure generation throughput, for benchmarks), ``full_decode_*`` of those among them
    with all ``n_parallel`` sequences active (comparable with a bare decode loop of as many
    sequences: as replies end, fewer remain in flight), and ``prompt_*`` of the other steps.
    A sequence also ends once its reply contains one of ``stop`` (the text is returned whole:
    the caller cuts it, as ``create_completion``'s stop strings would).

    Raises
    ------
    BackendError
        The sequences in flight cannot fit ``n_ctx`` (one line: lower n_parallel, raise n_ctx
        or max_tokens), or ``llama_decode`` fails.
    """
    lib, llm, entry = backend._lib, backend.llm, backend.entry
    shared = common_prefix_len(toks) if backend.prefix_reuse else 0
    n_par = min(backend.n_parallel, len(toks))
    need = kv_need(toks, shared, max_tokens, n_par)
    unified = getattr(backend, "kv_unified", True)  # else each sequence has n_ctx cells
    while unified and backend.fit_parallel and need > entry.n_ctx and n_par > 1:
        n_par -= 1  # n_parallel auto: as many in flight as fit
        need = kv_need(toks, shared, max_tokens, n_par)
    if unified and need > entry.n_ctx:
        raise BackendError(
            f"model {entry.name}: {n_par} parallel sequences need "
            f"{need} KV cells (shared prefix {shared} + per sequence prompt and max_tokens="
            f"{max_tokens}) but n_ctx={entry.n_ctx}; lower n_parallel or max_tokens, or raise "
            "n_ctx")
    backend.make_room(need)
    backend._hold_prefix(toks[0][:shared])
    ctx, mem, batch = llm._ctx.ctx, llm._ctx.memory, backend._pbatch.batch
    vocab = llm._model.vocab
    free = list(range(1, n_par + 1))
    queue = deque(range(len(toks)))
    active: list[_Seq] = []
    out: list[Generation | None] = [None] * len(toks)
    try:
        while queue or active:
            while queue and free:
                j, k = queue.popleft(), free.pop(0)
                lib.llama_memory_seq_rm(mem, k, -1, -1)
                if shared:
                    lib.llama_memory_seq_cp(mem, 0, k, -1, -1)  # 0 holds the prefix
                active.append(_Seq(j, k, list(toks[j][shared:]), shared, _sampler(
                    lib._internals, backend.n_vocab, llm.last_n_tokens_size, sampling,
                    seeds[j] % (2**31))))
            t0 = time.perf_counter()
            want, n_prompt = _fill(batch, active, entry.n_batch)
            n_batch_tokens = batch.n_tokens
            rc = lib.llama_decode(ctx, batch)
            if rc != 0:
                raise BackendError(f"model {entry.name}: llama_decode of {batch.n_tokens} tokens "
                                   f"in {len(active)} parallel sequences failed (code {rc}); "
                                   "lower n_parallel or raise n_ctx")
            backend.n_evaluated += n_prompt
            done = []
            for s in active:
                if s.seq not in want:
                    continue
                tok = s.sampler.sample(llm._ctx, want[s.seq])
                eog = lib.llama_vocab_is_eog(vocab, tok)
                if not eog:
                    s.out.append(tok)
                    s.pending = [tok]
                    if stop:
                        piece = llm.detokenize([tok]).decode("utf-8", errors="ignore")
                        s.tail = (s.tail + piece)[-64:]
                        eog = any(x in s.tail for x in stop)
                if eog or len(s.out) >= max_tokens:
                    done.append(s)
            for s in done:
                active.remove(s)
                lib.llama_memory_seq_rm(mem, s.seq, -1, -1)
                free.append(s.seq)
                s.sampler.close()
                prompt = toks[s.req]
                text = llm.detokenize(s.out, prev_tokens=prompt).decode("utf-8", errors="ignore")
                out[s.req] = Generation(text=text, prompt_tokens=len(prompt),
                                        completion_tokens=len(s.out))
                backend.n_prompt_tokens += len(prompt)
                backend.n_generated += len(s.out)
            if stats is not None:
                kinds = ["decode" if n_prompt == 0 else "prompt"]
                if n_prompt == 0 and n_batch_tokens == n_par:
                    kinds.append("full_decode")
                for kind in kinds:
                    stats[f"{kind}_steps"] = stats.get(f"{kind}_steps", 0) + 1
                    stats[f"{kind}_tokens"] = stats.get(f"{kind}_tokens", 0) + n_batch_tokens
                    stats[f"{kind}_seconds"] = (stats.get(f"{kind}_seconds", 0.0)
                                                + time.perf_counter() - t0)
    finally:
        for s in active:
            lib.llama_memory_seq_rm(mem, s.seq, -1, -1)
            s.sampler.close()
    return [g for g in out if g is not None]


def score_parallel(backend: Any, toks: list[list[int]]) -> list[np.ndarray]:
    """Next-token logits of several prompts (``logprob`` mode, ``n_parallel > 1``): their common
    prefix once in sequence 0, then each prompt's own tokens as a parallel sequence (copies of
    sequence 0 share its cells), as many per ``llama_decode`` as ``n_batch`` allows."""
    lib, llm, entry = backend._lib, backend.llm, backend.entry
    shared = common_prefix_len(toks)
    backend.make_room(kv_need(toks, shared, 1, backend.n_parallel))
    backend._hold_prefix(toks[0][:shared])
    mem, batch = llm._ctx.memory, backend._pbatch.batch
    out: list[np.ndarray | None] = [None] * len(toks)
    order = deque(range(len(toks)))
    while order:
        group, n_tok = [], 0
        while order and len(group) < backend.n_parallel:
            n = len(toks[order[0]]) - shared
            if group and n_tok + n > entry.n_batch:
                break
            group.append(order.popleft())
            n_tok += n
        if n_tok > entry.n_batch:  # one prompt alone exceeds a batch
            j = group[0]
            out[j] = backend.next_logits(toks[j], reuse=True)
            backend._hold_prefix(toks[0][:shared])
            continue
        batch.n_tokens = 0
        last = []
        for k, j in enumerate(group, 1):
            lib.llama_memory_seq_rm(mem, k, -1, -1)
            lib.llama_memory_seq_cp(mem, 0, k, -1, -1)  # 0 holds the prefix
            suffix = toks[j][shared:]
            for i, tok in enumerate(suffix):
                n = batch.n_tokens
                batch.token[n] = tok
                batch.pos[n] = shared + i
                batch.seq_id[n][0] = k
                batch.n_seq_id[n] = 1
                batch.logits[n] = i == len(suffix) - 1
                batch.n_tokens = n + 1
            last.append(batch.n_tokens - 1)
        rc = lib.llama_decode(llm._ctx.ctx, batch)
        if rc != 0:
            raise BackendError(f"model {entry.name}: llama_decode of {n_tok} tokens in "
                               f"{len(group)} parallel sequences failed (code {rc}); lower "
                               "n_parallel or raise n_ctx")
        for j, idx in zip(group, last, strict=True):
            out[j] = backend._logits_at(idx)
        for k in range(1, len(group) + 1):
            lib.llama_memory_seq_rm(mem, k, -1, -1)
        backend.n_evaluated += n_tok
        backend.n_prompt_tokens += sum(len(toks[j]) for j in group)
    return [x for x in out if x is not None]
