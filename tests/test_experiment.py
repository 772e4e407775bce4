"""Experiment grids: params validation, grid expansion, the experiment tables (means and SE over
seeds, t-tests with Benjamini-Hochberg against scipy) and a dummy grid run end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from stickrole_utils.config import expand_grid, parse_run_config, point_label
from stickrole_utils.errors import ConfigError
from stickrole_utils.experiment import (
    COMPARISONS_COLUMNS,
    EXPERIMENT_COLUMNS,
    compare_over_seeds,
    summarise,
)
from stickrole_utils.records import read_invariance, read_reliability

BASE = {"version": 1, "run": "exp", "output_dir": "/tmp/o",
        "models": [{"name": "d", "backend": "dummy"}],
        "generation": {"chunks": ["chunk_no_conv", "chunk_chess_0",
                                  {"label": "chunk_b", "context": "none", "seed": "mine"}]}}


def _cfg(grid, **extra):
    return parse_run_config({**BASE, "experiment": {"grid": grid, **extra}})


def test_grid_expands_to_runs_under_the_experiment_directory():
    points = expand_grid(_cfg({"seed": [0, 1], "n_messages": [1, 3]}))
    assert [p for p, _ in points] == [{"seed": 0, "n_messages": 1}, {"seed": 0, "n_messages": 3},
                                      {"seed": 1, "n_messages": 1}, {"seed": 1, "n_messages": 3}]
    point, cfg = points[3]
    assert str(cfg.run_dir) == "/tmp/o/exp/seed_1-n_messages_3"
    assert cfg.run == point_label(point) == "seed_1-n_messages_3"
    assert cfg.experiment is None
    assert cfg.generation.seed == 1 and cfg.generation.n_messages == 3
    # the seed drives the option-permutation seed strings, "<seed>_<stem>"
    seeds = [c.permutation_seed for c in cfg.generation.chunks]
    assert seeds == ["1_no_conv", "1_chess_0", "1_mine"]
    assert [c.label for c in cfg.generation.chunks] == ["chunk_no_conv", "chunk_chess_0",
                                                       "chunk_b"]
    # a grid without seed keeps the chunks' own seed strings
    _, cfg = expand_grid(_cfg({"mode": ["direct", "logprob"]}))[1]
    assert cfg.generation.mode == "logprob" and cfg.generation.chunks[0].label == "chunk_no_conv"
    assert cfg.generation.chunks[0].permutation_seed == "leaderboard_no_conv"
    # population files in a grid are relative to the params file, as generation.population
    cfg = parse_run_config({**BASE, "experiment": {"grid": {"population": [
        "famous_people", "people.yaml"]}}}, base_dir="/p")
    assert cfg.experiment.grid["population"] == ["famous_people", "/p/people.yaml"]
    # no experiment: one point, the config itself
    plain = parse_run_config(BASE)
    assert expand_grid(plain) == [({}, plain)]


@pytest.mark.parametrize(("experiment", "message"), [
    ({"grid": {"sed": [0]}}, r"experiment.grid: unknown grid key 'sed'; allowed keys: .*seed"),
    ({"grid": {"chunks": [["chunk_0"]]}}, "unknown grid key 'chunks'"),
    ({"grid": {"n_messages": [1, 2]}}, r"experiment.grid.n_messages: .*must be odd"),
    ({"grid": {"seed": ["x"]}}, r"experiment.grid.seed: grid value seed='x'"),
    ({"grid": {"seed": []}}, "grid key 'seed' has no values"),
    ({"grid": {"seed": [0, 0]}}, "grid key 'seed' repeats 0"),
    ({"grid": {}}, "experiment.grid"),
    ({"grid": {"seed": [0]}, "comparisons": {"fdr": "holm"}},
     "experiment.comparisons.fdr: Input should be 'bh' or 'bh_with_diagonal'"),
    ({"grid": {"seed": [0]}, "seeds": [1]}, "experiment.seeds: unknown key; allowed keys here: grid, comparisons"),
])
def test_grid_errors_are_one_line_and_name_the_key(experiment, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_run_config({**BASE, "experiment": experiment})
    assert "\n" not in str(err.value)


def _table(values: dict[str, list[float]], metric="rank_order", n_messages=3) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "seed": s, "n_messages": n_messages, "metric": metric,
                          "value": v} for m, vs in values.items() for s, v in enumerate(vs)],
                        columns=list(EXPERIMENT_COLUMNS))


def test_summary_is_mean_and_standard_error_over_seeds():
    s = summarise(_table({"a": [0.2, 0.4, 0.9], "b": [0.5, 0.5, float("nan")]}))
    a = s.set_index("model").loc["a"]
    assert a["mean"] == pytest.approx(0.5)
    # SD (ddof 1) of 0.2, 0.4, 0.9 is sqrt(((-.3)^2 + (-.1)^2 + .4^2) / 2) = sqrt(0.13)
    assert a["se"] == pytest.approx(math.sqrt(0.13) / math.sqrt(3))
    assert a["n"] == 3
    b = s.set_index("model").loc["b"]
    assert b["mean"] == pytest.approx(0.5) and b["se"] == 0 and b["n"] == 2


VALUES = {"a": [0.1, 0.2, 0.3], "b": [0.5, 0.6, 0.8], "c": [0.15, 0.3, 0.2]}


@pytest.mark.parametrize("fdr", ["bh", "bh_with_diagonal"])
def test_comparisons_match_scipy(fdr):
    table = pd.concat([_table(VALUES, n_messages=1), _table(VALUES, "ipsative", n_messages=1),
                       _table({k: v[::-1] for k, v in VALUES.items()}, n_messages=3)])
    out = compare_over_seeds(table, fdr)
    assert list(out.columns) == list(COMPARISONS_COLUMNS)
    assert len(out) == 3 * 3  # three pairs per (metric, n_messages)
    part = out[(out.metric == "rank_order") & (out.n_messages == 1)]
    assert list(zip(part.model_a, part.model_b, strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
    p = []
    for (a, b), row in zip([("a", "b"), ("a", "c"), ("b", "c")], part.itertuples(), strict=True):
        ref = sps.ttest_ind(VALUES[a], VALUES[b], equal_var=True)
        assert row.t == pytest.approx(ref.statistic) and row.p == pytest.approx(ref.pvalue)
        p.append(ref.pvalue)
    extra = [1.0, 1.0, 1.0] if fdr == "bh_with_diagonal" else []
    ref_adj = sps.false_discovery_control(np.array(p + extra), method="bh")[:3]
    np.testing.assert_allclose(part.p_fdr, ref_adj)
    if fdr == "bh":  # hand check: m = 3, sorted p times m / rank, cumulative min from the top
        srt = np.sort(p)
        hand = np.minimum.accumulate((srt * 3 / np.arange(1, 4))[::-1])[::-1]
        np.testing.assert_allclose(np.sort(part.p_fdr), hand)


def test_comparisons_with_too_few_seeds_are_nan():
    out = compare_over_seeds(_table({"a": [0.1], "b": [0.2, 0.3], "c": [0.4, 0.6]}))
    by = out.set_index(["model_a", "model_b"])
    assert np.isnan(by.loc[("a", "b"), "p"]) and np.isnan(by.loc[("a", "b"), "p_fdr"])
    ref = sps.ttest_ind([0.2, 0.3], [0.4, 0.6]).pvalue
    assert by.loc[("b", "c"), "p_fdr"] == pytest.approx(ref)  # m = 1
    with pytest.raises(ValueError, match="fdr must be"):
        compare_over_seeds(_table(VALUES), "holm")


GRID = """\
version: 1
run: grid
output_dir: out
models:
  - {name: dummy-a, backend: dummy, seed: 1}
