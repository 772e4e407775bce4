"""Diversity and sensitivity of a multi-column ranking (Zhang & Hardt, ICML 2024).

The leaderboard ranks models by aggregating 72 per-chunk columns (``docs/method.md``, Ranking sensitivity and diversity).
Zhang & Hardt ("Inherent trade-offs between diversity and stability in multi-task benchmarks")
measure how much the columns disagree (*diversity*) and how much the aggregate ranking can be
moved by reweighting the columns (cardinal *sensitivity*) or by adding irrelevant models
(ordinal sensitivity). The original leaderboard reports these through their package
``benchbench`` (socialfoundations/benchbench). This module reimplements the measures in numpy:
deterministic, no torch, with the quirks of benchbench kept where they change the numbers and
named:

* :func:`kendall_w` is Kendall's coefficient of concordance W itself (average ranks, tie
  correction). :func:`benchbench_diversity` is what benchbench returns and the original prints as
  "Diversity (W)": **1 - W**, computed on ranks truncated to integers with a 1e-8 tie tolerance.
* :func:`cardinal_sensitivity` follows benchbench's ``cardinal.get_sensitivity`` step by step,
  with a hand-derived gradient instead of autograd (float64 throughout; benchbench keeps the
  weights in float32, so the last digits can differ). The loss is accumulated in float32 as
  in benchbench, so its stopping rule sees the same values. Caveat, measured against
  benchbench run with torch: the gradients agree to 1e-15, but with lr 1.0 the descent often
  oscillates for all 1000 steps and is chaotic, so the final (tau, MRC) matched benchbench's
  float32 run in 62 of 80 random cases (73 of 80 against a float64 torch run, whose own
  result differs from the float32 one in the same cases). The number is therefore not
  robust to floating-point details, in benchbench either.
* :func:`ordinal_sensitivity` follows ``ordinal.get_sensitivity`` with numpy's seeded generator
  for the Bernoulli draws; the original used ``torch.manual_seed(0)``, so its exact numbers are
  not reproduced, only the procedure.

Every function takes ``columns``: a DataFrame with one row per model and one column per
criterion (higher is better), as returned by :func:`stickrole_utils.leaderboard.table.leaderboard_columns`.
Degenerate inputs give NaN plus a reason (``note``), never an exception.

Why one module past ~450 lines: it is one concept, the Zhang & Hardt measures of a ranking's
robustness, and most of its length is the step-by-step transcription of benchbench (cardinal
descent, ordinal Bernoulli search, the truncated-rank W) with the quirks named where they are
kept; splitting it would separate each measure from the shared rank helpers
(:func:`tolerant_rankdata`, :func:`rank_change`) it must agree with.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "tolerant_rankdata",
    "rank_change",
    "kendall_w",
    "benchbench_diversity",
    "mean_pairwise_mrc",
    "win_rate_matrix",
    "cardinal_sensitivity",
    "ordinal_sensitivity",
    "ranking_robustness",
    "MIN_MODELS",
]

logger = logging.getLogger(__name__)

#: Fewest models for which sensitivity is computed (below: NaN with a reason).
MIN_MODELS = 3

_TIE_TOL = 1e-8


# --------------------------------------------------------------------------------------------
# Ranks
# --------------------------------------------------------------------------------------------


def tolerant_rankdata(a: np.ndarray, tol: float = _TIE_TOL) -> np.ndarray:
    """Average ranks (1 = smallest) where values within ``tol`` of their sorted neighbour tie.

    benchbench's ranking: sort ascending; a value starts a new tie group only if it exceeds
    the previous sorted value by more than ``tol`` (groups chain). NaN sorts last and, because
    ``|NaN - x| > tol`` is false, joins the group of the largest value. Rank models best-first
    by passing ``-values``; NaN then ties with the worst model.

    Parameters
    ----------
    a
        1-D values.
    tol
        Tie tolerance.

    Returns
    -------
    numpy.ndarray
        Float ranks, ties sharing their average rank.

    Examples
    --------
    >>> tolerant_rankdata(np.array([0.3, 0.1, 0.1 + 1e-12, 0.2])).tolist()
    [4.0, 1.5, 1.5, 3.0]
    """
    arr = np.ravel(np.asarray(a, dtype=float))
    if arr.size == 0:
        return np.empty(0)
    order = np.argsort(arr, kind="stable")
    inv = np.empty(order.size, dtype=np.intp)
    inv[order] = np.arange(order.size)
    srt = arr[order]
    with np.errstate(invalid="ignore"):
        new_group = np.r_[True, np.fabs(srt[1:] - srt[:-1]) > tol]
    dense = new_group.cumsum()[inv]
    bounds = np.r_[np.nonzero(new_group)[0], new_group.size]
    return 0.5 * (bounds[dense] + bounds[dense - 1] + 1)


def rank_change(new_rank: np.ndarray, old_rank: np.ndarray) -> tuple[float, float]:
    """Kendall-tau distance and maximum rank change between two rankings (benchbench).

    Parameters
    ----------
    new_rank, old_rank
        Ranks of the same n items.

    Returns
    -------
    tuple of float
        ``(tau_distance, mrc)`` with tau_distance = (1 - tau_b) / 2 in [0, 1] and
        MRC = max_i |new_i - old_i| / (n - 1). ``(0, 0)`` when the rankings are identical
        (sum of absolute differences <= 1e-8), as in benchbench.
    """
    new = np.asarray(new_rank, dtype=float)
    old = np.asarray(old_rank, dtype=float)
    if new.size != old.size:
        raise ValueError(f"rankings differ in length: {new.size} vs {old.size}")
    if np.sum(np.abs(new - old)) <= _TIE_TOL:
        return (0.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau = sps.kendalltau(new, old).statistic
    mrc = float(np.max(np.fabs(new - old)) / (new.size - 1))
    return (float((1 - tau) / 2), mrc)


def _values(columns: pd.DataFrame) -> np.ndarray:
    return columns.to_numpy(dtype=float, na_value=np.nan)


# --------------------------------------------------------------------------------------------
# Diversity
# --------------------------------------------------------------------------------------------


def _kendall_w(
    columns: pd.DataFrame, tie_correction: bool = True, nan: str = "omit"
) -> tuple[float, int, str]:
    """Kendall's W with the number of columns used and a reason when NaN."""
    if nan not in ("omit", "worst"):
        raise ValueError(f"nan must be 'omit' or 'worst', got {nan!r}")
    x = _values(columns)
    n = x.shape[0]
    if n < 2:
        return (float("nan"), 0, f"Kendall's W needs at least 2 models, got {n}")
    has_nan = np.isnan(x).any(axis=0)
    if nan == "omit":
        x = x[:, ~has_nan]
    else:
        x = np.where(np.isnan(x), -np.inf, x)
    m = x.shape[1]
    if m == 0:
        return (float("nan"), 0, "Kendall's W: no column without NaN")
    ranks = np.column_stack([sps.rankdata(-x[:, j], method="average") for j in range(m)])
    rank_sums = ranks.sum(axis=1)
    s = float(np.sum((rank_sums - m * (n + 1) / 2) ** 2))
    denom = m**2 * (n**3 - n)
    if tie_correction:
        for j in range(m):
            _, counts = np.unique(ranks[:, j], return_counts=True)
            denom -= m * float(np.sum(counts**3 - counts))
    if denom <= 0:
        return (float("nan"), m, "Kendall's W: every column ties all models")
    return (12.0 * s / denom, m, "")


