"""Test-retest reliability across seeds (``docs/method.md``, Signal and noise).

A seed of an experiment is a repetition of the whole protocol: the same personas in the same
contexts, only the sampled conversation turns and the option orders drawn anew. How well a
persona's value score in one context is reproduced by another seed in the *same* context is the
measurement's reliability, and it bounds how stable the score can look between two *different*
contexts.

- :func:`icc_matrix`: ICC(2,1) and ICC(2,k) of Shrout & Fleiss (1979) (two-way random effects,
  absolute agreement; personas are the targets, seeds the raters) with their 95 % intervals,
  vectorised over any leading axes; :func:`intraclass_corr` is the same on a long table, with
  pingouin's keywords (``tests/reference/icc_pingouin.py`` made the reference numbers).
- :func:`retest_table`: per (value, chunk) the two ICCs of one model at one setting.
- :func:`noise_ceiling`: the rank-order stability between contexts that the seeds' reliability
  allows, :math:`\\operatorname{mean}_{v,(c,c')} \\sqrt{\\rho_{cv}\\rho_{c'v}}`.
- :func:`retest_rank_order`: the rank-order stability between two seeds of the same context,
  measured (Spearman, as rank-order stability itself).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "ICC_COLUMNS",
    "icc_matrix",
    "intraclass_corr",
    "score_cube",
    "retest_table",
    "noise_ceiling",
    "retest_rank_order",
]

#: Columns of :func:`retest_table`.
ICC_COLUMNS: tuple[str, ...] = (
    "value",  # str: the Schwartz value
    "chunk",  # str: the context
    "quantity",  # str: icc2_1 (one seed) or icc2_k (the mean of k seeds)
    "estimate",  # float
    "ci_low",  # float: lower bound of the 95 % interval (F-based, Shrout & Fleiss)
    "ci_high",  # float: upper bound
    "n",  # int: personas with a score at every seed (listwise deletion)
    "k",  # int: seeds
)


def _step_up(bound: np.ndarray, k: int) -> np.ndarray:
    """A bound of ICC(2,1) stepped up to ICC(2,k) by Spearman-Brown, k b / (1 + (k-1) b).

    The map increases from -inf to 1 as b goes from -1/(k-1) to 1; a bound at or below
    -1/(k-1) (few personas, a wide interval) therefore steps up to -inf. pingouin and psych apply
    the formula there too and report a finite number above the upper bound (e.g. a lower bound
    of 23.2 for an interval ending at 0.89 with 5 personas and 3 seeds): not an interval.
    """
    b = np.asarray(bound, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = k * b / (1 + (k - 1) * b)
    return np.where(1 + (k - 1) * b <= 0, -np.inf, out)


def icc_matrix(x: np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """ICC(2,1) and ICC(2,k) of ``x[..., n targets, k raters]`` (no missing values).

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(..., n, k)``: n targets (personas) rated by k raters (seeds); leading axes are
        independent problems (e.g. values x chunks).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    dict
        Arrays of the leading shape: ``icc2_1``, ``icc2_k``, their ``*_low`` / ``*_high``
        bounds, and the mean squares ``ms_rows``, ``ms_cols``, ``ms_error``.

    Notes
    -----
    Two-way ANOVA without replication: :math:`MS_R` (targets), :math:`MS_C` (raters),
    :math:`MS_E` (residual). Shrout & Fleiss (1979), case 2:

    .. math::
        ICC(2,1) = \\frac{MS_R - MS_E}{MS_R + (k-1)MS_E + k(MS_C - MS_E)/n}, \\qquad
        ICC(2,k) = \\frac{MS_R - MS_E}{MS_R + (MS_C - MS_E)/n}.

    The interval of ICC(2,1) uses Satterthwaite's degrees of freedom :math:`\\nu` and the F
    quantiles :math:`F^* = F_{1-\\alpha/2}(n-1, \\nu)`, :math:`F_* = F_{1-\\alpha/2}(\\nu, n-1)`:
    :math:`L = n(MS_R - F^* MS_E) / (F^*(k MS_C + (kn-k-n)MS_E) + n MS_R)`,
    :math:`U = n(F_* MS_R - MS_E) / (k MS_C + (kn-k-n)MS_E + n F_* MS_R)`; ICC(2,k)'s bounds are
    these stepped up by Spearman-Brown, :math:`kL/(1+(k-1)L)` (:math:`-\\infty` where
    :math:`L \\le -1/(k-1)`, see :func:`_step_up`). As pingouin's ``intraclass_corr`` (rows
    ``ICC2``, ``ICC2k``) and R's ``psych::ICC`` elsewhere.

    Examples
    --------
    >>> x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6],
    ...               [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)  # Shrout & Fleiss, Table 2
    >>> r = icc_matrix(x)
    >>> round(float(r["icc2_1"]), 2), round(float(r["icc2_k"]), 2)
    (0.29, 0.62)
    """
    x = np.asarray(x, dtype=float)
    n, k = x.shape[-2], x.shape[-1]
    grand = x.mean(axis=(-2, -1), keepdims=True)
    rows = x.mean(axis=-1, keepdims=True)
    cols = x.mean(axis=-2, keepdims=True)
    ms_r = k * ((rows - grand) ** 2).sum(axis=(-2, -1)) / (n - 1)
    ms_c = n * ((cols - grand) ** 2).sum(axis=(-2, -1)) / (k - 1)
    ms_e = ((x - rows - cols + grand) ** 2).sum(axis=(-2, -1)) / ((n - 1) * (k - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        icc2 = (ms_r - ms_e) / (ms_r + (k - 1) * ms_e + k * (ms_c - ms_e) / n)
        icc2k = (ms_r - ms_e) / (ms_r + (ms_c - ms_e) / n)
        alpha = 1 - level
        fj = ms_c / ms_e
        vn = (n - 1) * (k - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
        v = vn / vd
        f_up = sps.f.ppf(1 - alpha / 2, n - 1, v)
        f_lo = sps.f.ppf(1 - alpha / 2, v, n - 1)
        common = k * ms_c + (k * n - k - n) * ms_e
        low = n * (ms_r - f_up * ms_e) / (f_up * common + n * ms_r)
        high = n * (f_lo * ms_r - ms_e) / (common + n * f_lo * ms_r)
    return {
        "icc2_1": icc2, "icc2_1_low": low, "icc2_1_high": high,
        "icc2_k": icc2k, "icc2_k_low": _step_up(low, k), "icc2_k_high": _step_up(high, k),
        "ms_rows": ms_r, "ms_cols": ms_c, "ms_error": ms_e,
    }


def _wide(data: pd.DataFrame, targets: str, raters: str, ratings: str) -> pd.DataFrame:
    wide = data.pivot_table(index=targets, columns=raters, values=ratings, observed=True)
    return wide.dropna(axis=0, how="any")


def intraclass_corr(data: pd.DataFrame, *, targets: str, raters: str, ratings: str,
                    level: float = 0.95) -> pd.DataFrame:
    """ICC(2,1) and ICC(2,k) of a long table, pingouin's keywords.

    Parameters
    ----------
    data : DataFrame
        One row per (target, rater) rating.
    targets, raters, ratings : str
        Column names (e.g. ``persona``, ``seed``, ``score``).
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        Rows ``ICC2``, ``ICC2k`` (pingouin's names); columns ``ICC``, ``ci_low``, ``ci_high``,
        ``n``, ``k``. Targets lacking a rating are left out (pingouin's ``nan_policy="omit"``).

    Examples
    --------
    >>> d = pd.DataFrame({"p": [1, 1, 2, 2, 3, 3], "s": [0, 1] * 3, "y": [1., 2, 3, 3, 5, 6]})
    >>> intraclass_corr(d, targets="p", raters="s", ratings="y")["ICC"].round(3).tolist()
    [0.923, 0.96]
    """
    wide = _wide(data, targets, raters, ratings)
    r = icc_matrix(wide.to_numpy(float), level)
    n, k = wide.shape
    return pd.DataFrame(
        {"ICC": [float(r["icc2_1"]), float(r["icc2_k"])],
         "ci_low": [float(r["icc2_1_low"]), float(r["icc2_k_low"])],
         "ci_high": [float(r["icc2_1_high"]), float(r["icc2_k_high"])], "n": n, "k": k},
        index=pd.Index(["ICC2", "ICC2k"], name="Type"))


def score_cube(scores: pd.DataFrame, *, score: str = "centered", seed: str = "seed"
               ) -> tuple[np.ndarray, list[str], list[str], list[str], list]:
    """Scores of one model at one setting as an array ``[value, chunk, persona, seed]``.

    Personas lacking a score at some (value, chunk, seed) are NaN there; returns the array and
    the labels of its axes (values, chunks, personas, seeds), in order of first appearance."""
    values = list(dict.fromkeys(scores["value"]))
    chunks = list(dict.fromkeys(scores["chunk"]))
    personas = sorted(set(scores["persona"]))
    seeds = sorted(set(scores[seed]))
    cube = np.full((len(values), len(chunks), len(personas), len(seeds)), np.nan)
    iv = pd.Index(values).get_indexer(scores["value"])
    ic = pd.Index(chunks).get_indexer(scores["chunk"])
    ip = pd.Index(personas).get_indexer(scores["persona"])
    is_ = pd.Index(seeds).get_indexer(scores[seed])
    cube[iv, ic, ip, is_] = scores[score].to_numpy(float)
    return cube, values, chunks, personas, seeds


def retest_table(scores: pd.DataFrame, *, score: str = "centered", seed: str = "seed",
                 level: float = 0.95) -> pd.DataFrame:
    """ICC(2,1) and ICC(2,k) across seeds per (value, chunk) of one model at one setting.

    Parameters
    ----------
    scores : DataFrame
        ``seed, chunk, persona, value, <score>`` (the points' ``scores.parquet`` stacked).
    score : str
        Column of the score (``centered``: the ipsatised score rank-order stability uses).
    seed : str
        Column telling the repetitions apart.
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        :data:`ICC_COLUMNS`, two rows per (value, chunk). NaN with fewer than 2 seeds or 3
        personas scored at every seed.
    """
    cube, values, chunks, _, seeds = score_cube(scores, score=score, seed=seed)
    rows = []
    for i, v in enumerate(values):
        for j, c in enumerate(chunks):
            x = cube[i, j]
            x = x[np.isfinite(x).all(axis=1)]
            n, k = x.shape
            r = (icc_matrix(x, level) if n >= 3 and k >= 2
                 else dict.fromkeys(("icc2_1", "icc2_1_low", "icc2_1_high", "icc2_k",
                                     "icc2_k_low", "icc2_k_high"), np.nan))
            for q in ("icc2_1", "icc2_k"):
                rows.append({"value": v, "chunk": c, "quantity": q, "estimate": float(r[q]),
                             "ci_low": float(r[f"{q}_low"]), "ci_high": float(r[f"{q}_high"]),
                             "n": n, "k": k})
    return pd.DataFrame(rows, columns=list(ICC_COLUMNS))


def noise_ceiling(icc: pd.DataFrame, chunks: list[str] | None = None) -> float:
    """The rank-order stability between contexts that measurement noise leaves possible.

    Parameters
    ----------
    icc : DataFrame
        :func:`retest_table` rows (``quantity == "icc2_1"`` are used).
    chunks : list of str, optional
        Chunk order (default: order of appearance).

    Returns
    -------
    float
        :math:`\\operatorname{mean}_{v,(c,c')} \\sqrt{\\max(\\rho_{cv},0)\\max(\\rho_{c'v},0)}`
        with :math:`\\rho` = ICC(2,1). NaN if no pair has both ICCs.

    Notes
    -----
    Spearman's (1904) attenuation: the correlation between two measurements cannot exceed the
    geometric mean of their reliabilities. ICC(2,1) is the reliability of one seed's score in a
    context, so a cross-context rank-order correlation of a value above
    :math:`\\sqrt{\\rho_{cv}\\rho_{c'v}}` is not expected; a model at its ceiling changes its
    personas' order between contexts no more than between repetitions of one context. (ICC is
    a Pearson-type agreement coefficient and rank-order stability uses Spearman's rho, so the
    ceiling is approximate; :func:`retest_rank_order` measures the Spearman counterpart.)

    Examples
    --------
    >>> t = pd.DataFrame({"value": ["a", "a"], "chunk": ["x", "y"], "quantity": "icc2_1",
    ...                   "estimate": [0.81, 0.64]})
    >>> round(noise_ceiling(t), 3)
    0.72
    """
    one = icc[icc["quantity"] == "icc2_1"]
    chunks = chunks or list(dict.fromkeys(one["chunk"]))
    out = []
    for _, g in one.groupby("value", sort=False):
        rel = dict(zip(g["chunk"], np.clip(g["estimate"].to_numpy(float), 0, None), strict=True))
        for a, b in combinations([c for c in chunks if c in rel], 2):
            out.append(np.sqrt(rel[a] * rel[b]))
    arr = np.array(out, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _spearman_cols(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman's rho between matching columns ``a[:, j]``, ``b[:, j]`` (complete rows)."""
    ra = sps.rankdata(a, axis=0)
    rb = sps.rankdata(b, axis=0)
    ra -= ra.mean(axis=0)
    rb -= rb.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ra * rb).sum(axis=0) / np.sqrt((ra * ra).sum(axis=0) * (rb * rb).sum(axis=0))


def retest_rank_order(scores: pd.DataFrame, *, score: str = "centered",
                      seed: str = "seed") -> float:
    """Rank-order stability between seeds within each context: the mean over values, chunks
    and seed pairs of Spearman's rho over personas (NaN skipped).

    The empirical counterpart of :func:`noise_ceiling`: what rank-order stability would be if
    the context did not change at all, only the seed.

    Examples
    --------
    >>> s = pd.DataFrame({"seed": [0] * 3 + [1] * 3, "chunk": "c", "value": "v",
    ...                   "persona": ["a", "b", "c"] * 2, "centered": [1., 2, 3, 1, 3, 2]})
    >>> retest_rank_order(s)
    0.5
    """
    cube, *_ = score_cube(scores, score=score, seed=seed)
    n_seeds = cube.shape[-1]
    rs = []
    for i in range(cube.shape[0]):
        for j in range(cube.shape[1]):
            x = cube[i, j]
            x = x[np.isfinite(x).all(axis=1)]
            if x.shape[0] < 3:
                continue
            for a, b in combinations(range(n_seeds), 2):
                rs.append(_spearman_cols(x[:, [a]], x[:, [b]])[0])
    arr = np.array(rs, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")