generation:
  n_personas: 4
  mode: direct
  chunks: [chunk_no_conv, {label: chunk_b, context: none},
           {label: rel_a, questionnaire: religion}, {label: rel_b, questionnaire: religion}]
analysis: {bootstrap: 0, bootstrap_cardinal: 0}
experiment:
  grid: {seed: [0, 1], n_messages: [1, 3]}
  comparisons: {fdr: bh_with_diagonal}
"""


@pytest.mark.slow
def test_grid_run_writes_experiment_and_comparisons(tmp_path, kernel, monkeypatch):
    import shutil

    from stickrole_utils.pipeline import NOTEBOOK_FILES, notebooks_dir, run_experiment

    # report pages only display (tested elsewhere): keep their parameters cell, for speed
    nbs = tmp_path / "notebooks"
    shutil.copytree(notebooks_dir(), nbs)
    for stage in ("report", "leaderboard"):
        page = nbs / NOTEBOOK_FILES[stage]
        head, params_cell = page.read_text().split('# %% tags=["parameters"]')
        page.write_text(head + '# %% tags=["parameters"]' + params_cell.split("# %%")[0])
    # ... and do not start a kernel for them at all: a page stage writes its notebook as is
    import nbformat

    from stickrole_utils.pipeline import execute, load_notebook, units

    def execute_pages_unrun(stage, output, parameters, **kw):
        if stage in ("report", "leaderboard"):
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(load_notebook(stage, nbs), str(output))
            return None
        return execute.execute_stage(stage, output, parameters, **kw)

    monkeypatch.setattr(units, "execute_stage", execute_pages_unrun)
    params = tmp_path / "grid.yaml"
    params.write_text(GRID)
    summary = run_experiment(params, engine="local", kernel_name=kernel, notebook_dir=nbs)
    assert summary.ok, summary.to_text()
    run_dir = tmp_path / "out" / "grid"
    for label in ("seed_0-n_messages_1", "seed_0-n_messages_3", "seed_1-n_messages_1",
                  "seed_1-n_messages_3"):
        assert (run_dir / label / "dummy-a" / "metrics.json").is_file()
        assert (run_dir / label / "leaderboard.csv").is_file()
        assert (run_dir / label / "params.json").is_file()
    exp = pd.read_csv(run_dir / "experiment.csv")
    assert list(exp.columns) == list(EXPERIMENT_COLUMNS)
    per_seed = exp[exp.seed.notna()]
    assert set(per_seed.metric) == {"rank_order", "ipsative", "downstream_rank_order:religion"}
    assert len(per_seed) == 1 * 4 * 3  # models x points x metrics
    assert sorted(per_seed.seed.unique()) == [0, 1]
    assert sorted(per_seed.n_messages.unique()) == [1, 3]
    # values over seeds (docs/method.md, Signal and noise): one per model and length
    over = exp[exp.seed.isna()]
    assert {"icc2_1", "icc2_k", "noise_ceiling", "retest_rank_order"} <= set(over.metric)
    assert len(over[over.metric == "icc2_1"]) == 2
    rel = read_reliability(run_dir)
    assert {"icc2_1", "noise_ceiling", "component:persona:context",
            "noise_floor:rank_order"} <= set(rel.quantity)
    # one model: no pair to compare (the t-test and BH variants are checked against scipy above)
    cmp_ = pd.read_csv(run_dir / "comparisons.csv")
    assert list(cmp_.columns) == list(COMPARISONS_COLUMNS) and cmp_.empty
    index = summary.index_html.read_text()
    assert "seed_0-n_messages_1/report/index.html" in index
    assert "experiment.html" in index
    page = (run_dir / "report" / "experiment.html").read_text()
    assert "Model comparisons" in page and "dummy-a" in page
    # Signal and noise: ceiling vs observed and the variance shares drawn; 4 personas are too
    # few for the invariance fits (13 items): invariance.csv says so instead of failing
    assert _images_in_section(page, "Signal and noise") == 2
    inv = read_invariance(run_dir)
    assert len(inv) and not inv.converged.any() and inv.note.str.contains("complete personas").all()
    # the paper's figures: downstream stability (Fig 8), the chunk x chunk heat map of each
    # model per setting (Fig 10); one model has no pair for a significance matrix
    assert _images_in_section(page, "Downstream behaviour") == 1
    assert _images_in_section(page, "Pairwise rank-order stability over contexts") == 1
    # re-run: every stage up to date; the index keeps the times of the run that did the work
    worked = summary.table().set_index(["model", "stage"])["work_seconds"]
    assert worked.notna().all()
    again = run_experiment(params, engine="local", kernel_name=kernel, notebook_dir=nbs)
    table = again.table().set_index(["model", "stage"])
    assert set(table.status) == {"up to date"} and (table.seconds == 0).all()
    pd.testing.assert_series_equal(table["work_seconds"], worked)
    generate = worked[("seed_0-n_messages_1/dummy-a", "generate")]
    assert generate > 0 and f"<td>{generate:.1f} (ran " in again.index_html.read_text()


def test_experiment_figures_and_cli_on_a_grid(tmp_path, capsys):
    from stickrole_utils.cli import main
    from stickrole_utils.report import HUMAN_REFERENCE, experiment_bars, metric_by_length

    table = pd.concat([_table(VALUES, n_messages=1), _table(VALUES, n_messages=3),
                       _table(VALUES, "ipsative", n_messages=1)])
    summary = summarise(table)
    fig = experiment_bars(summary, "rank_order")
    ax = fig.axes[0]
    assert ax.get_title() == "Rank-order stability"
    assert len(ax.patches) == 3 * 2  # models x lengths
    assert sorted(round(line.get_ydata()[0], 3) for line in ax.lines
                  if line.get_label().startswith("humans")) == sorted(
        HUMAN_REFERENCE["rank_order"].values())
    assert len(metric_by_length(summary, "rank_order").axes[0].containers) == 3
    # Fig 7: ipsative stability against the length (one length here: the figure says so)
    one_length = metric_by_length(summary, "ipsative").axes[0].texts[0].get_text().replace(
        "\n", " ")
    assert "one length" in one_length and "1 simulated message" in one_length
    params = tmp_path / "grid.yaml"
    params.write_text(GRID)
    assert main(["plan", str(params)]) == 0
    out = capsys.readouterr().out
    assert out.count("# grid point ") == 4 and "seed_1-n_messages_3" in out
    assert main(["generate", str(params)]) != 0
    assert "experiment grid" in capsys.readouterr().err


def test_report_of_an_experiment_directory_renders_its_page(tmp_path, kernel):
    from stickrole_utils.config import parse_run_config
    from stickrole_utils.experiment import write_experiment
    from stickrole_utils.layout import RunLayout
    from stickrole_utils.pipeline import build_report
    from stickrole_utils.records import write_run_config

    layout = RunLayout(tmp_path / "exp")
    write_experiment(pd.concat([_table(VALUES, n_messages=1), _table(VALUES, "ipsative", 1),
                                _table(VALUES, n_messages=3), _table(VALUES, "ipsative", 3),
                                _table(VALUES, "downstream_rank_order:religion", 1),
                                _table(VALUES, "value_behaviour_correlation:religion:Power", 1)]),
                     layout)
    write_run_config(layout.run_dir, parse_run_config({
        "version": 1, "run": "exp", "models": [{"name": "a", "backend": "dummy"}],
        "report": {"title": "Seeds"}}))
    _write_signal_files(layout)
    index = build_report(layout.run_dir, kernel_name=kernel)
    assert "experiment.html" in index.read_text()
    page = layout.experiment_page.read_text()
    assert "Seeds" in page and "Model comparisons" in page
    assert "Models: a, b, c. Grid: 3 seeds (0, 1, 2) x 2 conversation lengths" in page
    # bars and stability against the length: Figs 4 and 6, Figs 5 and 7
    assert _images_in_section(page, "Rank-order stability (paper Figs 4 and 6)") == 2
    assert _images_in_section(page, "Ipsative stability (paper Figs 5 and 7)") == 2
    # significance matrices (S1-S6 Figs), downstream bars (Fig 8), value-behaviour bars (Fig 9)
    assert _images_in_section(page, "Model comparisons") == 1
    assert _images_in_section(page, "Downstream behaviour") == 1
    assert _images_in_section(page, "Value expression and behaviour") == 1
    assert _images_in_section(page, "Pairwise rank-order stability over contexts") == 1
    # Signal and noise: ceiling vs observed, variance shares; tables: ICCs, invariance, omega
    assert _images_in_section(page, "Signal and noise") == 2
    section = re.split(r"<h[1-6][^>]*>", page.split(">Signal and noise<")[1])[0]
    assert "first failing level" in section and "ΔCFI" in section and "-0.021" in section
    assert "Cheung &amp; Rensvold" in section and "0.012" in section  # criteria stated
    assert "omega" in section and "0.812" in section and "0.615" in section


def _write_signal_files(layout) -> None:
    """reliability.csv of models a, b, c from a synthetic experiment with omega and alpha
    rows; invariance.csv where model a's metric invariance fails (dCFI -0.021)."""
    from stickrole_utils.experiment import reliability_table, synthetic_cube, synthetic_scores
    from stickrole_utils.experiment.synthetic import DEFAULT_COMPONENTS
    from stickrole_utils.records import INVARIANCE_COLUMNS

    rng = np.random.default_rng(0)
    levels = {"persona": 10, "context": 3, "seed": 3}
    cubes = {m: synthetic_cube(DEFAULT_COMPONENTS, levels, rng=rng) for m in "abc"}
    rel = reliability_table(synthetic_scores(cubes, levels).assign(n_messages=1), n_boot=0)
    extra = pd.DataFrame([
        {"model": "a", "quantity": "omega", "value": "Power", "chunk": "c0", "estimate": 0.812,
         "n_messages": 1},
        {"model": "a", "quantity": "alpha", "value": "Power", "chunk": "c0", "estimate": 0.615,
         "n_messages": 1}])
    pd.concat([rel, extra], ignore_index=True).to_csv(layout.reliability_csv, index=False)
    fits = [("configural", 0.99, 0.03, np.nan, np.nan, True),
            ("metric", 0.969, 0.042, -0.021, 0.012, False),
            ("partial metric", 0.985, 0.035, -0.005, 0.005, True),
            ("scalar", 0.98, 0.036, -0.005, 0.001, True)]
    inv = pd.DataFrame([{"model": "a", "seed": 0, "questionnaire": "pvq40",
                         "group": "conservation", "level": lv, "cfi": cfi, "rmsea": rmsea,
                         "chi2": 100.0, "df": 90, "delta_cfi": dc, "delta_rmsea": dr,
                         "holds": ok, "freed": "13" if lv.startswith("partial") else "",
                         "converged": True, "note": "", "n_messages": 1}
                        for lv, cfi, rmsea, dc, dr, ok in fits])
    # written as before the longitudinal form (no ``form`` column): read as multigroup
    old = [c for c in INVARIANCE_COLUMNS if c != "form"]
    inv[[*old, "n_messages"]].to_csv(layout.invariance_csv, index=False)


