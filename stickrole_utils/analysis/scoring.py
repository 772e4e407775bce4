"""Scoring: unparsed-answer handling, value scores (raw and centered), item matrices.

``docs/method.md``, Questionnaires and scoring: a value's raw score is the mean of its items; the centered (ipsatized)
score subtracts the persona's mean over *all* items of that questionnaire in that chunk (SVS: all
57, unkeyed included). Downstream tasks are not centered (``docs/method.md``, Downstream behaviour).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..design.instruments import INSTRUMENTS, get_instrument
from ..schema import ROW_KEY

__all__ = ["substitute_unparsed", "value_scores", "item_matrix", "SCORE_COLUMNS"]

#: Columns of :func:`value_scores`.
SCORE_COLUMNS: tuple[str, ...] = (
    "model", "chunk", "persona", "questionnaire", "value", "raw", "centered",
)


def substitute_unparsed(
    answers: pd.DataFrame, mode: Literal["random", "drop"], seed: int = 0
) -> tuple[pd.DataFrame, int]:
    """Apply the unparsed-item rule and say how many items it touched.

    Parameters
    ----------
    answers : DataFrame
        Answers table (contract columns); ``score`` NaN marks an unparsed item.
    mode : {"random", "drop"}
        ``random``: each NaN becomes a uniformly random scale value, as the leaderboard does, but
        drawn from ``np.random.default_rng(seed)`` over the rows sorted by
        (model, chunk, persona, questionnaire, item), so the result does not depend on row order.
        ``drop``: NaN rows are removed.
    seed : int
        Seed of the substitution draws.

    Returns
    -------
    (DataFrame, int)
        The new table (input untouched) and the number of unparsed items.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"model": "m", "chunk": "c", "persona": "p", "gender": "",
    ...                    "questionnaire": "pvq40", "item": [1, 2], "score": [3.0, None]})
    >>> out, n = substitute_unparsed(df, "random", seed=0)
    >>> n, out["score"].between(1, 6).all()
    (1, np.True_)
    """
    missing = answers["score"].isna()
    n = int(missing.sum())
    if n == 0:
        return answers.copy(), 0
    if mode == "drop":
        return answers.loc[~missing].copy(), n
    if mode != "random":
        raise ValueError(f"unparsed must be 'random' or 'drop', got {mode!r}")
    out = answers.sort_values(list(ROW_KEY), kind="stable").copy()
    rng = np.random.default_rng(seed)
    miss = out["score"].isna().to_numpy()
    lo = out.loc[miss, "questionnaire"].map(lambda q: INSTRUMENTS[q].scale_min).to_numpy()
    hi = out.loc[miss, "questionnaire"].map(lambda q: INSTRUMENTS[q].scale_max).to_numpy()
    out.loc[miss, "score"] = rng.integers(lo, hi + 1).astype(float)
    return out.loc[answers.index], n


def value_scores(answers: pd.DataFrame) -> pd.DataFrame:
    """Raw and centered value scores per (model, chunk, persona, questionnaire, value).

    Notes
    -----
    ``raw = mean(score of the value's items)`` (NaN items skipped);
    ``centered = raw - mean(score of all the persona's items of that questionnaire in that
    chunk)`` for centered instruments (PVQ-40, SVS-57), ``centered = raw`` otherwise.

    Returns
    -------
    DataFrame
        Columns :data:`SCORE_COLUMNS`; values in the instrument's key order (circle order).

    Examples
    --------
    >>> import pandas as pd
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> df = pd.DataFrame({"model": "m", "chunk": "c", "persona": "p", "gender": "",
    ...                    "questionnaire": "pvq40", "item": range(1, 41), "score": 3.0})
    >>> df.loc[df["item"].isin(PVQ40.key["Power"]), "score"] = 6.0
    >>> s = value_scores(df).set_index("value")
    >>> float(s.loc["Power", "raw"]), float(s.loc["Power", "centered"])
    (6.0, 2.775)
    """
    frames = []
    group_cols = ["model", "chunk", "persona", "questionnaire"]
    for qname, rows in answers.groupby("questionnaire", sort=False):
        inst = get_instrument(qname)
        item_value = inst.item_value
        keyed = rows[rows["item"].isin(item_value)]
        keyed = keyed.assign(value=keyed["item"].map(item_value))
        raw = keyed.groupby(group_cols + ["value"], sort=False)["score"].mean().rename("raw")
        raw = raw.reset_index()
        if inst.centered:
            persona_mean = rows.groupby(group_cols, sort=False)["score"].mean().rename("pmean")
            raw = raw.merge(persona_mean.reset_index(), on=group_cols, how="left")
            raw["centered"] = raw["raw"] - raw["pmean"]
            raw = raw.drop(columns="pmean")
        else:
            raw["centered"] = raw["raw"]
        order = {v: k for k, v in enumerate(inst.key)}
        raw["_o"] = raw["value"].map(order)
        frames.append(raw)
    out = pd.concat(frames, ignore_index=True)
    out = out.sort_values(group_cols[:3] + ["_o"], kind="stable").drop(columns="_o")
    return out[list(SCORE_COLUMNS)].reset_index(drop=True)


def item_matrix(answers: pd.DataFrame) -> pd.DataFrame:
    """Wide persona x item matrix of raw answers for one (model, chunk, questionnaire).

    Returns
    -------
    DataFrame
        Index ``persona`` (sorted), columns the item numbers (int, ascending), values ``score``.
    """
    keys = answers[["model", "chunk", "questionnaire"]].drop_duplicates()
    if len(keys) != 1:
        raise ValueError("item_matrix expects the rows of one (model, chunk, questionnaire)")
    wide = answers.pivot(index="persona", columns="item", values="score")
    wide = wide.sort_index().sort_index(axis=1)
    wide.columns = wide.columns.astype(int)
    wide.columns.name = None
    return wide
