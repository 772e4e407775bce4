"""Figures of the experiment page, after the paper's: per-model means over seeds with their
standard errors against the human reference values (Figs 4-5), the same against the length of
the simulated conversation (Figs 6-7), the significance matrix of the model comparisons (S1-S6
Figs), downstream rank-order stability and value-behaviour correlations (Figs 8-9), and the
chunk x chunk rank-order stability over many contexts (Fig 10) (``docs/method.md``, Human
reference values; Model comparisons).

Inputs are tidy tables of :mod:`stickrole_utils.experiment`: ``summarise`` tables
(``model, metric, n_messages, <other grid keys>, mean, se, n``), ``comparisons.csv``
(``metric, n_messages, model_a, model_b, t, p, p_fdr, <other grid keys>``) and
``pairwise_table`` (``model, seed, n_messages, <other grid keys>, chunk_a, chunk_b, value``).

Conventions of every figure:

- titles and axes in words (:func:`metric_title`, :func:`setting_label`), wrapped to their
  panel's width;
- a grid key other than ``seed`` and ``n_messages`` gets panels of its own (one per value, or
  combination of values), never an average over its values;
- a mean that is missing (no seed had a value) is not drawn: its place is left empty and
  marked "n/a";
- correlation heat maps use a diverging scale fixed to -1..1 (white at 0), so a negative r
  never looks like 0.

Every function builds its own Figure (no pyplot state); a figure with nothing to show says so
in its only panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Hashable, Sequence
from pathlib import PurePath
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..design.values import VALUES
from .signal_figures import floor_band

__all__ = ["HUMAN_REFERENCE", "METRIC_TITLES", "TASK_TITLES", "metric_title", "task_title",
           "setting_label", "describe_grid", "means_table", "experiment_bars", "metric_by_length",
           "significance_matrix", "downstream_bars", "value_behaviour_bars",
           "pairwise_heatmaps", "HEATMAP_CMAP"]

#: Human longitudinal stability: metric -> {label: value} (Vecchione et al. 2020 and 2016).
HUMAN_REFERENCE: dict[str, dict[str, float]] = {
    "rank_order": {"humans, ages 10 → 12": 0.569, "humans, ages 20 → 28": 0.657},
    "ipsative": {"humans, ages 10 → 12": 0.66, "humans, ages 20 → 28": 0.59},
}

#: The experiment's metrics in words.
METRIC_TITLES: dict[str, str] = {"rank_order": "Rank-order stability",
                                 "ipsative": "Ipsative stability"}

#: The built-in downstream tasks in words (the paper's names; other tasks: their name with
#: spaces).
TASK_TITLES: dict[str, str] = {"tolkien_donation": "Donation (Tolkien)",
                               "tolkien_bag": "Stealing (Tolkien, lost bag)",
                               "religion": "Religion"}

#: Grid keys in words (:func:`setting_label`); a key not listed shows with spaces.
_KEY_WORDS: dict[str, str] = {
    "n_personas": "personas", "instrument_source": "instrument texts", "mode": "answer mode",
    "interlocutor_knows_persona": "interlocutor knows the persona",
    "permute_options": "options permuted", "permutation_scheme": "option permutations",
    "system_role": "system role", "persona_turn": "persona turn", "svs_dialogue": "SVS dialogue",
    "prompts_file": "prompts file", "strip_replies": "replies stripped",
}

#: Diverging colour map of the correlation heat maps (blue negative, white 0, red positive).
HEATMAP_CMAP = "RdBu_r"

_LINE_STYLES = ("--", ":")
_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
#: Columns of a summary or comparisons table that are not grid settings.
_NOT_SETTINGS = ("model", "seed", "metric", "value", "mean", "se", "n", "model_a", "model_b",
                 "t", "p", "p_fdr", "chunk_a", "chunk_b")


def task_title(task: str) -> str:
    """A downstream task in words.

    >>> task_title("tolkien_donation"), task_title("my_task")
    ('Donation (Tolkien)', 'My task')
    """
    return TASK_TITLES.get(task, str(task).replace("_", " ").capitalize())


def metric_title(metric: str) -> str:
    """An ``experiment.csv`` metric in words.

    >>> metric_title("rank_order")
    'Rank-order stability'
    >>> metric_title("downstream_rank_order:tolkien_donation")
    'Rank-order stability of Donation (Tolkien)'
    >>> metric_title("value_behaviour_correlation:religion:Power")
    'Correlation of Power with Religion'
    """
    name, _, rest = str(metric).partition(":")
    if name == "downstream_rank_order" and rest:
        return f"Rank-order stability of {task_title(rest)}"
    if name == "value_behaviour_correlation" and rest:
        task, _, value = rest.partition(":")
        return f"Correlation of {value} with {task_title(task)}"
    return METRIC_TITLES.get(metric, str(metric).replace("_", " ").capitalize())


def _value_words(value: Any) -> str:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return PurePath(value).name  # a file: its name
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def setting_label(key: str, value: Any) -> str:
    """One grid setting in words.

    >>> setting_label("n_messages", 3), setting_label("n_messages", 1), setting_label("seed", 2)
    ('3 simulated messages', '1 simulated message', 'seed 2')
    >>> setting_label("population", "/p/people.yaml"), setting_label("mode", "logprob")
    ('population: people.yaml', 'answer mode: logprob')
    """
    if key == "n_messages":
        words = _value_words(value)
        return f"{words} simulated message{'' if words == '1' else 's'}"
    if key == "seed":
        return f"seed {_value_words(value)}"
    return f"{_KEY_WORDS.get(key, key.replace('_', ' '))}: {_value_words(value)}"


def _settings_label(keys: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(setting_label(k, v) for k, v in zip(keys, values, strict=True))


def _length_label(value: Any) -> str:
    return f"after {setting_label('n_messages', value)}"


def _extra_settings(table: pd.DataFrame) -> list[str]:
    """Grid keys of ``table`` other than seed and n_messages (one panel per combination)."""
    return [c for c in table.columns if c not in _NOT_SETTINGS and c != "n_messages"]


def _sorted(values) -> list:
    """Values in their natural order (numbers as numbers), by their text where types mix."""
    values = list(values)
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _panels(data: pd.DataFrame, by: Sequence[str] = (), extra: Sequence[str] | None = None
            ) -> list[tuple[str, tuple, pd.DataFrame]]:
    """``data`` split by ``by`` and by the other grid keys ``extra`` (default: every column
    that is not a known non-setting column): ``(label, key, part)`` per combination, in order
    of appearance; the label names the other grid keys' values in words. One
    ``("", (), data)`` when there is nothing to split by."""
    extra = _extra_settings(data) if extra is None else extra
    keys = [*by, *(c for c in extra if c not in by)]
    if not keys:
        return [("", (), data)]
    rank = {k: {v: i for i, v in enumerate(pd.unique(data[k]))} for k in keys}
    out = []
    for key, part in data.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        shown = [(k, v) for k, v in zip(keys, key, strict=True) if k not in by]
        out.append((_settings_label([k for k, _ in shown], [v for _, v in shown]), key, part))
    # in the order of the split keys, each in its order of appearance (NaN last)
    return sorted(out, key=lambda o: [rank[k].get(v, len(rank[k]))
                                      for k, v in zip(keys, o[1], strict=True)])


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` wrapped to lines that fit ``width_in`` inches at ``fontsize`` points."""
    chars = max(12, int(width_in * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _title(ax, text: str, width_in: float, fontsize: float = 10) -> None:
    ax.set_title(_wrap(text, width_in, fontsize), fontsize=fontsize)


def _human_lines(ax, metric: str) -> None:
    for (label, value), style in zip(HUMAN_REFERENCE.get(metric, {}).items(), _LINE_STYLES,
                                     strict=False):
        ax.axhline(value, color="grey", ls=style, lw=1, label=f"{label} ({value:g})")


def _color(i: int) -> str:
    return _COLORS[i % len(_COLORS)]


def _length_colors(lengths: Sequence) -> list:
    """One colour per conversation length: a sequential scale when there are several."""
    if len(lengths) <= 1:
        return [_COLORS[0]]
    return list(matplotlib.colormaps["viridis"](np.linspace(0.05, 0.85, len(lengths))))


def _figure(n_panels: int, panel: tuple[float, float], ncols: int = 3,
            legend_in: float = 0.0) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n_panels))
    nrows = max(1, int(np.ceil(n_panels / ncols)))
    fig = Figure(figsize=(panel[0] * ncols + legend_in, panel[1] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes


def _legend(fig: Figure, ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)


def _bars(ax, x: np.ndarray, mean: np.ndarray, se: np.ndarray, width: float, color,
          label: str, capsize: float = 3) -> None:
    """Bars of the finite means (error bars where the SE is defined); an "n/a" mark where the
    mean is missing, so that a missing mean never reads as a 0 bar."""
    ok = np.isfinite(mean)
    ax.bar(x[ok], mean[ok], width, yerr=np.where(np.isfinite(se[ok]), se[ok], np.nan),
           capsize=capsize, color=color, label=label)
    for xi in x[~ok]:
        ax.text(xi, 0, "n/a", ha="center", va="bottom", fontsize=7, color="0.35",
                rotation=90, gid="n/a")


def _bar_panel(ax, data: pd.DataFrame, models: Sequence[str], lengths: Sequence,
               metric: str) -> None:
    """Mean ± SE bars of one metric's summary rows in one setting: one group per model, one bar
    per conversation length."""
    width = 0.8 / max(len(lengths), 1)
    x = np.arange(len(models))
    for j, (length, color) in enumerate(zip(lengths, _length_colors(lengths), strict=True)):
        part = data[data["n_messages"] == length].groupby("model")[["mean", "se"]].mean()
        part = part.reindex(models)
        _bars(ax, x + (j - (len(lengths) - 1) / 2) * width, part["mean"].to_numpy(float),
              part["se"].to_numpy(float), width, color, _length_label(length))
    _human_lines(ax, metric)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, models, fontsize=8, rotation=20, ha="right")
    ax.set_ylabel("r (mean ± SE over seeds)", fontsize=9)


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6.0, 1.2), layout="constrained")
    ax = fig.subplots()
    ax.text(0.5, 0.5, textwrap.fill(message, 90), ha="center", va="center", fontsize=9)
    ax.set_axis_off()
    return fig


