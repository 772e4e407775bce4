"""The cost of a run, before any model loads (``stickrole plan PARAMS.yaml``).

For each model and chunk: units, items, and the tokens the run will present, evaluate and
generate, with an ETA from the throughput an earlier session of the same run directory measured
(its manifest's ``usage``). The token counts are tokenizer-free estimates (characters / 4, plus
4 tokens per message for the chat template) of the prompts the run really builds: every unit of
:func:`~stickrole_utils.generation.plan.plan_units` is walked through
:func:`~stickrole_utils.generation.administer.administer_unit` with a stand-in model
(:class:`CostEstimator`) that records each prompt and answers with a reply as long as the
reply budget. So the estimate follows the params (chunks, contexts, items, mode, conversation
length, SVS dialogue, prompt wording), and generated tokens are upper bounds:

* a conversation turn: ``conversation.max_tokens`` (256 where unset);
* an item in ``direct`` or ``cot`` mode: ``answer.max_tokens`` (default 10 and 2000);
* an item in ``logprob`` mode: none (one forward pass scores the letters);
* before each reply of a reasoning model (its backend's ``reasoning_budget``): its reasoning,
  at most the ``reasoning_budget``; once an earlier session of the run directory has stored
  replies, the mean reasoning tokens it measured per conversation turn and per item instead
  (``reasoning_tokens`` of its turns and answer rows).

Evaluated tokens assume the prefix shared with the same speaker's previous prompt is not
computed again (an in-process model keeps each speaker's history in a KV sequence of its own;
llama-server and vLLM cache prompts too); a backend that computes no prompts (the dummy
baseline) evaluates nothing. See ``docs/method.md``, Protocol, for what a unit asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import ModelEntry, RunConfig, SamplingConfig
from ..design.prompts import Prompts
from ..io import read_json
from .administer import Unit, administer_unit
from .backends.base import (
    BackendBase,
    Generation,
    backend_class,
    estimate_prompt_tokens,
    model_options,
)
from .manifest import ManifestUsage
from .plan import model_run_dir, plan_units, preflight
from .store import RunStore, read_manifest

_TOTALS = ("units", "done", "items", "turns", "prompt_tokens", "evaluated_tokens",
           "generated_tokens", "reasoning_tokens", "remaining_work")

__all__ = [
    "UnitCost",
    "ChunkCost",
    "ModelPlan",
    "CostEstimator",
    "estimate_unit",
    "plan_model",
    "plan_run",
    "format_duration",
    "format_plan",
    "format_plan_total",
]

#: Reply budget of a chat call that sets no ``max_tokens`` (the in-process backend's default).
DEFAULT_MAX_TOKENS = 256
_OPTION_LINE = re.compile(r"^\(([A-Za-z])\) ", re.MULTILINE)
_CALIBRATE = "no throughput measured yet; run a short calibration (e.g. n_personas: 2)"


@dataclass(frozen=True)
class UnitCost:
    """Estimated tokens of one unit."""

    prompt_tokens: int
    evaluated_tokens: int
    generated_tokens: int
    longest_prompt: int
    turns: int = 0
    """Simulated conversation turns (after the opener)."""
    reasoning_tokens: int = 0
    """Of the generated tokens, those spent reasoning (a reasoning model)."""

    @property
    def work(self) -> int:
        """Tokens the model computes: evaluated + generated."""
        return self.evaluated_tokens + self.generated_tokens


@dataclass
class ChunkCost:
    """Estimated cost of one model's chunk (sums over its units)."""

    chunk: str
    units: int = 0
    done: int = 0
    items: int = 0
    turns: int = 0
    """Simulated conversation turns (model calls as persona or interlocutor)."""
    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    generated_tokens: int = 0
    reasoning_tokens: int = 0
    """Of the generated tokens, those spent reasoning."""
    remaining_work: int = 0
    """Evaluated + generated tokens of the units not done yet."""
    longest_prompt: int = 0

    def add(self, cost: UnitCost, n_items: int, done: bool) -> None:
        self.units += 1
        self.done += int(done)
        self.items += n_items
        self.turns += cost.turns
        self.prompt_tokens += cost.prompt_tokens
        self.evaluated_tokens += cost.evaluated_tokens
        self.generated_tokens += cost.generated_tokens
        self.reasoning_tokens += cost.reasoning_tokens
        self.remaining_work += 0 if done else cost.work
        self.longest_prompt = max(self.longest_prompt, cost.longest_prompt)


