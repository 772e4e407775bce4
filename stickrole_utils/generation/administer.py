"""The protocol: simulate a conversation, then ask every item (``docs/method.md``, Protocol).

One *unit* is one (model, chunk, persona, questionnaire): the persona's conversation is simulated
once, then each item is asked on its own after that same conversation (PVQ-40, downstream
tasks), or the SVS-57 is run as the original's sequential dialogue. :func:`administer_unit`
returns the unit's answer rows and its conversation record; nothing here touches the disk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import ChunkSpec, GenerationConfig, SamplingConfig
from ..design.contexts import ChunkContext
from ..design.instruments import get_instrument
from ..design.itembank import ItemBank
from ..design.populations import Persona
from ..design.prompts import (
    Prompts,
    alternate_roles,
    format_options,
    item_message,
    letters,
    with_persona,
)
from ..errors import ConfigError
from ..schema import ANSWER_DTYPES
from .backends.base import REASONING_KEY, Backend, ContextOverflowError, Generation
from .backends.reasoning import reasoning_problem
from .parsing import parse_answer
from .permutations import call_seed

__all__ = [
    "ROW_COLUMNS",
    "Unit",
    "UnitResult",
    "Turn",
    "simulate_conversation",
    "simulate_turns",
    "administer_unit",
]

_log = logging.getLogger(__name__)
Message = dict[str, str]

#: Columns of a unit's rows (answers-table contract columns first), with dtypes.
ROW_COLUMNS: dict[str, str] = {
    **ANSWER_DTYPES,
    "seed": "string",  # permutation seed string of the chunk
    "option_order": "string",  # original option index (0-based) shown as A, B, ...
    "letter": "string", "parsed": "bool", "raw": "string",
    "mode": "string", "option_probs": "string",  # JSON list over letters A.. (logprob mode)
    "letter_mass": "float64",  # total probability of the option letters (logprob mode)
    "parse_reason": "string", "error": "string", "persona_index": "int64",
    "topic": "string",  # the chunk's conversation topic ("" when none): pairs downstream chunks
    "reasoning": "string",  # a reasoning model's reasoning before its reply (never parsed)
    "reasoning_tokens": "int64",  # tokens it spent on it (0: none)
}

#: Characters of a reply the original reads after a reasoning model's reasoning (10 tokens x 4).
_ORIGINAL_REPLY_CHARS = 40


@dataclass(frozen=True)
class Unit:
    """What is needed to administer one (chunk, persona, questionnaire)."""

    model: str
    chunk: ChunkSpec
    persona: Persona
    persona_index: int
    context: ChunkContext
    bank: ItemBank
    items: tuple[int, ...]
    permutations: dict[int, tuple[int, ...]]


@dataclass
class UnitResult:
    """A unit's answer rows (:data:`ROW_COLUMNS`) and its conversation record."""

    rows: pd.DataFrame
    conversation: dict


# ------------------------------------------------------------------------------------------
# conversation
# ------------------------------------------------------------------------------------------


def _persona_text(prompts: Prompts, persona: Persona) -> str:
    """The persona message; empty (no message at all) for a persona-less participant."""
    if not persona.description:
        return ""
    return prompts.persona.format(description=persona.description, name=persona.name)


def _question_turn(gen: GenerationConfig, history: list[Message]) -> str:
    """``gen.persona_turn`` for a question, except that a lone question (no conversation, no
    earlier answer) carries the persona in its own turn, as the original builds it."""
    return "merged" if len(history) == 1 else gen.persona_turn


def _interlocutor_text(prompts: Prompts, persona: Persona, partner: Persona | None,
                       knows: bool) -> str:
    # a persona-less participant has nobody to be known as (the original turns it off too)
    knows = knows and bool(persona.description)
    knows_txt = prompts.knows_persona.format(name=persona.name) if knows else ""
    if partner is None:
        return prompts.human_interlocutor.format(knows=knows_txt)
    return prompts.persona_interlocutor.format(description=partner.description, knows=knows_txt,
                                               name=partner.name)


@dataclass(frozen=True)
class Turn:
    """One message of a simulated conversation: its text (what the other speaker hears) and, for
    a reasoning model, the reasoning that preceded it (which nobody else hears)."""

    text: str
    reasoning: str = ""
    reasoning_status: str = ""
    reasoning_tokens: int = 0


