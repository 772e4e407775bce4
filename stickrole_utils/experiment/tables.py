"""The experiment stage: the models' metrics at every grid point in one long table, their means
over seeds, and pairwise model comparisons (``docs/method.md``, Model comparisons).

- :func:`metric_values`: the numbers of one metrics.json that an experiment tracks:
  ``rank_order``, ``ipsative``, ``downstream_rank_order:<task>`` and
  ``value_behaviour_correlation:<task>:<value>``.
- :func:`experiment_table`: ``experiment.csv``, long: ``model, seed, n_messages, metric, value``,
  then one column per other grid key.
- :func:`summarise`: mean, standard error (SD with ddof 1 over sqrt(n)) and n over seeds.
- :func:`pairwise_table`: every model's chunk x chunk rank-order stability at every grid point
  (read from the points' ``metrics.json``; the experiment page's heat maps).
- :func:`compare_over_seeds`: ``comparisons.csv``: Student's t-test on the per-seed values for
  every model pair, Benjamini-Hochberg over the n(n-1)/2 pairs of each (metric, setting)
  (:func:`~stickrole_utils.analysis.stats.compare_models`, scipy's ``false_discovery_control``);
  ``fdr="bh_with_diagonal"`` is the original's variant with the diagonal's p = 1 counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from ..analysis.metrics import Metrics, read_metrics
from ..analysis.stats import compare_models
from ..config import RunConfig, grid_points, point_label
from ..io import atomic_write_text, read_json
from ..layout import RunLayout
from ..records import COMPARISONS_COLUMNS, EXPERIMENT_COLUMNS, PAIRWISE_COLUMNS

__all__ = [
    "EXPERIMENT_COLUMNS",
    "COMPARISONS_COLUMNS",
    "metric_values",
    "experiment_table",
    "collect_experiment",
    "summarise",
    "PAIRWISE_COLUMNS",
    "params_chunk_order",
    "pairwise_table",
    "compare_over_seeds",
    "write_experiment",
]



def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def metric_values(metrics: Metrics) -> dict[str, float]:
    """The experiment's metrics of one model at one grid point (NaN where undefined; keys of
    sections a model lacks, e.g. downstream tasks, are absent); metrics of your own
    (``custom_metrics``) too: ``<name>``, or ``<name>:<key>`` for each entry of a mapping.

    >>> m = Metrics.parse({"chunks": [], "pairwise_rank_order": {}, "stress": {}, "cfi": {},
    ...     "srmr": {}, "rmsea": {}, "rank_order": 0.5, "downstream_rank_order": {"bag": 0.2},
    ...     "value_behaviour_correlation": {"bag": {"power": -0.1}}}, "m")
    >>> metric_values(m)
    {'rank_order': 0.5, 'ipsative': nan, 'downstream_rank_order:bag': 0.2, \
'value_behaviour_correlation:bag:power': -0.1}
    """
    out = {"rank_order": _num(metrics.rank_order), "ipsative": _num(metrics.ipsative)}
    for task, r in (metrics.downstream_rank_order or {}).items():
        out[f"downstream_rank_order:{task}"] = _num(r)
    for task, per_value in (metrics.value_behaviour_correlation or {}).items():
        for value, r in per_value.items():
            out[f"value_behaviour_correlation:{task}:{value}"] = _num(r)
    for name in metrics.get("custom_metrics") or []:  # metrics of your own (analysis.custom)
        value = metrics.get(name)
        if isinstance(value, Mapping):
            out.update({f"{name}:{k}": _num(v) for k, v in value.items()})
        elif value is not None:
            out[name] = _num(value)
    return out


def experiment_table(records: Sequence[tuple[Mapping[str, Any], Metrics]]) -> pd.DataFrame:
    """``experiment.csv`` from ``(keys, metrics)`` pairs, one per (model, grid point).

    ``keys`` holds ``model``, ``seed``, ``n_messages`` and the point's other grid keys (the
    same for every record). Columns: :data:`EXPERIMENT_COLUMNS`, then the other keys.
    """
    rows = [{**keys, "metric": name, "value": value}
            for keys, metrics in records for name, value in metric_values(metrics).items()]
    extra = [k for k in (records[0][0] if records else {}) if k not in EXPERIMENT_COLUMNS]
    return pd.DataFrame(rows, columns=[*EXPERIMENT_COLUMNS, *extra])


def collect_experiment(points: Sequence[tuple[Mapping[str, Any], RunConfig]],
                       models: Sequence[str]) -> pd.DataFrame:
    """Read ``metrics.json`` of every model at every grid point (``config.expand_grid``) into
    :func:`experiment_table`; a (model, point) without metrics.json is left out."""
    records = []
    for point, cfg in points:
        layout = RunLayout(cfg.run_dir)
        for model in models:
            path = layout.metrics(model)
            if not path.is_file():
                continue
            keys = {"model": model, "seed": cfg.generation.seed,
                    "n_messages": cfg.generation.n_messages,
                    **{k: v for k, v in point.items() if k not in ("seed", "n_messages")}}
            records.append((keys, read_metrics(path)))
    return experiment_table(records)




def _pair(pairwise: Mapping[str, Mapping[str, Any]], a: str, b: str) -> float:
    """``pairwise[a][b]``, or ``[b][a]`` (a file may hold one triangle); NaN when absent."""
    r = (pairwise.get(a) or {}).get(b)
    return _num((pairwise.get(b) or {}).get(a) if r is None else r)


def params_chunk_order(config: Mapping[str, Any]) -> list[str]:
    """The chunk order a run's params give (``run_config.json``): the ``analysis.chunks``
    setting if given, else the order of ``generation.chunks``.

    >>> params_chunk_order({"generation": {"chunks": [{"label": "b"}, "a"]}})
    ['b', 'a']
    >>> params_chunk_order({"analysis": {"chunks": ["a"]}, "generation": {"chunks": ["b", "a"]}})
    ['a']
    """
    wanted = (config.get("analysis") or {}).get("chunks")
    if wanted:
        return [str(c) for c in wanted]
    chunks = (config.get("generation") or {}).get("chunks") or []
    return [str(c.get("label")) if isinstance(c, Mapping) else str(c) for c in chunks]


def _in_order(present: Sequence[str], order: Sequence[str]) -> list[str]:
    first = [c for c in order if c in set(present)]
    return first + [c for c in present if c not in first]


def _points(layout: RunLayout, cfg: Mapping[str, Any], extra: list[str]
            ) -> list[tuple[Any, dict[str, Any]]]:
    """(point directory, its seed, n_messages and other grid keys) of every grid point: the
    points of the experiment's grid (``run_config.json``) whose directory holds params, in
    grid order; without a grid, every directory holding params with the keys its generation
    settings give."""
    grid = (cfg.get("experiment") or {}).get("grid") or {}
    if grid:
        out = []
        for point in grid_points(grid):
            where = layout.point(point_label(point)).run_dir
            if not RunLayout(where).params.is_file():
                continue
            gen = read_json(RunLayout(where).params, "grid point params").get("generation") or {}
            keys = {"seed": gen.get("seed"), "n_messages": gen.get("n_messages")}
            out.append((where, {**keys, **{k: point[k] for k in extra}}))
        return out
    return [(p, {k: (read_json(RunLayout(p).params, "grid point params").get("generation")
                     or {}).get(k) for k in ("seed", "n_messages")})
            for p in layout.point_dirs()]


def pairwise_table(layout: RunLayout) -> pd.DataFrame:
    """The chunk x chunk rank-order stability (``metrics.json``'s ``pairwise_rank_order``) of
    every model at every grid point of the experiment in ``layout``, long.

    A point's keys are its values of the experiment's grid (``run_config.json``), with
    ``seed`` and ``n_messages`` read from its ``params.json``; models are
    those with a ``metrics.json`` at the point, in the order of the experiment's params; chunks
    in the params' order (:func:`params_chunk_order`), then any others in the model's order.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, seed, n_messages, <other grid keys>, chunk_a, chunk_b, value``: every
        ordered chunk pair, the diagonal included (NaN where the file holds no value).
    """
    cfg = read_json(layout.run_config, "run config") if layout.run_config.is_file() else {}
    grid = (cfg.get("experiment") or {}).get("grid") or {}
    extra = [k for k in grid if k not in ("seed", "n_messages")]
    order = [m.get("name") for m in cfg.get("models") or []]
    chunk_order = params_chunk_order(cfg)
    rows = []
    for point, keys in _points(layout, cfg, extra):
        found = [(read_metrics(p), p.parent.name)
                 for p in sorted(point.glob(f"*/{layout.metrics('m').name}"))]
        found.sort(key=lambda f: order.index(f[0].model) if f[0].model in order else len(order))
        for m, folder in found:
            chunks = _in_order(list(m.chunks), chunk_order)
            rows += [{"model": m.model or folder, **keys, "chunk_a": a, "chunk_b": b,
                      "value": _pair(m.pairwise_rank_order, a, b)}
                     for a in chunks for b in chunks]
    return pd.DataFrame(rows, columns=[*PAIRWISE_COLUMNS[:3], *extra, *PAIRWISE_COLUMNS[3:]])


def _settings(table: pd.DataFrame) -> list[str]:
    """Grouping columns of a setting: every column but model, seed, metric and value."""
    return [c for c in table.columns if c not in ("model", "seed", "metric", "value")]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (model, metric, setting): columns ``model, metric, <setting>, mean,
    se, n`` (``se``: SD with ddof 1 over sqrt(n) of the non-NaN values; NaN when n < 2).

    >>> t = pd.DataFrame({"model": "a", "seed": [0, 1, 2], "n_messages": 3,
    ...                   "metric": "rank_order", "value": [0.4, 0.5, 0.9]})
    >>> summarise(t)[["mean", "se", "n"]].round(4).values.tolist()
    [[0.6, 0.1528, 3.0]]
    """
    keys = ["model", "metric", *_settings(table)]
    rows = []
    for key, grp in table.groupby(keys, sort=False, dropna=False):
        vals = pd.to_numeric(grp["value"], errors="coerce").dropna().to_numpy(float)
        n = vals.size
        se = float(vals.std(ddof=1) / math.sqrt(n)) if n >= 2 else float("nan")
        rows.append({**dict(zip(keys, key, strict=True)),
                     "mean": float(vals.mean()) if n else float("nan"), "se": se, "n": n})
    return pd.DataFrame(rows, columns=[*keys, "mean", "se", "n"])


def compare_over_seeds(table: pd.DataFrame,
                       fdr: Literal["bh", "bh_with_diagonal"] = "bh") -> pd.DataFrame:
    """``comparisons.csv``: per (metric, setting), Student's t-test on the per-seed values of
    every model pair, with Benjamini-Hochberg adjusted p-values ``p_fdr`` over that setting's
    pairs (``fdr="bh_with_diagonal"``: the original's m = n(n+1)/2 with the diagonal's p = 1).

    Columns: :data:`COMPARISONS_COLUMNS`, then the other grid keys. A pair where a model has
    fewer than two values has NaN t, p and p_fdr and does not count in m.
    """
    if fdr not in ("bh", "bh_with_diagonal"):
        raise ValueError(f"fdr must be 'bh' or 'bh_with_diagonal', got {fdr!r}")
    table = table[table["seed"].notna()]  # values over seeds (reliability) are not compared
    settings = _settings(table)
    extra = [c for c in settings if c != "n_messages"]
    keys = ["metric", *settings]
    parts = []
    for key, grp in table.groupby(keys, sort=False, dropna=False):
        res = compare_models(grp, include_diagonal=fdr == "bh_with_diagonal")
        for col, val in zip(keys, key, strict=True):
            res[col] = val
        parts.append(res.rename(columns={"p_adj": "p_fdr"}))
    columns = [*COMPARISONS_COLUMNS, *extra]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    out["p_fdr"] = out["p_fdr"].astype(float)
    return out


def write_experiment(table: pd.DataFrame, layout: RunLayout,
                     fdr: Literal["bh", "bh_with_diagonal"] = "bh") -> pd.DataFrame:
    """Write ``experiment.csv`` and ``comparisons.csv`` into the experiment's directory;
    returns the comparisons."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    comparisons = compare_over_seeds(table, fdr)
    atomic_write_text(layout.experiment_csv, table.to_csv(index=False))
    atomic_write_text(layout.comparisons_csv, comparisons.to_csv(index=False))
    return comparisons
