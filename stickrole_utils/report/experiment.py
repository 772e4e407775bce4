"""Figures of the experiment page: per-model means over seeds with their standard errors, against
the human reference values (``docs/method.md``, Human reference values; Model comparisons).

Inputs are :func:`stickrole_utils.leaderboard.experiment.summarise` tables (columns ``model,
metric, n_messages, ..., mean, se, n``). Every function builds its own Figure (no pyplot state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["HUMAN_REFERENCE", "experiment_bars", "metric_by_length"]

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


def experiment_bars(summary: pd.DataFrame, metric: str = "rank_order") -> Figure:
    """Mean ± SE over seeds of ``metric`` per model, one bar per conversation length
    (``n_messages``), with the human reference values as horizontal lines."""
    data = summary[summary["metric"] == metric]
    models = list(pd.unique(data["model"]))
    lengths = sorted(pd.unique(data["n_messages"]))
    fig = Figure(figsize=(max(5.0, 1.2 * len(models) + 2), 3.6), layout="constrained")
    ax = fig.subplots()
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