def _view(turns: list[Turn], last: str) -> list[Message]:
    """The conversation as one speaker sees it (:func:`alternate_roles`): the other speaker's
    turns as user messages, its own as assistant messages carrying their own reasoning under
    :data:`~.backends.base.REASONING_KEY` (its backend shows the model what its chat template
    keeps of it; the content is the reply alone)."""
    msgs = alternate_roles([t.text for t in turns], last=last)
    for m, t in zip(msgs, turns, strict=True):
        if m["role"] == "assistant" and t.reasoning:
            m[REASONING_KEY] = t.reasoning
    return msgs


def _turn_text(reply: Generation, gen: GenerationConfig) -> str:
    """What a conversation reply says to the other speaker: the reply after its reasoning. A
    reasoning that did not close leaves nothing (an empty turn); under ``parsing: original``,
    as the original, any reasoning error says "error" and a reasoning model's reply is cut to
    the turn's budget x 4 characters."""
    text = reply.text
    if reply.reasoning_status:
        problem = reasoning_problem(reply.reasoning_status, gen.parsing)
        if gen.parsing == "original":
            text = "error" if problem else text[:(gen.conversation.max_tokens or 256) * 4]
        elif problem:
            text = ""
    text = text.strip() if gen.strip_replies else text
    return text or " "


def simulate_turns(backend: Backend, prompts: Prompts, gen: GenerationConfig,
                   persona: Persona, context: ChunkContext, placement: str,
                   seed_parts: tuple) -> list[Turn]:
    """Opener plus ``gen.n_messages`` simulated turns (Protocol, step 3); [] when the chunk has no opener.

    Even turns: the model as the persona, with the history's roles set so the last turn is the
    user's. Odd turns: the model as the interlocutor, roles flipped, led by the interlocutor's
    role text (an empty user turn is inserted when the history would start with the assistant).
    A reply is stripped of surrounding white space unless ``gen.strip_replies`` is off (the
    original keeps it as generated); an empty one is kept as a single space, as in the original. Each turn tells the backend
    its speaker (``speak_as``), so a llama.cpp model keeps each speaker's history in a KV
    sequence of its own and evaluates the context once per speaker. A reasoning model's
    reasoning stays with its turn: the other speaker never sees it (Reasoning models).
    """
    if context.opener is None:
        return []
    conv = [Turn(context.opener)]
    persona_txt = _persona_text(prompts, persona)
    partner_txt = _interlocutor_text(prompts, persona, context.interlocutor,
                                     gen.interlocutor_knows_persona)
    for i in range(gen.n_messages):
        setting = persona_txt if i % 2 == 0 else partner_txt
        backend.speak_as("persona" if i % 2 == 0 else "interlocutor")
        msgs = with_persona(setting, _view(conv, last="user"), placement, gen.persona_turn)
        reply = backend.chat(msgs, gen.conversation, call_seed(gen.seed, *seed_parts, "turn", i))
        conv.append(Turn(_turn_text(reply, gen), reply.reasoning, reply.reasoning_status,
                         reply.reasoning_tokens))
    return conv


def simulate_conversation(backend: Backend, prompts: Prompts, gen: GenerationConfig,
                          persona: Persona, context: ChunkContext, placement: str,
                          seed_parts: tuple) -> list[str]:
    """The texts of :func:`simulate_turns`: opener plus ``gen.n_messages`` simulated turns."""
    return [t.text for t in simulate_turns(backend, prompts, gen, persona, context, placement,
                                           seed_parts)]


# ------------------------------------------------------------------------------------------
# items
# ------------------------------------------------------------------------------------------


def _answer_sampling(gen: GenerationConfig, mode: str) -> SamplingConfig:
    if gen.answer.max_tokens is not None:
        return gen.answer
    return gen.answer.model_copy(update={"max_tokens": 2000 if mode == "cot" else 10})


@dataclass
class _Answer:
    letter: str | None
    raw: str
    reason: str
    probs: str = ""
    mass: float = float("nan")
    reasoning: str = ""
    reasoning_tokens: int = 0


def _ask_logprob(backend: Backend, msgs: list[list[Message]], lets: list[list[str]],
                 prompts: Prompts, seeds: list[int]) -> list[_Answer]:
    out = []
    for logp, ls in zip(backend.option_logprobs(msgs, lets, prompts.answer_prefix, seeds), lets,
                        strict=True):
        p = np.exp(logp - np.max(logp))
        p = p / p.sum()
        j = int(np.argmax(logp))
        mass = float(np.sum(np.exp(logp)))
        out.append(_Answer(ls[j], f"({ls[j]})", "logprob_argmax",
                           json.dumps([round(float(x), 6) for x in p]), mass))
    return out