def _images_in_section(page: str, heading: str) -> int:
    """Embedded figures between the heading ``heading`` and the next heading of the page."""
    parts = re.split(r"<h[1-6][^>]*>", page)
    section = [p for p in parts if p.startswith(heading)]
    assert len(section) == 1, f"no single section {heading!r}"
    return section[0].count("data:image/png")


def _comparisons(values=VALUES):
    return compare_over_seeds(pd.concat([_table(values, n_messages=1),
                                         _table(values, n_messages=3),
                                         _table(values, "ipsative", n_messages=1)]))


def test_significance_matrix_marks_the_significant_pairs_black():
    from stickrole_utils.report import significance_matrix

    cmp_ = _comparisons()
    fig = significance_matrix(cmp_)
    # rank_order at two lengths, ipsative at one: 3 panels, titles in words
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and all(ax.images for ax in axes)
    ax = axes[0]  # rank_order, n_messages = 1
    assert ax.get_title() == "Rank-order stability\n1 simulated message"
    assert axes[1].get_title() == "Rank-order stability\n3 simulated messages"
    codes = ax.images[0].get_array()
    part = cmp_[(cmp_.metric == "rank_order") & (cmp_.n_messages == 1)]
    models = ["a", "b", "c"]
    for row in part.itertuples():
        i, j = models.index(row.model_a), models.index(row.model_b)
        assert codes[i, j] == codes[j, i] == float(row.p_fdr < 0.05)
    assert bool(np.ma.getmaskarray(codes)[0, 0])  # the diagonal is undefined
    assert {t.get_text() for t in ax.texts} == {f"{p:.2f}" for p in part.p_fdr}
    assert (part.p_fdr < 0.05).any() and (part.p_fdr >= 0.05).any()  # both colours shown
    assert axes[2].get_title() == "Ipsative stability\n1 simulated message"
    # too few seeds: the pair is undefined (grey), not "not significant"
    few = compare_over_seeds(_table({"a": [0.1], "b": [0.2, 0.3], "c": [0.4, 0.6]}))
    codes = significance_matrix(few).axes[0].images[0].get_array()
    assert bool(np.ma.getmaskarray(codes)[0, 1]) and not np.ma.getmaskarray(codes)[1, 2]
    empty = significance_matrix(cmp_.iloc[0:0])
    assert "no model pairs" in empty.axes[0].texts[0].get_text()


