"""The llama.cpp backend: a GGUF model run in process by llama-cpp-python.

``LlamaCppBackend`` evaluates the prompt shared by consecutive calls once: before evaluating a
prompt it keeps the longest common token prefix already in the KV cache and evaluates only the
rest (``prefix_reuse=False`` re-evaluates every prompt from scratch, for benchmarks and checks);
each speaker named by :meth:`LlamaCppBackend.speak_as` keeps its history in a KV sequence of its
own (``llama_kv``), so a simulated conversation evaluates its context once per speaker.
With ``n_parallel > 1`` a batch engine (``llama_batch``) decodes many requests together:
:meth:`LlamaCppBackend.chat_many` and ``logprob`` scoring hand it one call's requests, and
:meth:`LlamaCppBackend.unit_view` gives each of several units administered side by side its
own view of the model (``llama_units``). llama-cpp-python is imported only when a backend
is built (:func:`llama_cpp_available` tells whether it can be). :meth:`LlamaCppBackend.usage`
counts from the evaluation itself: the prompt tokens presented, those actually evaluated (what
the cached prefix did not cover) and the tokens generated.

One concept (the in-process model, its chat template and its KV cache), hence one module of
~480 lines; batching lives in ``llama_batch`` and ``llama_units``, speakers' histories in
``llama_kv``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from typing import Any

import numpy as np

from ...config import ModelEntry, SamplingConfig
from ...errors import BackendError, ConfigError
from .base import (
    BackendBase,
    ContextOverflowError,
    Generation,
    Message,
    TokenUsage,
    model_options,
    register_backend,
)
from .embedded import (
    cached_sha256,
    check_gguf_file,
    check_model_ref,
    existing_model_path,
    gguf_string,
    resolve_model_path,
)
from .llama_batch import _DEFAULTS as _SAMPLER_DEFAULTS
from .llama_batch import BatchEngine
from .llama_kv import SpeakerSlots, lcp
from .llama_options import LlamaCppOptions, auto_n_parallel, resolve_kv_reuse
from .llama_units import UnitView, generate_batched, score_batched
from .reasoning import ReasoningPlan, ReasoningTracker, format_from_template, plan_reasoning
from .templates import STOP_STRINGS, cut_reply, labelled_prompt

__all__ = [
    "LlamaCppBackend",
    "llama_cpp_available",
]

_MAX_SEQ = 256  # llama.cpp's LLAMA_MAX_SEQ

_CUDA_FIX = ('CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir '
             "llama-cpp-python")


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    return m + float(np.log(np.sum(np.exp(x - m))))


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def llama_cpp_available() -> bool:
    """Whether llama-cpp-python can be imported."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise BackendError(f"llama-cpp-python is not installed ({exc}); install it with: pip "
                           f"install llama-cpp-python (for NVIDIA GPUs: {_CUDA_FIX})") from None
    return llama_cpp


def _named_formatter(llama_chat_format: Any, name: str) -> Any:
    for cand in (name.replace("-", "_"), name.replace("-", ""), name.replace(".", "_")):
        fn = getattr(llama_chat_format, f"format_{cand}", None)
        if callable(fn):
            return fn
    known = sorted(n.removeprefix("format_") for n in dir(llama_chat_format)
                   if n.startswith("format_"))
    raise ConfigError(f"chat_format {name!r} is not a llama-cpp-python chat format; known: "
                      f"{', '.join(known)}")