def _parsed(reply: Generation, lets: list[str], mode: str, rule: str) -> _Answer:
    """The answer of a reply: only its text after any reasoning is parsed (a reasoning that did
    not close, or under the original's rule one closed more than once, leaves it unparsed with
    that reason); ``raw`` keeps that text whole, ``reasoning`` the reasoning. Under
    ``parsing: original`` a reasoning model's reply is read up to its 40th character, as the
    original reads it."""
    text = reply.text
    problem = reasoning_problem(reply.reasoning_status, rule)
    if problem is not None:
        return _Answer(None, text, problem, reasoning=reply.reasoning,
                       reasoning_tokens=reply.reasoning_tokens)
    read = text[:_ORIGINAL_REPLY_CHARS] if rule == "original" and reply.reasoning_status else text
    parsed = parse_answer(read, lets, "cot" if mode == "cot" else "direct", rule)
    return _Answer(parsed.letter, text, parsed.reason, reasoning=reply.reasoning,
                   reasoning_tokens=reply.reasoning_tokens)


def _ask(backend: Backend, msgs: list[Message], lets: list[str], mode: str, prompts: Prompts,
         sampling: SamplingConfig, seed: int, rule: str) -> _Answer:
    if mode == "logprob":
        return _ask_logprob(backend, [msgs], [lets], prompts, [seed])[0]
    return _parsed(backend.chat(msgs, sampling, seed), lets, mode, rule)


def _ask_many(backend: Backend, msgs: list[list[Message]], lets: list[list[str]], mode: str,
              prompts: Prompts, sampling: SamplingConfig, seeds: list[int],
              rule: str) -> list[_Answer]:
    """Independent questions: in ``logprob`` mode scored together; otherwise through the
    backend's ``chat_many`` (several requests in flight where it can, else one by one)."""
    if mode == "logprob":
        return _ask_logprob(backend, msgs, lets, prompts, seeds)
    replies = backend.chat_many(msgs, sampling, seeds)
    return [_parsed(r, ls, mode, rule) for r, ls in zip(replies, lets, strict=True)]


def _row(unit: Unit, item: int, perm: tuple[int, ...], ans: _Answer | None, mode: str,
         error: str = "") -> dict:
    inst = get_instrument(unit.bank.name)
    lets = letters(len(perm))
    letter = ans.letter if ans is not None else None
    score = inst.scale_min + perm[lets.index(letter)] if letter is not None else float("nan")
    return {
        "model": unit.model, "chunk": unit.chunk.label, "persona": unit.persona.id,
        "gender": unit.persona.gender, "questionnaire": unit.bank.name, "item": item,
        "score": float(score), "seed": unit.chunk.permutation_seed,
        "option_order": ",".join(str(x) for x in perm), "letter": letter or "",
        "parsed": letter is not None, "raw": ans.raw if ans is not None else "",
        "mode": mode, "option_probs": ans.probs if ans is not None else "",
        "letter_mass": ans.mass if ans is not None else float("nan"),
        "parse_reason": ans.reason if ans is not None else "", "error": error,
        "persona_index": unit.persona_index, "topic": unit.chunk.topic or "",
        "reasoning": ans.reasoning if ans is not None else "",
        "reasoning_tokens": ans.reasoning_tokens if ans is not None else 0,
    }


def _query(prompts: Prompts, mode: str) -> str:
    return prompts.query_cot if mode == "cot" else prompts.query_direct


def _options_for(unit: Unit, item: int) -> tuple[tuple[int, ...], list[str]]:
    perm = unit.permutations[item]
    opts = unit.bank.options[item]
    return perm, [opts[k] for k in perm]


def _independent_items(backend: Backend, unit: Unit, conv_msgs: list[Message], gen: GenerationConfig,
                       prompts: Prompts, mode: str, placement: str, seed_parts: tuple,
                       on_item: Callable[[], None] | None) -> list[dict]:
    rows = []
    sampling = _answer_sampling(gen, mode)
    setting = _persona_text(prompts, unit.persona)
    asked = []
    for item in unit.items:
        perm, shown = _options_for(unit, item)
        text = item_message(prompts.description(unit.bank.name, unit.bank.description),
                            unit.bank.text(item, unit.persona.gender),
                            shown, _query(prompts, mode))
        history = [*conv_msgs, {"role": "user", "content": text}]
        msgs = with_persona(setting, history, placement, _question_turn(gen, history))
        asked.append((item, perm, msgs, call_seed(gen.seed, *seed_parts, "item", item)))
    # with n_parallel > 1 all the unit's items go to the backend together: in logprob mode it
    # scores them as parallel sequences, chat_many keeps n_parallel of them in flight and
    # starts the next as soon as one finishes (continuous batching: no group waits for its
    # longest reply); with 1, item by item (the progress bar moves per item)
    group = max(1, len(asked) if backend.n_parallel > 1 else 1)
    for g in range(0, len(asked), group):
        chunk = asked[g:g + group]
        answers = _ask_many(backend, [a[2] for a in chunk], [letters(len(a[1])) for a in chunk],
                            mode, prompts, sampling, [a[3] for a in chunk], gen.parsing)
        for (item, perm, _, _), ans in zip(chunk, answers, strict=True):
            rows.append(_row(unit, item, perm, ans, mode))
            if on_item is not None:
                on_item()
    return rows