def test_downstream_and_value_behaviour_bars_show_mean_and_se_per_model():
    from stickrole_utils.report import downstream_bars, value_behaviour_bars

    table = pd.concat([_table(VALUES, "downstream_rank_order:religion", 1),
                       _table(VALUES, "downstream_rank_order:tolkien_bag", 1),
                       _table(VALUES, "value_behaviour_correlation:tolkien_bag:Power", 1),
                       _table(VALUES, "value_behaviour_correlation:tolkien_bag:Benevolence", 1),
                       _table(VALUES, "rank_order", 1)])
    summary = summarise(table)
    fig = downstream_bars(summary)
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "Rank-order stability of Religion", "Rank-order stability of Stealing (Tolkien, lost bag)"]
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([np.mean(VALUES[m]) for m in "abc"])
    fig = value_behaviour_bars(summary)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Power", "Benevolence"]  # in order
    assert len(ax.patches) == 3 * 2  # models x values
    se = summary.set_index(["model", "metric"]).loc[
        ("b", "value_behaviour_correlation:tolkien_bag:Power"), "se"]
    assert se == pytest.approx(np.std(VALUES["b"], ddof=1) / np.sqrt(3))
    nothing = summarise(_table(VALUES, "rank_order", 1))
    assert "no downstream task" in downstream_bars(nothing).axes[0].texts[0].get_text()
    assert "no value-behaviour" in value_behaviour_bars(nothing).axes[0].texts[0].get_text()


