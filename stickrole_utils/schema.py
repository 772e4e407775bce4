"""The answers table's schema (a contract of the package): one row per administered item.

Generation writes it, analysis reads it; both take the columns from here. Analysis needs only
:data:`ANSWER_COLUMNS`; generation adds :data:`GENERATION_COLUMNS` (and may add more, e.g.
per-option probabilities). Reading and validating a table: :mod:`stickrole_utils.analysis.answers`.
"""

from __future__ import annotations

__all__ = ["ANSWER_COLUMNS", "ANSWER_DTYPES", "GENERATION_COLUMNS", "UNIT_KEY", "ROW_KEY"]

#: The seven columns analysis needs, in contract order.
ANSWER_COLUMNS: tuple[str, ...] = (
    "model",  # str: model name as in params
    "chunk",  # str: context chunk label, e.g. chunk_0, chunk_no_conv, chunk_svs_no_conv
    "persona",  # str: persona id, stable across chunks
    "gender",  # str: "F" / "M" / "" (selects gendered PVQ wording)
    "questionnaire",  # str: pvq40, svs57 or a downstream task name
    "item",  # int: 1-based item number in the instrument
    "score",  # float: scale value; NaN where no answer could be obtained
)

ANSWER_DTYPES: dict[str, str] = {
    "model": "string",
    "chunk": "string",
    "persona": "string",
    "gender": "string",
    "questionnaire": "string",
    "item": "int64",
    "score": "float64",
}

#: Columns generation adds (at least).
GENERATION_COLUMNS: tuple[str, ...] = (
    "seed",  # int|str: the permutation seed (string) or sampling seed used for this unit
    "option_order",  # str: the permutation shown, as comma-separated original option indices (0-based) for letters A, B, ...
    "letter",  # str: the chosen option letter ("" if unparsed)
    "parsed",  # bool: False -> score NaN and `raw` keeps the reply
    "raw",  # str: the reply text (or the letter distribution summary in logprob mode)
    "topic",  # str: the chunk's conversation topic, "" when none (pairs a downstream chunk with the values chunk of its topic)
)

#: A generation unit: all items of one (model, chunk, persona, questionnaire) are produced together.
UNIT_KEY: tuple[str, ...] = ("model", "chunk", "persona", "questionnaire")
#: Unique key of a row.
ROW_KEY: tuple[str, ...] = ("model", "chunk", "persona", "questionnaire", "item")