def _history_reply(ans: _Answer, mode: str, short: bool) -> str:
    """What the persona's answer looks like in the SVS dialogue history (Protocol, step 5)."""
    if ans.letter is None:
        return ans.raw[:4000] or " "
    if mode != "cot" or short:
        return f"({ans.letter})"
    cut = ans.raw.lower().rfind("answer:")
    reasoning = ans.raw[:cut].rstrip() if cut >= 0 else ""
    return f"{reasoning[:4000]}\nAnswer: ({ans.letter})".lstrip()


def _history_turn(ans: _Answer, mode: str, short: bool) -> Message:
    """The persona's answer as an assistant turn of the SVS dialogue history, its reasoning
    beside it (what the model sees of that: its backend's and chat template's decision)."""
    msg = {"role": "assistant", "content": _history_reply(ans, mode, short)}
    if ans.reasoning:
        msg[REASONING_KEY] = ans.reasoning
    return msg


def _svs_dialogue(backend: Backend, unit: Unit, conv_msgs: list[Message], gen: GenerationConfig,
                  prompts: Prompts, mode: str, placement: str, seed_parts: tuple,
                  on_item: Callable[[], None] | None) -> tuple[list[dict], list[Message]]:
    """SVS-57 as the original's sequential dialogue (Protocol, step 5), per list of values."""
    rows: dict[int, dict] = {}
    sampling = _answer_sampling(gen, mode)
    setting = _persona_text(prompts, unit.persona)
    query = _query(prompts, mode)
    transcript: list[Message] = []
    wanted = set(unit.items)
    for list_no, members in ((1, range(1, 31)), (2, range(31, 58))):
        values = [i for i in members if i in wanted]
        if not values:
            continue
        history = [dict(m) for m in conv_msgs]
        spent: dict[int, int] = {}  # reasoning tokens of the persona's answers, by position

        def ask(content: str, lets: list[str], tag: object, history=history) -> _Answer:
            history.append({"role": "user", "content": content})
            msgs = with_persona(setting, history, placement, _question_turn(gen, history))
            return _ask(backend, msgs, lets, mode, prompts, sampling,
                        call_seed(gen.seed, *seed_parts, "svs", tag), gen.parsing)

        def rate(item: int, lead: str, short: bool, history=history, spent=spent) -> None:
            perm, shown = _options_for(unit, item)
            head = f"{lead}\n\n" if lead else ""
            content = f"{head}{unit.bank.text(item)}{format_options(shown)}\n{query}"
            ans = ask(content, letters(len(perm)), item)
            history.append(_history_turn(ans, mode, short))
            spent[len(history) - 1] = ans.reasoning_tokens
            rows[item] = _row(unit, item, perm, ans, mode)
            if on_item is not None:
                on_item()

        def pick(content_head: str, pool: list[int], tag: str, history=history,
                 spent=spent) -> int | None:
            lets = letters(len(pool))
            names = [unit.bank.text(i) for i in pool]
            ans = ask(f"{content_head}{format_options(names)}\n{query}", lets, tag)
            history.append(_history_turn(ans, mode, False))
            spent[len(history) - 1] = ans.reasoning_tokens
            return pool[lets.index(ans.letter)] if ans.letter is not None else None

        desc = prompts.description(unit.bank.name, unit.bank.description)
        head = f"{desc}\n\n" if desc else ""
        head += f"{unit.bank.list_headers.get(list_no, '')}\n\n{prompts.svs_most}"
        most = pick(head, values, f"most{list_no}")
        if most is not None:
            rate(most, prompts.svs_rate_chosen.format(value=_value_name(unit.bank.text(most))),
                 short=True)
        rest = [v for v in values if v != most]
        least = pick(prompts.svs_least, rest, f"least{list_no}") if len(rest) > 1 else None
        if least is not None:
            rate(least, prompts.svs_rate_chosen.format(value=_value_name(unit.bank.text(least))),
                 short=True)
        first = True
        for item in values:
            if item in rows:
                continue
            rate(item, prompts.svs_rest if first else "", short=False)
            first = False
        # the transcript: each answer's reasoning tokens beside its reasoning (the history
        # sent to the model carries the reasoning alone)
        transcript.extend(dict(m, reasoning_tokens=spent[i]) if spent.get(i) else m
                          for i, m in enumerate(history) if i >= len(conv_msgs))
    return [rows[i] for i in unit.items], transcript