def _write_point(layout, label, seed, n_messages, model, pairwise, chunks):
    point = layout.point(label)
    point.run_dir.mkdir(parents=True, exist_ok=True)
    point.params.write_text(json.dumps({"generation": {"seed": seed, "n_messages": n_messages,
                                                       "temperature_x": 1}}))
    path = point.metrics(model)
    path.parent.mkdir()
    nan = {c: float("nan") for c in chunks}
    path.write_text(json.dumps({"model": model, "chunks": chunks, "pairwise_rank_order": pairwise,
                                "stress": nan, "cfi": nan, "srmr": nan, "rmsea": nan}))


def test_pairwise_table_and_heat_maps_over_many_contexts(tmp_path):
    from stickrole_utils.experiment import PAIRWISE_COLUMNS, pairwise_table
    from stickrole_utils.layout import RunLayout
    from stickrole_utils.report import pairwise_heatmaps

    layout = RunLayout(tmp_path / "exp")
    layout.run_dir.mkdir()
    layout.run_config.write_text(json.dumps({
        "models": [{"name": "z"}, {"name": "a"}], "experiment": {"grid": {"seed": [0, 1]}},
        "generation": {"chunks": [{"label": "c3"}, {"label": "c1"}, {"label": "c2"}]}}))
    chunks = ["c1", "c2", "c3"]
    for seed, r in ((0, 0.2), (1, 0.4)):
        # one triangle only, as a file may hold: the other is its mirror
        _write_point(layout, f"seed_{seed}", seed, 3, "a",
                     {"c1": {"c1": 1, "c2": r, "c3": 0.5}, "c2": {"c2": 1, "c3": 0.1},
                      "c3": {"c3": 1}}, chunks)
        _write_point(layout, f"seed_{seed}", seed, 3, "z",
                     {c: {d: 1.0 for d in chunks} for c in chunks}, chunks)
    table = pairwise_table(layout)
    assert list(table.columns) == list(PAIRWISE_COLUMNS)
    assert len(table) == 2 * 2 * 9
    assert list(pd.unique(table.model)) == ["z", "a"]  # the params' order
    assert list(pd.unique(table.chunk_a)) == ["c3", "c1", "c2"]  # the params' chunk order
    a0 = table[(table.model == "a") & (table.seed == 0)].set_index(["chunk_a", "chunk_b"])
    assert a0.loc[("c2", "c1"), "value"] == a0.loc[("c1", "c2"), "value"] == 0.2
    fig = pairwise_heatmaps(table)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    # mean over seeds of the off-diagonal cells: c1-c2 (0.2, 0.4) -> 0.3, 0.5, 0.1
    assert titles == ["z, 3 simulated messages\nmean off-diagonal r = 1.000",
                      "a, 3 simulated messages\nmean off-diagonal r = 0.300"]
    ax = fig.axes[1]  # model a's panel (the colour bars come after the panels)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c3", "c1", "c2"]
    assert "no pairwise" in pairwise_heatmaps(table.iloc[0:0]).axes[0].texts[0].get_text()


