"""Import results written by the original "Stick to Your Role!" code into an answers table.

The original writes one ``results.json`` per evaluation into a directory named
``chunk_<label>_<YYYY_MM_DD_HH_MM_SS>`` (``docs/method.md``, Protocol). Its fields used here:
``answers`` (per persona: {subject: [[letter, score], ...] in item order}), ``generations``
(per persona: {subject: [reply text, ...]}), ``simulated_population`` (persona dicts with
``name`` and ``gender``) and ``params`` (``engine``, ``permute_options_seed``, ``simulated_conversation_theme``). The chunk
label is the directory name without its trailing timestamp: that layout is the only place the
original records it (see :func:`chunk_label`).

The paper's campaigns (``docs/method.md``, Downstream behaviour) are laid out as
``.../<model>/seed_<s>/theme_<topic>_<timestamp>/results.json``, one tree per questionnaire, so
the directory name alone repeats across seeds and questionnaires. A result directory named
``theme_...`` is labelled ``<questionnaire>_seed_<s>_<topic>`` (or ``<questionnaire>_<topic>``
without a ``seed_<s>`` parent): the questionnaire from the subject keys of its ``answers``, the
topic from ``params.simulated_conversation_theme`` (the directory's name when the params lack
it). Every row also gets ``topic`` (the conversation theme; empty when none) and ``replicate``
(``seed_<s>``; empty outside that layout): analysis pairs a downstream chunk with the values
chunk of the same topic and replicate (:mod:`.downstream`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..design.instruments import get_instrument
from ..design.prompts import letters as option_letters
from ..errors import ConfigError, DataError, shown
from ..generation.parsing import parse_answer_original
from ..io import read_json
from ..schema import ANSWER_COLUMNS
from .answers import concat_answers, validate_answers

__all__ = ["SUBJECTS", "REPLY_MODES", "chunk_label", "campaign_chunk", "find_result_files",
           "reply_mode", "read_original_results", "import_original"]

#: How the original's stored replies are re-read (``import-original --mode``).
REPLY_MODES: tuple[str, ...] = ("auto", "cot", "direct")

log = logging.getLogger(__name__)

#: The original's subject keys -> our questionnaire names.
SUBJECTS: dict[str, str] = {
    "pvq_auto": "pvq40",
    "svs": "svs57",
    "tolkien_donation": "tolkien_donation",
    "tolkien_bag": "tolkien_bag",
    "religion": "religion",
}


#: The timestamp the original appends to a result directory's name, ``_YYYY_MM_DD_HH_MM_SS``
#: (a year, then any number of ``_NN`` parts).
_TIMESTAMP = re.compile(r"_(?:19|20)\d\d(?:_\d\d?)*$")


def chunk_label(dirname: str) -> str:
    """The chunk label of an original result directory name: the name without its trailing
    timestamp (a name without one is the label itself).

    The original's results.json does not record the chunk; the directory name is the only place
    it is written, so it is read from there; only a trailing timestamp (a year and ``_NN`` parts)
    is cut, so a label may itself contain ``_202``.

    >>> chunk_label("chunk_chess_0_2025_05_01_10_11_12")
    'chunk_chess_0'
    >>> chunk_label("chunk_no_conv")
    'chunk_no_conv'
    >>> chunk_label("chunk_2024_news_2024_06_28_00_00_00")
    'chunk_2024_news'
    """
    return _TIMESTAMP.sub("", dirname)


_SEED_DIR = re.compile(r"seed_[A-Za-z0-9]+")


def _campaign(file: Path, params: dict) -> tuple[str, str] | None:
    """(replicate, topic) of a result in the paper's campaign layout (its directory named
    ``theme_...``), else None. The topic is ``params.simulated_conversation_theme`` when the
    results record it, else the directory's name after ``theme_``."""
    label = chunk_label(file.parent.name)
    if not label.startswith("theme_"):
        return None
    theme = params.get("simulated_conversation_theme")
    topic = theme if isinstance(theme, str) and theme.strip() else label[len("theme_"):]
    seed_dir = file.parent.parent.name
    return (seed_dir if _SEED_DIR.fullmatch(seed_dir) else ""), topic


def campaign_chunk(questionnaire: str, replicate: str, topic: str) -> str:
    """Chunk label of a result of the paper's campaigns.

    >>> campaign_chunk("tolkien_donation", "seed_2", "chess")
    'tolkien_donation_seed_2_chess'
    >>> campaign_chunk("pvq40", "", "joke")
    'pvq40_joke'
    """
    return "_".join(p for p in (questionnaire, replicate, topic) if p)