def kendall_w(columns: pd.DataFrame, tie_correction: bool = True, nan: str = "omit") -> float:
    """Kendall's coefficient of concordance W of the columns' rankings of the models.

    Columns are the raters, models the ranked objects (rank 1 = highest value, average ranks
    for exact ties). W = 1: every column ranks the models identically; W = 0: no agreement
    (e.g. two exactly reversed columns).

    Parameters
    ----------
    columns
        One row per model, one column per criterion.
    tie_correction
        Apply the standard correction for tied ranks (so that identical columns with ties still
        give W = 1).
    nan
        ``"omit"`` (default): leave out every column with a NaN (a rater who did not rank all
        models); ``"worst"``: rank NaN below every value, NaNs tied.

    Returns
    -------
    float
        W in [0, 1]; NaN with fewer than 2 models, no usable column, or all columns constant.

    Notes
    -----
    With n models, m columns, :math:`R_i` the rank sum of model i and
    :math:`S = \\sum_i (R_i - m(n+1)/2)^2`,
    :math:`W = 12 S / (m^2 (n^3 - n) - m \\sum_j T_j)`, where :math:`T_j = \\sum (t^3 - t)`
    over the tie groups of column j (0 without ``tie_correction``). R equivalent:
    ``irr::kendall(t(columns), correct = TRUE)``.

    Examples
    --------
    >>> cols = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]})
    >>> kendall_w(cols)
    0.0
    >>> kendall_w(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, 5.0, 9.0]}))
    1.0
    """
    return _kendall_w(columns, tie_correction=tie_correction, nan=nan)[0]