@pytest.mark.parametrize("engine", ["ray", "local"])
def test_grid_points_run_at_once_on_ray_and_in_turn_in_process(tmp_path, kernel, monkeypatch,
                                                               engine):
    """On Ray every grid point's run (which submits its task graph, then waits on it) is driven
    at once, so the cluster schedules all points' stages side by side; in process, in turn.
    Each point's run is replaced by a 0.5 s stand-in that records when it ran (the real run on
    Ray was checked by hand: two seeds' generations overlapped on two GPUs)."""
    import threading
    import time

    from stickrole_utils.pipeline import run as run_module
    from stickrole_utils.pipeline.run import RunSummary
    from stickrole_utils.pipeline.units import StageResult

    windows: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    def point_run(cfg, params_path, run, prefix=""):
        t0 = time.perf_counter()
        time.sleep(0.5)
        with lock:
            windows[cfg.run] = (t0, time.perf_counter())
        return RunSummary(run_dir=cfg.run_dir,
                          results=[StageResult("m", "generate", "ok", "", "10_generate")])

    monkeypatch.setattr(run_module, "_run_one", point_run)
    monkeypatch.setattr(run_module, "connect", lambda address: 0.0)
    params = tmp_path / "grid.yaml"
    params.write_text(GRID)
    summary = run_module.run_experiment(params, engine=engine, kernel_name=kernel)
    assert sorted(windows) == ["seed_0-n_messages_1", "seed_0-n_messages_3",
                               "seed_1-n_messages_1", "seed_1-n_messages_3"]
    # results keep the grid's order whatever order the points finished in
    generated = [r.model for r in summary.results if r.stage == "generate"]
    assert generated == [f"{p}/m" for p in sorted(windows)]
    starts, ends = zip(*windows.values(), strict=True)
    if engine == "ray":
        assert max(starts) < min(ends)  # all four in flight together
    else:
        spans = sorted(windows.values())
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))  # one after the other


def test_metric_names_and_settings_are_in_words():
    from stickrole_utils.report import metric_title, setting_label

    assert metric_title("rank_order") == "Rank-order stability"
    assert metric_title("ipsative") == "Ipsative stability"
    assert (metric_title("downstream_rank_order:tolkien_donation")
            == "Rank-order stability of Donation (Tolkien)")
    assert (metric_title("value_behaviour_correlation:tolkien_bag:Power")
            == "Correlation of Power with Stealing (Tolkien, lost bag)")
    assert metric_title("downstream_rank_order:my_task") == "Rank-order stability of My task"
    assert setting_label("n_messages", 43) == "43 simulated messages"
    assert setting_label("interlocutor_knows_persona", True) == "interlocutor knows the persona: True"