def find_result_files(path: str | Path) -> list[Path]:
    """``results.json`` files under ``path``: the file itself, ``path/results.json``, those of
    its sub-directories (a model directory holding one directory per chunk), else those two
    levels down (a model directory holding ``seed_<s>/theme_<topic>_<timestamp>/``)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: not found (give an original result directory or results.json)")
    if path.is_file():
        return [path]
    if (path / "results.json").exists():
        return [path / "results.json"]
    found = sorted(path.glob("*/results.json")) or sorted(path.glob("*/*/results.json"))
    if not found:
        raise DataError(f"{path}: no results.json in it or in its sub-directories")
    return found


def _load(file: Path) -> dict:
    data = read_json(file, "results file")
    if not isinstance(data, dict):
        raise DataError(f"{file}: expected a JSON object with 'answers' and 'simulated_population'")
    for key in ("answers", "simulated_population"):
        if key not in data:
            raise DataError(f"{file}: missing key {key!r}; is this a results.json of the original code?")
    for key in ("answers", "simulated_population"):
        if not isinstance(data[key], list):
            raise DataError(f"{file}: {key!r} must be a list over personas; got "
                            f"{shown(data[key])}")
    for key in ("generations",):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise DataError(f"{file}: {key!r} must be a list over personas; got "
                            f"{shown(data[key])}")
    for key in ("params", "args"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise DataError(f"{file}: {key!r} must be an object; got {shown(data[key])}")
    return data


def _persona(entry, i: int, file: Path) -> tuple[str, str]:
    if not isinstance(entry, dict):
        return f"persona_{i}", ""
    name = entry.get("name") or f"persona_{i}"
    gender = entry.get("gender") or ""
    for key, value in (("name", name), ("gender", gender)):
        if not isinstance(value, str):
            raise DataError(f"{file}: simulated_population[{i}].{key} must be text; got "
                            f"{shown(value)}")
    return name, gender


def _score(pair, file: Path, where: str) -> tuple[str | None, float]:
    """``[letter, score]`` (or a bare score) -> (letter, float score; NaN for null)."""
    if isinstance(pair, list | tuple):
        if len(pair) != 2:
            raise DataError(f"{file}: {where} must be [letter, score]; got {shown(pair)}")
        letter, score = pair
    else:
        letter, score = None, pair
    if letter is not None and not isinstance(letter, str):
        raise DataError(f"{file}: {where}: the letter must be text; got {shown(letter)}")
    if score is None:
        return letter, np.nan
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise DataError(f"{file}: {where}: score {shown(score)} is not a number")
    try:
        return letter, float(score)
    except OverflowError:
        raise DataError(f"{file}: {where}: score {shown(score)} is out of range") from None


def reply_mode(texts: Sequence[str]) -> str:
    """The answer mode the original ran with, judged from its stored replies: ``cot`` when at
    least half of the non-empty replies hold ``Answer:`` (its chain-of-thought instruction asks
    for it), else ``direct`` (a short "(X)" reply). results.json does not record the mode.

    >>> reply_mode(["Let me think... Answer: (B)", "Answer: (A)", "(C)"]), reply_mode(["(B)"])
    ('cot', 'direct')
    """
    said = [t for t in texts if t.strip()]
    return "cot" if said and 2 * sum("Answer:" in t for t in said) >= len(said) else "direct"


def _reparse(text: str, letter: str, score: float, n_options: int,
             mode: str) -> tuple[float, bool, str]:
    """(score, parsed, reason) of one stored answer, read again with the original's rule: the
    original stores a uniformly random letter as a normal answer when a reply does not parse;
    such an answer becomes unparsed (score NaN)."""
    if not text:
        return score, not np.isnan(score), "reply_not_stored"
    parsed = parse_answer_original(text, option_letters(n_options), mode)
    if parsed.letter is None:
        return np.nan, False, parsed.reason
    if letter and parsed.letter != letter:
        return score, True, "differs_from_stored"
    return score, True, parsed.reason


def read_original_results(file: str | Path, *, model: str | None = None,
                          chunk: str | None = None, mode: str = "auto") -> pd.DataFrame:
    """One original ``results.json`` -> answers-table rows.

    Parameters
    ----------
    file : path of a results.json
    model : str, optional
        Model name; default ``params.engine``, else the grand-parent directory's name.
    chunk : str, optional
        Chunk label; default :func:`chunk_label` of the parent directory's name, or
        :func:`campaign_chunk` for a ``theme_...`` directory of the paper's campaigns.
    mode : {"auto", "cot", "direct"}
        How the stored replies are read again with the original's rule
        (:func:`~stickrole_utils.generation.parsing.parse_answer_original`); ``auto``:
        :func:`reply_mode` of the file's replies.

    Returns
    -------
    DataFrame
        Contract columns plus ``letter``, ``raw`` (the reply text when stored), ``seed``
        (the permutation seed string), ``source`` (the file), ``topic`` (the conversation
        theme, empty when none) and ``replicate`` (``seed_<s>`` in the campaign layout, else
        empty); ``parsed``, ``parse_reason`` and ``original_score``: where a stored reply does
        not parse under the original's own rule, the original recorded a uniformly random
        option as if it were the answer; such an item is imported unparsed (``score`` NaN,
        ``parsed`` false), its random option kept in ``letter`` and ``original_score``, so
        ``unparsed: random`` / ``drop`` apply to it and the unparsed rate is reported. A reply
        that parses to another letter than the stored one keeps the stored answer
        (``parse_reason`` ``differs_from_stored``, counted in a warning).

    Raises
    ------
    DataError
        Not UTF-8, malformed JSON, a field of the wrong type (naming it, e.g.
        ``answers[3]['pvq_auto'][5]``, and the value), persona and answer counts that differ.
    """
    file = Path(file)
    data = _load(file)
    params = data.get("params") or data.get("args") or {}
    campaign = _campaign(file, params)
    replicate, topic = campaign or ("", "")
    model = model or params.get("engine") or (
        file.parent.parent.parent.name if replicate else file.parent.parent.name)
    if not isinstance(model, str):
        raise DataError(f"{file}: params.engine must be text; got {shown(model)}")
    if campaign is None:
        theme = params.get("simulated_conversation_theme")
        topic = theme if isinstance(theme, str) else ""
    fixed_chunk = chunk or (None if campaign else chunk_label(file.parent.name))
    population = data["simulated_population"]
    answers = data["answers"]
    generations = data.get("generations") or [{}] * len(answers)
    if len(answers) != len(population):
        raise DataError(f"{file}: 'answers' has {len(answers)} personas but 'simulated_population' "
                        f"has {len(population)}")
    seed = str(params.get("permute_options_seed", ""))
    if mode not in REPLY_MODES:
        raise ConfigError(f"reply mode must be one of {', '.join(REPLY_MODES)}; got {mode!r}")
    if mode == "auto":
        mode = reply_mode([t for g in generations if isinstance(g, dict)
                           for texts in g.values() if isinstance(texts, list)
                           for t in texts if isinstance(t, str)])
    rows = []
    for i, (person, per_subject) in enumerate(zip(population, answers, strict=True)):
        name, gender = _persona(person, i, file)
        if not isinstance(per_subject, dict):
            raise DataError(f"{file}: answers[{i}] should map subject -> [[letter, score], ...]; "
                            f"got {shown(per_subject)}")
        gens = generations[i] if i < len(generations) and isinstance(generations[i], dict) else {}
        for subject, items in per_subject.items():
            where = f"answers[{i}][{subject!r}]"
            if subject not in SUBJECTS:
                raise DataError(f"{file}: unknown subject {subject!r} in answers[{i}]; known: "
                                f"{', '.join(SUBJECTS)}")
            if not isinstance(items, list):
                raise DataError(f"{file}: {where} must be a list of [letter, score] per item; "
                                f"got {shown(items)}")
            q = SUBJECTS[subject]
            inst = get_instrument(q)
            if len(items) != inst.n_items:
                raise DataError(f"{file}: {where} has {len(items)} items; "
                                f"{q} has {inst.n_items}")
            texts = gens.get(subject)
            texts = texts if isinstance(texts, list) else []
            label = fixed_chunk or campaign_chunk(q, replicate, topic)
            for k, pair in enumerate(items):
                letter, score = _score(pair, file, f"{where}[{k}]")
                text = texts[k] if k < len(texts) and texts[k] is not None else ""
                kept, parsed, reason = _reparse(str(text), letter or "", score,
                                                inst.scale_max - inst.scale_min + 1, mode)
                rows.append((model, label, name, gender, q, k + 1, kept,
                             "" if letter is None else letter, str(text), seed, str(file),
                             topic, replicate, parsed, reason, score))
    cols = list(ANSWER_COLUMNS) + ["letter", "raw", "seed", "source", "topic", "replicate",
                                   "parsed", "parse_reason", "original_score"]
    out = pd.DataFrame(rows, columns=cols)
    differs = int((out["parse_reason"] == "differs_from_stored").sum())
    if differs:
        log.warning("%s: %d stored answer(s) differ from what their reply reads as under the "
                    "original's rule (mode %s); kept as stored", file, differs, mode)
    return out


def import_original(paths: Sequence[str | Path], *, model: str | None = None,
                    mode: str = "auto") -> pd.DataFrame:
    """``stickrole import-original``: result directories (or results.json files) -> one answers
    table, validated against the contract; the original's random fills of unparsed replies are
    imported as unparsed (:func:`read_original_results`, ``mode``).

    Raises
    ------
    DataError
        A path without results.json, malformed JSON, inconsistent persona/answer counts, two
        results for the same (model, chunk), or anything :func:`validate_answers` rejects.
    """
    if not paths:
        raise DataError("no result directory given")
    frames = []
    seen: dict[tuple[str, str], Path] = {}
    for p in paths:
        for f in find_result_files(p):
            df = read_original_results(f, model=model, mode=mode)
            if not len(df):
                continue
            df = validate_answers(df, source=str(f))  # its messages name this file
            for key in df[["model", "chunk"]].drop_duplicates().itertuples(index=False):
                key = tuple(key)
                if key in seen:
                    raise DataError(f"{f}: a second result for model {key[0]!r}, chunk "
                                    f"{key[1]!r} (first: {seen[key]}); keep one directory per "
                                    "chunk")
                seen[key] = f
            frames.append(df)
    # each table is validated; their union can only add duplicate rows
    return concat_answers(frames, source=", ".join(map(str, paths)))
