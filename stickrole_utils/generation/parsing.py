"""Answer extraction from generated replies.

Rules (stricter and more predictable than the original's; ``docs/method.md``, Unparsed answers):

* ``cot``: the letter after the **last** ``Answer:`` (case-insensitive), written ``(X)``, ``X)``,
  ``X.`` or a lone ``X``. No ``Answer:`` -> fall back to the ``direct`` rules on the whole reply.
* ``direct``: a reply that is (or starts with) ``(X)``, ``X)``, ``X.``, ``X:`` or a lone ``X``;
  otherwise a single distinct ``(X)`` anywhere in the reply. Several different ``(X)`` anywhere
  in the reply -> unparsed (``ambiguous``).

Only letters of the item's options count, matched case-sensitively (SVS lists use ``a``, ``b``
after ``Z``). An unparsed reply gives ``letter=None`` -- never a random substitute (analysis does
that, seeded and counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ParsedAnswer", "parse_answer"]

_ANSWER_TAG = re.compile(r"answer\s*:", re.IGNORECASE)
_LEAD = r"^[\s*_`\"'\[]*"


@dataclass(frozen=True)
class ParsedAnswer:
    """Outcome of parsing one reply.

    Attributes
    ----------
    letter : str or None
        The chosen option letter, or None when no answer could be read.
    reason : str
        How it was read (``answer_tag``, ``leading``, ``single_paren``) or why not
        (``empty``, ``no_letter``, ``ambiguous``).
    """

    letter: str | None
    reason: str

    @property
    def parsed(self) -> bool:
        return self.letter is not None


def _leading_letter(text: str, allowed: set[str]) -> str | None:
    m = re.match(_LEAD + r"\(([A-Za-z])\)", text)
    if m and m.group(1) in allowed:
        return m.group(1)
    m = re.match(_LEAD + r"([A-Za-z])(?:[).:\]]|\s*$|\s+[-\u2013\u2014]|\s+\S)", text)
    if m and m.group(1) in allowed:
        # a lone capital at the start of a sentence ("I think ...", "A good ...") is not an
        # answer: accept "X" followed by text only when X is followed by a delimiter or the end
        rest = text[m.end(1):]
        if rest.strip() == "" or rest[:1] in ").:]" or re.match(r"\s+[-\u2013\u2014]", rest):
            return m.group(1)
    return None


def _single_paren(text: str, allowed: set[str]) -> tuple[str | None, str]:
    found = [x for x in dict.fromkeys(re.findall(r"\(([A-Za-z])\)", text)) if x in allowed]
    if len(found) == 1:
        return found[0], "single_paren"
    return None, "ambiguous" if found else "no_letter"


def parse_answer(text: str | None, allowed: list[str] | str, mode: str = "cot") -> ParsedAnswer:
    """Read the chosen option letter from a reply.

    Parameters
    ----------
    text : str or None
        The model's reply.
    allowed : list of str or str
        The item's option letters (e.g. ``"ABCDEF"``).
    mode : {"cot", "direct"}
        Parsing rules (see module docstring).

    Returns
    -------
    ParsedAnswer

    Examples
    --------
    >>> parse_answer("(A) seems likely but no. Answer: (C)", "ABCDEF").letter
    'C'
    >>> parse_answer("B)", "ABCDEF", mode="direct").letter
    'B'
    >>> parse_answer("(A) or (B)", "ABCDEF", mode="direct").letter is None
    True
    """
    allowed_set = set(allowed)
    if text is None or not text.strip():
        return ParsedAnswer(None, "empty")
    tags = list(_ANSWER_TAG.finditer(text))
    if tags:
        tail = text[tags[-1].end():]
        letter = _leading_letter(tail, allowed_set)
        if letter is not None:
            return ParsedAnswer(letter, "answer_tag")
        letter, _ = _single_paren(tail[:40], allowed_set)
        if letter is not None:
            return ParsedAnswer(letter, "answer_tag")
        if mode == "cot":
            return ParsedAnswer(None, "no_letter")
    letter = _leading_letter(text, allowed_set)
    others = {x for x in re.findall(r"\(([A-Za-z])\)", text) if x in allowed_set} - {letter}
    if letter is not None and not others:
        return ParsedAnswer(letter, "leading")
    if letter is not None:
        return ParsedAnswer(None, "ambiguous")
    letter, reason = _single_paren(text, allowed_set)
    return ParsedAnswer(letter, reason)
