"""Answer extraction on a table of tricky replies (letter after the LAST 'Answer:')."""

import pytest

from stickrole_utils.generation.parsing import parse_answer

PVQ = "ABCDEF"

TABLE = [
    # (reply, mode, expected letter)
    ("(C)", "direct", "C"),
    ("C", "direct", "C"),
    ("C)", "direct", "C"),
    ("C.", "direct", "C"),
    ("  (D) Somewhat like me", "direct", "D"),
    ("I think (B) fits me best.", "direct", "B"),
    ("A good question! (D)", "direct", "D"),  # leading capital 'A' is a word, not an answer
    ("I am not sure.", "direct", None),
    ("(A) or (B)", "direct", None),  # ambiguous
    ("(G)", "direct", None),  # not an option
    ("(c)", "direct", None),  # case-sensitive
    ("A B", "direct", None),
    ("", "direct", None),
    ("Answer: (B)\nOn reflection... Answer: (E)", "cot", "E"),  # last Answer: wins
    ("(A) is tempting, but (F) too. Answer: (D)", "cot", "D"),  # not the alphabetically first
    ("Reasoning... Answer: D", "cot", "D"),
    ("Reasoning... Answer: D) Like me", "cot", "D"),
    ("**Answer:** (C)", "cot", "C"),
    ("answer: (B)", "cot", "B"),
    ("Answer: (G)", "cot", None),
    ("Answer: I cannot choose.", "cot", None),
    ("Answer: A - Not like me at all", "cot", "A"),
    ("So the option is (E).", "cot", "E"),  # no tag: falls back to the direct rules
    ("Between (A) and (B) I pick... no tag", "cot", None),
]


@pytest.mark.parametrize(("reply", "mode", "expected"), TABLE)
def test_parse_table(reply, mode, expected):
    got = parse_answer(reply, PVQ, mode)
    assert got.letter == expected, (reply, got)
    assert got.parsed == (expected is not None)


def test_svs_letters_are_case_sensitive():
    lets = [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "a", "b", "c", "d"]
    assert parse_answer("Answer: (b)", lets).letter == "b"
    assert parse_answer("Answer: (B)", lets).letter == "B"


def test_none_reply_is_unparsed():
    got = parse_answer(None, PVQ)
    assert not got.parsed and got.reason == "empty"