def _lengths(data: pd.DataFrame) -> list:
    return _sorted(pd.unique(data["n_messages"]))


def describe_grid(table: pd.DataFrame) -> str:
    """One sentence saying what the experiment's grid holds (``experiment.csv``).

    >>> t = pd.DataFrame({"model": ["a", "b"] * 2, "seed": [0, 0, 1, 1], "n_messages": 3,
    ...                   "metric": "rank_order", "value": 0.5})
    >>> describe_grid(t)
    'Models: a, b. Grid: 2 seeds (0, 1) x 1 conversation length (3 simulated messages).'
    """
    def values(col: str) -> list:
        return _sorted(pd.unique(table[col].dropna())) if col in table else []

    seeds, lengths = values("seed"), values("n_messages")
    parts = [f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
             f"({', '.join(_value_words(s) for s in seeds)})",
             f"{len(lengths)} conversation length{'s' if len(lengths) != 1 else ''} "
             f"({', '.join(_value_words(n) for n in lengths)} simulated messages)"
             if len(lengths) != 1 else
             f"1 conversation length ({setting_label('n_messages', lengths[0])})"]
    for col in _extra_settings(table):
        vals = values(col)
        parts.append(f"{len(vals)} value{'s' if len(vals) != 1 else ''} of "
                     f"{_KEY_WORDS.get(col, col.replace('_', ' '))} "
                     f"({', '.join(_value_words(v) for v in vals)})")
    models = ", ".join(str(m) for m in pd.unique(table["model"]))
    return f"Models: {models}. Grid: {' x '.join(parts)}."


