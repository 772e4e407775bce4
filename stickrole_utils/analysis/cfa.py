"""CFA "magnifying glass": four higher-order confirmatory factor models and their fit.

The leaderboard fits, per chunk, four lavaan models ``cfa(model, data, std.lv = TRUE)``
(conservation, openness to change, self-transcendence, self-enhancement; one factor per basic
value) and reports lavaan's standard ``fitMeasures`` CFI, TLI, SRMR and RMSEA; a failed fit
(error, non-convergence, a latent correlation >= 1) enters the leaderboard as CFI 0, SRMR 1,
RMSEA 1.

Estimator (as lavaan's defaults): ML on the sample covariance with divisor N, no mean
structure, factor variances fixed to 1, all loadings and factor covariances free, no bounds
(Heywood cases allowed), listwise deletion, lavaan's starting values (FABIN 3 / three-indicator
loadings, half the item variances, zero factor correlations). Fit-measure formulas are lavaan
0.6-14's ``lav_fit_cfi``, ``lav_fit_nnfi``, ``lav_fit_rmsea`` and ``srmr_bentler``.

How lavaan decides "converged" (0.6-14) and how we mirror it (:mod:`.cfa_ml`,
:mod:`.cfa_nlminb`):

* lavaan minimises F/2 with R's ``nlminb``, the PORT library's trust-region quasi-Newton method,
  with its own limits (10,000 iterations, 20,000 evaluations, ``rel.tol`` 1e-10, ``x.tol``
  1.5e-8, a non-positive-definite implied covariance costs 1e20), in up to four attempts
  (default start scaled by 1/|start|; the same unscaled; the "simple" start; a fourth that
  repeats the third), and calls a fit converged when an attempt ends with nlminb's X- or
  relative-function convergence and no gradient element of F/2 exceeds 1e-3. We run our own
  implementation of that optimizer, from the same starting values, with the same limits and
  attempts: it takes R's nlminb steps count for count on test functions and stops where lavaan
  stops (same iteration count) on 98.5 % of the reference fits that reach a minimum, so there
  the fit values agree to ~1e-10 and the factor orientation, which the original's failure rule
  (latent r >= +1) depends on, is the one lavaan reports.
* On near-random answers the discrepancy often has no minimum: nlminb crawls along a valley for
  thousands of iterations (a loading running off with its residual variance, or a latent
  correlation running off) until a test fires or the limit stops it, and lavaan's verdict then
  sometimes depends on rounding: on the nine reference noise chunks, 1e-15 perturbations of the
  answers or reordered personas change the used/failed verdict of 8 of 36 fits. By default
  (``crawl=None``) we follow every crawl to its end as lavaan does, up to 3 x 10,000 iterations
  (compiled: ~70 ms per crawling fit here); :class:`CrawlRule` judges it instead after at most
  600 iterations from the level of its gradient (the Cardinal bootstrap's resamples do that).
  A judged crawl is reported at the point reached, flagged ``improper`` with the reason in
  ``note``.

Why our own fitter instead of semopy (installed and used as a cross-check in the tests) or R:
semopy reports no SRMR and does not bound CFI as lavaan does, and neither semopy nor scipy has
nlminb's optimizer, whose step control decides lavaan's verdict on near-random answers; the
model is small, so the ML discrepancy and its gradient take a few lines. Reference numbers from
lavaan itself, with their stability, are in ``tests/reference/cfa_lavaan.csv``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from ..design.instruments import Instrument, get_instrument
from ..design.values import HIGHER_ORDER, VALUE_CODES
from .cfa_ml import Attempt, CrawlRule, MLProblem, fit_ml, lavaan_start

__all__ = [
    "CFA_GROUPS",
    "cfa_syntax",
    "fit_cfa",
    "fit_magnifying_glass",
    "fit_measures",
]

log = logging.getLogger(__name__)

#: The four "magnifying glass" models, in the original's order.
CFA_GROUPS: tuple[str, ...] = tuple(HIGHER_ORDER)

#: A residual variance below this fraction of the item's sample variance counts as ~0 (improper).
NEAR_ZERO_VARIANCE: float = 1e-4


def _check_group(group: str) -> tuple[str, ...]:
    try:
        return HIGHER_ORDER[group]
    except KeyError:
        raise ValueError(
            f"unknown CFA model {group!r}; models are: {', '.join(CFA_GROUPS)}"
        ) from None


def _factors(instrument: Instrument, group: str) -> list[tuple[str, tuple[int, ...]]]:
    """(factor name, item numbers) per basic value of ``group``."""
    return [(VALUE_CODES[v], tuple(instrument.key[v])) for v in _check_group(group)]


def cfa_syntax(instrument: Instrument, group: str) -> str:
    """lavaan / semopy measurement-model syntax for one higher-order group.

    Parameters
    ----------
    instrument : Instrument
        Supplies the item -> value key (``instrument.key``).
    group : str
        One of :data:`CFA_GROUPS` (``conservation``, ``openness_to_change``,
        ``self_transcendence``, ``self_enhancement``); the basic values are
        :data:`~stickrole_utils.design.values.HIGHER_ORDER` [group].

    Returns
    -------
    str
        One line ``CODE =~ itemA + itemB + ...`` per basic value (factor named by its value code),
        items named ``item<number>`` as in the original's data file.

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> print(cfa_syntax(PVQ40, "self_enhancement"))
    AC =~ item4 + item13 + item24 + item32
    PO =~ item2 + item17 + item39
    """
    return "\n".join(
        f"{name} =~ " + " + ".join(f"item{i}" for i in its)
        for name, its in _factors(instrument, group)
    )


def fit_measures(
    s: np.ndarray, sigma: np.ndarray, fmin: float, n: int, n_free: int
) -> dict[str, float]:
    """lavaan's standard (non-robust) fit measures from an ML solution.

    Parameters
    ----------
    s : numpy.ndarray
        Sample covariance matrix with divisor N (p x p).
    sigma : numpy.ndarray
        Model-implied covariance at the solution.
    fmin : float
        :math:`F_{ML} = \\log|\\Sigma| + \\operatorname{tr}(S\\Sigma^{-1}) - \\log|S| - p` at the
        solution.
    n : int
        Number of observations N.
    n_free : int
        Number of free parameters q.

    Returns
    -------
    dict
        ``chi2``, ``df``, ``baseline_chi2``, ``baseline_df``, ``cfi``, ``tli``, ``rmsea``,
        ``srmr``.

    Notes
    -----
    As lavaan 0.6-14 (``lav_fit_cfi``, ``lav_fit_nnfi``, ``lav_fit_rmsea``, ``srmr_bentler``):

    * :math:`\\chi^2 = N F_{ML}`, :math:`df = p(p+1)/2 - q`;
    * baseline (independence, free variances):
      :math:`\\chi^2_0 = N(\\sum_i \\log s_{ii} - \\log|S|)`, :math:`df_0 = p(p-1)/2`;
    * :math:`CFI = 1 - \\max(\\chi^2-df, 0) / \\max(\\chi^2-df, \\chi^2_0-df_0, 0)`, 1 when both
      are 0 (bounded to [0, 1]);
    * :math:`TLI = 1 - \\frac{(\\chi^2-df)\\,df_0}{(\\chi^2_0-df_0)\\,df}` (unbounded; 1 when
      df = 0 or the denominator is 0);
    * :math:`RMSEA = \\sqrt{\\max(\\chi^2/(N\\,df) - 1/N, 0)}` (0 when df = 0);
    * :math:`SRMR = \\sqrt{\\operatorname{mean}_{i \\le j}
      \\big((s_{ij} - \\sigma_{ij}) / \\sqrt{s_{ii} s_{jj}}\\big)^2}` (Bentler, no mean
      structure; the mean runs over the p(p+1)/2 elements including the diagonal).

    Examples
    --------
    >>> s = np.array([[1.0, 0.5], [0.5, 1.0]])
    >>> fm = fit_measures(s, s, 0.0, 100, 3)
    >>> fm["cfi"], fm["rmsea"], fm["srmr"]
    (1.0, 0.0, 0.0)
    """
    p = s.shape[0]
    chi2 = n * fmin
    df = p * (p + 1) / 2 - n_free
    logdet_s = np.linalg.slogdet(s)[1]
    chi2_0 = n * (np.log(np.diag(s)).sum() - logdet_s)
    df_0 = p * (p - 1) / 2
    t1 = max(chi2 - df, 0.0)
    t2 = max(chi2 - df, chi2_0 - df_0, 0.0)
    # lavaan: isTRUE(all.equal(t, 0)) is |t| < 1.5e-8 for a zero target
    cfi = 1.0 if (abs(t1) < 1.5e-8 and abs(t2) < 1.5e-8) else 1.0 - t1 / t2
    u1 = (chi2 - df) * df_0
    u2 = (chi2_0 - df_0) * df
    tli = 1.0 - u1 / u2 if (df > 0 and abs(u2) > 0) else 1.0
    rmsea = float(np.sqrt(max(chi2 / n / df - 1.0 / n, 0.0))) if df > 0 else 0.0
    sd = np.sqrt(np.diag(s))
    resid = (s - sigma) / np.outer(sd, sd)
    srmr = float(np.sqrt(np.mean(resid[np.tril_indices(p)] ** 2)))
    return {
        "chi2": float(chi2),
        "df": float(df),
        "baseline_chi2": float(chi2_0),
        "baseline_df": float(df_0),
        "cfi": float(cfi),
        "tli": float(tli),
        "rmsea": rmsea,
        "srmr": srmr,
    }


def _result(syntax: str, n: int, df: float, note: str, **fit: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cfi": np.nan,
        "tli": np.nan,
        "srmr": np.nan,
        "rmsea": np.nan,
        "chi2": np.nan,
        "df": df,
        "n": n,
        "converged": False,
        "improper": False,
        "note": note,
        "syntax": syntax,
    }
    out.update(fit)
    return out


def _complete_cases(items: pd.DataFrame, cols: list[int]) -> np.ndarray:
    """The answers to ``cols`` (a missing column: all NaN) of the personas who answered all of
    them, as floats. Numeric frames take a numpy path (the Cardinal bootstrap fits 1,800 models:
    pandas' reindex / astype / dropna cost more than the optimizer there); others pandas'."""
    if all(np.issubdtype(t, np.number) for t in items.dtypes):
        idx = items.columns.get_indexer(cols)
        arr = items.to_numpy(dtype=float)
        data = np.full((arr.shape[0], len(cols)), np.nan)
        data[:, idx >= 0] = arr[:, idx[idx >= 0]]
        return data[~np.isnan(data).any(axis=1)]
    return items.reindex(columns=cols).astype(float).dropna(axis=0, how="any").to_numpy()


def fit_cfa(
    items: pd.DataFrame,
    instrument: Instrument,
    group: str,
    *,
    crawl: CrawlRule | None = None,
) -> dict[str, Any]:
    """Fit one "magnifying glass" CFA model by ML, as lavaan ``cfa(model, data, std.lv=TRUE)``.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (one row per persona, columns = 1-based item numbers). Rows with a
        missing answer on the model's items are dropped (listwise deletion).
    instrument : Instrument
        PVQ40 or SVS57.
    group : str
        One of :data:`CFA_GROUPS`.
    crawl : CrawlRule or None
        How attempts crawling along a valley without a minimum are judged (see
        :class:`~stickrole_utils.analysis.cfa_ml.CrawlRule`); None (default) follows them to
        nlminb's own end as lavaan does (exact; up to 30,000 iterations, ~0.1 s, per fit on
        near-random answers).

    Returns
    -------
    dict
        ``cfi``, ``tli``, ``srmr``, ``rmsea``, ``chi2`` (float; NaN on failure), ``df``,
        ``n`` (complete cases), ``converged`` (bool), ``improper`` (bool), ``note`` (why it
        failed, or what is improper; empty when clean), ``syntax`` (lavaan syntax fitted).

    Notes
    -----
    Model: :math:`\\Sigma = \\Lambda \\Phi \\Lambda^\\top + \\Theta`, one free loading per
    item, :math:`\\operatorname{diag}\\Phi = 1`, free factor correlations, diagonal
    :math:`\\Theta`; minimises :math:`F_{ML}` (see :func:`fit_measures`) on
    :math:`S = \\frac{1}{N}\\sum (x-\\bar x)(x-\\bar x)^\\top`. Failure (fit values NaN,
    ``converged=False``): fewer than 2 complete cases, a zero-variance item or a singular
    S (lavaan stops with an error), no attempt converging (nlminb's failure codes, or a
    gradient element of F/2 above 1e-3 at the end; a crawl judged not converged by ``crawl``),
    or a latent correlation >= 1 (the original's failure rule). Improper but kept
    (``improper=True``): a negative or ~0 residual variance, a latent correlation <= -1, a
    non-positive-definite latent correlation matrix, or a crawl judged converged (no minimum).

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> rng = np.random.default_rng(1)
    >>> f = rng.normal(size=(200, 2))
    >>> f[:, 1] = 0.6 * f[:, 0] + 0.8 * f[:, 1]  # Achievement and Power correlate 0.6
    >>> x = pd.DataFrame(rng.normal(size=(200, 40)), columns=range(1, 41))
    >>> for i in PVQ40.key["Achievement"]:
    ...     x[i] += f[:, 0]
    >>> for i in PVQ40.key["Power"]:
    ...     x[i] += f[:, 1]
    >>> res = fit_cfa(x, PVQ40, "self_enhancement")
    >>> res["converged"], res["df"], round(res["cfi"], 2)
    (True, 13.0, 1.0)
    """
    factors = _factors(instrument, group)
    syntax = cfa_syntax(instrument, group)
    cols = [i for _, its in factors for i in its]
    factor_of = np.array([k for k, (_, its) in enumerate(factors) for _ in its])
    m, p = len(factors), len(cols)
    n_free = 2 * p + m * (m - 1) // 2
    df = p * (p + 1) / 2 - n_free
    try:
        data = _complete_cases(items, cols)
    except (TypeError, ValueError) as exc:
        return _result(syntax, 0, df, f"answers are not numeric: {exc}")
    n = data.shape[0]
    if n < 2:
        return _result(syntax, n, df, f"{n} complete case(s); need at least 2")
    s = np.cov(data, rowvar=False, bias=True)
    var = np.diag(s)
    const = [cols[i] for i in np.flatnonzero(var <= 1e-12 * max(1.0, float(var.max())))]
    if const:
        return _result(syntax, n, df, f"zero-variance item(s) {const} (lavaan stops with an error)")
    if np.linalg.eigvalsh(s / np.sqrt(np.outer(var, var))).min() <= 1e-10:
        return _result(syntax, n, df, "sample covariance matrix is not positive definite")
    problem = MLProblem(s, factor_of, m)
    try:
        est = fit_ml(problem, lavaan_start(s, factor_of, m), crawl=crawl)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        return _result(syntax, n, df, f"ML fit raised {type(exc).__name__}: {exc}")
    tried = "; ".join(_describe(a) for a in est.attempts)
    if not est.converged:
        return _result(syntax, n, df, f"not converged ({tried})")
    theta, phi = est.x[p: 2 * p], problem.phi(est.x)
    off = phi[np.tril_indices(m, -1)]
    if off.size and off.max() >= 1:
        return _result(
            syntax, n, df, f"latent correlation {off.max():.4f} >= 1 (the original's failure rule)"
        )
    problems = []
    neg = [cols[i] for i in np.flatnonzero(theta < 0)]
    tiny = [
        cols[i] for i in np.flatnonzero((theta >= 0) & (theta < NEAR_ZERO_VARIANCE * var))
    ]
    if neg:
        problems.append(f"negative residual variance for item(s) {neg}")
    if tiny:
        problems.append(f"~0 residual variance for item(s) {tiny}")
    if off.size and off.min() <= -1:
        problems.append(f"latent correlation {off.min():.4f} <= -1")
    elif m > 1 and np.linalg.eigvalsh(phi).min() <= 0:
        problems.append("latent correlation matrix is not positive definite")
    if est.crawled:
        problems.append(f"no minimum: {tried}")
    fm = fit_measures(s, problem.sigma(est.x), 2 * est.fx, n, n_free)
    return _result(
        syntax,
        n,
        fm["df"],
        "; ".join(problems),
        converged=True,
        improper=bool(problems),
        chi2=fm["chi2"],
        cfi=fm["cfi"],
        tli=fm["tli"],
        srmr=fm["srmr"],
        rmsea=fm["rmsea"],
    )


def _describe(a: Attempt) -> str:
    r = a.result
    how = {3: "X-convergence", 4: "relative convergence", 5: "X- and relative convergence",
           6: "absolute convergence", 7: "singular convergence", 8: "false convergence",
           9: "evaluation limit", 10: "iteration limit"}.get(r.code, str(r.code))
    if a.crawl is not None:
        how = ("still crawling, with a small gradient (counted as converged)" if a.crawl
               else "still crawling, with a large gradient (counted as not converged)")
    elif r.converged and not a.converged:
        how += f", gradient {a.grad_max:.2g} > 1e-3"
    return f"{a.start} start{' scaled' if a.scaled else ''}: {how} after {r.iterations} iterations"


def fit_magnifying_glass(
    items: pd.DataFrame, instrument: Instrument, *, crawl: CrawlRule | None = None
) -> dict[str, dict[str, Any]]:
    """Fit the four higher-order CFA models of one chunk.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (see :func:`fit_cfa`).
    instrument : Instrument
        PVQ40 or SVS57.
    crawl : CrawlRule or None
        See :func:`fit_cfa`.

    Returns
    -------
    dict
        group -> :func:`fit_cfa` result, for every group of :data:`CFA_GROUPS` in order.
    """
    return {g: fit_cfa(items, instrument, g, crawl=crawl) for g in CFA_GROUPS}


def warm_up() -> None:
    """Compile the fitter's numba kernels once (~20 s; numba caches the machine code beside the
    sources, so later processes load it in milliseconds). ``make env`` calls this."""
    rng = np.random.default_rng(0)
    inst = get_instrument("pvq40")
    items = pd.DataFrame(rng.integers(1, 7, size=(30, len(inst.keyed_items))),
                         columns=list(inst.keyed_items))
    fit_magnifying_glass(items, inst)
    fit_magnifying_glass(items, inst, crawl=CrawlRule())
