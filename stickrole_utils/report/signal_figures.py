"""Figures and tables of the experiment page's "Signal and noise" section, drawn from
``reliability.csv`` and ``experiment.csv`` (they compute nothing that is not in those files;
``docs/method.md``, Signal and noise).

- :func:`floor_band`: the noise floor of a metric as a grey band on an axis (used by every
  stability figure of the page);
- :func:`ceiling_vs_observed`: each model's rank-order stability between contexts beside its
  noise ceiling and its retest stability between seeds;
- :func:`variance_shares`: stacked variance shares per model, pooled and per value;
- :func:`reliability_summary`: the numbers behind them as a table;
- :func:`invariance_summary`: the first level of measurement invariance that fails, per model,
  setting and higher-order CFA model (``invariance.csv``);
- :func:`omega_alpha`: McDonald's omega beside Cronbach's alpha per model and value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis.invariance import first_failing
from ..design.values import VALUES
from ..records import INVARIANCE_COLUMNS, RELIABILITY_COLUMNS

__all__ = ["floor_rows", "floor_band", "ceiling_vs_observed", "variance_shares",
           "reliability_summary", "invariance_summary", "omega_alpha", "EFFECT_WORDS"]

#: Effects of the decomposition in words.
EFFECT_WORDS: dict[str, str] = {
    "persona": "persona (signal)",
    "context": "context (shifts every persona)",
    "persona:context": "persona x context (re-ordering: instability)",
    "seed": "seed",
    "persona:seed": "persona x seed (noise)",
    "context:seed": "context x seed (noise)",
    "persona:context:seed": "persona x context x seed, residual (noise)",
}
_SOURCE = {"permutation null": "personas shuffled between contexts"}


def floor_rows(reliability: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """The ``noise_floor:<metric>`` rows of ``reliability.csv`` (empty when there are none)."""
    if reliability is None or reliability.empty:
        return pd.DataFrame(columns=["model", "estimate", "ci_low", "ci_high"])
    return reliability[reliability["quantity"] == f"noise_floor:{metric}"]


def floor_band(ax, reliability: pd.DataFrame | None, metric: str,
               setting: dict | None = None) -> bool:
    """Draw the noise floor of ``metric`` as a grey band (bounds) with a line (estimate).

    ``setting`` narrows the rows to one setting's (e.g. ``{"mode": "cot"}``); over several
    conversation lengths the band spans them all. Returns whether a band was drawn.
    """
    rows = floor_rows(reliability, metric)
    for key, value in (setting or {}).items():
        if key in rows.columns:
            rows = rows[(rows[key] == value) | rows[key].isna()]
    rows = rows[np.isfinite(rows["ci_low"].astype(float)) & np.isfinite(
        rows["ci_high"].astype(float))]
    if rows.empty:
        return False
    source = str(rows["model"].iloc[0])
    words = _SOURCE.get(source, source.removeprefix("floor:"))
    ax.axhspan(float(rows["ci_low"].min()), float(rows["ci_high"].max()), color="0.5",
               alpha=0.25, lw=0, label=f"noise floor ({words})", gid="noise floor")
    return True


def _pooled(reliability: pd.DataFrame) -> pd.DataFrame:
    models = ~reliability["model"].astype(str).str.startswith(("floor:", "permutation null"))
    return reliability[models & (reliability["value"] == "all")]


def _empty(message: str) -> Figure:
    fig = Figure(figsize=(6.0, 1.2), layout="constrained")
    ax = fig.subplots()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=9, wrap=True)
    ax.set_axis_off()
    return fig


def ceiling_vs_observed(summary: pd.DataFrame, reliability: pd.DataFrame | None) -> Figure:
    """Per model (and setting): observed rank-order stability between contexts (mean ± SE over
    seeds), its noise ceiling (the stability the seeds' reliability allows) and the retest
    stability between two seeds of the same context, over the noise floor band."""
    if reliability is None or reliability.empty:
        return _empty("no reliability.csv: the experiment needs several seeds")
    pooled = _pooled(reliability)
    ro = summary[summary["metric"] == "rank_order"]
    cols = [c for c in ("n_messages",) if c in ro.columns]
    keys = ["model", *cols]
    observed = ro.groupby(keys, sort=False)[["mean", "se"]].mean()
    ceil = pooled[pooled["quantity"] == "noise_ceiling"].groupby(keys)["estimate"].mean()
    retest = pooled[pooled["quantity"] == "retest_rank_order"].groupby(keys)["estimate"].mean()
    index = observed.index
    labels = [" / ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k in index]
    x = np.arange(len(index))
    fig = Figure(figsize=(max(5.0, 0.9 * len(index) + 3), 3.6), layout="constrained")
    ax = fig.subplots()
    ax.bar(x, observed["mean"], 0.6, yerr=observed["se"], capsize=3, color="#0072B2",
           label="rank-order stability between contexts (mean ± SE over seeds)")
    ax.scatter(x, ceil.reindex(index), marker="_", s=900, color="#D55E00", lw=2.5,
               label="noise ceiling (from ICC(2,1) across seeds)", zorder=3)
    ax.scatter(x, retest.reindex(index), marker="o", color="black", zorder=3,
               label="retest: between seeds, same context")
    floor_band(ax, reliability, "rank_order")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
    ax.set_ylabel("Spearman r", fontsize=9)
    ax.set_title("Rank-order stability against what noise allows"
                 + (" (model / conversation length)" if cols else ""), fontsize=10)
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return fig


def variance_shares(reliability: pd.DataFrame | None, per_value: bool = True) -> Figure:
    """Stacked shares of the score variance per model (pooled over values) and, with
    ``per_value``, per value: one horizontal bar per model or value, one colour per effect."""
    if reliability is None or reliability.empty:
        return _empty("no reliability.csv: the experiment needs several seeds")
    shares = reliability[reliability["quantity"].str.startswith("share:")
                         & ~reliability["model"].astype(str).str.startswith(("floor:",))]
    if shares.empty:
        return _empty("no variance decomposition (it needs at least 2 personas, contexts and "
                      "seeds)")
    models = list(dict.fromkeys(shares["model"]))
    effects = list(dict.fromkeys(shares["quantity"].str.removeprefix("share:")))
    colors = dict(zip(effects, _effect_colors(effects), strict=True))
    panels = [("all models, pooled over values", shares[shares["value"] == "all"], "model")]
    if per_value:
        panels += [(f"{m}, per value", shares[(shares["model"] == m)
                                              & (shares["value"] != "all")], "value")
                   for m in models]
    fig = Figure(figsize=(9.0, 0.9 + sum(0.28 * max(p[1][p[2]].nunique(), 1) + 0.6
                                         for p in panels)), layout="constrained")
    heights = [max(p[1][p[2]].nunique(), 1) + 1 for p in panels]
    axes = np.atleast_1d(fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": heights}))
    for ax, (title, part, by) in zip(axes, panels, strict=True):
        rows = list(dict.fromkeys(part[by]))
        if by == "value":
            rows = [v for v in VALUES if v in rows] + [v for v in rows if v not in VALUES]
        wide = part.pivot_table(index=by, columns="quantity", values="estimate",
                                aggfunc="mean").reindex(rows)
        left = np.zeros(len(rows))
        for e in effects:
            w = wide.get(f"share:{e}", pd.Series(0.0, index=wide.index)).fillna(0).to_numpy()
            ax.barh(np.arange(len(rows)), w, left=left, color=colors[e],
                    label=EFFECT_WORDS.get(e, e))
            left += w
        ax.set_yticks(np.arange(len(rows)), rows, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=9)
    axes[-1].set_xlabel("share of the score variance", fontsize=9)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7, frameon=False)
    return fig


def _effect_colors(effects: Sequence[str]) -> list:
    fixed = {"persona": "#009E73", "context": "#F0E442", "persona:context": "#D55E00",
             "seed": "#CCCCCC", "persona:seed": "#AAAAAA", "context:seed": "#BBBBBB",
             "persona:context:seed": "#888888"}
    extra = ["#0072B2", "#56B4E9", "#CC79A7", "#E69F00", "#7F3C8D", "#11A579", "#3969AC"]
    out, k = [], 0
    for e in effects:
        if e in fixed:
            out.append(fixed[e])
        else:
            out.append(extra[k % len(extra)])
            k += 1
    return out


def reliability_summary(reliability: pd.DataFrame | None) -> pd.DataFrame:
    """Per model and setting: the median ICC(2,1) and ICC(2,k) over values and contexts, the noise
    ceiling, the retest rank-order and the pooled shares of persona, persona x context and the
    effects with seed (noise), each share with its interval."""
    if reliability is None or reliability.empty:
        return pd.DataFrame()
    pooled = _pooled(reliability)
    settings = [c for c in reliability.columns if c not in (
        "model", "quantity", "value", "chunk", "estimate", "ci_low", "ci_high", "n")]
    keys = ["model", *settings]
    out = pooled.pivot_table(index=keys, columns="quantity", values="estimate",
                             aggfunc="mean", dropna=False)
    cols = [c for c in ("icc2_1", "icc2_k", "noise_ceiling", "retest_rank_order",
                        "share:persona", "share:persona:context") if c in out.columns]
    table = out[cols].copy()
    noise = [c for c in out.columns if str(c).startswith("share:") and "seed" in str(c)]
    if noise:
        table["share: with seed (noise)"] = out[noise].sum(axis=1, min_count=1)
    return table.dropna(how="all").round(3)


def invariance_summary(invariance: pd.DataFrame | None) -> pd.DataFrame:
    """Per model, setting and higher-order CFA model: the first level of invariance across
    contexts that fails (``none``: scalar holds, the contexts' scores are comparable), its ΔCFI
    and ΔRMSEA against the level below, and, where the partial-invariance search ran, whether
    freeing the listed items restores that level; one row per form (``multigroup``,
    ``longitudinal``)."""
    if invariance is None or invariance.empty:
        return pd.DataFrame()
    settings = [c for c in invariance.columns if c not in INVARIANCE_COLUMNS]
    keys = ["model", "seed", "questionnaire", *settings]
    parts = []
    for key, g in invariance.groupby(keys, sort=False, dropna=False):
        ff = first_failing(g)
        for k, v in zip(keys, key, strict=True):
            ff[k] = v
        parts.append(ff)
    out = pd.concat(parts, ignore_index=True)
    out = out[[*keys, *(c for c in out.columns if c not in keys)]]
    out = out.rename(columns={"group": "CFA model", "first_failing": "first failing level",
                              "delta_cfi": "ΔCFI", "delta_rmsea": "ΔRMSEA",
                              "partial_holds": "partial holds", "freed": "items freed"})
    return out.round(3).set_index([*keys, "CFA model", "form"])


def omega_alpha(reliability: pd.DataFrame | None) -> pd.DataFrame:
    """Per model (and setting) and value: McDonald's omega and Cronbach's alpha, means over
    contexts (per context in ``reliability.csv``)."""
    if reliability is None or reliability.empty:
        return pd.DataFrame()
    rows = reliability[reliability["quantity"].isin(["omega", "alpha"])]
    if rows.empty:
        return pd.DataFrame()
    settings = [c for c in reliability.columns if c not in RELIABILITY_COLUMNS
                and rows[c].notna().any()]
    table = rows.pivot_table(index=["model", *settings, "value"], columns="quantity",
                             values="estimate", aggfunc="mean", dropna=False)
    order = {v: i for i, v in enumerate([*VALUES, "all"])}
    table = table.sort_index(level="value", key=lambda s: s.map(lambda v: order.get(v, 99)),
                             sort_remaining=False)
    table = table.sort_index(level="model", sort_remaining=False)
    return table.reindex(columns=[c for c in ("omega", "alpha") if c in table.columns]
                         ).dropna(how="all").round(3)
