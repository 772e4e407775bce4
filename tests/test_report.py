"""HTML report: page helpers, notebook -> self-contained HTML, build_report on an analysed run,
and a headless-Chromium check that the leaderboard page renders (screenshot under outputs/)."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from stickrole_utils.errors import DataError
from stickrole_utils.layout import RunLayout
from stickrole_utils.pipeline import build_report
from stickrole_utils.report import (
    manifest_table,
    metrics_summary,
    model_unparsed_table,
    notebook_to_html,
    ranking_table,
    show_table,
    sortable_table_html,
    unparsed_table,
    write_index,
)

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CONTRACT = ["Model", "Ordinal (Win rate)", "Cardinal (Score)", "RO Stability", "Stress", "CFI",
            "SRMR", "RMSEA"]


@pytest.fixture(scope="module")
def analysed_run(tmp_path_factory) -> Path:
    """Three synthetic models analysed by the real pipeline (no generation needed)."""
    from stickrole_utils.analysis import analyze_files, write_analyses
    from stickrole_utils.config.analysis import AnalysisSettings
    from stickrole_utils.datasets import synthetic_answers
    from stickrole_utils.leaderboard import write_leaderboard

    run = tmp_path_factory.mktemp("run")
    answers = synthetic_answers({"stable": 0.95, "shaky": 0.3, "dummy": 0.0},
                                chunks=["chunk_0", "chunk_chess_0", "chunk_no_conv"],
                                n_personas=10, uniform=["dummy"], unparsed_rate=0.02, seed=3)
    answers.to_parquet(run / "answers.parquet")
    results = analyze_files([run / "answers.parquet"], AnalysisSettings(bootstrap=20,
                                                                        bootstrap_cardinal=3))
    write_analyses(results, run)
    write_leaderboard({m: a.metrics for m, a in results.items()}, run)
    return run


@pytest.fixture(scope="module")
def report(analysed_run, kernel) -> Path:
    return build_report(analysed_run, kernel_name=kernel)


def test_sortable_table_links_nan_and_script():
    df = pd.DataFrame({"Model": ["a<b", "c"], "Score": [0.51234, np.nan]})
    html = sortable_table_html(df, table_id="t1", links={"c": "model_c.html"})
    assert 'id="t1"' in html and "<script>" in html and 'getElementById("t1")' in html
    assert "a&lt;b" in html  # escaped
    assert '<a href="model_c.html">c</a>' in html
    assert "0.512" in html and "n/a" in html
    assert html.count("<tr>") == 3  # header + 2 rows


def test_notebook_to_html_is_self_contained_without_code(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("secret_code_marker = 1")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="progress 50%"),
        nbformat.v4.new_output("display_data",
                               data={"image/png": base64.b64encode(buf.getvalue()).decode(),
                                     "text/plain": "<Figure>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title here"), cell]
    src = tmp_path / "x.ipynb"
    nbformat.write(nb, str(src))
    out = notebook_to_html(src, tmp_path / "page" / "x.html", title="My page")
    html = out.read_text()
    assert "Title here" in html and "<title>My page</title>" in html
    assert "secret_code_marker" not in html and "progress 50%" not in html
    assert "data:image/png;base64," in html
    assert '<script src="http' not in html and "cdnjs" not in html


def test_small_tables(tmp_path):
    ans = pd.DataFrame({"chunk": ["a", "a", "b"], "questionnaire": "pvq40",
                        "score": [1.0, np.nan, 2.0]})
    t = unparsed_table(ans)
    assert t["unparsed"].tolist() == [1, 0, 1] and t["rate"].iloc[-1] == pytest.approx(1 / 3)
    # without answers.parquet, from metrics.json: counts stay whole numbers on the page
    fallback = model_unparsed_table(tmp_path, {"n_items": 480, "unparsed_count": 12.0,
                                               "unparsed_rate": 0.025})
    html_text = show_table(fallback).to_html()
    assert ">480<" in html_text and ">12<" in html_text and "480.000" not in html_text
    m = manifest_table({"a": {"b": [1, 2]}, "c": "x" * 500})
    assert m["key"].tolist() == ["a.b", "c"] and m["value"].iloc[1].endswith("...")
    r = ranking_table({"kendall_w": 0.4, "cardinal_mrc": 2.0, "notes": ["why"]})
    assert r["value"].tolist() == [0.4, 2.0, "why"]
    s = metrics_summary({"rank_order": 0.5, "rank_order_ci": [0.4, 0.6], "stress": {"a": 0.2,
                         "b": float("nan")}, "chunks": ["a", "b"]})
    assert s.loc[0, "95% CI"] == "[0.400, 0.600]"
    assert s.set_index("measure").loc["Stress (mean over chunks, lower is better)", "value"] == 0.2


def test_build_report_needs_metrics(tmp_path):
    with pytest.raises(DataError, match="no <model>/metrics.json"):
        build_report(tmp_path)


def test_index_without_a_run_summary(analysed_run, tmp_path):
    shutil.copytree(analysed_run, tmp_path / "r")
    index = write_index(tmp_path / "r")
    assert index.name == "index.html"
    assert "Leaderboard" in index.read_text()


@pytest.mark.slow
def test_report_pages(report, analysed_run):
    assert report == analysed_run.resolve() / "report" / "index.html"
    pages = analysed_run / "report"
    lb = (pages / "leaderboard.html").read_text()
    # sortable table with the contract columns, in order, and CIs
    assert '<table class="stickrole" id="leaderboard">' in lb
    heads = [f"<th>{c}</th>" for c in CONTRACT]
    positions = [lb.index(h) for h in heads]
    assert positions == sorted(positions)
    assert "<th>Cardinal CI low</th>" in lb and "<th>RO Stability CI high</th>" in lb
    for m in ("stable", "shaky", "dummy"):
        assert f'href="{model_page_name(m)}"' in lb
        assert (pages / model_page_name(m)).is_file()
    assert lb.count("data:image/png;base64,") >= 2  # two ranked bar charts
    assert "Kendall" in lb and "MRC" in lb
    assert "check_parameters" not in lb  # no code
    assert '<script src="http' not in lb
    page = (pages / model_page_name("stable")).read_text()
    for heading in ("Circular value structure", "Confirmatory factor analysis",
                    "Rank-order stability between chunks", "Persona orders per value",
                    "Ipsative stability", "Unparsed answers", "Run manifest"):
        assert heading in page
    assert page.count("data:image/png;base64,") >= 4
    assert "CFI ↑" in page and "RMSEA ↓" in page
    index = report.read_text()
    assert 'href="leaderboard.html"' in index and 'href="model_dummy.html"' in index
    # the leaderboard is now ordered as leaderboard.csv says
    csv = pd.read_csv(analysed_run / "leaderboard.csv")
    assert list(csv.columns[:8]) == CONTRACT
    assert csv["Model"].iloc[0] == "stable"


def _screenshot(url: str, out: Path, profile: Path, size: str = "1280,2000") -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={size}", "--hide-scrollbars"]
    return subprocess.run([CHROMIUM, *flags, f"--screenshot={out}", url], capture_output=True,
                          text=True, timeout=120)


def _dom(url: str, profile: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]
    return subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True,
                          text=True, timeout=120).stdout


@pytest.mark.slow
def test_leaderboard_renders_in_headless_chromium(report, analysed_run, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("chromium not installed")
    from PIL import Image

    page = (analysed_run / "report" / "leaderboard.html").resolve()
    out = tmp_path / "leaderboard.png"  # tests never write into the repository
    proc = _screenshot(page.as_uri(), out, tmp_path / "profile")
    assert out.is_file(), proc.stderr[-2000:]
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert img.shape[:2] == (2000, 1280)
    # the bar charts' blue bars are on screen: many strongly blue pixels
    blue = (img[..., 2] > 150) & (img[..., 0] < 90) & (img[..., 1] > 90) & (img[..., 1] < 160)
    assert blue.sum() > 2000
    # not a blank page: a good share of non-white pixels (text, table, figures)
    assert (img.sum(axis=2) < 700).mean() > 0.02
    # the table's sorting script ran in the page (it marks the table as sortable)
    dom = _dom(page.as_uri(), tmp_path / "profile2")
    assert 'id="leaderboard" data-sortable="1"' in dom
    assert dom.count("<img") >= 2
    shutil.copy(out, analysed_run / "report" / "leaderboard.png")


def model_page_name(model: str) -> str:
    return RunLayout(".").model_page(model).name