def means_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The means over seeds as a reader reads them: one row per measure (in words; the index,
    with any other grid key), one column per model and conversation length, cells
    ``mean ± SE (n)`` ("n/a" where no seed gave a value; no SE with one seed).

    >>> s = pd.DataFrame({"model": ["a", "a"], "metric": ["rank_order", "ipsative"],
    ...                   "n_messages": 3, "mean": [0.5, float("nan")], "se": [0.01, None],
    ...                   "n": [3, 0]})
    >>> means_table(s)["a, 3 simulated messages"].to_dict()
    {'Rank-order stability': '0.500 ± 0.010 (3)', 'Ipsative stability': 'n/a'}
    """
    extra = _extra_settings(summary)

    def cell(row) -> str:
        if not np.isfinite(row["mean"]):
            return "n/a"
        se = f" ± {row['se']:.3f}" if np.isfinite(row["se"]) else ""
        return f"{row['mean']:.3f}{se} ({int(row['n'])})"

    data = summary.assign(
        measure=summary["metric"].map(metric_title),
        column=summary["model"].astype(str) + ", " + summary["n_messages"].map(
            lambda n: setting_label("n_messages", n)),
        cell=summary.apply(cell, axis=1) if len(summary) else pd.Series(dtype=str))
    columns = list(pd.unique(data.sort_values("n_messages", kind="stable")["column"]))
    index = ["measure", *extra]
    wide = data.pivot_table(index=index, columns="column", values="cell", aggfunc="first",
                            sort=False, dropna=False)
    return wide.reindex(columns=columns).rename_axis(columns=None)


def _setting_of(part: pd.DataFrame) -> dict:
    """The other grid keys' values of one panel (for its noise floor)."""
    return {k: part[k].iloc[0] for k in _extra_settings(part) if len(part)}