def test_ipsative_stability_against_the_length_is_fig_7():
    from stickrole_utils.report import HUMAN_REFERENCE, metric_by_length

    table = pd.concat([_table(VALUES, "ipsative", n) for n in (3, 7, 11)])
    fig = metric_by_length(summarise(table), "ipsative")
    ax = fig.axes[0]
    assert ax.get_title() == "Ipsative stability against conversation length"
    assert "simulated conversation length" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "7", "11"]
    assert len(ax.containers) == 3  # one line per model
    humans = sorted(round(line.get_ydata()[0], 3) for line in ax.lines
                    if line.get_label().startswith("humans"))
    assert humans == sorted(HUMAN_REFERENCE["ipsative"].values())


def _na_texts(ax) -> list[float]:
    """x positions of the "n/a" marks of an axes."""
    return [t.get_position()[0] for t in ax.texts if t.get_text() == "n/a"]


def test_a_missing_mean_is_not_a_zero_bar():
    from stickrole_utils.report import (
        downstream_bars,
        experiment_bars,
        metric_by_length,
        value_behaviour_bars,
    )

    nan = float("nan")
    values = {"a": [0.1, 0.2, 0.3], "b": [nan, nan, nan], "c": [0.15, 0.3, 0.2]}
    table = pd.concat([_table(values, n_messages=1), _table(VALUES, n_messages=3),
                       _table(values, "downstream_rank_order:religion", 1),
                       _table(values, "value_behaviour_correlation:religion:Power", 1)])
    summary = summarise(table)
    assert summary["mean"].isna().sum() == 3  # model b at one length, for three metrics
    ax = experiment_bars(summary, "rank_order").axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 3 * 2 - 1 and 0 not in heights  # b's bar at 1 message is absent
    assert len(_na_texts(ax)) == 1  # ... and marked n/a where it would be
    b_at_1 = 1 - 0.2  # group of model b (x = 1), first of two bars of width 0.4
    assert _na_texts(ax)[0] == pytest.approx(b_at_1)
    ax = downstream_bars(summary).axes[0]
    assert len(ax.patches) == 2 and len(_na_texts(ax)) == 1
    ax = value_behaviour_bars(summary).axes[0]
    assert len(ax.patches) == 2 and len(_na_texts(ax)) == 1
    # a line over the lengths: a gap, and the legend says where
    fig = metric_by_length(summary, "rank_order")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "b (n/a at 1 messages)" in labels


def test_an_extra_grid_key_gets_panels_of_its_own():
    from stickrole_utils.report import (
        downstream_bars,
        experiment_bars,
        metric_by_length,
        pairwise_heatmaps,
        significance_matrix,
        value_behaviour_bars,
    )

    low = {k: [v - 0.5 for v in vs] for k, vs in VALUES.items()}
    parts = []
    for pop, values in (("famous_people", VALUES), ("tolkien_characters", low)):
        for n in (1, 3):
            for metric in ("rank_order", "ipsative", "downstream_rank_order:religion",
                           "value_behaviour_correlation:religion:Power"):
                parts.append(_table(values, metric, n).assign(population=pop))
    table = pd.concat(parts)
    summary = summarise(table)
    for fig, title in ((experiment_bars(summary, "ipsative"), "Ipsative stability"),
                       (metric_by_length(summary, "rank_order"),
                        "Rank-order stability against conversation length"),
                       (downstream_bars(summary), "Rank-order stability of Religion"),
                       (value_behaviour_bars(summary), "Religion: value expression")):
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert len(axes) == 2, title
        assert axes[0].get_title().startswith(title)
        assert axes[0].get_title().endswith("population: famous_people")
        assert axes[1].get_title().endswith("population: tolkien_characters")
    # each panel shows its own population's means, not their average over populations
    ax_famous, ax_tolkien = experiment_bars(summary, "rank_order").axes[:2]
    first = ax_famous.patches[0].get_height(), ax_tolkien.patches[0].get_height()
    assert first == pytest.approx((np.mean(VALUES["a"]), np.mean(low["a"])))
    # the significance matrix: one panel per (metric, length, population)
    fig = significance_matrix(compare_over_seeds(table))
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert len(titles) == 3 * 2 * 2
    assert titles[0].replace("\n", " ") == ("Rank-order stability 1 simulated message, "
                                            "population: famous_people")
    # the heat maps: one per model and population
    pairwise = pd.DataFrame([{"model": m, "seed": 0, "n_messages": 3, "population": pop,
                              "chunk_a": a, "chunk_b": b, "value": 1.0 if a == b else 0.2}
                             for m in ("a", "b") for pop in ("p", "q")
                             for a in ("c1", "c2") for b in ("c1", "c2")])
    fig = pairwise_heatmaps(pairwise)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_title()]
    assert titles == ["a, 3 simulated messages, population: p",
                      "a, 3 simulated messages, population: q",
                      "b, 3 simulated messages, population: p",
                      "b, 3 simulated messages, population: q"]