def _impute_knn(x: np.ndarray) -> np.ndarray:
    """benchbench's ordinal preprocessing: KNNImputer(n_neighbors=5) (all-NaN columns dropped)."""
    from sklearn.impute import KNNImputer

    keep = ~np.isnan(x).all(axis=0)
    x = x[:, keep]
    if not np.isnan(x).any():
        return x
    return KNNImputer(n_neighbors=5, weights="uniform").fit_transform(x)


def _bb_ranks(columns: pd.DataFrame, impute: bool) -> list[np.ndarray]:
    x = _values(columns)
    if impute:
        x = _impute_knn(x)
    return [tolerant_rankdata(-x[:, j]) for j in range(x.shape[1])]


def benchbench_diversity(columns: pd.DataFrame, impute: bool = False) -> float:
    """benchbench's "diversity": **1 - W** on integer-truncated tolerant ranks.

    This is the number the original prints as "Diversity (W)" (``docs/method.md``, Ranking sensitivity and diversity).
    It differs from :func:`kendall_w` in three ways, all reproduced here: ranks come from
    :func:`tolerant_rankdata` (ties within 1e-8; NaN tied with the worst model), are cast to
    ``int`` (a shared rank 2.5 becomes 2), and no tie correction is applied; the result is
    reported as 1 - W.

    Parameters
    ----------
    columns
        One row per model, one column per criterion.
    impute
        ``False``: benchbench ``cardinal.get_diversity`` (NaN ranked as described).
        ``True``: ``ordinal.get_diversity``, which first imputes NaN with scikit-learn's
        ``KNNImputer(n_neighbors=5)`` (columns that are entirely NaN are dropped first; in
        benchbench they would raise).

    Returns
    -------
    float
        1 - W (NaN with fewer than 2 models or no column).
    """
    ranks = _bb_ranks(columns, impute)
    n = columns.shape[0]
    if n < 2 or not ranks:
        return float("nan")
    r = np.array(ranks).astype(int)  # truncation, as benchbench's np.array(..., dtype=int)
    m = r.shape[0]
    rank_sums = r.sum(axis=0)
    ss = float(np.sum((rank_sums - rank_sums.mean()) ** 2))
    w = ss / (m**2 * (n**3 - n) / 12)
    return 1.0 - w


def mean_pairwise_mrc(columns: pd.DataFrame, impute: bool = False) -> float:
    """Mean over column pairs of the maximum rank change between their rankings.

    benchbench's second diversity output (which it calls ``max_MRC`` but averages):
    for each pair of columns, MRC = max_i |r_ia - r_ib| / (n - 1) on tolerant ranks
    (see :func:`rank_change`), then the mean over pairs. NaN with < 2 models or < 2 columns.
    """
    ranks = _bb_ranks(columns, impute)
    if columns.shape[0] < 2 or len(ranks) < 2:
        return float("nan")
    return float(np.mean([rank_change(a, b)[1] for a, b in itertools.combinations(ranks, 2)]))


# --------------------------------------------------------------------------------------------
# Cardinal sensitivity
# --------------------------------------------------------------------------------------------


def _softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max())
    return e / e.sum()