@register_backend("llama_cpp")
class LlamaCppBackend(BackendBase):
    """A GGUF model run in process by llama-cpp-python.

    Parameters
    ----------
    entry : ModelEntry
        The model entry; its options (:class:`~.llama_options.LlamaCppOptions`: path or package
        reference, n_gpu_layers, n_ctx, ...) complete (:func:`~.base.resolve_model`).
    prefix_reuse : bool
        Keep the KV cache of the longest common token prefix between consecutive prompts
        (default); ``False`` re-evaluates every prompt from its first token.
    speaker_slots : int, optional
        Speakers besides the current one whose history stays in a KV sequence of its own
        (:meth:`speak_as`); 0 keeps one shared sequence. Default: 0 with
        ``opts.kv_reuse: server`` (one sequence reused as llama-cpp-python's server reuses it),
        else 1 (persona and interlocutor).
    kv_unified : bool, optional
        One KV cache of ``n_ctx`` cells shared by all sequences (``True``), or a stream of
        ``n_ctx`` cells per sequence (``False``); default: unified on a GPU, per-sequence
        streams on a CPU.

    Raises
    ------
    BackendError
        llama-cpp-python missing, GPU offload asked for but unavailable (and ``allow_cpu``
        false), a file that is not GGUF or fails to load, no chat template and no
        ``chat_format`` (with ``template: chat``; ``template: labelled`` needs none).
    """

    Options = LlamaCppOptions
    identity_keys = ("backend", "gguf_sha256", "chat_format", "chat_template_sha256",
                     "llama_cpp_python", "offload", "reasoning")

    def __init__(self, entry: ModelEntry, prefix_reuse: bool = True,
                 speaker_slots: int | None = None, kv_unified: bool | None = None):
        super().__init__(entry)
        opts: LlamaCppOptions = self.opts  # type: ignore[assignment]
        llama_cpp = _import_llama()
        self._lib = llama_cpp
        self.prefix_reuse = prefix_reuse
        self.path = resolve_model_path(opts.model)
        check_gguf_file(self.path)
        self.offload_supported = bool(llama_cpp.llama_supports_gpu_offload())
        n_gpu_layers = opts.n_gpu_layers
        if n_gpu_layers != 0 and not self.offload_supported:
            if not opts.allow_cpu:
                raise BackendError(
                    f"model {entry.name}: n_gpu_layers={n_gpu_layers} asks for GPU offload but "
                    f"this llama-cpp-python build cannot offload; rebuild it with {_CUDA_FIX}, "
                    "or set allow_cpu: true (or n_gpu_layers: 0) to run on the CPU")
            n_gpu_layers = 0
        self.n_gpu_layers = n_gpu_layers
        kwargs: dict[str, Any] = dict(
            model_path=str(self.path), n_gpu_layers=n_gpu_layers, n_ctx=opts.n_ctx,
            n_batch=opts.n_batch, n_ubatch=opts.n_batch, seed=0, logits_all=False,
            verbose=False, swa_full=True,
        )
        if n_gpu_layers != 0:  # a model spread over the GPUs of its task (Ray sets which)
            kwargs["main_gpu"] = opts.main_gpu
            if opts.tensor_split:
                kwargs["tensor_split"] = list(opts.tensor_split)
        threads = opts.n_threads or _available_cpus()
        kwargs["n_threads"] = threads
        kwargs["n_threads_batch"] = threads
        try:
            self.llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendError(f"model {entry.name}: llama.cpp cannot load {self.path}: {exc} "
                               "(corrupt or unsupported GGUF, or not enough memory?)") from None
        # n_parallel auto: by device and answer mode (entry.mode, set by generation)
        self.fit_parallel = entry.n_parallel == "auto"
        self.n_parallel = (auto_n_parallel("gpu" if n_gpu_layers != 0 else "cpu",
                                           entry.mode or "cot")
                           if self.fit_parallel else int(entry.n_parallel))
        # a recurrent model's state cannot be cut back to a prefix, nor kept per speaker
        recurrent = bool(getattr(self.llm, "_is_recurrent", False)
                         or getattr(self.llm, "_is_hybrid", False))
        # CPU: a KV stream per sequence (sequence 0, the speakers' histories, the batch
        # engine's). In one unified cache every token attends over all sequences' cells
        # (masked): 16 sequences ran ~20 % slower, and the reduction over more cells rounds
        # differently, so greedy replies drifted from those of a stream (SmolLM2: 18 of 24
        # answers equal). With streams everywhere, any n_parallel gives the one-at-a-time
        # answers (24 of 24; docs/performance.md, Batched generation). Costs n_ctx cells per sequence, so
        # a GPU keeps the unified cache.
        self.kv_unified = kv_unified if kv_unified is not None else n_gpu_layers != 0
        self.kv_reuse = "server" if opts.kv_reuse == "server" else "speakers"
        if speaker_slots is None:
            speaker_slots = 0 if self.kv_reuse == "server" else 1
        self._slots = SpeakerSlots(self, 1,
                                   speaker_slots if prefix_reuse and not recurrent else 0)
        self.batch_stats: dict[str, float] = {}  # steps of the batch engine, for benchmarks
        self.engine: BatchEngine | None = None
        if self.n_parallel > 1 or self._slots.n_seq > 1:
            self._enable_parallel()
        self.n_vocab = int(self.llm.n_vocab())
        self._letter_ids: dict[str, list[int]] | None = None
        self.labelled = opts.template == "labelled"
        self.chat_template: str | None = None
        self._formatter, self.chat_format = ((None, "labelled") if self.labelled
                                             else self._make_formatter())
        #: the one place that knows this model's reasoning format and switch (its template's)
        self.reasoning: ReasoningPlan = plan_reasoning(opts, self.chat_template,
                                                       f"model {entry.name}")
        self._no_reasoning = dataclasses.replace(self.reasoning, mode="off")
        self.system_role_supported = self._probe_system_role()
        self.n_evaluated = 0
        self.n_prompt_tokens = 0
        self.n_generated = 0
        self.n_reasoning = 0
        self._eval_sizes: list[int] = []
        self._count_evals()

    # -- what the params alone decide ------------------------------------------------------

    @classmethod
    def check(cls, entry: ModelEntry, options: LlamaCppOptions,  # type: ignore[override]
              where: str) -> None:
        """The model file or package exists and is a GGUF; the options go together."""
        check_model_ref(options.model, where=f"{where}.model")
        if options.kv_reuse == "server" and entry.n_parallel not in (1, "auto"):
            raise ConfigError(f"{where}: kv_reuse server decodes one sequence at a time, as the server "
                              f"does; set n_parallel: 1 (or auto), or kv_reuse: speakers "
                              f"(n_parallel is {entry.n_parallel})")
        if options.template == "labelled" and options.chat_format:
            raise ConfigError(f"{where}: template labelled renders plain text and ignores chat_format "
                              f"{options.chat_format!r}; drop chat_format or use template: chat")

    @classmethod
    def for_run(cls, entry: ModelEntry, mode: str, parsing: str) -> ModelEntry:
        """``n_parallel: auto`` reads the answer mode (``entry.mode``); ``kv_reuse: auto``
        becomes :func:`~.llama_options.resolve_kv_reuse`'s choice (``server`` also sets
        ``n_parallel: auto`` to 1)."""
        entry = super().for_run(entry, mode, parsing)
        kv = resolve_kv_reuse(model_options(entry).kv_reuse, entry.n_parallel, parsing)
        update: dict[str, Any] = {"options": {**entry.options, "kv_reuse": kv}}
        if kv == "server" and entry.n_parallel == "auto":
            update["n_parallel"] = 1
        return entry.model_copy(update=update)

    @classmethod
    def gpus_needed(cls, entry: ModelEntry, options: LlamaCppOptions) -> float:  # type: ignore[override]
        """One GPU when layers are offloaded (``n_gpu_layers != 0``)."""
        return 1.0 if options.n_gpu_layers != 0 else 0.0

    @classmethod
    def cpus_needed(cls, entry: ModelEntry, options: LlamaCppOptions,  # type: ignore[override]
                    node_cpus: float) -> float | None:
        """Generating on the CPU: its threads' CPUs (spinning threads must not share cores)."""
        return min(float(options.n_threads or node_cpus), node_cpus) or 1.0

    @classmethod
    def context_window(cls, options: LlamaCppOptions) -> int | None:  # type: ignore[override]
        return options.n_ctx

    @classmethod
    def reasoning_budget(cls, entry: ModelEntry,  # type: ignore[override]
                         options: LlamaCppOptions) -> int:
        """``reasoning_budget`` unless the model does not reason: ``reasoning: off``, or ``auto``
        with no reasoning format named and none in the GGUF's chat template (read from the
        file's header; a file not there yet counts as not reasoning)."""
        if options.reasoning == "off" or options.reasoning_format == "none":
            return 0
        if options.reasoning == "on" or options.reasoning_format != "auto":
            return options.reasoning_budget
        if options.template == "labelled" or options.chat_format:
            return 0
        path = existing_model_path(options.model)
        template = gguf_string(path, "tokenizer.chat_template") if path else None
        return options.reasoning_budget if format_from_template(template) else 0

    def prepare(self, mode: str) -> None:
        """Before units run side by side in ``logprob`` mode: the vocabulary scan for the
        option letters, once."""
        if mode == "logprob":
            self.letter_token_ids("A")

    def _count_evals(self) -> None:
        """Record the size of every ``Llama.eval`` call: inside ``create_completion`` the first
        one is the part of the prompt the cached prefix did not cover, the later ones feed back
        generated tokens."""
        evaluate = self.llm.eval

        def counted(tokens: Any) -> Any:
            self._eval_sizes.append(len(tokens))
            return evaluate(tokens)

        self.llm.eval = counted

    def speak_as(self, speaker: str) -> None:
        """Name who speaks next (``persona``, ``interlocutor``): that speaker's history is
        brought into sequence 0, so the next prompt reuses what it shares with the speaker's
        own earlier prompts and replies, not with the other speaker's (``llama_kv``)."""
        self._slots.select(speaker)

    def make_room(self, need: int) -> None:
        """Drop kept speaker histories (least recently used first) until ``need`` more cells
        fit ``n_ctx`` beside them."""
        if self.kv_unified:  # otherwise every sequence has n_ctx cells of its own
            self._slots.make_room(need)

    def _enable_parallel(self) -> None:
        """Recreate the context with room for ``n_parallel`` extra sequences and the speakers'
        histories: in one unified KV cache (a prefix copy or a speaker swap relabels cells) or,
        with ``kv_unified`` off, in a stream of ``n_ctx`` cells each (copies copy streams)."""
        from llama_cpp import _internals

        llm = self.llm
        params = llm.context_params
        # sequence 0 (the Llama object's), the speakers' histories, then the engine's pool:
        # n_parallel in flight plus two histories for each of n_parallel units side by side
        first = 1 + self._slots.n_seq
        pool = 3 * self.n_parallel if self.n_parallel > 1 else 0
        params.n_seq_max = min(first + pool, _MAX_SEQ)
        params.kv_unified = self.kv_unified
        if not self.kv_unified:  # a stream of n_ctx cells per sequence
            params.n_ctx = self.opts.n_ctx * params.n_seq_max
        old = llm._ctx
        try:
            ctx = _internals.LlamaContext(model=llm._model, params=params, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"model {self.entry.name}: cannot create a context for "
                               f"n_parallel={self.n_parallel}: {exc}") from None
        llm._ctx = llm._stack.enter_context(contextlib.closing(ctx))
        old.close()
        # Llama tracks sequence 0 only: its kv_cache_seq_rm(-1, ...) must not cut the others
        seq_rm = ctx.kv_cache_seq_rm
        ctx.kv_cache_seq_rm = lambda seq_id, p0, p1: seq_rm(max(seq_id, 0), p0, p1)
        self._pbatch = llm._stack.enter_context(contextlib.closing(_internals.LlamaBatch(
            n_tokens=self.opts.n_batch, embd=0, n_seq_max=1, verbose=False)))
        if params.n_seq_max > first:
            self.engine = BatchEngine(self, list(range(first, params.n_seq_max)),
                                      self.batch_stats)

    @property
    def units_in_flight(self) -> int:
        """Units that generation may administer side by side through :meth:`unit_view`."""
        return self.n_parallel if self.engine is not None else 1

    def unit_view(self, unit: Any) -> UnitView:
        """The model as one of several units administered at once sees it (``llama_units``);
        the thread that generates serves ``self.engine``."""
        return UnitView(self, self.engine, unit)

    # -- templates -------------------------------------------------------------------------

    def _make_formatter(self) -> tuple[Any, str]:
        fmt = self._lib.llama_chat_format
        if self.opts.chat_format:
            return _named_formatter(fmt, self.opts.chat_format), self.opts.chat_format
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(
                f"model {self.entry.name}: {self.path.name} has no chat template in its GGUF "
                "metadata; set chat_format in params (e.g. chatml, gemma, llama-3, "
                "mistral-instruct) -- stickrole never guesses a template")
        model = self.llm._model
        eos_id, bos_id = model.token_eos(), model.token_bos()
        self.chat_template = template
        self.chat_template_sha256 = hashlib.sha256(template.encode()).hexdigest()
        formatter = fmt.Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=model.token_get_text(bos_id) if bos_id != -1 else "",
        )
        return formatter, "gguf"

    def render(self, messages: list[Message], reasoning: bool = True) -> tuple[str, bool]:
        """Prompt text for ``messages`` with the assistant turn opened; and whether the text
        already holds the special BOS token. A reasoning model's switch and its own earlier
        reasoning go to the template (which keeps or drops the reasoning); with ``reasoning``
        false the reply is to come without reasoning (``logprob`` scoring)."""
        plan = self.reasoning if reasoning else self._no_reasoning
        messages = plan.messages(messages)
        if self.labelled:
            return labelled_prompt(messages), False
        if self.chat_format != "gguf":
            # llama-cpp-python's named formatters treat "" like a missing message (they emit a
            # bare role header); a single space keeps an empty turn a turn
            messages = [{**m, "content": m["content"] or " "} for m in messages]
        try:
            res = self._formatter(messages=messages, **plan.template_kwargs())
        except Exception as exc:  # jinja raises arbitrary errors from raise_exception()
            raise BackendError(f"model {self.entry.name}: chat template rejected the messages: "
                               f"{exc}") from None
        return res.prompt + plan.prefill(res.prompt), bool(getattr(res, "added_special", False))

    def _probe_system_role(self) -> bool:
        marker = "stickrole-system-probe"
        try:
            prompt, _ = self.render([{"role": "system", "content": marker},
                                     {"role": "user", "content": "hi"}])
        except BackendError:
            return False
        return marker in prompt

    def tokens(self, messages: list[Message], suffix: str = "") -> list[int]:
        """Token ids of the rendered chat (plus ``suffix`` after the assistant-turn opener: the
        answer prefix of ``logprob`` scoring, which a reasoning model reaches with its reasoning
        turned off). A labelled transcript is plain text: special-token markup in it stays
        text."""
        return self.prompt(messages, suffix)[0]

    def prompt(self, messages: list[Message], suffix: str = "") -> tuple[list[int], bool]:
        """:meth:`tokens`, and whether the prompt ends inside an opened reasoning block (the
        reply then starts with reasoning)."""
        if self.labelled:
            text = labelled_prompt(self.reasoning.messages(messages), suffix)
            return (self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False),
                    self.reasoning.opened(text))
        prompt, added = self.render(messages, reasoning=not suffix)
        return (self.llm.tokenize((prompt + suffix).encode("utf-8"), add_bos=not added,
                                  special=True), self.reasoning.opened(prompt + suffix))

    def tracker(self, opened: bool, reply_budget: int) -> ReasoningTracker | None:
        """A fresh :class:`~.reasoning.ReasoningTracker` for a reply of a reasoning model (its
        reasoning and reply budgets kept apart), or ``None`` for a model that does not reason."""
        plan = self.reasoning
        if plan.fmt is None:
            return None
        return ReasoningTracker(plan.fmt, plan.budget, reply_budget, opened=opened,
                                expected=plan.expected)

    def piece(self, token: int) -> str:
        """The text of one generated token, special tokens rendered (reasoning markers)."""
        return self.llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def reasoned(self, tracker: ReasoningTracker, tokens: list[int], prompt: list[int],
                 completion_tokens: int) -> Generation:
        """The :class:`~.base.Generation` of a reasoning model's reply ``tokens``: split into
        reasoning and reply, the reasoning's tokens counted."""
        text = self.llm.detokenize(tokens, prev_tokens=prompt, special=True).decode(
            "utf-8", errors="ignore")
        split = tracker.split(text)
        return Generation(text=split.reply, prompt_tokens=len(prompt),
                          completion_tokens=completion_tokens, reasoning=split.reasoning,
                          reasoning_status=split.status,
                          reasoning_tokens=min(tracker.reasoning_tokens, completion_tokens))

    # -- evaluation ------------------------------------------------------------------------

    def _check_fits(self, n_prompt: int, n_reply: int) -> None:
        if n_prompt + n_reply > self.opts.n_ctx:
            raise ContextOverflowError(
                f"prompt of {n_prompt} tokens + {n_reply} reply tokens exceeds n_ctx="
                f"{self.opts.n_ctx} of model {self.entry.name}; raise n_ctx or shorten the "
                "context")

    def _to_seq0(self, tokens: list[int], reuse: bool, last: bool) -> None:
        """Make sequence 0 of the KV cache hold ``tokens``, keeping the prefix it already shares
        with them (when ``reuse``); with ``last`` the final token is evaluated in any case (its
        logits are wanted)."""
        llm = self.llm
        n_past = 0
        if reuse and llm.n_tokens > 0:
            n_past = lcp(llm.input_ids[: llm.n_tokens], tokens)
            if last:
                n_past = min(n_past, len(tokens) - 1)
            if n_past > 0 and not llm._ctx.kv_cache_seq_rm(0, n_past, -1):
                n_past = 0
        if n_past == 0:
            llm.reset()
        llm.n_tokens = n_past
        if n_past < len(tokens):
            self.make_room(len(tokens))
            llm.eval(tokens[n_past:])
            self.n_evaluated += len(tokens) - n_past

    def next_logits(self, tokens: list[int], reuse: bool | None = None) -> np.ndarray:
        """Logits of the token after ``tokens``, keeping the cached common prefix if allowed."""
        self._to_seq0(tokens, self.prefix_reuse if reuse is None else reuse, last=True)
        self.n_prompt_tokens += len(tokens)
        return self._logits_at(-1)

    def _logits_at(self, idx: int) -> np.ndarray:
        ptr = self._lib.llama_get_logits_ith(self.llm._ctx.ctx, idx)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)

    def _hold_prefix(self, prefix: list[int]) -> None:
        """Make sequence 0 of the KV cache hold exactly ``prefix`` (reusing what it shares)."""
        self._to_seq0(prefix, True, last=False)

    def letter_token_ids(self, letter: str) -> list[int]:
        """Vocabulary ids whose text is exactly ``letter`` (scanned once per model)."""
        if self._letter_ids is None:
            wanted = {c.encode(): c for c in
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"}
            ids: dict[str, list[int]] = {c: [] for c in wanted.values()}
            for tid in range(self.n_vocab):
                piece = self.llm.detokenize([tid])
                if piece in wanted:
                    ids[wanted[piece]].append(tid)
            self._letter_ids = ids
        ids_for = self._letter_ids.get(letter, [])
        if not ids_for:
            raise BackendError(f"model {self.entry.name}: no vocabulary token spells {letter!r}")
        return ids_for

    def option_logprobs(self, prompts: list[list[Message]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int] | None = None) -> list[np.ndarray]:
        """log P(letter) after ``prompt + answer_prefix`` for each prompt: the full-vocabulary
        log-softmax, summed (logsumexp) over the tokens that spell the letter."""
        toks = [self.tokens(m, suffix=answer_prefix) for m in prompts]
        for t in toks:
            self._check_fits(len(t), 1)
        room = max(len(t) for t in toks) + self.opts.n_batch <= self.opts.n_ctx
        if (self.engine is not None and self.n_parallel > 1 and len(toks) > 1
                and self.prefix_reuse and room):
            all_logits = score_batched(self, toks)
        else:
            all_logits = [self.next_logits(t) for t in toks]
        return [self.letter_logprobs(x, lets) for x, lets in zip(all_logits, letters, strict=True)]

    def letter_logprobs(self, logits: np.ndarray, lets: list[str]) -> np.ndarray:
        """log P(letter) from next-token ``logits``: the full-vocabulary log-softmax, summed
        (logsumexp) over the tokens that spell each letter."""
        logp = logits - _logsumexp(logits)
        return np.array([_logsumexp(logp[self.letter_token_ids(x)]) for x in lets])

    def chat(self, messages: list[Message], sampling: SamplingConfig, seed: int) -> Generation:
        toks, opened = self.prompt(messages)
        max_tokens = sampling.max_tokens or 256
        tracker = self.tracker(opened, max_tokens)
        if tracker is not None:
            return self._chat_reasoning(toks, sampling, seed, tracker)
        self._check_fits(len(toks), max_tokens)
        kwargs: dict[str, Any] = {"temperature": sampling.temperature}
        for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k"), ("min_p", "min_p"),
                             ("repeat_penalty", "repeat_penalty")):
            if getattr(sampling, ours) is not None:
                kwargs[theirs] = getattr(sampling, ours)
        if not self.prefix_reuse:
            self.llm.reset()
        self.make_room(len(toks) + max_tokens)
        self._eval_sizes.clear()
        if self.labelled:  # the reply ends where the model starts the next labelled turn
            kwargs["stop"] = list(STOP_STRINGS)
        out = self.llm.create_completion(prompt=toks, max_tokens=max_tokens,
                                         seed=seed % (2**31), **kwargs)
        usage = out.get("usage", {})
        gen = Generation(text=out["choices"][0]["text"],
                         prompt_tokens=int(usage.get("prompt_tokens", len(toks))),
                         completion_tokens=int(usage.get("completion_tokens", 0)))
        self.n_prompt_tokens += len(toks)
        self.n_evaluated += self._eval_sizes[0] if self._eval_sizes else 0
        self.n_generated += gen.completion_tokens
        return gen

    def _chat_reasoning(self, toks: list[int], sampling: SamplingConfig, seed: int,
                        tracker: ReasoningTracker) -> Generation:
        """A reasoning model's reply, token by token as ``create_completion`` samples it (same
        sampler, seed and prefix reuse) so that the reasoning and the reply each stop at their
        own budget (:class:`~.reasoning.ReasoningTracker`)."""
        max_tokens = tracker.max_tokens
        self._check_fits(len(toks), max_tokens)
        opts = {k: getattr(sampling, k) if getattr(sampling, k) is not None else v
                for k, v in _SAMPLER_DEFAULTS.items()}
        llm = self.llm
        if not self.prefix_reuse:
            llm.reset()
        self.make_room(len(toks) + max_tokens)
        self._eval_sizes.clear()
        llm.set_seed(seed % (2**31))
        out: list[int] = []
        tail = ""
        vocab = llm._model.vocab
        for tok in llm.generate(toks, top_k=opts["top_k"], top_p=opts["top_p"],
                                min_p=opts["min_p"], typical_p=1.0, temp=sampling.temperature,
                                repeat_penalty=opts["repeat_penalty"]):
            if self._lib.llama_vocab_is_eog(vocab, tok):
                break
            out.append(tok)
            piece = self.piece(tok)
            tail = (tail + piece)[-64:]
            if (tracker.feed(piece) or len(out) >= max_tokens
                    or (self.labelled and any(x in tail for x in STOP_STRINGS))):
                break
        gen = self.reasoned(tracker, out, toks, len(out))
        if self.labelled:  # as chat's stop strings: the text up to the next labelled turn
            gen = dataclasses.replace(gen, text=cut_reply(gen.text))
        self.n_prompt_tokens += len(toks)
        self.n_evaluated += self._eval_sizes[0] if self._eval_sizes else 0
        self.n_generated += len(out)
        self.n_reasoning += gen.reasoning_tokens
        return gen

    def chat_many(self, messages: list[list[Message]], sampling: SamplingConfig,
                  seeds: list[int]) -> list[Generation]:
        """Replies to independent chats, up to ``n_parallel`` decoded together sharing their
        common prompt prefix (one by one through :meth:`chat` when ``n_parallel`` is 1).

        Raises
        ------
        ContextOverflowError
            A prompt plus ``max_tokens`` does not fit ``n_ctx`` on its own.
        BackendError
            The sequences in flight together do not fit ``n_ctx``.
        """
        if self.engine is None or self.n_parallel <= 1 or len(messages) <= 1:
            return [self.chat(m, sampling, s) for m, s in zip(messages, seeds, strict=True)]
        prompts = [self.prompt(m) for m in messages]
        toks = [t for t, _ in prompts]
        max_tokens = sampling.max_tokens or 256
        trackers = [self.tracker(opened, max_tokens) for _, opened in prompts]
        budget = trackers[0].max_tokens if trackers[0] is not None else max_tokens
        for t in toks:
            self._check_fits(len(t), budget)
        gens = generate_batched(self, toks, sampling, list(seeds), max_tokens,
                                stop=STOP_STRINGS if self.labelled else (), trackers=trackers)
        if self.labelled:  # as chat's stop strings: the text up to the next labelled turn
            gens = [dataclasses.replace(g, text=cut_reply(g.text)) for g in gens]
        return gens

    def info(self) -> dict[str, Any]:
        return {
            "backend": "llama_cpp",
            "model_file": str(self.path),
            "model_file_name": self.path.name,
            "gguf_sha256": cached_sha256(self.path),
            "llama_cpp_python": getattr(self._lib, "__version__", "unknown"),
            "gpu_offload_supported": self.offload_supported,
            "n_gpu_layers": self.n_gpu_layers,
            "offload": self.n_gpu_layers != 0,
            "n_ctx": self.opts.n_ctx,
            "n_batch": self.opts.n_batch,
            "n_threads": self.llm.context_params.n_threads,
            "swa_full": True,
            "chat_format": self.chat_format,
            "template": self.opts.template,
            "chat_template_sha256": getattr(self, "chat_template_sha256", None),
            "reasoning": self.reasoning.info(),
            "system_role_supported": self.system_role_supported,
            "prefix_reuse": self.prefix_reuse,
            "n_parallel": self.n_parallel,
            "kv_unified": self.kv_unified,
            "speaker_slots": len(self._slots.free) + len(self._slots.where),
            "kv_reuse": self.kv_reuse,
            "sampler_defaults": {"top_p": 0.95, "top_k": 40, "min_p": 0.05,
                                 "repeat_penalty": 1.0},
        }

    def usage(self) -> TokenUsage:
        """Prompt tokens presented, prompt tokens evaluated (fewer where the KV cache held a
        common prefix), tokens generated and, of them, spent reasoning; since the backend was
        built."""
        return TokenUsage(self.n_prompt_tokens, self.n_evaluated, self.n_generated,
                          self.n_reasoning)

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None