def _floor(ax, reliability: pd.DataFrame | None, metric: str, part: pd.DataFrame) -> None:
    if reliability is not None:
        floor_band(ax, reliability, metric, _setting_of(part))


def experiment_bars(summary: pd.DataFrame, metric: str = "rank_order",
                    reliability: pd.DataFrame | None = None) -> Figure:
    """Mean ± SE over seeds of ``metric`` per model, one bar per conversation length
    (``n_messages``), with the human reference values as horizontal lines (the paper's Figs
    4-5); one panel per value of any other grid key. With ``reliability`` (``reliability.csv``)
    the metric's noise floor is a grey band."""
    data = summary[summary["metric"] == metric]
    if data.empty:
        return _empty(f"no {metric_title(metric).lower()} in this experiment")
    models = [str(m) for m in pd.unique(data["model"])]
    lengths = _lengths(data)
    panels = _panels(data)
    width = max(4.0, 0.35 * len(models) * max(len(lengths), 2) + 1.5)
    fig, axes = _figure(len(panels), (width, 3.4), legend_in=2.0)
    for ax, (label, _, part) in zip(axes, panels, strict=False):
        _bar_panel(ax, part.assign(model=part["model"].astype(str)), models, lengths, metric)
        _floor(ax, reliability, metric, part)
        _title(ax, metric_title(metric) + (f"\n{label}" if label else ""), width)
    _legend(fig, axes[0])
    return fig


def metric_by_length(summary: pd.DataFrame, metric: str = "rank_order",
                     reliability: pd.DataFrame | None = None) -> Figure:
    """Mean ± SE over seeds of ``metric`` against the conversation length, one line per model
    (the paper's Fig 6 for ``rank_order``, Fig 7 for ``ipsative``); one panel per value of any
    other grid key. A model with no value at some length has a gap there and says "n/a at"
    those lengths in the legend. With ``reliability``, the noise floor as a grey band."""
    data = summary[summary["metric"] == metric]
    name = metric_title(metric)
    if data.empty:
        return _empty(f"no {name.lower()} in this experiment")
    lengths = _lengths(data)
    if len(lengths) < 2:
        return _empty(f"{name} against conversation length: this experiment has one length "
                      f"({setting_label('n_messages', lengths[0])}); give the grid several "
                      "n_messages values to see it.")
    panels = _panels(data)
    fig, axes = _figure(len(panels), (5.0, 3.6), legend_in=2.4)
    for ax, (label, _, part) in zip(axes, panels, strict=False):
        for i, (model, rows) in enumerate(part.groupby("model", sort=False)):
            rows = rows.groupby("n_messages")[["mean", "se"]].mean().reindex(lengths)
            missing = [_value_words(n) for n in rows.index[rows["mean"].isna()]]
            ax.errorbar(lengths, rows["mean"], yerr=rows["se"], marker="o", capsize=3,
                        color=_color(i), label=str(model) + (
                            f" (n/a at {', '.join(missing)} messages)" if missing else ""))
        _human_lines(ax, metric)
        _floor(ax, reliability, metric, part)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel("simulated conversation length\n(messages between the opener and the "
                      "questionnaire)", fontsize=9)
        ax.set_ylabel("r (mean ± SE over seeds)", fontsize=9)
        ax.set_xticks(lengths, [_value_words(n) for n in lengths])
        _title(ax, f"{name} against conversation length" + (f"\n{label}" if label else ""),
               5.0)
    _legend(fig, axes[0])
    return fig


