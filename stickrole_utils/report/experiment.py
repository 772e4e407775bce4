"""Figures of the experiment page, after the paper's: per-model means over seeds with their
standard errors against the human reference values (Figs 4-7), the significance matrix of the
model comparisons (S1-S6 Figs), downstream rank-order stability and value-behaviour correlations
(Figs 8-9), and the chunk x chunk rank-order stability over many contexts (Fig 10)
(``docs/method.md``, Human reference values; Model comparisons).

Inputs are tidy tables of :mod:`stickrole_utils.leaderboard.experiment`: ``summarise`` tables
(``model, metric, n_messages, ..., mean, se, n``), ``comparisons.csv`` (``metric, n_messages,
model_a, model_b, t, p, p_fdr, ...``) and ``pairwise_table`` (``model, seed, n_messages, ...,
chunk_a, chunk_b, value``). Every function builds its own Figure (no pyplot state); a figure with
nothing to show says so in its only panel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..design.values import VALUE_CODES, VALUES

__all__ = ["HUMAN_REFERENCE", "experiment_bars", "metric_by_length", "significance_matrix",
           "downstream_bars", "value_behaviour_bars", "pairwise_heatmaps"]

#: Human longitudinal stability: metric -> {label: value} (Vecchione et al. 2020 and 2016).
HUMAN_REFERENCE: dict[str, dict[str, float]] = {
    "rank_order": {"humans, ages 10 → 12": 0.569, "humans, ages 20 → 28": 0.657},
    "ipsative": {"humans, ages 10 → 12": 0.66, "humans, ages 20 → 28": 0.59},
}

_LINE_STYLES = ("--", ":")
_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")


def _human_lines(ax, metric: str, horizontal: bool = True) -> None:
    for (label, value), style in zip(HUMAN_REFERENCE.get(metric, {}).items(), _LINE_STYLES,
                                     strict=False):
        ax.axhline(value, color="grey", ls=style, lw=1, label=f"{label} ({value:g})")


def _bar_panel(ax, data: pd.DataFrame, models: Sequence[str], metric: str) -> None:
    """Mean ± SE bars of one metric's summary rows: one group per model, one bar per length."""
    lengths = sorted(pd.unique(data["n_messages"]))
    width = 0.8 / max(len(lengths), 1)
    x = np.arange(len(models))
    for j, length in enumerate(lengths):
        part = data[data["n_messages"] == length].groupby("model")[["mean", "se"]].mean()
        part = part.reindex(models)
        ax.bar(x + (j - (len(lengths) - 1) / 2) * width, part["mean"].fillna(0), width,
               yerr=part["se"].fillna(0), capsize=3, color=_COLORS[j % len(_COLORS)],
               label=f"n_messages = {length}")
    _human_lines(ax, metric)
    ax.set_xticks(x, models, fontsize=9, rotation=20, ha="right")
    ax.set_ylabel(f"{metric} (mean ± SE over seeds)", fontsize=9)
    ax.set_title(metric, fontsize=10)


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(5.0, 1.2), layout="constrained")
    ax = fig.subplots()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9)
    ax.set_axis_off()
    return fig