@dataclass
class ModelPlan:
    """One model's chunks, totals and measured throughput."""

    model: str
    backend: str
    mode: str
    n_ctx: int | None
    chunks: list[ChunkCost] = field(default_factory=list)
    tokens_per_second: float | None = None
    """(evaluated + generated) tokens per second measured by an earlier session, if any."""
    reasoning: tuple[float, float] = (0.0, 0.0)
    """Reasoning tokens assumed before each conversation turn and each item reply (0, 0: the
    model does not reason)."""
    reasoning_measured: bool = False
    """Whether :attr:`reasoning` are means an earlier session measured (else the budget, an
    upper bound)."""

    @property
    def total(self) -> ChunkCost:
        out = ChunkCost("total")
        for c in self.chunks:
            for name in _TOTALS:
                setattr(out, name, getattr(out, name) + getattr(c, name))
            out.longest_prompt = max(out.longest_prompt, c.longest_prompt)
        return out

    def eta_seconds(self, cost: ChunkCost) -> float | None:
        """Seconds the not-done units of ``cost`` take at the measured throughput."""
        if self.tokens_per_second is None:
            return None
        return cost.remaining_work / self.tokens_per_second


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix of ``a`` and ``b`` (binary search over slice comparisons).

    >>> _common_prefix("persona: Ann. Q1", "persona: Ann. Q2"), _common_prefix("", "x")
    (15, 0)
    """
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class CostEstimator(BackendBase):
    """A stand-in model that counts tokenizer-free estimates of the prompts it is given.

    Every chat reply is as long as its budget (``max_tokens``, :data:`DEFAULT_MAX_TOKENS`
    where unset); a question listing lettered options is answered ``(A)`` (after filler of the
    same budget in a reasoning reply). A reasoning model reasons ``reasoning`` tokens (before a
    conversation turn, before an item's reply) first, which no later prompt holds. Evaluated
    tokens leave out the share of a prompt's characters that repeat the start of the same
    speaker's previous prompt and reply (a cached prefix, kept per speaker as the in-process
    backend does).
    """

    def __init__(self, reasoning: tuple[float, float] = (0.0, 0.0)) -> None:
        self.reasoning = reasoning
        self.prompt_tokens = 0
        self.evaluated_tokens = 0
        self.generated_tokens = 0
        self.reasoning_tokens = 0.0
        self.longest_prompt = 0
        self._cached = ""
        self._speaker = ""
        self._histories: dict[str, str] = {}

    def speak_as(self, speaker: str) -> None:
        """Each speaker continues its own cached history (the in-process backend keeps one KV
        sequence per speaker; vLLM's prefix cache keeps every prefix)."""
        self._histories[self._speaker] = self._cached
        self._speaker = speaker
        self._cached = self._histories.get(speaker, "")

    def _present(self, messages: list[dict[str, str]], suffix: str = "") -> str:
        text = "".join(f"\x1e{m['role']}\x1f{m['content']}" for m in messages) + "\x1e" + suffix
        n = estimate_prompt_tokens(messages, suffix)
        common = _common_prefix(text, self._cached)
        self.prompt_tokens += n
        self.evaluated_tokens += max(1, round(n * (len(text) - common) / len(text)))
        self.longest_prompt = max(self.longest_prompt, n)
        return text

    def chat(self, messages: list[dict[str, str]], sampling: SamplingConfig,
             seed: int) -> Generation:
        budget = (sampling.max_tokens if sampling is not None and sampling.max_tokens
                  else DEFAULT_MAX_TOKENS)
        text = self._present(messages)
        item = bool(_OPTION_LINE.search(messages[-1]["content"] if messages else ""))
        if item:
            reply = "Answer: (A)" if budget <= 16 else "x" * (4 * budget - 12) + " Answer: (A)"
        else:
            reply = "x" * (4 * budget)
        self._cached = text + reply
        reasoning = self.reasoning[1 if item else 0]
        self.reasoning_tokens += reasoning
        self.generated_tokens += budget
        return Generation(text=reply)

    def option_logprobs(self, prompts: list[list[dict[str, str]]], letters: list[list[str]],
                        answer_prefix: str, seeds: list[int]) -> list[np.ndarray]:
        out = []
        for messages, lets in zip(prompts, letters, strict=True):
            self._cached = self._present(messages, answer_prefix)
            p = np.full(len(lets), 1e-3)
            p[0] = 1.0
            out.append(np.log(p / p.sum()))
        return out

    def info(self) -> dict[str, Any]:
        return {"backend": "cost-estimator"}

    def close(self) -> None:
        return None


def estimate_unit(unit: Unit, cfg: RunConfig, mode: str, placement: str,
                  prompts: Prompts, reasoning: tuple[float, float] = (0.0, 0.0)) -> UnitCost:
    """Estimated tokens of one unit, from the prompts administering it builds; ``reasoning``:
    the reasoning tokens before each conversation turn and each item reply."""
    model = CostEstimator(reasoning if mode != "logprob" else (reasoning[0], 0.0))
    gen = cfg.generation.model_copy(update={"on_context_overflow": "skip"})
    result = administer_unit(model, unit, gen, prompts, mode, placement)
    turns = max(0, len(result.conversation["conversation"]) - 1)
    n_reasoning = round(model.reasoning_tokens)
    return UnitCost(model.prompt_tokens, model.evaluated_tokens,
                    model.generated_tokens + n_reasoning, model.longest_prompt, turns,
                    n_reasoning)


def _placement(cfg: RunConfig) -> str:
    # the model's chat template decides "auto"; a plan assumes it takes a system turn
    return "user" if cfg.generation.system_role == "user" else "system"


def _measured(entry_dir: Any) -> float | None:
    usage = read_manifest(entry_dir).get("usage")
    return ManifestUsage.model_validate(usage).tokens_per_second() if usage else None


def _measured_reasoning(store: RunStore) -> tuple[float | None, float | None]:
    """Mean reasoning tokens per conversation turn and per generated item reply that an
    earlier session stored in this run directory (``None`` where it stored none)."""
    files = store.part_files()
    if not files:
        return None, None
    answers = store.read_parts()
    asked = answers[(answers["mode"] != "logprob") & (answers["error"].fillna("") == "")]
    per_item = (float(asked["reasoning_tokens"].fillna(0).mean())
                if "reasoning_tokens" in asked and len(asked) else None)
    turns = []
    for f in files:
        conv = f.with_suffix(".json")
        if conv.is_file():
            record = read_json(conv, "conversation part")
            turns += [int(t.get("reasoning_tokens") or 0)
                      for t in (record.get("conversation") or [])[1:]]
    return (sum(turns) / len(turns) if turns else None), per_item


def _reasoning(entry: ModelEntry, store: RunStore) -> tuple[tuple[float, float], bool]:
    """Reasoning tokens before each turn and each item reply of ``entry``'s model, and whether
    they were measured: 0 for a model that does not reason (its backend's
    ``reasoning_budget``), else an earlier session's means where there are some, else the
    budget (an upper bound)."""
    budget = backend_class(entry.backend).reasoning_budget(entry, model_options(entry))
    if not budget:
        return (0.0, 0.0), False
    turn, item = _measured_reasoning(store)
    measured = (float(budget) if turn is None else turn, float(budget) if item is None else item)
    return measured, turn is not None or item is not None


def plan_model(cfg: RunConfig, entry: ModelEntry,
               cache: dict[tuple, UnitCost] | None = None) -> ModelPlan:
    """The chunks of one model with their estimated tokens, and its measured throughput.

    ``cache`` (keyed by mode, chunk, persona, questionnaire and the reasoning assumed) lets
    models with the same mode share the walk through the protocol.
    """
    cache = {} if cache is None else cache
    mode = entry.mode or cfg.generation.mode
    prompts = Prompts.for_generation(cfg.generation)
    run_dir = model_run_dir(cfg, entry)
    store = RunStore(run_dir)
    cls = backend_class(entry.backend)
    reasoning, measured = _reasoning(entry, store)
    plan = ModelPlan(model=entry.name, backend=entry.backend, mode=mode,
                     n_ctx=cls.context_window(model_options(entry)),
                     tokens_per_second=_measured(run_dir), reasoning=reasoning,
                     reasoning_measured=measured)
    by_chunk: dict[str, ChunkCost] = {}
    for unit in plan_units(cfg, entry.name):
        key = (mode, unit.chunk.label, unit.persona.id, unit.bank.name, *reasoning)
        if key not in cache:
            cache[key] = estimate_unit(unit, cfg, mode, _placement(cfg), prompts, reasoning)
        cost = cache[key]
        if not cls.evaluates_prompts:
            cost = UnitCost(cost.prompt_tokens, 0, cost.generated_tokens, cost.longest_prompt,
                            cost.turns, cost.reasoning_tokens)
        done = store.is_done((entry.name, *key[1:4]))
        by_chunk.setdefault(unit.chunk.label, ChunkCost(unit.chunk.label)).add(
            cost, len(unit.items), done)
    plan.chunks = list(by_chunk.values())
    return plan


def plan_run(cfg: RunConfig, entries: list[ModelEntry] | None = None) -> list[ModelPlan]:
    """:func:`plan_model` for each model (default: all of the params), after the checks
    ``stickrole generate`` makes before loading a model (:func:`~.plan.preflight`).

    Raises
    ------
    ConfigError, DataError
        What ``generate`` would stop on: a missing corpus, an unreadable earlier manifest, ...
    """
    entries = list(cfg.models) if entries is None else entries
    preflight(cfg, entries)
    cache: dict[tuple, UnitCost] = {}
    return [plan_model(cfg, e, cache) for e in entries]


def format_duration(seconds: float) -> str:
    """A duration for people.

    >>> [format_duration(s) for s in (4.2, 95, 7200, 3 * 86400)]
    ['4s', '1.6m', '2.0h', '3.0d']
    """
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


_HEAD = ("chunk", "units", "done", "items", "turns", "prompt tok", "evaluated tok",
         "generated tok", "longest prompt", "ETA")


def _reasons(plan: ModelPlan) -> bool:
    return any(plan.reasoning)


def _head(plan: ModelPlan) -> list[str]:
    head = list(_HEAD)
    if _reasons(plan):  # generated tokens, then how many of them are reasoning
        head.insert(head.index("generated tok") + 1, "reasoning tok")
    return head


def _row(plan: ModelPlan, c: ChunkCost) -> list[str]:
    eta = plan.eta_seconds(c)
    row = [c.chunk, f"{c.units:,}", f"{c.done:,}", f"{c.items:,}", f"{c.turns:,}",
           f"{c.prompt_tokens:,}",
           f"{c.evaluated_tokens:,}", f"{c.generated_tokens:,}", f"{c.longest_prompt:,}",
           "-" if eta is None else format_duration(eta)]
    if _reasons(plan):
        row.insert(_HEAD.index("generated tok") + 1, f"{c.reasoning_tokens:,}")
    return row


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                             for i, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]