def significance_matrix(comparisons: pd.DataFrame, metrics: Sequence[str] | None = None,
                        alpha: float = 0.05, ncols: int = 4) -> Figure:
    """Which model pairs differ: one model x model matrix per metric and setting (panels in
    metric order, then setting order, ``ncols`` to a row; a metric not measured in a setting
    has no panel), black where the
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
    ncols : int
        Panels per row.
    """
    if metrics is None:
        present = list(pd.unique(comparisons["metric"]))
        metrics = [m for m in present
                   if m in ("rank_order", "ipsative") or m.startswith("downstream_rank_order:")]
    data = comparisons[comparisons["metric"].isin(list(metrics))]
    if data.empty:
        return _empty("no model pairs to compare (one model, or no metric with values)")
    settings = [c for c in data.columns if c not in _NOT_SETTINGS]
    keys = _sorted(data[settings].drop_duplicates().itertuples(index=False, name=None))
    models = list(pd.unique(pd.concat([data["model_a"], data["model_b"]])))
    n = len(models)
    panels = []  # (metric, setting) in metric order, then setting order; unmeasured ones left out
    for metric in metrics:
        for key in keys:
            part = data[data["metric"] == metric]
            for col, val in zip(settings, key, strict=True):
                part = part[part[col] == val]
            if not part.empty:
                panels.append((metric, key, part))
    labels_in = 0.065 * max(len(str(m)) for m in models)  # tick labels, 7 pt
    matrix_in = max(1.8, 0.4 * n)
    side = matrix_in + labels_in + 0.3
    fig, axes = _figure(len(panels), (side, side + 0.3), ncols=ncols)
    cmap = ListedColormap(["white", "black"]).with_extremes(bad="0.85")
    pos = {m: i for i, m in enumerate(models)}
    for ax, (metric, key, part) in zip(axes, panels, strict=False):
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
        label = _settings_label(settings, key)
        _title(ax, metric_title(metric) + (f"\n{label}" if label else ""), matrix_in, 8)
    fig.suptitle(f"Significant differences between models (black: p_fdr < {alpha:g}, "
                 "Benjamini-Hochberg adjusted)", fontsize=9)
    return fig


def _metrics_with_prefix(summary: pd.DataFrame, prefix: str) -> list[str]:
    return [m for m in pd.unique(summary["metric"]) if str(m).startswith(prefix)]


def downstream_bars(summary: pd.DataFrame, reliability: pd.DataFrame | None = None) -> Figure:
    """Rank-order stability of the behaviour in each downstream task (the paper's Fig 8): Mean ±
    SE over seeds per model, one bar per conversation length, one panel per task (and per value
    of any other grid key) (``downstream_rank_order:<task>`` rows of a ``summarise`` table).
    With ``reliability``, the floor models' values as a grey band (the permutation null
    covers values, not behaviour)."""
    metrics = _metrics_with_prefix(summary, "downstream_rank_order:")
    if not metrics:
        return _empty("no downstream task in this experiment")
    data = summary[summary["metric"].isin(metrics)]
    models = [str(m) for m in pd.unique(data["model"])]
    lengths = _lengths(data)
    panels = _panels(data, by=["metric"])
    width = max(4.0, 0.35 * len(models) * max(len(lengths), 2) + 1.5)
    fig, axes = _figure(len(panels), (width, 3.4), legend_in=2.0)
    for ax, (label, key, part) in zip(axes, panels, strict=False):
        _bar_panel(ax, part.assign(model=part["model"].astype(str)), models, lengths, key[0])
        _floor(ax, reliability, key[0], part)
        _title(ax, metric_title(key[0]) + (f"\n{label}" if label else ""), width)
    _legend(fig, axes[0])
    return fig


def value_behaviour_bars(summary: pd.DataFrame) -> Figure:
    """Correlation of each value's expression with the behaviour of a downstream task (the
    paper's Fig 9): Mean ± SE over seeds of ``value_behaviour_correlation:<task>:<value>``, the
    ten values on the x axis, one bar per model (and conversation length where there are
    several), one panel per task (and per value of any other grid key)."""
    metrics = _metrics_with_prefix(summary, "value_behaviour_correlation:")
    if not metrics:
        return _empty("no value-behaviour correlation in this experiment (needs a downstream "
                      "task paired with PVQ chunks)")
    data = summary[summary["metric"].isin(metrics)].copy()
    parts = data["metric"].str.split(":", n=2, expand=True)
    data["task"], data["value"] = parts[1], parts[2]
    lengths = _lengths(data)
    data["series"] = data["model"].astype(str)
    if len(lengths) > 1:
        data["series"] += ", " + data["n_messages"].map(_length_label)
    series = list(pd.unique(data["series"]))
    values = [v for v in VALUES if v in set(data["value"])]
    values += [v for v in pd.unique(data["value"]) if v not in values]
    panels = _panels(data, by=["task"], extra=_extra_settings(summary))
    width = max(6.0, 0.2 * len(values) * max(len(series), 2) + 1.5)
    fig, axes = _figure(len(panels), (width, 3.4), ncols=1)
    x = np.arange(len(values))
    bar = 0.8 / len(series)
    for ax, (label, key, part) in zip(axes, panels, strict=False):
        for k, name in enumerate(series):
            rows = part[part["series"] == name].groupby("value")[["mean", "se"]].mean()
            rows = rows.reindex(values)
            _bars(ax, x + (k - (len(series) - 1) / 2) * bar, rows["mean"].to_numpy(float),
                  rows["se"].to_numpy(float), bar, _color(k), name, capsize=2)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(x, values, fontsize=8, rotation=25, ha="right")
        ax.set_ylabel("Spearman r (mean ± SE over seeds)", fontsize=9)
        _title(ax, f"{task_title(key[0])}: value expression (PVQ) against behaviour in the same "
                   "context" + (f"\n{label}" if label else ""), width)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", fontsize=8, frameon=False,
               ncols=min(len(names), 2 if len(lengths) > 1 else 4))
    return fig


