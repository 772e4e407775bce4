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

``rule="original"`` (``generation.parsing: original``) is the original's reading instead:

* ``cot``: the reply must hold ``Answer:`` (case-sensitive) exactly once (``no_answer_tag``,
  ``several_answer_tags``); only the 40 characters after it are read.
* ``direct``: the whole reply is read.
* Then the first option letter, in option order (A, B, ..., Z, a, ...), whose ``(X)`` occurs in
  the text wins (``first_paren``), wherever it stands; none -> ``no_letter``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["ParsedAnswer", "parse_answer", "parse_answer_original", "PARSING_RULES"]

#: Values of ``generation.parsing``.
PARSING_RULES: tuple[str, ...] = ("stickrole", "original")
#: Characters after the original's "Answer:" that it reads (10 tokens x 4).
_ORIGINAL_WINDOW = 40

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


def parse_answer_original(text: str | None, allowed: list[str] | str,
                          mode: str = "cot") -> ParsedAnswer:
    """Read the chosen letter with the original's rule (module docstring, ``rule="original"``).

    Examples
    --------
    >>> parse_answer_original("(E) no... Answer: (C) or (B)", "ABCDEF").letter
    'B'
    >>> parse_answer_original("Answer: (A). Final Answer: (B)", "ABCDEF").reason
    'several_answer_tags'
    >>> parse_answer_original("answer: (A)", "ABCDEF").reason
    'no_answer_tag'
    """
    if text is None or not text.strip():
        return ParsedAnswer(None, "empty")
    if mode == "cot":
        count = text.count("Answer:")
        if count != 1:
            return ParsedAnswer(None, "no_answer_tag" if count == 0 else "several_answer_tags")
        text = text.split("Answer:")[1][:_ORIGINAL_WINDOW]
    for letter in allowed:
        if f"({letter})" in text:
            return ParsedAnswer(letter, "first_paren")
    return ParsedAnswer(None, "no_letter")


def parse_answer(text: str | None, allowed: list[str] | str, mode: str = "cot",
                 rule: str = "stickrole") -> ParsedAnswer:
    """Read the chosen option letter from a reply.

    Parameters
    ----------
    text : str or None
        The model's reply.
    allowed : list of str or str
        The item's option letters (e.g. ``"ABCDEF"``).
    mode : {"cot", "direct"}
        Parsing rules (see module docstring).
    rule : {"stickrole", "original"}
        ``generation.parsing``: stickrole's rules or the original's
        (:func:`parse_answer_original`).

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
    if rule == "original":
        return parse_answer_original(text, allowed, mode)
    if rule != "stickrole":
        raise ConfigError(f"parsing rule must be one of {', '.join(PARSING_RULES)}; got {rule!r}")
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