def test_heat_maps_use_a_diverging_scale_from_minus_one_to_one(tmp_path):
    from matplotlib.colors import to_rgb

    from stickrole_utils.report import pairwise_heatmaps

    chunks = ["c1", "c2", "c3"]
    r = {("c1", "c2"): -0.6, ("c1", "c3"): 0.0, ("c2", "c3"): 0.6}
    pairwise = pd.DataFrame([{"model": "m", "seed": 0, "n_messages": 3, "chunk_a": a,
                              "chunk_b": b, "value": 1.0 if a == b else
                              r.get((a, b), r.get((b, a)))} for a in chunks for b in chunks])
    fig = pairwise_heatmaps(pairwise, chunks=["c3", "c2", "c1"])
    ax = fig.axes[0]
    mesh = ax.collections[0]
    assert mesh.get_clim() == (-1, 1)  # symmetric, fixed
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c3", "c2", "c1"]  # as asked
    cmap = mesh.get_cmap()
    white, low, high = to_rgb(cmap(0.5)), to_rgb(cmap(0.0)), to_rgb(cmap(1.0))
    assert all(c > 0.9 for c in white)  # 0 is white (within the map's own tint)
    assert low[2] > low[0] and high[0] > high[2]  # blue for negative r, red for positive
    # negative r has a colour of its own: not the colour of 0
    face = mesh.get_facecolors()  # row-major over the 3 x 3 cells in the order c3, c2, c1
    minus, zero = face[1 * 3 + 2][:3], face[0 * 3 + 2][:3]  # (c2, c1) = -0.6, (c3, c1) = 0
    assert np.abs(np.array(minus) - np.array(zero)).max() > 0.3
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()][0] == "−1.0"  # colour bar


def test_a_rerun_that_does_nothing_keeps_the_stage_times_of_the_run_that_did_the_work(tmp_path):
    from stickrole_utils.layout import RunLayout
    from stickrole_utils.pipeline import run as run_module
    from stickrole_utils.pipeline.run import RunSummary
    from stickrole_utils.pipeline.stamps import write_stamp
    from stickrole_utils.pipeline.units import StageResult
    from stickrole_utils.report import write_index

    layout = RunLayout(tmp_path / "run")
    write_stamp(layout.stamp("m", "generate"), "x", {}, 812.345)
    write_stamp(layout.stamp(None, "leaderboard"), "x", {}, 2.5)
    stamped = json.loads(layout.stamp("m", "generate").read_text())["finished"]
    results = [StageResult("m", "generate", "up to date"),
               StageResult("(all models)", "leaderboard", "up to date"),
               StageResult("m", "report", "failed", "boom", seconds=1.25)]
    summary = RunSummary(layout.run_dir, results)
    summary.worked = run_module._worked(results, layout)
    table = summary.table().set_index("stage")
    assert table.loc["generate", "seconds"] == 0  # this run did nothing ...
    assert table.loc["generate", "work_seconds"] == 812.3  # ... the one that worked took this
    assert table.loc["generate", "work_finished"] == stamped
    assert table.loc["leaderboard", "work_seconds"] == 2.5
    assert table.loc["report", "work_seconds"] == 1.2
    # the index page, from the table or from run_summary.json as `stickrole report` reads it
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    layout.run_summary.write_text(json.dumps(summary.to_json()))
    for stages in (summary.table(), None):
        page = write_index(layout.run_dir, stages=stages).read_text()
        stage_rows = page.split('id="stages"')[1]
        assert "status now" in stage_rows and "seconds (when it ran)" in stage_rows
        row = stage_rows.split("<tr>")[2]  # the generate row
        assert "up to date" in row and f"812.3 (ran {stamped.replace('T', ' ')})" in row
    # a summary written before the work's time was recorded: said so, not 0
    old = {"results": [{"model": "m", "stage": "generate", "status": "up to date",
                        "seconds": 0.0, "reason": "", "notebook": ""}]}
    layout.run_summary.write_text(json.dumps(old))
    page = write_index(layout.run_dir).read_text()
    assert "n/a (not recorded)" in page.split('id="stages"')[1]
