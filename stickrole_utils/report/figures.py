"""Figures of the model and leaderboard pages: each function takes analysis tables, returns a Figure.

Every function builds its own :class:`matplotlib.figure.Figure` (no pyplot state, no global style
changes), so it can be called from notebooks, scripts and tests alike. Inputs are the tables of
:class:`stickrole_utils.analysis.model.ModelAnalysis` and the leaderboard table; columns are listed in
each docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from ..design.chunks import order_chunks
from ..design.values import HIGHER_ORDER, HIGHER_ORDER_OF, THEORETICAL_COORDS, VALUE_CODES, VALUES

__all__ = [
    "GROUP_COLORS",
    "circle_plot",
    "rank_order_heatmap",
    "persona_order_plot",
    "persona_profile_plot",
    "ipsative_plot",
    "leaderboard_bar",
]

#: Colour of each higher-order group (colour-blind-safe Okabe-Ito hues).
GROUP_COLORS: dict[str, str] = {
    "openness_to_change": "#E69F00",
    "self_enhancement": "#D55E00",
    "conservation": "#0072B2",
    "self_transcendence": "#009E73",
}

_GROUP_LABELS = {g: g.replace("_", " ").capitalize() for g in HIGHER_ORDER}


def _grid(n: int, ncols: int, size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    ncols = max(1, min(ncols, n))
    nrows = max(1, int(np.ceil(n / ncols)))
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def circle_plot(
    structure: pd.DataFrame,
    *,
    stress: Mapping[str, float] | None = None,
    chunks: Sequence[str] | None = None,
    ncols: int = 3,
) -> Figure:
    """Circular value structure: MDS item coordinates per chunk, one panel per chunk.

    Parameters
    ----------
    structure : DataFrame
        Columns ``chunk, item, value, x, y`` (2-D MDS coordinates of each keyed item).
    stress : mapping chunk -> float, optional
        Kruskal Stress per chunk, shown in each panel's title (``metrics["stress"]``).
    chunks : sequence of str, optional
        Panel order; default: the order of first appearance in ``structure``.
    ncols : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        Items are dots coloured by their value's higher-order group; each value's centroid is
        labelled with its code, and the dashed polygon joins the centroids in the theoretical
        circle order (Self-Direction, Stimulation, ..., Universalism): an ideal circumplex gives
        a polygon that does not cross itself. Grey codes on the unit circle mark the theoretical
        positions (the MDS initialisation), so rotations and reflections are easy to see.
    """
    if structure.empty:
        fig = Figure(figsize=(4, 3))
        fig.text(0.5, 0.5, "no structure data", ha="center", va="center")
        return fig
    chunks = list(chunks) if chunks is not None else list(dict.fromkeys(structure["chunk"]))
    fig, axes = _grid(len(chunks), ncols, (3.6, 3.6))
    for ax, chunk in zip(axes, chunks, strict=False):
        sub = structure[structure["chunk"] == chunk]
        for value, theo in THEORETICAL_COORDS.items():
            ax.text(theo[0] * 1.15, theo[1] * 1.15, VALUE_CODES[value], color="0.7",
                    ha="center", va="center", fontsize=7)
        if sub.empty or sub[["x", "y"]].isna().all().all():
            ax.text(0.5, 0.5, "no fit", transform=ax.transAxes, ha="center", va="center")
        else:
            xy = sub[["x", "y"]].to_numpy(float)
            scale = np.nanmax(np.abs(xy)) or 1.0
            sub = sub.assign(x=sub["x"] / scale, y=sub["y"] / scale)
            for group, color in GROUP_COLORS.items():
                g = sub[sub["value"].map(HIGHER_ORDER_OF) == group]
                ax.scatter(g["x"], g["y"], s=12, color=color, alpha=0.6, linewidths=0,
                           label=_GROUP_LABELS[group])
            cent = sub.groupby("value")[["x", "y"]].mean().reindex(
                [v for v in VALUES if v in set(sub["value"])])
            ring = pd.concat([cent, cent.iloc[:1]])
            ax.plot(ring["x"], ring["y"], ls="--", lw=0.8, color="0.4")
            for value, row in cent.iterrows():
                ax.text(row["x"], row["y"], VALUE_CODES[value], fontsize=8, weight="bold",
                        ha="center", va="center",
                        color=GROUP_COLORS[HIGHER_ORDER_OF[value]])
        s = (stress or {}).get(chunk, np.nan)
        ax.set_title(f"{chunk}\nStress = {s:.3f}" if np.isfinite(s) else f"{chunk}\nStress = n/a",
                     fontsize=9)
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return fig


def _matrix(pairwise: Mapping[str, Mapping[str, float]] | pd.DataFrame,
            chunks: Sequence[str] | None) -> pd.DataFrame:
    mat = pairwise.copy() if isinstance(pairwise, pd.DataFrame) else pd.DataFrame(pairwise)
    order = list(chunks) if chunks is not None else list(mat.index)
    return mat.reindex(index=order, columns=order).astype(float)


def rank_order_heatmap(
    pairwise: Mapping[str, Mapping[str, float]] | pd.DataFrame,
    *,
    chunks: Sequence[str] | None = None,
    title: str = "Pairwise rank-order stability",
) -> Figure:
    """Annotated heatmap of the chunk x chunk rank-order stability matrix.

    Parameters
    ----------
    pairwise : mapping chunk -> {chunk: r} or square DataFrame
        ``metrics["pairwise_rank_order"]``: mean over the 10 values of Spearman's r between the
        personas' centered scores in two chunks (diagonal 1).
    chunks : sequence of str, optional
        Fixed row/column order (``metrics["chunks"]``); default: the matrix's own order.

    Returns
    -------
    matplotlib.figure.Figure
        Diverging colour scale fixed to -1..1 (blue negative, white 0, red positive: a negative
        r must not look like 0); NaN cells are blank and labelled "n/a".
    """
    import seaborn as sns

    mat = _matrix(pairwise, chunks)
    n = len(mat)
    fig = Figure(figsize=(1.0 + 0.75 * n, 0.6 + 0.65 * n), layout="constrained")
    ax = fig.subplots()
    annot = mat.map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}")
    sns.heatmap(mat, ax=ax, vmin=-1, vmax=1, center=0, cmap="RdBu_r", annot=annot, fmt="",
                annot_kws={"fontsize": 8}, square=True, cbar_kws={"shrink": 0.7},
                linewidths=0.5, linecolor="white")
    for i, j in zip(*np.nonzero(mat.isna().to_numpy()), strict=True):  # seaborn skips NaN cells
        ax.text(j + 0.5, i + 0.5, "n/a", ha="center", va="center", fontsize=8, color="0.4")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.tick_params(axis="y", labelrotation=0, labelsize=8)
    return fig


def _reference_chunk(chunks: Sequence[str], reference: str | None) -> str:
    if reference is not None:
        if reference not in chunks:
            raise ValueError(f"reference chunk {reference!r} not among the chunks {list(chunks)}")
        return reference
    return "chunk_no_conv" if "chunk_no_conv" in chunks else chunks[0]


def persona_order_plot(
    scores: pd.DataFrame,
    *,
    values: Sequence[str] | None = None,
    chunks: Sequence[str] | None = None,
    reference_chunk: str | None = None,
    score: str = "centered",
    ncols: int = 5,
) -> Figure:
    """Personas ordered by their score in a reference chunk, one line per chunk, one panel per value.

    Parameters
    ----------
    scores : DataFrame
        Columns ``chunk, persona, value`` and ``score`` (default ``centered``), as
        :func:`stickrole_utils.analysis.scoring.value_scores` returns (one model).
    values : sequence of str, optional
        Panels; default the 10 values in circle order (those present).
    chunks : sequence of str, optional
        Lines, in this order; default: order of first appearance.
    reference_chunk : str, optional
        The chunk whose scores order the x axis; default ``chunk_no_conv`` if present, else the
        first chunk. Perfect rank-order stability makes every line increase monotonically.
    score : str
        Score column to plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if scores.empty:
        fig = Figure(figsize=(4, 3))
        fig.text(0.5, 0.5, "no scores", ha="center", va="center")
        return fig
    chunks = list(chunks) if chunks is not None else list(dict.fromkeys(scores["chunk"]))
    ref = _reference_chunk(chunks, reference_chunk)
    present = set(scores["value"])
    values = [v for v in (values or VALUES) if v in present]
    fig, axes = _grid(len(values), ncols, (3.0, 2.4))
    colors = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    for ax, value in zip(axes, values, strict=False):
        wide = scores[scores["value"] == value].pivot_table(
            index="persona", columns="chunk", values=score, aggfunc="mean")
        order = wide[ref].sort_values(kind="stable").index if ref in wide else wide.index
        wide = wide.reindex(order)
        x = np.arange(len(wide))
        for i, chunk in enumerate(c for c in chunks if c in wide):
            ax.plot(x, wide[chunk].to_numpy(), lw=2.2 if chunk == ref else 0.9,
                    color="black" if chunk == ref else colors[i % len(colors)],
                    alpha=1.0 if chunk == ref else 0.75, label=chunk, marker=".", ms=3)
        ax.set_title(value, fontsize=9, color=GROUP_COLORS[HIGHER_ORDER_OF[value]])
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(f"{score} score", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(5, len(labels)),
               fontsize=7, frameon=False,
               title=f"personas ordered by {ref} (bold)", title_fontsize=8)
    return fig


