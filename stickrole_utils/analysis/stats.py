"""Statistics for the paper analysis: bootstrap intervals, model comparisons, FDR control.

``docs/method.md``, Model comparisons: the paper compares models with Student t-tests on per-seed values and
controls the false discovery rate with Benjamini-Hochberg. The original applied BH to the lower
triangle of the p-value matrix *including its diagonal* (p = 1 for a model against itself),
which inflates the number of tests m. :func:`compare_models` corrects that by default
and reproduces it with ``include_diagonal=True``.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "bootstrap_workers",
    "bootstrap_distribution",
    "percentile_bootstrap",
    "benjamini_hochberg",
    "compare_models",
    "COMPARISON_COLUMNS",
]

logger = logging.getLogger(__name__)

#: Columns of :func:`compare_models`' result, in order.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "model_a",  # str: first model of the pair (order of first appearance in the data)
    "model_b",  # str: second model
    "mean_a",  # float: mean of model_a's values (NaN values dropped)
    "mean_b",  # float: mean of model_b's values
    "t",  # float: Student t statistic (a - b), equal variances
    "p",  # float: two-sided p-value; NaN where a test is impossible (< 2 values in a group)
    "p_adj",  # float: Benjamini-Hochberg adjusted p-value; NaN where p is NaN
    "significant",  # bool: p_adj < alpha
    "n_a",  # int: number of non-NaN values of model_a
    "n_b",  # int: number of non-NaN values of model_b
)


def bootstrap_distribution(
    statistic: Callable[[np.ndarray], float],
    n_units: int,
    n_boot: int,
    rng: np.random.Generator,
    workers: int = 1,
) -> np.ndarray:
    """Bootstrap replicates of a statistic over resampled units (e.g. personas).

    Parameters
    ----------
    statistic
        Called as ``statistic(indices)`` with an integer array of ``n_units`` unit indices drawn
        with replacement from ``0 .. n_units - 1``; returns a float (NaN allowed, e.g. when a
        resample has a constant column).
    n_units
        Number of units to resample.
    n_boot
        Number of bootstrap resamples.
    rng
        Random generator; the draws are ``rng.integers(0, n_units, size=n_units)`` per resample.
    workers
        Processes that share the replicates (forked: the statistic need not pickle); the
        draws are made here, in order, so the replicates are the same for any number of
        workers. 1 (or no ``fork`` on the platform): in this process.

    Returns
    -------
    numpy.ndarray
        ``n_boot`` replicates (float), in draw order.
    """
    if n_units < 0 or n_boot < 0:
        raise ValueError(f"n_units and n_boot must be >= 0, got {n_units} and {n_boot}")
    out = np.full(n_boot, np.nan)
    if n_units == 0:
        return out
    draws = [rng.integers(0, n_units, size=n_units) for _ in range(n_boot)]
    workers = min(workers, n_boot)
    if workers > 1 and "fork" in mp.get_all_start_methods():
        global _STATISTIC
        _STATISTIC = statistic
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                out[:] = pool.map(_replicate, draws, chunksize=1)
        finally:
            _STATISTIC = None
        return out
    for b, idx in enumerate(draws):
        out[b] = float(statistic(idx))
    return out


_STATISTIC: Callable[[np.ndarray], float] | None = None


def _replicate(idx: np.ndarray) -> float:
    """One replicate in a forked worker (one BLAS thread each: the workers are the cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return float(_STATISTIC(idx))  # type: ignore[misc]


def bootstrap_workers(n_boot: int) -> int:
    """Worker processes for ``n_boot`` expensive replicates: ``STICKROLE_BOOTSTRAP_WORKERS``
    (a number, or ``auto``: the CPUs this process may use), never more than the replicates;
    1 when unset. Opt-in: grid points and models already run side by side (Ray, the pipeline's
    workers), and on the loaded 2-core machine the workers gained nothing
    (``benchmarks/bench_bootstrap.py``)."""
    env = os.environ.get("STICKROLE_BOOTSTRAP_WORKERS", "").strip()
    if env == "auto":
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    else:
        n = int(env) if env.isdigit() else 1
    return max(1, min(n, n_boot))


def percentile_bootstrap(
    statistic: Callable[[np.ndarray], float],
    n_units: int,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
    workers: int = 1,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a statistic over resampled units.

    Parameters
    ----------
    statistic, n_units, n_boot, rng
        As in :func:`bootstrap_distribution`.
    level
        Coverage of the interval, in (0, 1).
    workers
        Processes sharing the replicates (:func:`bootstrap_distribution`; same interval).

    Returns
    -------
    tuple of float
        ``(low, high)``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (numpy's
        default linear interpolation) of the non-NaN replicates. ``(NaN, NaN)`` when
        ``n_boot == 0``, ``n_units == 0`` or every replicate is NaN.

    Notes
    -----
    Efron's percentile interval: draw B resamples of the units with replacement, compute
    :math:`\\hat\\theta^*_b`, and report the empirical quantiles
    :math:`[\\hat\\theta^*_{(\\alpha/2)}, \\hat\\theta^*_{(1-\\alpha/2)}]` with
    :math:`\\alpha = 1 - \\text{level}`. NaN replicates (degenerate resamples) are left out and
    their number is logged. R equivalent: ``boot::boot.ci(b, type = "perc")`` (which uses a
    slightly different quantile rule).

    Examples
    --------
    >>> x = np.arange(10.0)
    >>> lo, hi = percentile_bootstrap(lambda i: x[i].mean(), 10, 200, np.random.default_rng(0))
    >>> bool(lo < x.mean() < hi)
    True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    reps = bootstrap_distribution(statistic, n_units, n_boot, rng, workers)
    finite = reps[~np.isnan(reps)]
    if finite.size < reps.size:
        logger.info("bootstrap: %d of %d replicates are NaN and left out",
                    reps.size - finite.size, reps.size)
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = 1.0 - level
    lo, hi = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(lo), float(hi))


def benjamini_hochberg(p: np.ndarray | list[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up FDR control).

    Parameters
    ----------
    p
        p-values; NaN entries are not tests: they are left out of m and stay NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape and order as ``p``.

    Notes
    -----
    With the m finite p-values sorted ascending, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,
    :math:`\\tilde p_{(i)} = \\min_{k \\ge i} \\min(1, m\\,p_{(k)} / k)`, computed by
    ``scipy.stats.false_discovery_control(p, method="bh")`` on the finite values; same as statsmodels
    ``multipletests(p, method="fdr_bh")`` and R ``p.adjust(p, "BH")``.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.5]).round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.5]
    """
    arr = np.asarray(p, dtype=float)
    out = np.full(arr.shape, np.nan)
    flat = arr.ravel()
    ok = ~np.isnan(flat)
    vals = flat[ok]
    m = vals.size
    if m == 0:
        return out
    if np.any((vals < 0) | (vals > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adj = sps.false_discovery_control(vals, method="bh")
    res = out.ravel()
    res[ok] = adj
    return res.reshape(arr.shape)


def _ttest(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Student two-sample t-test (equal variances); NaN where a group has < 2 values."""
    if a.size < 2 or b.size < 2:
        return (float("nan"), float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = sps.ttest_ind(a, b, equal_var=True)
    return (float(res.statistic), float(res.pvalue))


def compare_models(
    data: pd.DataFrame,
    model: str = "model",
    value: str = "value",
    alpha: float = 0.05,
    include_diagonal: bool = False,
) -> pd.DataFrame:
    """Pairwise Student t-tests between models with Benjamini-Hochberg FDR control.

    Parameters
    ----------
    data
        Long table, one row per observation (e.g. per seed): a model column and a value column.
        NaN values are dropped.
    model, value
        Column names.
    alpha
        FDR level: ``significant = p_adj < alpha``.
    include_diagonal
        ``False`` (default, corrected): BH over the m = n(n-1)/2 model pairs.
        ``True`` reproduces the original (``docs/method.md``, Model comparisons): BH over the lower
        triangle *including the diagonal*, i.e. n extra tests with p = 1 (a model against
        itself), m = n(n+1)/2; the diagonal is not returned.

    Returns
    -------
    pandas.DataFrame
        One row per unordered pair, in order of first appearance of the models; columns
        :data:`COMPARISON_COLUMNS`.

    Notes
    -----
    :math:`t = (\\bar a - \\bar b) / (s_p \\sqrt{1/n_a + 1/n_b})` with the pooled SD
    :math:`s_p`, df = n_a + n_b - 2 (``scipy.stats.ttest_ind(a, b, equal_var=True)``; R
    ``t.test(a, b, var.equal = TRUE)``), then :func:`benjamini_hochberg`. A pair where either
    model has fewer than two values has NaN t and p and is not counted in m.
    """
    for col in (model, value):
        if col not in data.columns:
            raise KeyError(f"compare_models: column {col!r} not in data; columns are "
                           f"{list(data.columns)}")
    models = list(pd.unique(data[model]))
    groups = {
        m: pd.to_numeric(data.loc[data[model] == m, value], errors="coerce").dropna().to_numpy(float)
        for m in models
    }
    rows = []
    for a, b in itertools.combinations(models, 2):
        t, p = _ttest(groups[a], groups[b])
        rows.append({
            "model_a": a, "model_b": b,
            "mean_a": float(groups[a].mean()) if groups[a].size else float("nan"),
            "mean_b": float(groups[b].mean()) if groups[b].size else float("nan"),
            "t": t, "p": p,
            "n_a": int(groups[a].size), "n_b": int(groups[b].size),
        })
    p = np.array([r["p"] for r in rows], dtype=float)
    if include_diagonal:
        # The original's lower triangle with its diagonal of ones: one extra test with
        # p = 1 per model (a model against itself).
        diag = np.ones(len(models))
        p_adj = benjamini_hochberg(np.concatenate([p, diag]))[: p.size]
    else:
        p_adj = benjamini_hochberg(p)
    out = pd.DataFrame(rows, columns=[c for c in COMPARISON_COLUMNS
                                      if c not in ("p_adj", "significant")])
    out["p_adj"] = p_adj
    out["significant"] = np.where(np.isnan(p_adj), False, p_adj < alpha).astype(bool)
    return out[list(COMPARISON_COLUMNS)]