def _order(present: Sequence[Hashable], chunks: Sequence[str] | None) -> list:
    """``present`` in the order of ``chunks``, then the others in their order."""
    if not chunks:
        return list(present)
    first = [c for c in chunks if c in set(present)]
    return first + [c for c in present if c not in first]


def pairwise_heatmaps(pairwise: pd.DataFrame, chunks: Sequence[str] | None = None,
                      ncols: int = 2) -> Figure:
    """The chunk x chunk rank-order stability matrix of each model (the paper's Fig 10), mean
    over seeds, one panel per model and setting, with the mean of the off-diagonal cells in its
    title; colours on a diverging scale fixed to -1..1 (:data:`HEATMAP_CMAP`, white at 0), NaN
    cells blank and marked "n/a".

    Parameters
    ----------
    pairwise : DataFrame
        :func:`~stickrole_utils.experiment.pairwise_table`: ``model, seed,
        n_messages, <other grid keys>, chunk_a, chunk_b, value``.
    chunks : sequence of str, optional
        Row and column order (the params' chunk order); default: the table's order (which
        :func:`~stickrole_utils.experiment.pairwise_table` takes from the params).
    ncols : int
        Panels per row.
    """
    import seaborn as sns

    if pairwise.empty:
        return _empty("no pairwise rank-order stability (no grid point has a metrics.json)")
    settings = [c for c in pairwise.columns if c not in _NOT_SETTINGS]
    groups = list(pairwise.groupby(["model", *settings], sort=False, dropna=False))
    chunks_max = max(g["chunk_a"].nunique() for _, g in groups)
    side = 1.9 + 0.6 * chunks_max
    fig, axes = _figure(len(groups), (side, side), ncols=ncols)
    for ax, (key, grp) in zip(axes, groups, strict=False):
        order = _order(list(pd.unique(grp["chunk_a"])), chunks)
        mat = grp.pivot_table(index="chunk_a", columns="chunk_b", values="value",
                              aggfunc="mean", dropna=False).reindex(index=order, columns=order)
        off = mat.to_numpy()[~np.eye(len(order), dtype=bool)]
        mean = float(np.nanmean(off)) if np.isfinite(off).any() else float("nan")
        annot = mat.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
        sns.heatmap(mat, ax=ax, vmin=-1, vmax=1, center=0, cmap=HEATMAP_CMAP, square=True,
                    annot=annot if len(order) <= 10 else False, fmt="",
                    annot_kws={"fontsize": 7},
                    cbar_kws={"shrink": 0.6, "label": "Spearman r", "ticks": [-1, -0.5, 0,
                                                                              0.5, 1]},
                    linewidths=0.3, linecolor="white")
        for i, j in zip(*np.nonzero(mat.isna().to_numpy()), strict=True):
            ax.text(j + 0.5, i + 0.5, "n/a", ha="center", va="center", fontsize=7, color="0.4")
        key = key if isinstance(key, tuple) else (key,)
        label = _settings_label(settings, key[1:])
        text = f"mean off-diagonal r = {mean:.3f}" if np.isfinite(mean) else \
            "mean off-diagonal r = n/a"
        _title(ax, f"{key[0]}" + (f", {label}" if label else "") + f"\n{text}", side, 9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.tick_params(axis="y", labelrotation=0, labelsize=7)
    return fig