def persona_profile_plot(
    scores: pd.DataFrame, persona: str, *, chunks: Sequence[str] | None = None,
    score: str = "centered",
) -> Figure:
    """One persona's value profile across chunks: values on x (circle order), one line per chunk.

    Parameters
    ----------
    scores : DataFrame
        Columns ``chunk, persona, value`` and ``score`` (one model).
    persona : str
        Persona id.
    chunks : sequence of str, optional
        Lines, in this order.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = scores[scores["persona"] == persona]
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    if sub.empty:
        ax.text(0.5, 0.5, f"no scores for persona {persona!r}", transform=ax.transAxes,
                ha="center", va="center")
        return fig
    wide = sub.pivot_table(index="value", columns="chunk", values=score, aggfunc="mean")
    wide = wide.reindex([v for v in VALUES if v in wide.index])
    chunks = [c for c in (chunks or list(dict.fromkeys(sub["chunk"]))) if c in wide]
    x = np.arange(len(wide))
    for chunk in chunks:
        ax.plot(x, wide[chunk].to_numpy(), marker="o", ms=3, lw=1, label=chunk)
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_xticks(x, [VALUE_CODES[v] for v in wide.index], fontsize=8)
    ax.set_ylabel(f"{score} score", fontsize=8)
    ax.set_title(f"Value profile of {persona} across chunks", fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def ipsative_plot(ipsative: pd.DataFrame, *, chunks: Sequence[str] | None = None) -> Figure:
    """Ipsative stability: distribution over personas and mean per chunk pair.

    Parameters
    ----------
    ipsative : DataFrame
        Columns ``persona, chunk_a, chunk_b, r`` (r: Pearson/Spearman correlation of one persona's
        10 centered value scores between two chunks; NaN where undefined).
    chunks : sequence of str, optional
        Order of the chunk-pair matrix.

    Returns
    -------
    matplotlib.figure.Figure
        Left: histogram of each persona's mean r over chunk pairs (dashed line: overall mean).
        Right: mean r over personas for each chunk pair (symmetric matrix, diagonal 1).
    """
    import seaborn as sns

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax_h, ax_m = fig.subplots(1, 2, width_ratios=[1, 1.2])
    per_persona = ipsative.groupby("persona")["r"].mean().dropna()
    if per_persona.empty:
        ax_h.text(0.5, 0.5, "no ipsative correlations", transform=ax_h.transAxes,
                  ha="center", va="center")
    else:
        ax_h.hist(per_persona, bins=np.linspace(-1, 1, 41),
                  color="#56B4E9", edgecolor="white")
        ax_h.axvline(ipsative["r"].mean(), ls="--", color="black", lw=1)
        ax_h.set_xlim(-1, 1)
    ax_h.set_xlabel("mean ipsative r of a persona over chunk pairs", fontsize=8)
    ax_h.set_ylabel("personas", fontsize=8)
    ax_h.set_title(f"Ipsative stability (mean {ipsative['r'].mean():.3f})", fontsize=10)
    pair = ipsative.groupby(["chunk_a", "chunk_b"])["r"].mean()
    names = list(chunks) if chunks is not None else order_chunks(
        list(ipsative["chunk_a"]) + list(ipsative["chunk_b"]))
    mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for (a, b), r in pair.items():
        if a in mat.index and b in mat.index:
            mat.loc[a, b] = mat.loc[b, a] = r
    sns.heatmap(mat, ax=ax_m, vmin=-1, vmax=1, center=0, cmap="RdBu_r", annot=len(names) <= 10, fmt=".2f",
                annot_kws={"fontsize": 7}, square=True, cbar_kws={"shrink": 0.7})
    ax_m.set_title("Mean ipsative r per chunk pair", fontsize=10)
    ax_m.set_xlabel("")
    ax_m.set_ylabel("")
    ax_m.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax_m.tick_params(axis="y", labelrotation=0, labelsize=7)
    return fig


def _ci_column(table: pd.DataFrame, column: str, tags: Sequence[str]) -> str | None:
    """First column named like ``column``'s first word plus a bound tag, e.g. 'Cardinal CI low'."""
    stem = column.split(" ")[0].lower()
    for c in table.columns:
        words = c.lower().replace("(", " ").replace(")", " ").replace("_", " ").split()
        if c != column and words and words[0] == stem and any(t in words for t in tags):
            return c
    return None


