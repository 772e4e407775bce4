"""The reliability stage of an experiment: how much of each model's instability is noise
(``docs/method.md``, Signal and noise). Writes ``reliability.csv`` and the experiment's
across-seed metrics.

- :func:`collect_scores`: every grid point's ``scores.parquet`` stacked, with the point's grid
  keys and the model entries' ``factors``.
- :func:`reliability_table`: ``reliability.csv``: per model and setting the ICCs across seeds
  (:mod:`.reliability`), the noise ceiling and the retest rank-order stability; per model (and
  per model family) the variance components and shares over persona, context, seed and every
  other factor that varies (:mod:`.decomposition`); the noise floor of each stability metric
  (:func:`noise_floor`).
- :func:`invariance_table`: ``invariance.csv``: per model and setting, configural, metric and
  scalar invariance of the four higher-order CFA models across contexts, in the multi-group
  form (:mod:`stickrole_utils.analysis.invariance`) and the longitudinal one (the same
  personas in every context, :mod:`stickrole_utils.analysis.longitudinal`), and the ``omega`` / ``alpha`` rows of
  ``reliability.csv`` (McDonald's omega beside Cronbach's alpha per value and context).
- :func:`signal_metrics`: the rows ``experiment.csv`` gains (seed empty: a value over seeds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..analysis.answers import read_answers
from ..analysis.longitudinal import context_invariance
from ..analysis.reliability import cronbach_alpha
from ..analysis.scoring import item_matrix
from ..design.instruments import get_instrument
from ..io import atomic_write_text
from ..layout import RunLayout
from ..records import INVARIANCE_COLUMNS, RELIABILITY_COLUMNS
from .decomposition import decompose
from .reliability import noise_ceiling, retest_rank_order, retest_table, score_cube

__all__ = ["collect_scores", "reliability_table", "noise_floor", "permutation_null",
           "invariance_table", "signal_metrics", "write_signal", "SIGNAL_METRICS"]

#: Metrics over seeds that ``experiment.csv`` gains per model and setting (seed empty).
SIGNAL_METRICS: tuple[str, ...] = ("icc2_1", "icc2_k", "noise_ceiling", "retest_rank_order")
_FIXED = ("model", "seed", "chunk", "persona", "value", "questionnaire", "raw", "centered")


def collect_scores(points: Sequence[tuple[Mapping[str, Any], Any]], models: Sequence[Any]
                   ) -> pd.DataFrame:
    """The values scores of every model at every grid point, stacked.

    Parameters
    ----------
    points : sequence of (point, RunConfig)
        The grid (``config.expand_grid``).
    models : sequence of ModelEntry
        The experiment's model entries (their ``factors`` become columns ``factor:<key>``).

    Returns
    -------
    DataFrame
        ``model, seed, chunk, persona, value, centered``, then ``n_messages`` and the other
        grid keys, then ``factor:<key>`` per model factor. A (model, point) without
        ``scores.parquet`` is left out.
    """
    parts = []
    for point, cfg in points:
        layout = RunLayout(cfg.run_dir)
        for entry in models:
            path = layout.table(entry.name, "scores")
            if not path.is_file():
                continue
            sc = pd.read_parquet(path, columns=["chunk", "persona", "value", "centered"])
            keys = {"model": entry.name, "seed": cfg.generation.seed,
                    "n_messages": cfg.generation.n_messages,
                    **{k: v for k, v in point.items() if k not in ("seed", "n_messages")},
                    **{f"factor:{k}": v for k, v in entry.factors.items()}}
            parts.append(sc.assign(**keys))
    if not parts:
        return pd.DataFrame(columns=["model", "seed", "chunk", "persona", "value", "centered"])
    out = pd.concat(parts, ignore_index=True)
    first = ["model", "seed", "chunk", "persona", "value", "centered"]
    return out[[*first, *(c for c in out.columns if c not in first)]]


def _settings(scores: pd.DataFrame) -> list[str]:
    return [c for c in scores.columns if c not in _FIXED and not c.startswith("factor:")]


def _rows(base: Mapping[str, Any], table: pd.DataFrame) -> list[dict]:
    return [{**base, **r} for r in table.to_dict("records")]


def _cube(scores: pd.DataFrame, factors: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """``[value, persona, <factors...>]`` of a balanced design (levels a persona lacks: NaN)."""
    values = list(dict.fromkeys(scores["value"]))
    axes = [values, *(sorted(set(scores[f]), key=str) for f in ("persona", *factors))]
    cube = np.full(tuple(len(a) for a in axes), np.nan)
    index = tuple(pd.Index(a).get_indexer(scores[col])
                  for a, col in zip(axes, ["value", "persona", *factors], strict=True))
    cube[index] = scores["centered"].to_numpy(float)
    return cube, values


def _decomposition_rows(scores: pd.DataFrame, label: str, settings: list[str],
                        extra_factors: list[str], n_boot: int, level: float,
                        rng: np.random.Generator) -> list[dict]:
    varying = [s for s in settings if scores[s].nunique(dropna=False) > 1]
    factors = ["chunk", "seed", *varying, *extra_factors]
    cube, values = _cube(scores, factors)
    names = ["persona", "context", "seed", *varying,
             *(f.removeprefix("factor:") for f in extra_factors)]
    table = decompose(cube, names, values, n_boot=n_boot, level=level, rng=rng)
    base = {"model": label, **{s: (np.nan if s in varying else scores[s].iloc[0])
                               for s in settings}, "chunk": "all"}
    return _rows(base, table)


def reliability_table(scores: pd.DataFrame, *, n_boot: int = 200, level: float = 0.95,
                      seed: int = 0, floor: pd.DataFrame | None = None) -> pd.DataFrame:
    """``reliability.csv`` from :func:`collect_scores`' table.

    Parameters
    ----------
    scores : DataFrame
        Stacked scores (``model, seed, chunk, persona, value, centered``, setting columns,
        ``factor:<key>`` columns).
    n_boot : int
        Bootstrap replicates of the decomposition's intervals.
    level : float
        Confidence level of every interval.
    seed : int
        Seed of the bootstrap draws.
    floor : DataFrame, optional
        :func:`noise_floor` rows to append.

    Returns
    -------
    DataFrame
        :data:`~stickrole_utils.records.RELIABILITY_COLUMNS` then the setting columns. Per
        model and setting (every grid key but seed): ``icc2_1``, ``icc2_k`` per (value, chunk)
        and their medians over values and chunks (``value``, ``chunk`` = ``all``; NaN skipped), ``noise_ceiling`` and
        ``retest_rank_order``; per model, ``component:<effects>`` and ``share:<effects>`` over
        all its points (a setting that varies is a factor: its column is empty); per model
        family (``model`` = ``family:<name>``) the same with the entries' other factors.
    """
    rng = np.random.default_rng(seed)
    settings = _settings(scores)
    rows: list[dict] = []
    for model, ms in scores.groupby("model", sort=False):
        for key, part in ms.groupby(settings, sort=False, dropna=False) if settings else [
                ((), ms)]:
            key = key if isinstance(key, tuple) else (key,)
            base = {"model": model, **dict(zip(settings, key, strict=True))}
            icc = retest_table(part, level=level)
            rows += _rows(base, icc.drop(columns=["k"]))
            for q in ("icc2_1", "icc2_k"):
                # The median, not the mean: with few personas single estimates land far
                # outside [-1, 1] (ICC(2,k) near its pole), and one of them moved the mean
                # ICC(2,k) of a 5-persona experiment to 2.36.
                one = icc[icc["quantity"] == q]
                rows.append({**base, "quantity": q, "value": "all", "chunk": "all",
                             "estimate": float(one["estimate"].median()), "n": int(one["n"].min())
                             if len(one) else 0})
            rows.append({**base, "quantity": "noise_ceiling", "value": "all", "chunk": "all",
                         "estimate": noise_ceiling(icc)})
            rows.append({**base, "quantity": "retest_rank_order", "value": "all",
                         "chunk": "all", "estimate": retest_rank_order(part)})
        rows += _decomposition_rows(ms, str(model), settings, [], n_boot, level, rng)
    if "factor:family" in scores.columns:
        for family, fs in scores.dropna(subset=["factor:family"]).groupby("factor:family"):
            if fs["model"].nunique() < 2:
                continue
            extra = [c for c in fs.columns if c.startswith("factor:") and c != "factor:family"
                     and fs[c].nunique() > 1]
            rows += _decomposition_rows(fs, f"family:{family}", settings, extra, n_boot,
                                        level, rng)
    out = pd.DataFrame(rows)
    if floor is not None and len(floor):
        out = pd.concat([out, floor], ignore_index=True)
    lead = list(RELIABILITY_COLUMNS)
    return out.reindex(columns=[*lead, *settings])


def _standardised_ranks(x: np.ndarray, axis: int) -> np.ndarray:
    r = rankdata(x, axis=axis)
    r -= r.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return r / np.sqrt((r * r).sum(axis=axis, keepdims=True))


def permutation_null(part: pd.DataFrame, n_perm: int, rng: np.random.Generator
                     ) -> dict[str, np.ndarray]:
    """Rank-order and ipsative stability of one model at one point after the personas are
    shuffled between contexts (each chunk's personas paired with a random permutation of
    another's): their values when personas carry no identity across contexts.

    Returns ``{"rank_order": (n_perm,), "ipsative": (n_perm,)}``.
    """
    cube, *_ = score_cube(part.assign(_rep=0), seed="_rep")  # [value, chunk, persona, 1]
    cube = cube[..., 0]
    keep = np.isfinite(cube).all(axis=(0, 1))
    cube = cube[:, :, keep]
    n_v, n_c, n_p = cube.shape
    ro_z = _standardised_ranks(cube, axis=2)  # ranks over personas
    ip_z = _standardised_ranks(cube, axis=0)  # ranks over values
    ro, ip = np.zeros(n_perm), np.zeros(n_perm)
    pairs = list(combinations(range(n_c), 2))
    if n_p < 3 or not pairs:
        return {"rank_order": np.full(n_perm, np.nan), "ipsative": np.full(n_perm, np.nan)}
    for b in range(n_perm):
        perm = rng.permuted(np.tile(np.arange(n_p), (n_c, 1)), axis=1)
        r_ro, r_ip = [], []
        for a, c in pairs:
            r_ro.append((ro_z[:, a, perm[a]] * ro_z[:, c, perm[c]]).sum(axis=1))
            r_ip.append((ip_z[:, a, perm[a]] * ip_z[:, c, perm[c]]).sum(axis=0))
        ro[b] = np.nanmean(r_ro)
        ip[b] = np.nanmean(r_ip)
    return {"rank_order": ro, "ipsative": ip}


def noise_floor(experiment: pd.DataFrame, scores: pd.DataFrame, floor_models: Sequence[str], *,
                source: str = "auto", n_perm: int = 200, level: float = 0.95, seed: int = 0
                ) -> pd.DataFrame:
    """The value of each stability metric that random answering reaches, per setting.

    Parameters
    ----------
    experiment : DataFrame
        ``experiment.csv`` (per-seed ``rank_order``, ``ipsative``, ``downstream_rank_order:*``).
    scores : DataFrame
        :func:`collect_scores`' table (for the permutation null).
    floor_models : sequence of str
        Models that answer at random (e.g. the ``dummy`` backend's).
    source : {"auto", "models", "permutation"}
        ``models``: their values over seeds (estimate: mean; bounds: min and max);
        ``permutation``: rank-order and ipsative stability with personas shuffled between
        contexts, every model and seed pooled (estimate: mean; bounds: the central ``level``
        interval); ``auto``: ``models`` when ``floor_models`` names any, else ``permutation``.

    Returns
    -------
    DataFrame
        Rows of ``reliability.csv``: ``model`` = the source (``floor:<models>`` or
        ``permutation null``), ``quantity`` = ``noise_floor:<metric>``, value and chunk
        ``all``.
    """
    settings = [c for c in experiment.columns if c not in ("model", "seed", "metric", "value")]
    use_models = source == "models" or (source == "auto" and len(floor_models) > 0)
    rows = []
    if use_models:
        d = experiment[experiment["model"].isin(floor_models) & experiment["seed"].notna()]
        for key, g in d.groupby([*settings, "metric"], sort=False, dropna=False):
            vals = pd.to_numeric(g["value"], errors="coerce").dropna()
            if not vals.size:
                continue
            rows.append({**dict(zip(settings, key[:-1], strict=True)),
                         "model": f"floor:{','.join(floor_models)}",
                         "quantity": f"noise_floor:{key[-1]}", "value": "all", "chunk": "all",
                         "estimate": float(vals.mean()), "ci_low": float(vals.min()),
                         "ci_high": float(vals.max()), "n": int(vals.size)})
        return pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    keys = [c for c in settings if c in scores.columns]
    q = ((1 - level) / 2, 1 - (1 - level) / 2)
    for key, g in scores.groupby(keys, sort=False, dropna=False) if keys else [((), scores)]:
        key = key if isinstance(key, tuple) else (key,)
        draws: dict[str, list[np.ndarray]] = {"rank_order": [], "ipsative": []}
        for _, part in g.groupby(["model", "seed"], sort=False):
            for metric, arr in permutation_null(part, n_perm, rng).items():
                draws[metric].append(arr)
        for metric, arrs in draws.items():
            arr = np.concatenate(arrs) if arrs else np.array([np.nan])
            lo, hi = np.nanquantile(arr, q) if np.isfinite(arr).any() else (np.nan, np.nan)
            rows.append({**dict(zip(keys, key, strict=True)), "model": "permutation null",
                         "quantity": f"noise_floor:{metric}", "value": "all", "chunk": "all",
                         "estimate": float(np.nanmean(arr)) if np.isfinite(arr).any()
                         else np.nan, "ci_low": float(lo), "ci_high": float(hi),
                         "n": int(np.isfinite(arr).sum())})
    return pd.DataFrame(rows)


def _point_settings(point: Mapping[str, Any], cfg: Any) -> dict[str, Any]:
    return {"n_messages": cfg.generation.n_messages,
            **{k: v for k, v in point.items() if k not in ("seed", "n_messages")}}


def invariance_table(points: Sequence[tuple[Mapping[str, Any], Any]], models: Sequence[str], *,
                     skip: Sequence[str] = (), max_free: int = 2
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measurement invariance across contexts, and omega beside alpha, per model and setting.

    One seed per model and setting: the lowest. The seeds repeat the same personas, so pooling
    them would count each persona several times (too small standard errors, a chi-square that
    grows with the number of seeds).

    Parameters
    ----------
    points : sequence of (point, RunConfig)
        The grid (``config.expand_grid``).
    models : sequence of str
        Model names.
    skip : sequence of str
        Models left out (the floor models: random answers have no factor structure to compare,
        and the fits on them are the slow ones).
    max_free : int
        Most items freed in the partial-invariance search; 0: no search.

    Returns
    -------
    (DataFrame, DataFrame)
        ``invariance.csv`` (:data:`~stickrole_utils.records.INVARIANCE_COLUMNS`, then the
        setting columns; ``form`` multigroup and longitudinal); ``reliability.csv`` rows ``omega`` and ``alpha`` per value and context (and
        their means, ``value`` = ``all``). A model without answers, or with an instrument
        without the value structure, gives no rows.
    """
    first: dict[tuple, tuple[int, Any, dict]] = {}
    for point, cfg in points:
        settings = _point_settings(point, cfg)
        for model in models:
            if model in skip:
                continue
            key = (model, *settings.items())
            seed = cfg.generation.seed
            if key not in first or seed < first[key][0]:
                first[key] = (seed, cfg, settings)
    inv_rows, rel_rows = [], []
    for key, (seed, cfg, settings) in first.items():
        model = key[0]
        path = RunLayout(cfg.run_dir).answers(model)
        if not path.is_file():
            continue
        answers = read_answers(path)
        for q, qa in answers.groupby("questionnaire", sort=False):
            inst = get_instrument(str(q))
            if not inst.is_values:
                continue
            items = {str(c): item_matrix(ca) for c, ca in qa.groupby("chunk", sort=False)}
            table, omega = context_invariance(items, inst, max_free=max_free)
            base = {"model": model, "seed": seed, "questionnaire": q, **settings}
            inv_rows += [{**base, **r} for r in table.to_dict("records")]
            for chunk, x in items.items():
                alpha = cronbach_alpha(x, inst)
                for quantity, per_value in (("omega", {v: omega.get((chunk, v), np.nan)
                                                       for v in alpha}), ("alpha", alpha)):
                    vals = [float(per_value[v]) for v in alpha]
                    rows = [*zip(alpha, vals, strict=True), ("all", float(np.nanmean(vals))
                                                              if np.isfinite(vals).any()
                                                              else np.nan)]
                    rel_rows += [{"model": model, **settings, "quantity": quantity,
                                  "value": v, "chunk": chunk, "estimate": e, "n": len(x)}
                                 for v, e in rows]
    settings_cols = list(dict.fromkeys(k for _, (_, _, st) in first.items() for k in st))
    inv = pd.DataFrame(inv_rows).reindex(columns=[*INVARIANCE_COLUMNS, *settings_cols])
    return inv, pd.DataFrame(rel_rows)


def signal_metrics(reliability: pd.DataFrame) -> pd.DataFrame:
    """The rows ``experiment.csv`` gains: per model and setting, :data:`SIGNAL_METRICS` and the
    pooled variance shares (``share:<effects>``), with an empty ``seed`` (values over seeds).

    Columns: ``model, seed, n_messages, metric, value``, then the other setting columns.
    """
    pooled = reliability[(reliability["value"] == "all")
                         & ~reliability["model"].astype(str).str.startswith(
                             ("family:", "floor:", "permutation null"))]
    keep = pooled["quantity"].isin(SIGNAL_METRICS) | pooled["quantity"].str.startswith("share:")
    settings = [c for c in reliability.columns if c not in RELIABILITY_COLUMNS]
    out = pooled[keep].drop(columns="value").rename(columns={"quantity": "metric",
                                                             "estimate": "value"})
    out = out.assign(seed=np.nan)
    others = [c for c in settings if c != "n_messages"]
    return out[["model", "seed", "n_messages", "metric", "value", *others]].reset_index(drop=True)


def write_signal(experiment: pd.DataFrame, scores: pd.DataFrame, layout: RunLayout,
                 settings: Any, points: Sequence[tuple[Mapping[str, Any], Any]] | None = None,
                 models: Sequence[Any] = ()) -> pd.DataFrame:
    """Write ``reliability.csv`` (and, given ``points`` and ``settings.invariance``,
    ``invariance.csv``) into the experiment's directory and return ``experiment`` with
    :func:`signal_metrics`' rows added (what ``experiment.csv`` then holds).

    ``settings`` is the experiment's :class:`~stickrole_utils.config.ReliabilitySettings`;
    ``points`` the grid and ``models`` its model entries (:func:`invariance_table`).
    """
    floor = noise_floor(experiment, scores, settings.floor_models, source=settings.noise_floor,
                        n_perm=settings.permutations, level=settings.ci_level,
                        seed=settings.seed)
    rel = reliability_table(scores, n_boot=settings.bootstrap, level=settings.ci_level,
                            seed=settings.seed, floor=floor) if len(scores) else floor
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    if points is not None and settings.invariance:
        inv, omega = invariance_table(points, [m.name for m in models],
                                      skip=settings.floor_models,
                                      max_free=settings.partial_invariance)
        if len(omega):
            rel = pd.concat([rel, omega.reindex(columns=rel.columns)], ignore_index=True)
        atomic_write_text(layout.invariance_csv, inv.to_csv(index=False))
    atomic_write_text(layout.reliability_csv, rel.to_csv(index=False))
    if not len(scores):
        return experiment
    extra = signal_metrics(rel).reindex(columns=experiment.columns)
    out = pd.concat([experiment, extra], ignore_index=True)
    try:  # seeds stay integers beside the empty seeds of the values over seeds
        out["seed"] = out["seed"].astype("Int64")
    except (TypeError, ValueError):
        pass
    return out