def _normalized_weights(theta: np.ndarray, min_value: float) -> tuple[np.ndarray, np.ndarray]:
    """w = (softmax(theta) + c) / sum(...), c = min_value / (1 - min_value); returns (w, w2)."""
    w2 = _softmax(theta) + min_value / (1 - min_value)
    return w2 / w2.sum(), w2


def _cardinal_loss_and_grad(
    theta: np.ndarray, z: np.ndarray, coef: np.ndarray, min_value: float
) -> tuple[float, np.ndarray]:
    """Hinge loss of benchbench's ``appr_rank_diff`` and its gradient with respect to theta.

    ``coef[i, j] > 0`` for the pairs where model j was ranked above model i (the weight
    old_rank[i] - old_rank[j] or 1). loss = sum coef_ij * max(score_j - score_i, 0) with
    score = z @ w / k. As in benchbench, a pair with score_j - score_i == 0 passes gradient.
    """
    k = z.shape[1]
    s = _softmax(theta)
    w, w2 = _normalized_weights(theta, min_value)
    score = z @ w / k
    diff = score[None, :] - score[:, None]  # diff[i, j] = score_j - score_i
    g_diff = np.where(diff >= 0, coef, 0.0)
    # benchbench accumulates the loss pair by pair (row-major) in a float32 tensor; its
    # stopping rule compares that value, so it is reproduced here.
    terms = (g_diff * diff)[coef > 0].astype(np.float32)
    loss = float(np.cumsum(terms, dtype=np.float32)[-1]) if terms.size else 0.0
    g_score = g_diff.sum(axis=0) - g_diff.sum(axis=1)
    g_w = z.T @ g_score / k
    total = w2.sum()
    g_w2 = g_w / total - float(g_w @ w2) / total**2
    g_theta = s * (g_w2 - float(s @ g_w2))
    return loss, g_theta


def _cardinal_run(
    x: np.ndarray,
    weighted: bool,
    min_value: float,
    lr: float,
    num_steps: int,
    stop_threshold: float,
    normalize_epsilon: bool,
) -> tuple[tuple[float, float], np.ndarray, int]:
    std = x.std(axis=0, ddof=1)
    z = (x - x.mean(axis=0)) / std
    old_rank = tolerant_rankdata(-x.mean(axis=1))
    above = old_rank[None, :] < old_rank[:, None]  # above[i, j]: j ranked better than i
    gap = old_rank[:, None] - old_rank[None, :]
    coef = np.where(above, gap if weighted else 1.0, 0.0)
    theta = np.ones(x.shape[1])
    last_loss = float(0x3F3F3F3F)
    steps = 0
    for _ in range(num_steps):
        loss, grad = _cardinal_loss_and_grad(theta, z, coef, min_value)
        if loss <= 1e-8:
            break
        theta = theta - lr * grad
        steps += 1
        if math.fabs(loss - last_loss) < stop_threshold:
            break
        last_loss = loss
    w, _ = _normalized_weights(theta, min_value)
    if normalize_epsilon:
        w = w / std
    w = w / w.max()
    new_rank = tolerant_rankdata(-(x * w).mean(axis=1))
    return rank_change(new_rank, old_rank), w, steps


