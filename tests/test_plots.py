"""Figures: built from the analysis tables, right panels/labels, failures shown, no pyplot state."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from stickrole_utils.analysis.scoring import value_scores
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.design.instruments import PVQ40
from stickrole_utils.design.values import HIGHER_ORDER
from stickrole_utils.report import cfa_table, style_cfa_table
from stickrole_utils.report import figures as plots

CHUNKS = ["chunk_0", "chunk_chess_0", "chunk_no_conv"]


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return value_scores(synthetic_answers({"m": 0.9}, chunks=CHUNKS, n_personas=8, seed=1))


def _structure(rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        [(c, i, PVQ40.item_value[i], *rng.normal(size=2)) for c in CHUNKS for i in PVQ40.keyed_items],
        columns=["chunk", "item", "value", "x", "y"],
    )


def _cfa() -> pd.DataFrame:
    rows = [(c, g, 0.9, 0.88, 0.05, 0.07, True, False, "") for c in CHUNKS for g in HIGHER_ORDER]
    cfa = pd.DataFrame(rows, columns="chunk group cfi tli srmr rmsea converged improper note".split())
    cfa.loc[1, ["cfi", "tli", "srmr", "rmsea"]] = np.nan
    cfa.loc[1, ["converged", "note"]] = [False, "did not converge"]
    cfa.loc[5, ["improper", "note"]] = [True, "latent correlation >= 1"]
    return cfa


def test_circle_plot_one_panel_per_chunk_with_stress_in_title():
    fig = plots.circle_plot(_structure(np.random.default_rng(0)),
                            stress={"chunk_0": 0.123, "chunk_chess_0": np.nan}, chunks=CHUNKS)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["chunk_0\nStress = 0.123", "chunk_chess_0\nStress = n/a",
                      "chunk_no_conv\nStress = n/a"]
    # theoretical codes and the centroid codes are drawn
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"SD", "UN", "PO"} <= texts


def test_rank_order_heatmap_keeps_chunk_order_and_annotates():
    pw = {"a": {"a": 1.0, "b": 0.5, "c": np.nan}, "b": {"a": 0.5, "b": 1.0, "c": -0.2},
          "c": {"a": np.nan, "b": -0.2, "c": 1.0}}
    fig = plots.rank_order_heatmap(pw, chunks=["c", "a", "b"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]
    annots = [t.get_text() for t in ax.texts]
    assert annots[:2] == ["1.00", "-0.20"]  # row "c": c-c, c-b (c-a is NaN)
    assert annots.count("n/a") == 2
    assert ax.collections[0].get_clim() == (-1, 1)  # diverging: a negative r is not a 0


def test_persona_order_plot_orders_by_no_conv(scores):
    fig = plots.persona_order_plot(scores[scores["questionnaire"] == "pvq40"])
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(axes) == 10
    ref = next(line for line in axes[0].lines if line.get_label() == "chunk_no_conv")
    y = ref.get_ydata()
    assert np.all(np.diff(y) >= 0)  # the reference line increases: personas sorted by it
    assert len(axes[0].lines) == 3
    with pytest.raises(ValueError, match="reference chunk"):
        plots.persona_order_plot(scores, reference_chunk="chunk_9")


def test_persona_profile_plot(scores):
    fig = plots.persona_profile_plot(scores[scores["questionnaire"] == "pvq40"], "p01")
    assert len(fig.axes[0].lines) == 1 + 3  # zero line + one per chunk
    empty = plots.persona_profile_plot(scores, "nobody")
    assert "no scores" in empty.axes[0].texts[0].get_text()


def test_ipsative_plot_title_has_mean():
    ips = pd.DataFrame({"persona": ["p1", "p1", "p2", "p2"], "chunk_a": ["a", "a", "a", "a"],
                        "chunk_b": ["b", "c", "b", "c"], "r": [0.5, 0.7, np.nan, 0.3],
                        "reason": ["", "", "constant", ""]})
    fig = plots.ipsative_plot(ips)
    assert fig.axes[0].get_title() == "Ipsative stability (mean 0.500)"


def test_cfa_table_marks_failures_and_shows_both_means_under_their_names():
    metrics = {"cfi": {c: 0.675 for c in CHUNKS}, "srmr": {c: 0.3 for c in CHUNKS},
               "rmsea": {c: 0.3 for c in CHUNKS}, "settings": {"cfa_failure": "original"}}
    table = cfa_table(_cfa(), chunks=CHUNKS, metrics=metrics)
    assert list(table.columns) == ["CFI ↑", "SRMR ↓", "RMSEA ↓", "status"]
    assert table.loc[("chunk_0", "openness_to_change"), "status"] == "FAILED: did not converge"
    assert table.loc[("chunk_0", "mean of converged"), "status"] == "1 of 4 failed"
    assert table.loc[("chunk_0", "mean of converged"), "CFI ↑"] == pytest.approx(0.9)
    # the leaderboard's number is metrics.json's, not recomputed here
    assert table.loc[("chunk_0", "mean (leaderboard)"), "CFI ↑"] == 0.675
    assert "original" in table.loc[("chunk_0", "mean (leaderboard)"), "status"]
    assert ("chunk_0", "mean (leaderboard)") not in cfa_table(_cfa(), chunks=CHUNKS).index
    assert table.loc[("chunk_chess_0", "openness_to_change"), "status"].startswith("improper")
    html = style_cfa_table(table).to_html()
    assert "#f8d7da" in html and "n/a" in html


def test_leaderboard_bar_finds_ci_columns_and_ranks():
    lb = pd.DataFrame({"Model": ["a", "b", "c"], "Cardinal (Score)": [0.5, 0.7, np.nan],
                       "Cardinal CI low": [0.4, 0.6, np.nan], "Cardinal CI high": [0.6, 0.8, np.nan]})
    fig = plots.leaderboard_bar(lb)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]  # best on top
    assert "95% bootstrap CI" in ax.get_xlabel()
    assert plots.leaderboard_bar(lb[["Model", "Cardinal (Score)"]]).axes[0].get_xlabel() == \
        "Cardinal (Score)"
