"""Batched generation for the llama.cpp backend: one engine decodes the requests of many callers.

:class:`BatchEngine` owns the llama context while it serves. Callers (the threads that
administer several units at once, or ``llama_units.generate_batched`` / ``score_batched`` for
one call's requests) submit requests; the thread that calls :meth:`BatchEngine.serve` keeps up to
``n_parallel`` of them in flight as KV sequences and gives every active sequence one token per
``llama_decode``, with the prompt parts of newly admitted requests in the same batches (chunked
at ``n_batch``). A finished sequence frees its slot for the next request at once (continuous
batching).

A request may name a *history* (``key``: a unit's persona or interlocutor, or the shared prefix
of one call's prompts): a KV sequence the engine keeps holding the tokens last evaluated for
that key. A request that ``keep``\\ s its history continues it in place (a conversation turn, a
question of the SVS dialogue: only what its prompt does not share with the history is
evaluated, and its prompt and reply become the history); one that does not branches from it (an
item after the conversation: the history is copied, ``llama_memory_seq_cp``, and only the
item's own tokens are evaluated). Histories are dropped, least recently used first, when their
sequences or KV cells are needed, which costs re-evaluation, never an answer.

Each generation request samples with its own llama.cpp sampler chain, built exactly as
llama-cpp-python builds it for ``create_completion`` (penalties, top-k, typical, top-p, min-p,
temperature, seeded distribution; greedy at temperature 0), so a reply does not depend on which
others shared its batches beyond float rounding. A score request returns the next-token logits
after its prompt (``logprob`` mode). Protocol: ``docs/method.md``, Protocol.

Why our own scheduler: llama-cpp-python's high-level API serves one sequence at a time, and its
server runs in another process; the low-level ``llama_decode``/``llama_memory_*`` API it binds
is what llama.cpp's own server uses for continuous batching.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...config import SamplingConfig
from ...errors import BackendError
from .base import Generation
from .llama_kv import lcp

__all__ = [
    "common_prefix_len",
    "Request",
    "BatchEngine",
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


@dataclass(eq=False)
class Request:
    """One piece of work for the engine.

    ``kind``: ``generate`` (a reply, sampled with ``sampling`` and ``seed`` up to
    ``max_tokens``, ending early at one of ``stop``), ``score`` (the next-token logits after
    ``toks``) or ``evaluate`` (nothing back: a history extended, e.g. by a shared prefix).
    ``key``: the history it continues (``keep``) or branches from. ``counted``: whether its
    prompt counts as presented in the usage (internal prefix evaluations do not). ``tracker``:
    a reasoning model's reply, followed token by token so that its reasoning and its reply stop
    at their own budgets (``max_tokens`` is then their sum), then split.
    """

    toks: list[int]
    kind: str = "score"
    sampling: SamplingConfig | None = None
    seed: int = 0
    max_tokens: int = 0
    stop: tuple[str, ...] = ()
    key: Hashable | None = None
    keep: bool = False
    counted: bool = True
    tracker: Any = None
    future: Future = field(default_factory=Future)


@dataclass(eq=False)
class _History:
    seq: int
    tokens: np.ndarray
    users: int = 0  # branches in flight that share its cells
    used: int = 0  # clock of the last use
    borrowed: bool = False  # sequence 0 (the Llama object's own): never freed, never changed


@dataclass(eq=False)
class _Slot:
    """A request in flight: its KV sequence, tokens still to decode, sampler, reply so far."""

    req: Request
    seq: int
    pending: list[int]
    pos: int
    evaluated: list[int]
    budget: int  # KV cells it may add (unified cache accounting)
    sampler: Any = None
    source: _History | None = None
    out: list[int] = field(default_factory=list)
    tail: str = ""  # the reply's last characters, for stop strings


#: Stands for a sampler chain that is plain greedy (temperature 0, no repetition penalty):
#: the engine then takes the argmax of every such sequence's logits in one numpy call instead
#: of one llama.cpp sampler call per sequence, each of which copies the whole vocabulary into
#: a candidates array (the same token: the greedy sampler also takes the first maximum).
GREEDY = "greedy"


def _plain_greedy(sampling: SamplingConfig) -> bool:
    return sampling.temperature == 0.0 and sampling.repeat_penalty in (None, 1.0)


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


def _fill(batch: Any, active: list[_Slot], n_batch: int) -> tuple[dict[int, int], int]:
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
        s.evaluated.extend(s.pending[:take])
        s.pending = s.pending[take:]
        s.pos += take
    return want, n_prompt


class BatchEngine:
    """Continuous batching over the KV sequences ``seq_ids`` of a :class:`LlamaCppBackend`.

    :meth:`submit` may be called from any thread; everything that touches the llama context
    (admission, ``llama_decode``, sampling, dropping histories) runs in the thread that calls
    :meth:`serve`. ``stats`` gains ``decode_*`` (steps that only fed back generated tokens),
    ``full_decode_*`` (those with all ``n_parallel`` sequences active: comparable with a bare
    decode loop of as many sequences) and ``prompt_*`` (steps that also evaluated prompt
    tokens): ``_steps``, ``_tokens``, ``_seconds`` (wall time, sampling included).
    """

    def __init__(self, backend: Any, seq_ids: list[int], stats: dict[str, float] | None = None):
        self.b = backend
        self.free = list(seq_ids)
        self.held: dict[Hashable, _History] = {}
        self.active: list[_Slot] = []
        self.queue: deque[Request] = deque()
        self.cond = threading.Condition()
        self.failed: BaseException | None = None
        self.stats = stats if stats is not None else {}
        self._releases: list[Callable[[Hashable], bool]] = []
        self._clock = 0
        #: evaluate each prompt part in a llama_decode of its own (see ``_groups``)
        self.isolate_prompts = not getattr(backend, "kv_unified", True)

    # -- any thread ------------------------------------------------------------------------

    def submit(self, req: Request) -> Future:
        """Queue ``req``; its future gets a :class:`Generation` (generation), logits (score)
        or ``None`` (evaluation only)."""
        if not req.toks:  # it would never be decoded, so never finish
            req.future.set_exception(BackendError(f"model {self.b.entry.name}: an empty "
                                                  "prompt cannot be evaluated"))
            return req.future
        with self.cond:
            if self.failed is not None:
                req.future.set_exception(BackendError(f"model {self.b.entry.name}: the batch "
                                                      f"engine stopped: {self.failed}"))
            else:
                self.queue.append(req)
                self.cond.notify_all()
        return req.future

    def release(self, which: Callable[[Hashable], bool]) -> None:
        """Drop the histories whose key satisfies ``which`` (at the next step)."""
        with self.cond:
            self._releases.append(which)
            self.cond.notify_all()

    def wake(self) -> None:
        """Make a waiting :meth:`serve` check its condition now."""
        with self.cond:
            self.cond.notify_all()

    # -- the serving thread ----------------------------------------------------------------

    def reset(self) -> None:
        """Forget an earlier failure and drop every history (before a new run)."""
        with self.cond:
            self.failed = None
            self.queue.clear()
        for key in list(self.held):
            self._drop(key)

    def serve(self, until: Callable[[], bool]) -> None:
        """Decode until ``until()`` is true (checked between steps; while nothing is in flight
        the thread waits for a request, a release or :meth:`wake`).

        Raises
        ------
        BackendError
            ``llama_decode`` failed or a request cannot fit ``n_ctx``; every request queued
            or in flight fails with it, and so does every later one.
        """
        try:
            while not until():
                self._do_releases()
                self._admit()
                if self.active:
                    self._step()
                    continue
                with self.cond:
                    if not self.queue and not self._releases and not until():
                        self.cond.wait(0.05)
        except BaseException as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: BaseException) -> None:
        with self.cond:
            self.failed = exc
            pending = [*self.queue, *(s.req for s in self.active)]
            self.queue.clear()
        for s in self.active:
            self._free(s.seq)
            if s.sampler not in (None, GREEDY):
                s.sampler.close()
        self.active = []
        for r in pending:
            if not r.future.done():
                r.future.set_exception(exc if isinstance(exc, BackendError) else BackendError(
                    f"model {self.b.entry.name}: the batch engine stopped: {exc!r}"))

    def _rm(self, seq: int, p0: int = -1) -> None:
        self.b._lib.llama_memory_seq_rm(self.b.llm._ctx.memory, seq, p0, -1)

    def _free(self, seq: int) -> None:
        self._rm(seq)
        self.free.append(seq)

    def _drop(self, key: Hashable) -> None:
        hist = self.held.pop(key)
        if not hist.borrowed:
            self._free(hist.seq)

    def borrow_seq0(self, key: Hashable, n_tokens: int) -> None:
        """Serve sequence 0's first ``n_tokens`` (what ``LlamaCppBackend._hold_prefix`` put
        there) as the history ``key``: requests branch from it; it is never changed."""
        llm = self.b.llm
        self.held[key] = _History(0, np.array(llm.input_ids[:n_tokens], dtype=np.int64),
                                  borrowed=True)

    def _do_releases(self) -> None:
        with self.cond:
            rel, self._releases = self._releases, []
        for which in rel:
            for key in [k for k in self.held if which(k)]:
                self._drop(key)

    def _idle_lru(self, spare: Hashable | None) -> Hashable | None:
        idle = [k for k, h in self.held.items()
                if h.users == 0 and k != spare and not h.borrowed]
        return min(idle, key=lambda k: self.held[k].used) if idle else None

    def _cells(self) -> int:
        """KV cells in use or reserved (unified cache): histories, the budgets of the requests
        in flight, and sequence 0 and the speakers' histories of the one-at-a-time path."""
        return (int(sum(len(h.tokens) for h in self.held.values() if not h.borrowed))
                + sum(s.budget for s in self.active)
                + self.b.llm.n_tokens + self.b._slots.held_cells())

    def _admit(self) -> None:
        """Start queued requests, in order, while sequences (and, in a unified KV cache, cells)
        are free; the first one that must wait stops admission (requests keep their order)."""
        unified = getattr(self.b, "kv_unified", True)
        n_ctx = self.b.opts.n_ctx
        while len(self.active) < self.b.n_parallel:
            with self.cond:
                if not self.queue:
                    return
                req = self.queue[0]
            hist = self.held.get(req.key) if req.key is not None else None
            in_place = hist is not None and req.keep and hist.users == 0
            n = min(lcp(hist.tokens, req.toks), len(req.toks) - 1) if hist is not None else 0
            # KV cells it may take: in place, the history's cells move to it
            budget = len(req.toks) + req.max_tokens - (0 if in_place else n)
            moved = len(hist.tokens) if in_place else 0
            if unified and not self.b.fit_parallel and req.kind != "evaluate":
                # an explicit n_parallel: n_parallel sequences like this one must fit at once
                own = len(req.toks) - n + req.max_tokens
                need = n + self.b.n_parallel * own
                if need > n_ctx:
                    raise BackendError(
                        f"model {self.b.entry.name}: {self.b.n_parallel} parallel sequences "
                        f"need {need} KV cells (shared prefix {n} + per sequence prompt and "
                        f"max_tokens={req.max_tokens}) but n_ctx={n_ctx}; lower n_parallel or "
                        "max_tokens, or raise n_ctx")
            while unified and self._cells() - moved + budget > n_ctx:
                old = self._idle_lru(req.key)
                if old is None:
                    self.b._slots.clear()  # the one-at-a-time path's speakers, if any
                    break
                self._drop(old)
            over = unified and self._cells() - moved + budget > n_ctx
            if over and self.active:
                return  # wait for sequences in flight to finish
            if over:
                raise BackendError(
                    f"model {self.b.entry.name}: a request needs {budget} KV cells (prompt "
                    f"{len(req.toks)} tokens, {n} reused, max_tokens={req.max_tokens}) beside "
                    f"{self._cells()} held, but n_ctx={n_ctx}; raise n_ctx or lower max_tokens")
            if not in_place and not self.free:
                old = self._idle_lru(req.key)
                if old is None:
                    return
                self._drop(old)
            with self.cond:
                self.queue.popleft()
            self._start(req, hist, in_place, n, budget)

    def _start(self, req: Request, hist: _History | None, in_place: bool, n: int,
               budget: int) -> None:
        lib, mem = self.b._lib, self.b.llm._ctx.memory
        self._clock += 1
        if in_place:
            seq = hist.seq
            del self.held[req.key]
            self._rm(seq, n)
        else:
            seq = self.free.pop(0)
            self._rm(seq)
            if hist is not None and n > 0:
                # a copy of the history, cut to what the prompt shares (a copy between KV
                # streams must take the whole sequence)
                lib.llama_memory_seq_cp(mem, hist.seq, seq, -1, -1)
                self._rm(seq, n)
                hist.users += 1
                hist.used = self._clock
            else:
                n = 0
        sampler = None
        if req.kind == "generate" and _plain_greedy(req.sampling):
            sampler = GREEDY
        elif req.kind == "generate":
            sampler = _sampler(lib._internals, self.b.n_vocab, self.b.llm.last_n_tokens_size,
                               req.sampling, req.seed % (2**31))
        self.active.append(_Slot(req, seq, list(req.toks[n:]), n, list(req.toks[:n]), budget,
                                 sampler, hist if (hist is not None and not in_place and n > 0)
                                 else None))

    def _groups(self) -> list[list[_Slot]]:
        """The sequences of each ``llama_decode`` of the next step. With isolated prompts (a
        CPU's KV stream per sequence) each prompt part is evaluated in a call of its own, in
        the chunks one-at-a-time evaluation uses, then the generating sequences decode together:
        a token's computation has the shapes it has alone but for the decode batch, so replies
        equal one-at-a-time replies. Otherwise (a GPU's unified cache) prompt parts share the
        generating sequences' batches."""
        if not self.isolate_prompts:
            return [self.active]
        generating = [s for s in self.active if s.out]
        return [*([s] for s in self.active if not s.out), *([generating] if generating else [])]

    def _step(self) -> None:
        for group in self._groups():
            self._decode(group)

    def _decode(self, group: list[_Slot]) -> None:
        b = self.b
        lib, llm, entry = b._lib, b.llm, b.entry
        batch = b._pbatch.batch
        t0 = time.perf_counter()
        want, n_prompt = _fill(batch, group, b.opts.n_batch)
        n_batch_tokens, n_active = batch.n_tokens, len(self.active)
        rc = lib.llama_decode(llm._ctx.ctx, batch)
        if rc != 0:
            raise BackendError(f"model {entry.name}: llama_decode of {n_batch_tokens} tokens "
                               f"in {n_active} parallel sequences failed (code {rc}); lower "
                               "n_parallel or raise n_ctx")
        b.n_evaluated += n_prompt
        vocab = llm._model.vocab
        greedy = self._argmax(want, [s for s in group if s.sampler is GREEDY and s.seq in want])
        done: list[tuple[_Slot, Any]] = []
        for s in group:
            if s.seq not in want:
                continue
            req = s.req
            if s.sampler is None:  # score or evaluate only
                done.append((s, b._logits_at(want[s.seq]) if req.kind == "score" else None))
                continue
            tok = greedy[s.seq] if s.sampler is GREEDY else s.sampler.sample(llm._ctx,
                                                                              want[s.seq])
            eog = lib.llama_vocab_is_eog(vocab, tok)
            if not eog:
                s.out.append(tok)
                s.pending = [tok]
                if req.stop:
                    piece = llm.detokenize([tok]).decode("utf-8", errors="ignore")
                    s.tail = (s.tail + piece)[-64:]
                    eog = any(x in s.tail for x in req.stop)
                if req.tracker is not None and req.tracker.feed(b.piece(tok)):
                    eog = True
            if eog or len(s.out) >= req.max_tokens:
                done.append((s, None))
        for s, logits in done:
            self._finish(s, logits)
        kinds = ["decode" if n_prompt == 0 else "prompt"]
        if n_prompt == 0 and n_batch_tokens == b.n_parallel:
            kinds.append("full_decode")
        st = self.stats
        for kind in kinds:
            st[f"{kind}_steps"] = st.get(f"{kind}_steps", 0) + 1
            st[f"{kind}_tokens"] = st.get(f"{kind}_tokens", 0) + n_batch_tokens
            st[f"{kind}_seconds"] = st.get(f"{kind}_seconds", 0.0) + time.perf_counter() - t0

    def _argmax(self, want: dict[int, int], seqs: list[_Slot]) -> dict[int, int]:
        """The greedy next token of each of ``seqs``: their logits rows (the decode's outputs
        are in batch order, one per entry of ``want``) in one argmax."""
        if not seqs:
            return {}
        b = self.b
        order = sorted(want.values())
        ptr = b._lib.llama_get_logits(b.llm._ctx.ctx)
        rows = np.ctypeslib.as_array(ptr, shape=(len(order), b.n_vocab))
        pick = [order.index(want[s.seq]) for s in seqs]
        toks = np.argmax(rows[pick], axis=1)
        return {s.seq: int(t) for s, t in zip(seqs, toks, strict=True)}

    def _finish(self, s: _Slot, logits: Any) -> None:
        b, req = self.b, s.req
        self.active.remove(s)
        if s.source is not None:
            s.source.users -= 1
        if req.keep and req.key is not None:
            if req.key in self.held:  # a history made meanwhile by another request
                self._drop(req.key)
            self._clock += 1
            self.held[req.key] = _History(s.seq, np.asarray(s.evaluated, dtype=np.int64),
                                          used=self._clock)
        else:
            self._free(s.seq)
        if req.counted:
            b.n_prompt_tokens += len(req.toks)
        if s.sampler is not None:
            if s.sampler is not GREEDY:
                s.sampler.close()
            b.n_generated += len(s.out)
            if req.tracker is not None:
                result: Any = b.reasoned(req.tracker, s.out, req.toks, len(s.out))
                b.n_reasoning += result.reasoning_tokens
            else:
                text = b.llm.detokenize(s.out, prev_tokens=req.toks).decode("utf-8",
                                                                             errors="ignore")
                result = Generation(text=text, prompt_tokens=len(req.toks),
                                    completion_tokens=len(s.out))
        else:
            result = logits
        req.future.set_result(result)