def _better(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """a strictly better than b, lexicographically, NaN lowest."""
    key = tuple(-np.inf if math.isnan(v) else v for v in a), tuple(
        -np.inf if math.isnan(v) else v for v in b)
    return key[0] > key[1]


def cardinal_sensitivity(
    columns: pd.DataFrame,
    min_value: float = 0.01,
    lr: float = 1.0,
    num_steps: int = 1000,
    stop_threshold: float = 1e-5,
    normalize_epsilon: bool = True,
    use_weighted_loss: bool | None = None,
) -> dict:
    """How far reweighting the columns can move the cardinal (mean-score) ranking.

    Reimplements benchbench ``cardinal.get_sensitivity`` (``docs/method.md``, Ranking sensitivity and diversity):

    1. drop columns whose standard deviation (ddof 1) is not > 1e-8 — in benchbench a column
       with a NaN has NaN std and is dropped the same way, so NaN columns are left out;
    2. old ranking: models by the mean of the kept raw columns (average ranks, 1e-8 ties);
    3. z-score the kept columns; weights :math:`w = \\mathrm{norm}(\\mathrm{softmax}(\\theta) +
       c)` with :math:`c = m_v / (1 - m_v)`, :math:`m_v` = ``min_value`` (every column keeps at
       least about ``min_value``/k of the weight), :math:`\\theta_0 = 1`;
    4. minimise the hinge loss
       :math:`L = \\sum_{(i, j): r_j < r_i} c_{ij} \\max(s_j - s_i, 0)`,
       :math:`s = Z w / k`, with :math:`c_{ij} = r_i - r_j` (weighted) or 1, by plain gradient
       descent (lr 1.0) for at most ``num_steps`` steps, stopping before a step when
       L <= 1e-8 and after a step when |L - L_prev| < ``stop_threshold``;
    5. final weights divided by the column SDs (``normalize_epsilon``) and by their maximum;
       new ranking by the mean of the reweighted raw columns;
    6. with ``use_weighted_loss=None`` both losses are run and the result with the larger
       (tau distance, MRC), compared lexicographically, is returned.

    The gradient is derived by hand (tested against finite differences); everything is
    float64 and deterministic.

    Parameters
    ----------
    columns
        One row per model, one column per criterion (higher is better).
    min_value, lr, num_steps, stop_threshold, normalize_epsilon, use_weighted_loss
        benchbench's parameters, same defaults.

    Returns
    -------
    dict
        ``tau_distance`` ((1 - Kendall tau_b) / 2 between old and new ranking),
        ``mrc`` (max |rank change| / (n - 1)), ``loss`` ("weighted"/"unweighted", the variant
        kept), ``n_steps``, ``n_columns_used``, ``weights`` {column: final weight} and
        ``note`` (why the values are NaN, else ""). NaN with fewer than :data:`MIN_MODELS`
        models or no varying column.
    """
    n = columns.shape[0]
    out: dict = {"tau_distance": float("nan"), "mrc": float("nan"), "loss": "",
                 "n_steps": 0, "n_columns_used": 0, "weights": {}, "note": ""}
    if n < MIN_MODELS:
        out["note"] = f"cardinal sensitivity needs at least {MIN_MODELS} models, got {n}"
        return out
    x = _values(columns)
    with np.errstate(invalid="ignore"):
        std = x.std(axis=0, ddof=1)
    keep = std > 1e-8  # False for NaN std too
    names = [c for c, k in zip(columns.columns, keep, strict=True) if k]
    out["n_columns_used"] = int(keep.sum())
    if not keep.any():
        out["note"] = "cardinal sensitivity: no column varies across models (without NaN)"
        return out
    x = x[:, keep]
    variants = [True, False] if use_weighted_loss is None else [bool(use_weighted_loss)]
    best = None
    for weighted in variants:
        res = _cardinal_run(x, weighted, min_value, lr, num_steps, stop_threshold,
                            normalize_epsilon)
        if best is None or _better(res[0], best[1][0]):
            best = (weighted, res)
    assert best is not None
    weighted, ((tau, mrc), w, steps) = best
    out.update(tau_distance=float(tau), mrc=float(mrc),
               loss="weighted" if weighted else "unweighted", n_steps=int(steps),
               weights={str(c): float(v) for c, v in zip(names, w, strict=True)})
    if math.isnan(tau):
        out["note"] = "cardinal sensitivity: the reweighted scores tie every model (tau undefined)"
    return out


# --------------------------------------------------------------------------------------------
# Ordinal sensitivity
# --------------------------------------------------------------------------------------------


def win_rate_matrix(columns: pd.DataFrame) -> np.ndarray:
    """benchbench's pairwise win-rate matrix.

    ``W[i, k]`` = fraction of the columns where both models have a value in which model i's
    value is strictly greater than model k's (0 on the diagonal and where no column is
    shared).
    """
    x = _values(columns)
    ok = ~np.isnan(x)
    both = ok[:, None, :] & ok[None, :, :]
    with np.errstate(invalid="ignore"):
        wins = (x[:, None, :] > x[None, :, :]) & both
    tot = both.sum(axis=2)
    out = np.where(tot > 0, wins.sum(axis=2) / np.maximum(tot, 1), 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def _selected_win_rate(wm: np.ndarray, sel: np.ndarray) -> np.ndarray:
    return sel * (wm @ sel) / sel.sum()


def _selected_win_rate_grad(wm: np.ndarray, sel: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradient of g . nwr(sel), nwr_i = sel_i (W sel)_i / S, with respect to sel."""
    ws = wm @ sel
    total = sel.sum()
    return g * ws / total + wm.T @ (g * sel) / total - float(np.sum(g * sel * ws)) / total**2


def ordinal_sensitivity(
    columns: pd.DataFrame,
    seed: int = 0,
    n_kept: int | None = None,
    lr: float = 0.01,
    num_steps: int = 1000,
) -> dict:
    """How far adding "irrelevant" models can move the win-rate ranking of a kept set.

    Procedure of benchbench ``ordinal.get_sensitivity`` (``docs/method.md``, Ranking sensitivity and diversity): the kept set
    L is the **first** ``n_kept`` models in row order (default ⌊n/5⌋, so the result depends on
    the row order, as in the original). Every other model gets an inclusion logit
    (start 0); each step draws a Bernoulli inclusion per model, computes the mean win rates of
    L among the included models from :func:`win_rate_matrix`, and takes an Adam step (lr 0.01,
    betas 0.9/0.999, eps 1e-8) on the hinge loss
    :math:`\\sum_{a, b \\in L: r_a < r_b} \\max(\\bar w_a - \\bar w_b, -0.01)` through a
    straight-through estimator (d inclusion / d logit = 1). The largest (tau distance, MRC)
    seen over the steps, or that of the final deterministic selection (logit > 0) if larger,
    is returned.

    The original draws with ``torch.manual_seed(0)``; here draws come from
    ``numpy.random.default_rng(seed)``, so exact numbers differ from benchbench's while the
    procedure is the same.

    Returns
    -------
    dict
        ``tau_distance``, ``mrc``, ``n_kept``, ``n_steps``, ``added`` (names of the non-kept
        models in the best selection) and ``note`` (the reason for NaN: fewer than
        :data:`MIN_MODELS` models or a kept set of fewer than 2 models, i.e. fewer than 10
        models with the default ⌊n/5⌋).
    """
    n = columns.shape[0]
    k = n // 5 if n_kept is None else int(n_kept)
    out: dict = {"tau_distance": float("nan"), "mrc": float("nan"), "n_kept": k,
                 "n_steps": 0, "added": [], "note": ""}
    if n < MIN_MODELS:
        out["note"] = f"ordinal sensitivity needs at least {MIN_MODELS} models, got {n}"
        return out
    if not 2 <= k < n:
        out["note"] = (f"ordinal sensitivity: the kept set (first {k} of {n} models) must hold "
                       f"at least 2 models and leave some out (default floor(n/5) needs n >= 10)")
        return out
    wm = win_rate_matrix(columns)
    kept = np.arange(k)
    in_kept = np.zeros(n, dtype=bool)
    in_kept[kept] = True
    orig_rank = tolerant_rankdata(-wm[:k, :k].mean(axis=1))
    pairs = [(a, b) for a in range(k) for b in range(k) if orig_rank[a] < orig_rank[b]]
    if not pairs:
        out.update(tau_distance=0.0, mrc=0.0, note="ordinal sensitivity: kept models all tie")
        return out
    pa = np.array([p[0] for p in pairs])
    pb = np.array([p[1] for p in pairs])
    rng = np.random.default_rng(seed)
    theta = np.zeros(n)
    m1 = np.zeros(n)
    m2 = np.zeros(n)
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def evaluate(sel: np.ndarray) -> tuple[tuple[float, float], np.ndarray]:
        idx = np.nonzero(sel >= 1.0 - 1e-4)[0]
        new_wr = wm[np.ix_(idx, idx)].mean(axis=1)[:k]  # L = first k, always included
        return rank_change(tolerant_rankdata(-new_wr), orig_rank), idx

    history: list[tuple[tuple[float, float], np.ndarray]] = []
    for step in range(1, num_steps + 1):
        probs = 1.0 / (1.0 + np.exp(-theta))
        sampled = (rng.random(n) < probs).astype(float)
        sel = sampled + ((sampled == 0.0) & in_kept)
        nwr = _selected_win_rate(wm, sel)
        d = nwr[pa] - nwr[pb]
        active = d >= -0.01  # max(d, -0.01) passes gradient unless -0.01 > d
        g_nwr = np.zeros(n)
        np.add.at(g_nwr, pa, active.astype(float))
        np.add.at(g_nwr, pb, -active.astype(float))
        grad = _selected_win_rate_grad(wm, sel, g_nwr)
        m1 = beta1 * m1 + (1 - beta1) * grad
        m2 = beta2 * m2 + (1 - beta2) * grad**2
        theta = theta - lr * (m1 / (1 - beta1**step)) / (np.sqrt(m2 / (1 - beta2**step)) + eps)
        history.append(evaluate(sel))
        out["n_steps"] = step
    final_sel = (1.0 / (1.0 + np.exp(-theta)) > 0.5).astype(float)
    final = evaluate(final_sel + ((final_sel == 0.0) & in_kept))
    best = max(history, key=lambda h: h[0][0])  # first with the largest tau, as a stable sort
    if _better(final[0], best[0]):
        best = final
    (tau, mrc), idx = best
    out.update(tau_distance=float(tau), mrc=float(mrc),
               added=[str(columns.index[i]) for i in idx if i >= k])
    return out


# --------------------------------------------------------------------------------------------
# Bundle
# --------------------------------------------------------------------------------------------


def ranking_robustness(columns: pd.DataFrame, seed: int = 0) -> dict:
    """Every diversity and sensitivity number of a leaderboard, for ranking.json and the report.

    Parameters
    ----------
    columns
        One row per model (in leaderboard input order: the ordinal sensitivity keeps the first
        ⌊n/5⌋ rows), one column per criterion.
    seed
        Seed of :func:`ordinal_sensitivity`.

    Returns
    -------
    dict
        ``n_models``, ``n_columns``; ``kendall_w`` (W, our definition, NaN columns omitted),
        ``kendall_w_columns`` (columns used), ``one_minus_w`` (1 - kendall_w);
        ``benchbench_diversity`` (benchbench's 1 - W on truncated ranks, the original's
        "Diversity (W)"), ``benchbench_diversity_imputed`` (its ordinal variant, KNN-imputed),
        ``mean_pairwise_mrc``; ``cardinal_tau_distance``, ``cardinal_mrc``, ``cardinal_loss``,
        ``cardinal_columns``; ``ordinal_tau_distance``, ``ordinal_mrc``, ``ordinal_kept``,
        ``ordinal_seed``; ``notes`` (list of reasons for NaN values).
    """
    n, m = columns.shape
    notes: list[str] = []
    w, w_cols, note = _kendall_w(columns)
    if note:
        notes.append(note)
    card = cardinal_sensitivity(columns)
    ordn = ordinal_sensitivity(columns, seed=seed)
    for note in (card["note"], ordn["note"]):
        if note:
            notes.append(note)
    try:
        bb_imp = benchbench_diversity(columns, impute=True)
    except ValueError as exc:  # KNN imputation impossible (e.g. a model with no value at all)
        bb_imp = float("nan")
        notes.append(f"benchbench_diversity_imputed: {exc}")
    return {
        "n_models": int(n),
        "n_columns": int(m),
        "kendall_w": w,
        "kendall_w_columns": int(w_cols),
        "one_minus_w": 1.0 - w,
        "benchbench_diversity": benchbench_diversity(columns),
        "benchbench_diversity_imputed": bb_imp,
        "mean_pairwise_mrc": mean_pairwise_mrc(columns),
        "cardinal_tau_distance": card["tau_distance"],
        "cardinal_mrc": card["mrc"],
        "cardinal_loss": card["loss"],
        "cardinal_columns": card["n_columns_used"],
        "ordinal_tau_distance": ordn["tau_distance"],
        "ordinal_mrc": ordn["mrc"],
        "ordinal_kept": ordn["n_kept"],
        "ordinal_seed": int(seed),
        "notes": notes,
    }