def experiment_bars(summary: pd.DataFrame, metric: str = "rank_order") -> Figure:
    """Mean ± SE over seeds of ``metric`` per model, one bar per conversation length
    (``n_messages``), with the human reference values as horizontal lines."""
    data = summary[summary["metric"] == metric]
    models = list(pd.unique(data["model"]))
    fig = Figure(figsize=(max(5.0, 1.2 * len(models) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
    _bar_panel(ax, data, models, metric)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def metric_by_length(summary: pd.DataFrame, metric: str = "rank_order") -> Figure:
    """Mean ± SE over seeds of ``metric`` against the conversation length, one line per model."""
    data = summary[summary["metric"] == metric]
    fig = Figure(figsize=(5.5, 3.6), layout="constrained")
    ax = fig.subplots()
    for i, (model, part) in enumerate(data.groupby("model", sort=False)):
        part = part.groupby("n_messages")[["mean", "se"]].mean().sort_index()
        ax.errorbar(part.index, part["mean"], yerr=part["se"], marker="o", capsize=3,
                    color=_COLORS[i % len(_COLORS)], label=str(model))
    _human_lines(ax, metric)
    ax.set_xlabel("n_messages (simulated messages after the opener)", fontsize=9)
    ax.set_ylabel(f"{metric} (mean ± SE over seeds)", fontsize=9)
    ax.set_xticks(sorted(pd.unique(data["n_messages"])))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _setting_columns(table: pd.DataFrame, skip: Sequence[str]) -> list[str]:
    return [c for c in table.columns if c not in skip]


def _setting_label(cols: Sequence[str], key: tuple) -> str:
    return ", ".join(f"{c} = {v}" for c, v in zip(cols, key, strict=True))


def significance_matrix(comparisons: pd.DataFrame, metrics: Sequence[str] | None = None,
                        alpha: float = 0.05) -> Figure:
    """Which model pairs differ: one model x model matrix per metric (rows of panels) and
    setting (columns; a metric not measured in a setting leaves its panel out), black where the
    Benjamini-Hochberg adjusted ``p_fdr`` < ``alpha``, white where not, grey where undefined
    (too few seeds) and on the diagonal; each cell shows
    ``p_fdr`` (the paper's S1-S6 Figs: black cells are significant differences).

    Parameters
    ----------
    comparisons : DataFrame
        ``comparisons.csv``: ``metric, n_messages, model_a, model_b, t, p, p_fdr`` and one column
        per other grid key.
    metrics : sequence of str, optional
        Metrics to show; default ``rank_order``, ``ipsative`` and every
        ``downstream_rank_order:<task>`` present.
    alpha : float
        Significance level of ``p_fdr``.
    """
    if metrics is None:
        present = list(pd.unique(comparisons["metric"]))
        metrics = [m for m in present
                   if m in ("rank_order", "ipsative") or m.startswith("downstream_rank_order:")]
    data = comparisons[comparisons["metric"].isin(list(metrics))]
    if data.empty:
        return _empty("no model pairs to compare (one model, or no metric with values)")
    settings = _setting_columns(data, ("metric", "model_a", "model_b", "t", "p", "p_fdr"))
    keys = sorted(data[settings].drop_duplicates().itertuples(index=False, name=None))
    models = list(pd.unique(pd.concat([data["model_a"], data["model_b"]])))
    n = len(models)
    side = 0.9 + 0.55 * n
    fig = Figure(figsize=(side * len(keys) + 0.5, side * len(metrics) + 0.3), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(metrics), len(keys), squeeze=False))
    cmap = ListedColormap(["white", "black"]).with_extremes(bad="0.85")
    pos = {m: i for i, m in enumerate(models)}
    for r, metric in enumerate(metrics):
        for c, key in enumerate(keys):
            ax = axes[r, c]
            part = data[data["metric"] == metric]
            for col, val in zip(settings, key, strict=True):
                part = part[part[col] == val]
            if part.empty:  # the metric was not measured in this setting
                ax.set_visible(False)
                continue
            p = np.full((n, n), np.nan)
            for row in part.itertuples():
                i, j = pos[row.model_a], pos[row.model_b]
                p[i, j] = p[j, i] = float(row.p_fdr)
            codes = np.where(np.isnan(p), np.nan, (p < alpha).astype(float))
            ax.imshow(np.ma.masked_invalid(codes), cmap=cmap, vmin=0, vmax=1)
            for i, j in np.ndindex(n, n):
                if i != j and not np.isnan(p[i, j]):
                    ax.text(j, i, f"{p[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if p[i, j] < alpha else "black")
            ax.set_xticks(range(n), models, fontsize=7, rotation=45, ha="right")
            ax.set_yticks(range(n), models, fontsize=7)
            title = metric if not settings else f"{metric}\n{_setting_label(settings, key)}"
            ax.set_title(title, fontsize=8)
    fig.suptitle(f"Significant differences (black: p_fdr < {alpha:g})", fontsize=9)
    return fig


def _metrics_with_prefix(summary: pd.DataFrame, prefix: str) -> list[str]:
    return [m for m in pd.unique(summary["metric"]) if str(m).startswith(prefix)]


def downstream_bars(summary: pd.DataFrame) -> Figure:
    """Rank-order stability of the behaviour in each downstream task (the paper's Fig 8): Mean ±
    SE over seeds per model, one bar per conversation length, one panel per task
    (``downstream_rank_order:<task>`` rows of a ``summarise`` table)."""
    metrics = _metrics_with_prefix(summary, "downstream_rank_order:")
    if not metrics:
        return _empty("no downstream task in this experiment")
    models = list(pd.unique(summary.loc[summary["metric"].isin(metrics), "model"]))
    width = max(4.5, 1.1 * len(models) + 1.5)
    fig = Figure(figsize=(width * len(metrics) + 1.5, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics), squeeze=False).ravel())
    for ax, metric in zip(axes, metrics, strict=True):
        _bar_panel(ax, summary[summary["metric"] == metric], models, metric)
        ax.set_ylabel("rank-order stability (mean ± SE)", fontsize=9)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def value_behaviour_bars(summary: pd.DataFrame) -> Figure:
    """Correlation of each value's expression with the behaviour of a downstream task (the
    paper's Fig 9): Mean ± SE over seeds of ``value_behaviour_correlation:<task>:<value>``, the
    ten values on the x axis, one bar per model (and conversation length where there are
    several), one panel per task."""
    metrics = _metrics_with_prefix(summary, "value_behaviour_correlation:")
    if not metrics:
        return _empty("no value-behaviour correlation in this experiment (needs a downstream "
                      "task paired with PVQ chunks)")
    data = summary[summary["metric"].isin(metrics)].copy()
    parts = data["metric"].str.split(":", n=2, expand=True)
    data["task"], data["value"] = parts[1], parts[2]
    lengths = sorted(pd.unique(data["n_messages"]))
    data["series"] = data["model"].astype(str)
    if len(lengths) > 1:
        data["series"] += ", n_messages = " + data["n_messages"].astype(str)
    series = list(pd.unique(data["series"]))
    tasks = list(pd.unique(data["task"]))
    values = [v for v in VALUES if v in set(data["value"])]
    values += [v for v in pd.unique(data["value"]) if v not in values]
    fig = Figure(figsize=(max(6.0, 0.5 * len(values) * max(len(series), 2)) + 2,
                          3.2 * len(tasks)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(tasks), 1, squeeze=False).ravel())
    x = np.arange(len(values))
    width = 0.8 / len(series)
    for ax, task in zip(axes, tasks, strict=True):
        part = data[data["task"] == task]
        for k, name in enumerate(series):
            rows = part[part["series"] == name].groupby("value")[["mean", "se"]].mean()
            rows = rows.reindex(values)
            ax.bar(x + (k - (len(series) - 1) / 2) * width, rows["mean"].fillna(0), width,
                   yerr=rows["se"].fillna(0), capsize=2, color=_COLORS[k % len(_COLORS)],
                   label=name)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(x, [VALUE_CODES.get(v, v) for v in values], fontsize=8)
        ax.set_ylabel("Spearman r (mean ± SE)", fontsize=9)
        ax.set_title(f"{task}: value expression (PVQ) vs behaviour, same context", fontsize=10)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def pairwise_heatmaps(pairwise: pd.DataFrame, ncols: int = 2) -> Figure:
    """The chunk x chunk rank-order stability matrix of each model (the paper's Fig 10), mean
    over seeds, one panel per model and setting, with the mean of the off-diagonal cells in its
    title.

    Parameters
    ----------
    pairwise : DataFrame
        :func:`~stickrole_utils.leaderboard.experiment.pairwise_table`: ``model, seed,
        n_messages, <other grid keys>, chunk_a, chunk_b, value``.
    ncols : int
        Panels per row.
    """
    import seaborn as sns

    if pairwise.empty:
        return _empty("no pairwise rank-order stability (no grid point has a metrics.json)")
    settings = _setting_columns(pairwise, ("model", "seed", "chunk_a", "chunk_b", "value"))
    groups = list(pairwise.groupby(["model", *settings], sort=False, dropna=False))
    chunks_max = max(g["chunk_a"].nunique() for _, g in groups)
    ncols = max(1, min(ncols, len(groups)))
    nrows = int(np.ceil(len(groups) / ncols))
    side = 1.5 + 0.6 * chunks_max
    fig = Figure(figsize=(side * ncols, side * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[len(groups):]:
        ax.set_visible(False)
    for ax, (key, grp) in zip(axes, groups, strict=False):
        order = list(pd.unique(grp["chunk_a"]))
        mat = grp.pivot_table(index="chunk_a", columns="chunk_b", values="value",
                              aggfunc="mean").reindex(index=order, columns=order)
        off = mat.to_numpy()[~np.eye(len(order), dtype=bool)]
        mean = float(np.nanmean(off)) if np.isfinite(off).any() else float("nan")
        sns.heatmap(mat, ax=ax, vmin=0, vmax=1, cmap="viridis", square=True,
                    annot=len(order) <= 10, fmt=".2f", annot_kws={"fontsize": 7},
                    cbar_kws={"shrink": 0.6}, linewidths=0.3, linecolor="white")
        key = key if isinstance(key, tuple) else (key,)
        name, label = key[0], _setting_label(settings, key[1:])
        ax.set_title(f"{name}{f' ({label})' if label else ''}\nmean off-diagonal {mean:.3f}",
                     fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    return fig
