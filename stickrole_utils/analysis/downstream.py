"""Downstream behaviour: behaviour scores, their rank-order stability between contexts, and
their correlation with the values expressed in the same context (``docs/method.md``,
Downstream behaviour).

A downstream chunk is one holding answers to a downstream task (``tolkien_donation``,
``tolkien_bag``, ``religion``). Its behaviour scores are the raw means of the task's keys
(``Donation <race>``, ``Return <race>``, ``religion time``), never centered.

* *Downstream rank-order stability* of a task: Spearman over personas of one key's scores in two
  chunks of that task, for every key and every pair of the task's chunks (within a replicate,
  see below), averaged over all (key, pair) correlations, NaN skipped.
* *Value-behaviour correlation*: for a value v and a task key k, Spearman over personas of v's
  centered score in a values chunk (PVQ-40 or SVS-57) and k's behaviour score in the downstream
  chunk paired with it (the same conversation topic); mean over the paired topics, then over
  the task's keys. Every value is correlated with every key (the paper expects Universalism and
  Benevolence to go with giving, Power and Achievement against it); the result is per task and
  value.

Pairing a downstream chunk with a values chunk (:func:`resolve_pairs`), in this order:

1. an explicit mapping ``pairs`` (downstream chunk -> values chunk);
2. else, when the answers table has a ``topic`` column holding a topic for some chunk (one topic
   per chunk; generation writes the chunk's conversation topic, ``""`` for a chunk without one;
   the importer of the original's results writes it from the results' own record of the
   conversation theme), the values chunk with the same topic and, when a ``replicate`` column is
   present, the same replicate (e.g. the permutation-seed campaign ``seed_0``);
3. else (and for a downstream chunk without a topic), a chunk holding both a values
   questionnaire and a downstream task is paired with itself (both answered after the same
   conversation).

Chunk labels are never parsed to guess a pairing. When a ``replicate`` column is present,
downstream rank-order pairs chunks of the same replicate only (the paper computes stability per
seed campaign, then averages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..design.instruments import INSTRUMENTS
from ..errors import DataError
from .scoring import SCORE_COLUMNS, value_scores
from .stability import rank_order, spearman

__all__ = [
    "DOWNSTREAM_RO_COLUMNS",
    "VALUE_BEHAVIOUR_COLUMNS",
    "downstream_tasks",
    "behaviour_scores",
    "chunk_attribute",
    "resolve_pairs",
    "downstream_rank_order",
    "downstream_summary",
    "value_behaviour",
    "value_behaviour_summary",
]

#: Columns of :func:`downstream_rank_order`.
DOWNSTREAM_RO_COLUMNS = ("task", "key", "chunk_a", "chunk_b", "r", "n", "reason")
#: Columns of :func:`value_behaviour`.
VALUE_BEHAVIOUR_COLUMNS = ("task", "value", "key", "chunk", "values_chunk", "r", "n", "reason")


def _is_downstream(questionnaire: str) -> bool:
    return not INSTRUMENTS[questionnaire].is_values


def downstream_tasks(answers: pd.DataFrame, source: str = "<answers>") -> dict[str, str]:
    """chunk -> its downstream task, for the chunks holding downstream answers (one task per
    chunk).

    Raises
    ------
    DataError
        A chunk holding answers to two downstream tasks.
    """
    out: dict[str, str] = {}
    rows = answers[answers["questionnaire"].map(_is_downstream)]
    for chunk, qs in rows.groupby("chunk", sort=False)["questionnaire"]:
        names = sorted(set(qs))
        if len(names) > 1:
            raise DataError(f"{source}: chunk {chunk!r} has answers to {' and '.join(names)}; a "
                            "chunk holds one downstream task (label the runs apart)")
        out[str(chunk)] = names[0]
    return out


def behaviour_scores(answers: pd.DataFrame) -> pd.DataFrame:
    """Behaviour scores of the downstream rows of ``answers``: the
    :func:`~stickrole_utils.analysis.scoring.value_scores` columns, ``value`` holding the task
    key and ``centered`` equal to ``raw`` (downstream tasks are not centered)."""
    rows = answers[answers["questionnaire"].map(_is_downstream)]
    return value_scores(rows) if len(rows) else pd.DataFrame(columns=list(SCORE_COLUMNS))


def chunk_attribute(answers: pd.DataFrame, column: str, chunks: Sequence[str],
                    source: str = "<answers>") -> dict[str, str]:
    """chunk -> its value of an optional per-chunk column (``topic``, ``replicate``); chunks
    with no value (empty or NaN) are left out, and so are all when the column is absent.

    Raises
    ------
    DataError
        A chunk with two different values in the column.
    """
    if column not in answers.columns:
        return {}
    out = {}
    sub = answers[answers["chunk"].isin(chunks)]
    for chunk, vals in sub.groupby("chunk", sort=False)[column]:
        found = sorted({str(v).strip() for v in vals if pd.notna(v) and str(v).strip()})
        if len(found) > 1:
            raise DataError(f"{source}: chunk {chunk!r} has several values in column "
                            f"{column!r} ({', '.join(map(repr, found))}); it must hold one per chunk")
        if found:
            out[str(chunk)] = found[0]
    return out


def resolve_pairs(answers: pd.DataFrame, values_chunks: Sequence[str],
                  tasks: Mapping[str, str], pairs: Mapping[str, str] | None = None,
                  source: str = "<answers>") -> tuple[dict[str, str], list[str]]:
    """Downstream chunk -> values chunk of the same context (see the module docstring for the
    rule) and notes on the downstream chunks left unpaired.

    Raises
    ------
    DataError
        ``pairs`` names a chunk that is not a downstream chunk or not a values chunk; two values
        chunks share a downstream chunk's topic (and replicate).
    """
    values_chunks = list(values_chunks)
    if pairs is not None:
        bad = [d for d in pairs if d not in tasks]
        if bad:
            raise DataError(f"{source}: pairs name chunk(s) {', '.join(map(repr, bad))} that hold "
                            f"no downstream answers; downstream chunks: {', '.join(tasks) or 'none'}")
        bad = [v for v in pairs.values() if v not in values_chunks]
        if bad:
            raise DataError(f"{source}: pairs name values chunk(s) {', '.join(map(repr, bad))} "
                            f"that are not analysed; values chunks: "
                            f"{', '.join(values_chunks) or 'none'}")
        out = {str(d): str(v) for d, v in pairs.items()}
        how = "the pairs given"
    elif topic := chunk_attribute(answers, "topic", [*values_chunks, *tasks], source):
        rep = chunk_attribute(answers, "replicate", [*values_chunks, *tasks], source)
        by_key: dict[tuple[str, str], list[str]] = {}
        for v in values_chunks:
            if v in topic:
                by_key.setdefault((rep.get(v, ""), topic[v]), []).append(v)
        out = {}
        for d in tasks:
            if d not in topic:
                if d in values_chunks:  # no topic: the values asked after its own conversation
                    out[d] = d
                continue
            found = by_key.get((rep.get(d, ""), topic[d]), [])
            if len(found) > 1:
                raise DataError(f"{source}: downstream chunk {d!r} (topic {topic[d]!r}"
                                f"{f', replicate {rep[d]!r}' if d in rep else ''}) matches values "
                                f"chunks {', '.join(map(repr, found))}; give the pairs explicitly "
                                "(analysis.downstream_pairs in params)")
            if found:
                out[d] = found[0]
        how = "the 'topic' column" + (" and 'replicate'" if "replicate" in answers.columns else "")
    else:
        out = {d: d for d in tasks if d in values_chunks}
        how = ("no chunk has a topic and no pairs are given: only chunks holding both a values "
               "questionnaire and the task are paired")
    unpaired = [d for d in tasks if d not in out]
    notes = []
    if unpaired and values_chunks:
        notes.append(f"value-behaviour correlation: downstream chunk(s) "
                     f"{', '.join(map(repr, unpaired[:5]))}{' ...' if len(unpaired) > 5 else ''} "
                     f"not paired with a values chunk ({how})")
    return out, notes


def _by_task(tasks: Mapping[str, str], order: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in order:
        if c in tasks:
            out.setdefault(tasks[c], []).append(c)
    return out


def downstream_rank_order(scores: pd.DataFrame, tasks: Mapping[str, str],
                          replicates: Mapping[str, str] | None = None,
                          order: Sequence[str] | None = None) -> pd.DataFrame:
    """Rank-order stability of each task key for each pair of chunks of the same task (and the
    same replicate when ``replicates`` is given).

    Parameters
    ----------
    scores : DataFrame
        :func:`behaviour_scores` of one model.
    tasks : mapping
        downstream chunk -> task.
    replicates : mapping, optional
        chunk -> replicate; only chunks of the same replicate are paired (a chunk without one
        pairs with the others without one).
    order : sequence of str, optional
        Chunk order (default: ``tasks``' order).

    Returns
    -------
    DataFrame
        Columns :data:`DOWNSTREAM_RO_COLUMNS`; ``r`` = Spearman over the personas present in both
        chunks of the key's raw scores; ``reason`` says why ``r`` is NaN.
    """
    replicates = replicates or {}
    frames = []
    for task, chunks in _by_task(tasks, order or list(tasks)).items():
        groups: dict[str, list[str]] = {}
        for c in chunks:
            groups.setdefault(replicates.get(c, ""), []).append(c)
        for group in groups.values():
            if len(group) < 2:
                continue
            sub = scores[scores["chunk"].isin(group)]
            ro = rank_order(sub, group, score="raw").rename(columns={"value": "key"})
            frames.append(ro.assign(task=task))
    if not frames:
        return pd.DataFrame(columns=list(DOWNSTREAM_RO_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(DOWNSTREAM_RO_COLUMNS)]


def _mean(r: pd.Series) -> float:
    return float(r.mean()) if r.notna().any() else float("nan")


def downstream_summary(ro: pd.DataFrame, tasks: Mapping[str, str]) -> dict:
    """Aggregate :func:`downstream_rank_order` per task.

    Returns
    -------
    dict
        ``downstream_rank_order`` {task: mean r over (key, chunk pair), NaN skipped},
        ``downstream_rank_order_per_key`` {task: {key: mean r over chunk pairs}},
        ``downstream_rank_order_nan_reasons`` {task: [reasons]} for the tasks with an undefined
        correlation or no chunk pair at all (then the task's value is NaN).
    """
    out: dict = {"downstream_rank_order": {}, "downstream_rank_order_per_key": {},
                 "downstream_rank_order_nan_reasons": {}}
    for task in dict.fromkeys(tasks.values()):
        rows = ro[ro["task"] == task]
        if not len(rows):
            n = sum(1 for t in tasks.values() if t == task)
            out["downstream_rank_order"][task] = float("nan")
            out["downstream_rank_order_per_key"][task] = {}
            out["downstream_rank_order_nan_reasons"][task] = [
                f"{n} chunk(s) of {task} (within a replicate): stability needs a pair of chunks"]
            continue
        out["downstream_rank_order"][task] = _mean(rows["r"])
        out["downstream_rank_order_per_key"][task] = {
            str(k): _mean(g) for k, g in rows.groupby("key", sort=False)["r"]}
        reasons = sorted(set(rows.loc[rows["r"].isna(), "reason"]))
        if reasons:
            out["downstream_rank_order_nan_reasons"][task] = reasons
    return out


def _wide(scores: pd.DataFrame, chunk: str, column: str) -> pd.DataFrame:
    return scores[scores["chunk"] == chunk].pivot(index="persona", columns="value", values=column)


def value_behaviour(values: pd.DataFrame, behaviour: pd.DataFrame, pairs: Mapping[str, str],
                    tasks: Mapping[str, str]) -> pd.DataFrame:
    """Spearman over personas of each value's centered score in the paired values chunk against
    each task key's behaviour score in the downstream chunk.

    Parameters
    ----------
    values : DataFrame
        :func:`~stickrole_utils.analysis.scoring.value_scores` of the values chunks.
    behaviour : DataFrame
        :func:`behaviour_scores`.
    pairs : mapping
        downstream chunk -> values chunk (:func:`resolve_pairs`).
    tasks : mapping
        downstream chunk -> task.

    Returns
    -------
    DataFrame
        Columns :data:`VALUE_BEHAVIOUR_COLUMNS`, one row per (downstream chunk, value, key).
    """
    rows = []
    for d, v in pairs.items():
        wv = _wide(values, v, "centered")
        wb = _wide(behaviour, d, "raw")
        common = wv.index.intersection(wb.index)
        for value in wv.columns:
            x = wv[value].reindex(common).to_numpy(dtype=float)
            for key in wb.columns:
                r, why = spearman(x, wb[key].reindex(common).to_numpy(dtype=float))
                if why:
                    why = why.replace("first input", f"scores for {value} in {v}").replace(
                        "second input", f"scores for {key} in {d}")
                rows.append((tasks[d], str(value), str(key), d, v, r, int(len(common)), why))
    return pd.DataFrame(rows, columns=list(VALUE_BEHAVIOUR_COLUMNS))


def value_behaviour_summary(vb: pd.DataFrame) -> dict:
    """Aggregate :func:`value_behaviour`: per (task, value, key) the mean over the paired topics,
    then per (task, value) the mean over the task's keys (NaN skipped at both steps).

    Returns
    -------
    dict
        ``value_behaviour_correlation`` {task: {value: r}}, ``value_behaviour_per_key``
        {task: {value: {key: r}}}, ``value_behaviour_nan_reasons`` {task: [reasons]} (tasks with
        an undefined correlation only).
    """
    out: dict = {"value_behaviour_correlation": {}, "value_behaviour_per_key": {},
                 "value_behaviour_nan_reasons": {}}
    for task, t_rows in vb.groupby("task", sort=False):
        per_key = t_rows.groupby(["value", "key"], sort=False)["r"].apply(_mean)
        out["value_behaviour_per_key"][task] = {}
        out["value_behaviour_correlation"][task] = {}
        for value in dict.fromkeys(t_rows["value"]):
            keys = per_key.loc[value]
            out["value_behaviour_per_key"][task][value] = {
                str(k): float(r) for k, r in keys.items()}
            arr = keys.to_numpy(dtype=float)
            out["value_behaviour_correlation"][task][value] = (
                float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan"))
        reasons = sorted(set(t_rows.loc[t_rows["r"].isna(), "reason"]))
        if reasons:
            out["value_behaviour_nan_reasons"][task] = reasons
    return out