def leaderboard_bar(
    table: pd.DataFrame,
    *,
    column: str = "Cardinal (Score)",
    lower: str | None = None,
    upper: str | None = None,
    model: str = "Model",
) -> Figure:
    """Horizontal bar chart of the models ranked by ``column``, with CI error bars.

    Parameters
    ----------
    table : DataFrame
        Leaderboard table (``Model`` and the score column).
    column : str
        Score to rank by (higher is better).
    lower, upper : str, optional
        Columns with the interval bounds (e.g. the 95 % bootstrap CI). Default: the first columns
        whose first word is ``column``'s first word and that contain the word ``low``/``lower``/
        ``lo`` (``high``/``upper``/``hi``); no error bars if there are none.

    Returns
    -------
    matplotlib.figure.Figure
        Best model on top.
    """
    if lower is None or upper is None:
        lower = lower or _ci_column(table, column, ("low", "lower", "lo"))
        upper = upper or _ci_column(table, column, ("high", "upper", "hi"))
    data = table.sort_values(column, ascending=True, na_position="first")
    fig = Figure(figsize=(7, 0.9 + 0.42 * len(data)), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(data))
    vals = data[column].to_numpy(float)
    xerr = None
    if lower in data and upper in data:
        lo = data[lower].to_numpy(float)
        hi = data[upper].to_numpy(float)
        xerr = np.vstack([np.clip(vals - lo, 0, None), np.clip(hi - vals, 0, None)])
        xerr = np.where(np.isfinite(xerr), xerr, 0.0)
    ax.barh(y, np.nan_to_num(vals), xerr=xerr, color="#0072B2", alpha=0.85,
            error_kw={"ecolor": "black", "capsize": 3, "lw": 1})
    right = vals + (xerr[1] if xerr is not None else 0.0)  # labels clear of the error bars
    for yi, v, r in zip(y, vals, right, strict=True):
        ax.text(0.005 if not np.isfinite(v) else max(r, v, 0) + 0.015, yi,
                "n/a" if not np.isfinite(v) else f"{v:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, data[model].astype(str), fontsize=9)
    ax.set_xlabel(column + (" (95% bootstrap CI)" if xerr is not None else ""), fontsize=9)
    ax.set_xlim(min(0.0, np.nanmin(vals) if np.isfinite(vals).any() else 0.0) - 0.02, 1.05)
    ax.set_title(f"Models ranked by {column}", fontsize=10)
    return fig