def format_plan(cfg: RunConfig, plans: list[ModelPlan]) -> str:
    """The plan as text: a table per model (one row per chunk and a total), then how its ETA
    was obtained."""
    lines = [f"plan of run {cfg.run} ({cfg.source or 'params'}): {len(plans)} model(s)",
             "tokens are tokenizer-free estimates (characters / 4, plus 4 per message); "
             "generated tokens are upper bounds (the max_tokens budgets); evaluated tokens "
             "assume the prefix shared with the same speaker's previous prompt is cached",
             ""]
    for plan in plans:
        lines.append(f"model {plan.model} ({plan.backend}, mode {plan.mode})")
        lines += _table([_head(plan), *(_row(plan, c) for c in plan.chunks),
                         _row(plan, plan.total)])
        if _reasons(plan):
            turn, item = plan.reasoning
            how = ("means measured by an earlier session of this run" if plan.reasoning_measured
                   else "its reasoning_budget, an upper bound")
            lines.append(f"  reasoning tokens (part of generated): {turn:,.0f} per conversation "
                         f"turn, {item:,.0f} per item reply ({how})")
        if plan.tokens_per_second is None:
            lines.append(f"  ETA: {_CALIBRATE}")
        else:
            eta = plan.eta_seconds(plan.total) or 0.0
            lines.append(f"  ETA {format_duration(eta)} for the units not done, at "
                         f"{plan.tokens_per_second:,.0f} tokens/s (evaluated + generated) "
                         "measured by an earlier session of this run (manifest usage)")
        longest = plan.total.longest_prompt
        if plan.n_ctx is not None and longest > plan.n_ctx:
            lines.append(f"  warning: the longest prompt (~{longest:,} tokens) exceeds n_ctx="
                         f"{plan.n_ctx}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def format_plan_total(points: list[tuple[str, list[ModelPlan]]]) -> str:
    """The total over the grid points of an experiment (``points``: each point's label and
    plans): units, items, turns and tokens per model, and for all models together."""
    totals: dict[str, ChunkCost] = {}
    for _, plans in points:
        for plan in plans:
            t = plan.total
            acc = totals.setdefault(plan.model, ChunkCost(plan.model))
            for name in _TOTALS:
                setattr(acc, name, getattr(acc, name) + getattr(t, name))
            acc.longest_prompt = max(acc.longest_prompt, t.longest_prompt)
    everything = ChunkCost("all models")
    for acc in totals.values():
        for name in _TOTALS:
            setattr(everything, name, getattr(everything, name) + getattr(acc, name))
        everything.longest_prompt = max(everything.longest_prompt, acc.longest_prompt)
    head = ["model", *_HEAD[1:-2], "reasoning tok", _HEAD[-2]]

    def row(c: ChunkCost) -> list[str]:
        return [c.chunk, f"{c.units:,}", f"{c.done:,}", f"{c.items:,}", f"{c.turns:,}",
                f"{c.prompt_tokens:,}", f"{c.evaluated_tokens:,}", f"{c.generated_tokens:,}",
                f"{c.reasoning_tokens:,}", f"{c.longest_prompt:,}"]

    lines = [f"total over {len(points)} grid points"]
    lines += _table([head, *(row(c) for c in totals.values()), row(everything)])
    return "\n".join(lines) + "\n"
