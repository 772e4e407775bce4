"""Internal consistency: Cronbach's alpha per value on centered item answers (``docs/method.md``, Cronbach alpha).

The original computes ``pingouin.cronbach_alpha`` per value on *centered* (ipsatized) item
answers - item score minus the persona's mean over all the instrument's items, unkeyed SVS items
included - over personas (a non-standard choice kept for faithfulness, ``docs/method.md``, Faithful by default, corrected on request).
Not a leaderboard column; reported alongside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design.instruments import Instrument

__all__ = ["center_items", "cronbach_alpha", "alpha_from_matrix", "mean_alpha"]


def center_items(items: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Item answers minus each persona's mean answer over all the instrument's items.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (one row per persona, columns = 1-based item numbers).
    instrument : Instrument
        Items 1..``instrument.n_items`` present in ``items`` enter the persona mean (keyed and
        unkeyed alike, as the original).

    Returns
    -------
    pandas.DataFrame
        Same shape as the instrument's columns of ``items``:
        :math:`c_{pi} = x_{pi} - \\operatorname{mean}_j x_{pj}` (NaN answers skipped in the mean
        and kept NaN).

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> x = pd.DataFrame([[float(i % 2) for i in range(1, 41)]], columns=range(1, 41))
    >>> center_items(x, PVQ40).iloc[0, :2].tolist()
    [0.5, -0.5]
    """
    cols = [i for i in range(1, instrument.n_items + 1) if i in items.columns]
    x = items[cols].astype(float)
    return x.sub(x.mean(axis=1, skipna=True), axis=0)


def alpha_from_matrix(x: np.ndarray) -> float:
    """Cronbach's alpha of an (observations x items) matrix without missing values.

    Parameters
    ----------
    x : numpy.ndarray
        Complete data, shape (n, k).

    Returns
    -------
    float
        :math:`\\alpha = \\frac{k}{k-1}\\Big(1 - \\frac{\\sum_i \\sigma^2_i}
        {\\sum_{i,j} \\sigma_{ij}}\\Big)` with the sample covariance matrix
        :math:`(\\sigma_{ij})` - the formula of ``pingouin.cronbach_alpha`` (R:
        ``psych::alpha(x)$total$raw_alpha``). NaN when k < 2, n < 2, or the variance of the
        sum score :math:`\\sum_{i,j}\\sigma_{ij}` is 0.

    Examples
    --------
    >>> alpha_from_matrix(np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0]]))  # 18 / 19  # doctest: +ELLIPSIS
    0.947368...
    """
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    if k < 2 or n < 2:
        return float("nan")
    c = np.cov(x, rowvar=False)
    total = c.sum()
    scale = max(1.0, float(np.trace(c)))
    if not np.isfinite(total) or abs(total) <= 1e-12 * scale:
        return float("nan")
    return float(k / (k - 1) * (1 - np.trace(c) / total))


def cronbach_alpha(items: pd.DataFrame, instrument: Instrument) -> dict[str, float]:
    """Cronbach's alpha per value on centered item answers, over personas.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (one row per persona, columns = 1-based item numbers).
    instrument : Instrument
        Its ``key`` gives the items of each value; centering uses all its items
        (:func:`center_items`).

    Returns
    -------
    dict
        value -> alpha (:func:`alpha_from_matrix`) for every value of ``instrument.key`` in
        key order; NaN for a value with fewer than 2 items, fewer than 2 complete personas, or
        a zero-variance sum score.

    Notes
    -----
    Personas with a missing answer among a value's items are left out of that value's alpha
    (listwise deletion per value; pingouin's default is pairwise covariances, identical
    without missing answers).

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> rng = np.random.default_rng(0)
    >>> x = pd.DataFrame(rng.integers(1, 7, (20, 40)).astype(float), columns=range(1, 41))
    >>> a = cronbach_alpha(x, PVQ40)
    >>> len(a), all(np.isfinite(list(a.values())))
    (10, True)
    """
    centered = center_items(items, instrument)
    out: dict[str, float] = {}
    for value, its in instrument.key.items():
        cols = [i for i in its if i in centered.columns]
        if len(cols) < 2:
            out[value] = float("nan")
            continue
        out[value] = alpha_from_matrix(centered[cols].dropna(axis=0, how="any").to_numpy())
    return out


def mean_alpha(alphas: dict[str, float]) -> float:
    """Mean of per-value alphas, skipping NaN (NaN when all are NaN).

    Parameters
    ----------
    alphas : dict
        value -> alpha, as returned by :func:`cronbach_alpha`.

    Returns
    -------
    float
        :math:`\\frac{1}{|V'|}\\sum_{v \\in V'} \\alpha_v` over the values V' with a finite alpha.

    Examples
    --------
    >>> mean_alpha({"a": 0.5, "b": float("nan"), "c": 0.7})
    0.6
    """
    vals = np.array([a for a in alphas.values() if np.isfinite(a)], dtype=float)
    return float(vals.mean()) if vals.size else float("nan")
