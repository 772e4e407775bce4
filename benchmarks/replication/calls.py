"""Model calls of a replication run as derived facts: what each call was, and hashes of its texts.

Both sides of the replication are reduced with the same code: the original's calls, recorded
by the proxy between its OpenAI client and llama-cpp-python's server (``run_original.py``), and
stickrole's, recorded by a thin wrapper around its backend (``compare.py``). A call becomes

``{"chunk", "kind", "persona", "turn" | "item", "option_order", "messages_sha256",
"reply_sha256", "prompt_tokens", "reply_tokens", "finish_reason", "letter"}``

* ``kind``: ``turn`` (a simulated conversation message) or ``item`` (a questionnaire item: the
  last user turn ends with the answer instruction);
* ``persona``: index in the population of the persona whose role text leads the prompt (an
  interlocutor's turn belongs to the persona whose conversation it is part of); ``turn``: 0..
  within that conversation; ``item``: 1-based item number, found by matching the item text
  against the questionnaire files; ``option_order``: for letters A, B, ... the 0-based index of
  the option shown in the questionnaire's original order (as stickrole's ``option_order``);
* ``messages_sha256``: SHA-256 of the canonical JSON of the request's messages
  (:func:`messages_sha256`); ``reply_sha256``: of the reply text as the model returned it
  (UTF-8, nothing stripped); ``letter``: the answer letter by the original's parsing rule
  (exactly one ``Answer:``, the 40 characters after it, the alphabetically first ``(X)``), or
  ``None``.

No text of the original goes into a reference file; only these facts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

__all__ = ["messages_sha256", "text_sha256", "QuestionnaireTexts", "label_calls",
           "original_letter"]

Message = dict[str, str]


def messages_sha256(messages: list[Message]) -> str:
    """SHA-256 of ``json.dumps([{"role": r, "content": c}, ...], ensure_ascii=False,
    separators=(",", ":"))`` in UTF-8 (keys in that order, nothing else of a message)."""
    canon = [{"role": m["role"], "content": m["content"]} for m in messages]
    return text_sha256(json.dumps(canon, ensure_ascii=False, separators=(",", ":")))


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def original_letter(reply: str, n_options: int) -> str | None:
    """The answer letter by the original's CoT rule, or None where it would fall back to a
    random option."""
    if reply.count("Answer:") != 1:
        return None
    response = reply.split("Answer:")[1][:40]
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_options]:
        if f"({letter})" in response:
            return letter
    return None


class QuestionnaireTexts:
    """Item texts and option texts of the original's PVQ-40 files (``data/data_pvq/test/
    pvq_{male,female}_test.csv`` under the original's data directory)."""

    def __init__(self, data_root: str | Path):
        root = Path(data_root) / "data" / "data_pvq" / "test"
        self.items: dict[str, dict[str, int]] = {}
        self.options: dict[str, list[list[str]]] = {}
        for gender, stem in (("M", "male"), ("F", "female")):
            with open(root / f"pvq_{stem}_test.csv", newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            # the original turns an escaped newline of the CSV into a newline
            self.items[gender] = {r[0].replace("\\n", "\n"): i + 1 for i, r in enumerate(rows)}
            self.options[gender] = [[o for o in r[1:-1] if o != "undef"] for r in rows]


_OPTION = re.compile(r"\n\(([A-Za-z])\) ")


def _parse_item(content: str, query: str, description: str, gender: str,
                bank: QuestionnaireTexts) -> tuple[int | None, list[int] | None]:
    body = content[: -len(query)]
    body = body[:-1] if body.endswith("\n") else body
    if description and body.startswith(description + "\n\n"):
        body = body[len(description) + 2:]
    first = body.find("\n(A) ")
    if first < 0:
        return None, None
    item_text, opts = body[:first], body[first:]
    shown = _OPTION.split(opts)[1:]  # letter, text, letter, text, ...
    texts = [shown[k + 1] for k in range(0, len(shown), 2)]
    item = bank.items.get(gender, {}).get(item_text)
    order = None
    if item is not None:
        original = bank.options[gender][item - 1]
        try:
            order = [original.index(t) for t in texts]
        except ValueError:
            order = None
    return item, order


def label_calls(calls: list[dict[str, Any]], chunk: str, personas: list[dict[str, str]],
                persona_template: str, query: str, description: str,
                bank: QuestionnaireTexts) -> list[dict[str, Any]]:
    """Derived facts of one chunk's calls, in call order (see the module docstring).

    Parameters
    ----------
    calls : list of dict
        ``{"messages", "reply", "prompt_tokens", "reply_tokens", "finish_reason"}`` per call.
    chunk : str
        The chunk label written into every record.
    personas : list of dict
        The population (``name``, ``description``, ``gender``), in order.
    persona_template : str
        The persona role text with ``{description}`` / ``{name}`` placeholders.
    query, description : str
        The answer instruction ending an item's user turn; the questionnaire instructions
        starting it.
    """
    setting = {persona_template.format(description=p["description"], name=p["name"]): i
               for i, p in enumerate(personas)}
    out = []
    current, turn = None, 0
    for call in calls:
        msgs = call["messages"]
        lead = setting.get(msgs[0]["content"]) if msgs else None
        if lead is not None and lead != current:
            current, turn = lead, 0
        last = msgs[-1]
        rec: dict[str, Any] = {"chunk": chunk}
        if last["role"] == "user" and last["content"].endswith(query):
            gender = personas[current]["gender"] if current is not None else ""
            item, order = _parse_item(last["content"], query, description, gender, bank)
            rec.update(kind="item", persona=current, item=item, option_order=order)
            letter = original_letter(call["reply"], len(order) if order else 6)
        else:
            rec.update(kind="turn", persona=current, turn=turn)
            turn += 1
            letter = None
        rec.update(messages_sha256=messages_sha256(msgs), reply_sha256=text_sha256(call["reply"]),
                   prompt_tokens=call.get("prompt_tokens"), reply_tokens=call.get("reply_tokens"),
                   finish_reason=call.get("finish_reason"), letter=letter)
        out.append(rec)
    return out