def _value_name(text: str) -> str:
    return text.split(" (")[0].strip()


def _turn_record(i: int, turn: Turn) -> dict:
    """A turn of ``conversations.jsonl``: speaker and content, and a reasoning model's reasoning
    beside it (``reasoning``, ``reasoning_status``, ``reasoning_tokens``)."""
    rec: dict = {"speaker": "context" if i == 0 else ("persona" if i % 2 == 1 else "interlocutor"),
                 "content": turn.text}
    if turn.reasoning_status:
        rec.update(reasoning=turn.reasoning, reasoning_status=turn.reasoning_status,
                   reasoning_tokens=turn.reasoning_tokens)
    return rec


def administer_unit(backend: Backend, unit: Unit, gen: GenerationConfig, prompts: Prompts,
                    mode: str, placement: str,
                    on_item: Callable[[], None] | None = None) -> UnitResult:
    """Simulate the unit's conversation and ask its items.

    Parameters
    ----------
    backend : Backend
        The model.
    unit : Unit
        Persona, chunk context, item wording, items and option orders.
    gen : GenerationConfig
        Protocol settings (conversation sampling, answer sampling, SVS dialogue, ...).
    prompts : Prompts
        Wording.
    mode : {"logprob", "direct", "cot"}
        Answer mode.
    placement : {"system", "user"}
        Where the persona text goes.
    on_item : callable, optional
        Called after each answered item (progress bars).

    Returns
    -------
    UnitResult
        ``rows``: one row per item with :data:`ROW_COLUMNS` (score NaN and ``parsed`` False
        where no answer could be read; all items NaN with ``error`` set when the prompt does not
        fit the context and ``gen.on_context_overflow`` is ``skip``).

    Raises
    ------
    ContextOverflowError
        When the prompt does not fit and ``gen.on_context_overflow`` is ``stop``.
    """
    if mode not in ("logprob", "direct", "cot"):
        raise ConfigError(f"mode must be logprob, direct or cot; got {mode!r}")
    seed_parts = (unit.chunk.label, unit.persona.id, unit.bank.name)
    record = {
        "model": unit.model, "chunk": unit.chunk.label, "persona": unit.persona.id,
        "questionnaire": unit.bank.name, "persona_index": unit.persona_index,
        "persona_placement": placement,
        "persona_turn": gen.persona_turn if placement == "user" else "",
        "parsing": gen.parsing if mode != "logprob" else "",
        "interlocutor": (unit.context.interlocutor.name if unit.context.interlocutor else
                         ("human" if unit.context.opener is not None else "")),
        "conversation": [], "dialogue": [], "error": "",
    }
    try:
        conv = simulate_turns(backend, prompts, gen, unit.persona, unit.context, placement,
                              seed_parts)
        record["conversation"] = [_turn_record(i, t) for i, t in enumerate(conv)]
        conv_msgs = _view(conv, last="assistant") if conv else []
        backend.speak_as("persona")  # the items continue the persona's history
        if unit.bank.name == "svs57" and gen.svs_dialogue:
            rows, transcript = _svs_dialogue(backend, unit, conv_msgs, gen, prompts, mode,
                                             placement, seed_parts, on_item)
            record["dialogue"] = transcript
        else:
            rows = _independent_items(backend, unit, conv_msgs, gen, prompts, mode, placement,
                                      seed_parts, on_item)
    except ContextOverflowError as exc:
        if gen.on_context_overflow == "stop":
            raise
        _log.warning("%s / %s / %s: skipped: %s", unit.model, unit.chunk.label, unit.persona.id,
                     exc)
        record["error"] = f"context overflow: {exc}"
        rows = [_row(unit, i, unit.permutations[i], None, mode, error=record["error"])
                for i in unit.items]
        if on_item is not None:
            for _ in unit.items:
                on_item()
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS)).astype(ROW_COLUMNS)
    return UnitResult(rows=frame, conversation=record)
