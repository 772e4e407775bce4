"""Downstream behaviour (docs/method.md, Downstream behaviour): constructed answers with known
results for the behaviour rank-order and the value-behaviour correlation."""

import math

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis.downstream import (
    downstream_rank_order,
    downstream_summary,
    resolve_pairs,
    value_behaviour,
    value_behaviour_summary,
)
from stickrole_utils.analysis.metrics import read_metrics, write_metrics
from stickrole_utils.analysis.model import analyze_model
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.design.instruments import PVQ40, TOLKIEN_DONATION
from stickrole_utils.design.values import VALUES
from stickrole_utils.errors import DataError

FAST = AnalysisSettings(bootstrap=0)
TOPICS = ("chess", "joke", "poem")
BENEVOLENCE = set(PVQ40.key["Benevolence"])


def personas(n):
    return [f"p{i:02d}" for i in range(n)]


def task_rows(chunk, task, n_items, per_persona, topic=None, model="m"):
    """Every item of ``task`` answered ``per_persona[p]`` by persona p."""
    rows = [(model, chunk, p, "", task, it, float(s))
            for p, s in per_persona.items() for it in range(1, n_items + 1)]
    df = pd.DataFrame(rows, columns=["model", "chunk", "persona", "gender", "questionnaire",
                                     "item", "score"])
    return df if topic is None else df.assign(topic=topic)


def pvq_rows(chunk, benevolence, rng, topic=None):
    """PVQ-40 answers whose centered Benevolence is increasing in ``benevolence[p]``: the 4
    Benevolence items answer b, the 36 others a persona-specific shuffle of one fixed multiset
    (so each persona's mean over the other items is the same, and the other values vary)."""
    others = [i for i in range(1, 41) if i not in BENEVOLENCE]
    pool = np.resize(np.arange(1, 7), len(others))
    rows = []
    for p, b in benevolence.items():
        shuffled = rng.permutation(pool)
        scores = dict(zip(others, shuffled.tolist(), strict=True)) | {i: b for i in BENEVOLENCE}
        rows += [("m", chunk, p, "", "pvq40", i, float(s)) for i, s in scores.items()]
    df = pd.DataFrame(rows, columns=["model", "chunk", "persona", "gender", "questionnaire",
                                     "item", "score"])
    return df if topic is None else df.assign(topic=topic)


def test_perfectly_stable_behaviour_has_rank_order_one():
    rng = np.random.default_rng(0)
    ps = personas(12)
    level = dict(zip(ps, rng.integers(1, 7, len(ps)).tolist(), strict=True))
    df = pd.concat([task_rows(f"don_{t}", "tolkien_donation", 100, level) for t in TOPICS])
    m = analyze_model(df, FAST).metrics
    assert m["downstream_rank_order"] == {"tolkien_donation": 1.0}
    assert m["downstream_rank_order_per_key"]["tolkien_donation"] == {
        k: 1.0 for k in TOLKIEN_DONATION.key}
    assert m["downstream_chunks"] == {f"don_{t}": "tolkien_donation" for t in TOPICS}
    # no values chunks: the required values keys are empty, none of the other values keys set
    assert m["chunks"] == [] and m["stress"] == {} and "rank_order" not in m
    assert any("no PVQ-40 or SVS-57 answers" in n for n in m["notes"])
    assert "value_behaviour_correlation" not in m
    # behaviour score = raw mean, not centered
    assert m["downstream_means"]["don_chess"]["Donation orcs"] == pytest.approx(
        np.mean(list(level.values())))


def test_reversed_behaviour_has_rank_order_minus_one_and_hand_checked_mean():
    ps = personas(5)
    up = {p: k + 1 for k, p in enumerate(ps)}
    down = {p: 5 - k for k, p in enumerate(ps)}
    df = pd.concat([task_rows("a", "religion", 5, up), task_rows("b", "religion", 5, up),
                    task_rows("c", "religion", 5, down)])
    m = analyze_model(df, FAST).metrics
    # pairs (a,b) = 1, (a,c) = -1, (b,c) = -1
    assert m["downstream_rank_order"]["religion"] == pytest.approx(-1 / 3)
    assert set(m["downstream_rank_order_per_key"]["religion"]) == {"religion time"}


def test_undefined_rank_order_is_nan_with_a_reason():
    ps = personas(6)
    one = task_rows("bag_only", "tolkien_bag", 100, {p: 3 for p in ps})
    m = analyze_model(one, FAST).metrics
    assert math.isnan(m["downstream_rank_order"]["tolkien_bag"])
    assert "needs a pair of chunks" in m["downstream_rank_order_nan_reasons"]["tolkien_bag"][0]
    flat = pd.concat([one, task_rows("bag_2", "tolkien_bag", 100, {p: 3 for p in ps})])
    m = analyze_model(flat, FAST).metrics
    assert math.isnan(m["downstream_rank_order"]["tolkien_bag"])
    assert any("constant" in r for r in m["downstream_rank_order_nan_reasons"]["tolkien_bag"])


def test_replicate_column_pairs_chunks_within_a_replicate_only():
    ps = personas(8)
    up = {p: k % 5 + 1 for k, p in enumerate(ps)}
    down = {p: 5 - k % 5 for k, p in enumerate(ps)}
    df = pd.concat([
        task_rows("s0_chess", "religion", 5, up).assign(replicate="seed_0"),
        task_rows("s0_joke", "religion", 5, up).assign(replicate="seed_0"),
        task_rows("s2_chess", "religion", 5, down).assign(replicate="seed_2"),
        task_rows("s2_joke", "religion", 5, down).assign(replicate="seed_2"),
    ])
    m = analyze_model(df, FAST).metrics
    assert m["downstream_rank_order"]["religion"] == 1.0  # the cross-seed pairs would be -1


@pytest.fixture(scope="module")
def paired_table():
    """Three topics; PVQ and donation chunks per topic; donation = centered Benevolence's
    order (a monotone function of it); the donation levels differ between topics."""
    rng = np.random.default_rng(7)
    ps = personas(30)
    frames = []
    for t in TOPICS:
        b = dict(zip(ps, rng.integers(1, 7, len(ps)).tolist(), strict=True))
        frames.append(pvq_rows(f"pvq_{t}", b, rng, topic=t))
        frames.append(task_rows(f"don_{t}", "tolkien_donation", 100, b, topic=t))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def paired(paired_table):
    return analyze_model(paired_table, FAST)


def test_behaviour_monotone_in_the_paired_value_correlates_one(paired):
    m = paired.metrics
    assert m["value_behaviour_pairs"] == {f"don_{t}": f"pvq_{t}" for t in TOPICS}
    vb = m["value_behaviour_correlation"]["tolkien_donation"]
    assert set(vb) == set(VALUES)
    assert vb["Benevolence"] == pytest.approx(1.0)
    assert set(m["value_behaviour_per_key"]["tolkien_donation"]["Benevolence"]) == set(
        TOLKIEN_DONATION.key)
    # the values metrics are there too, on the PVQ chunks only
    assert m["chunks"] == [f"pvq_{t}" for t in TOPICS]
    assert len(paired.value_behaviour) == 3 * 10 * 5


def test_explicit_pairs_replace_the_topic_column(paired_table):
    no_topic = paired_table.drop(columns="topic")
    m = analyze_model(no_topic, FAST).metrics
    assert "value_behaviour_correlation" in m and m["value_behaviour_correlation"] == {}
    assert any("not paired" in n for n in m["notes"])
    same = {f"don_{t}": f"pvq_{t}" for t in TOPICS}
    m = analyze_model(no_topic, FAST, pairs=same).metrics
    assert m["value_behaviour_correlation"]["tolkien_donation"]["Benevolence"] == pytest.approx(1)
    crossed = {"don_chess": "pvq_joke", "don_joke": "pvq_poem", "don_poem": "pvq_chess"}
    m = analyze_model(no_topic, FAST, pairs=crossed).metrics
    assert m["value_behaviour_correlation"]["tolkien_donation"]["Benevolence"] < 0.9
    with pytest.raises(DataError, match="pvq_none"):
        analyze_model(no_topic, FAST, pairs={"don_chess": "pvq_none"})


def test_metrics_round_trip(paired, tmp_path):
    path = write_metrics(paired.metrics, tmp_path / "metrics.json")
    back = read_metrics(path)
    for key in ("downstream_chunks", "downstream_rank_order", "downstream_rank_order_per_key",
                "downstream_means", "value_behaviour_pairs", "value_behaviour_correlation",
                "value_behaviour_per_key"):
        assert back[key] == paired.metrics[key], key
    assert back.to_json().keys() == paired.metrics.to_json().keys()


def _scores(chunk, persona_values, column_name, values):
    return pd.DataFrame([("m", chunk, p, "q", v, x, x)
                         for p, row in persona_values.items() for v, x in zip(values, row, strict=True)],
                        columns=["model", "chunk", "persona", "questionnaire", "value", "raw",
                                 "centered"])


def test_shuffled_behaviour_correlates_near_zero():
    rng = np.random.default_rng(3)
    n = 4000
    ps = personas(n)
    x = rng.normal(size=n)
    values = _scores("v", dict(zip(ps, x[:, None].tolist(), strict=True)), "centered", ["V"])
    y = rng.permutation(x)
    behaviour = _scores("d", dict(zip(ps, y[:, None].tolist(), strict=True)), "raw", ["K"])
    vb = value_behaviour(values, behaviour, {"d": "v"}, {"d": "t"})
    r = value_behaviour_summary(vb)["value_behaviour_correlation"]["t"]["V"]
    assert abs(r) < 0.05  # SE of rho about 1/sqrt(n) = 0.016
    same = _scores("d", dict(zip(ps, (3 * x + 1)[:, None].tolist(), strict=True)), "raw", ["K"])
    vb = value_behaviour(values, same, {"d": "v"}, {"d": "t"})
    assert value_behaviour_summary(vb)["value_behaviour_correlation"]["t"]["V"] == 1.0


def test_functions_on_hand_built_scores():
    ps = personas(4)
    a = _scores("a", {p: [k, k] for k, p in enumerate(ps)}, "raw", ["K1", "K2"])
    b = _scores("b", {p: [k, -k] for k, p in enumerate(ps)}, "raw", ["K1", "K2"])
    ro = downstream_rank_order(pd.concat([a, b]), {"a": "t", "b": "t"})
    assert ro["r"].tolist() == [1.0, -1.0]
    s = downstream_summary(ro, {"a": "t", "b": "t"})
    assert s["downstream_rank_order"] == {"t": 0.0}
    assert s["downstream_rank_order_per_key"] == {"t": {"K1": 1.0, "K2": -1.0}}


def test_topic_pairing_rules():
    df = pd.DataFrame({"chunk": ["p1", "p2", "d1"], "topic": ["x", "x", "x"],
                       "questionnaire": ["pvq40", "pvq40", "religion"]})
    with pytest.raises(DataError, match="give the pairs explicitly"):
        resolve_pairs(df, ["p1", "p2"], {"d1": "religion"})
    df["replicate"] = ["s0", "s1", "s1"]
    assert resolve_pairs(df, ["p1", "p2"], {"d1": "religion"})[0] == {"d1": "p2"}
    both = pd.DataFrame({"chunk": ["c", "c"], "questionnaire": ["pvq40", "religion"]})
    assert resolve_pairs(both, ["c"], {"c": "religion"})[0] == {"c": "c"}
    bad = pd.DataFrame({"chunk": ["c", "c"], "topic": ["x", "y"]})
    with pytest.raises(DataError, match="one per chunk"):
        resolve_pairs(bad, ["c"], {"c": "religion"})
    # generation writes "" where a chunk has no topic: such a chunk keeps the self-pairing rule
    mixed = pd.DataFrame({"chunk": ["p1", "d1", "c", "c"], "topic": ["x", "x", "", ""],
                          "questionnaire": ["pvq40", "religion", "pvq40", "religion"]})
    pairs, notes = resolve_pairs(mixed, ["p1", "c"], {"d1": "religion", "c": "religion"})
    assert pairs == {"d1": "p1", "c": "c"} and notes == []
    no_topic = mixed.assign(topic="")
    assert resolve_pairs(no_topic, ["p1", "c"], {"d1": "religion", "c": "religion"})[0] == {
        "c": "c"}


def test_generated_answers_pair_downstream_chunks_by_their_topic(tmp_path):
    """Generation writes each chunk's topic, so a run pairs the downstream chunk of a topic with
    the PVQ chunk of the same topic without ``analysis.downstream_pairs``."""
    from stickrole_utils.config import parse_run_config
    from stickrole_utils.generation import generate_model
    from stickrole_utils.generation.store import read_run_answers

    cfg = parse_run_config({
        "version": 1, "run": "topics", "output_dir": str(tmp_path),
        "models": [{"name": "d", "backend": "dummy"}],
        "generation": {"n_personas": 4, "mode": "direct", "n_messages": 1,
                       "items": {"pvq40": list(range(1, 41)), "religion": [1, 2]},
                       "chunks": ["chunk_joke", "chunk_chess", "chunk_no_conv",
                                  {"label": "rel_chess", "preset": "chunk_chess",
                                   "questionnaire": "religion"},
                                  {"label": "rel_joke", "preset": "chunk_joke",
                                   "questionnaire": "religion"},
                                  {"label": "rel_none", "questionnaire": "religion"}]}})
    answers = read_run_answers(generate_model(cfg, cfg.models[0], progress=False))
    topics = answers.groupby("chunk")["topic"].first().to_dict()
    assert topics == {"chunk_joke": "joke", "chunk_chess": "chess", "chunk_no_conv": "",
                      "rel_chess": "chess", "rel_joke": "joke", "rel_none": ""}
    m = analyze_model(answers, FAST).metrics
    assert m["value_behaviour_pairs"] == {"rel_chess": "chunk_chess", "rel_joke": "chunk_joke"}
    assert set(m["value_behaviour_correlation"]["religion"]) == set(VALUES)
    assert any("rel_none" in n for n in m["notes"])


def test_cli_analyze_downstream_only_and_mixed_models(tmp_path, capsys):
    """`stickrole analyze` writes downstream metrics for a model with only downstream chunks and
    leaves it out of the leaderboard (a warning names it); with no rankable model, no leaderboard."""
    import json

    from stickrole_utils.cli import main
    from stickrole_utils.datasets import synthetic_answers

    values = synthetic_answers({"v": 0.8}, chunks=["chunk_0", "chunk_1"], n_personas=6)
    ds = values.drop_duplicates(["chunk", "persona"]).assign(
        model="d", questionnaire="religion", item=1,
        score=lambda d: d["persona"].str[-1:].astype(float) % 5 + 1)
    only = tmp_path / "only.csv"
    ds.to_csv(only, index=False)
    assert main(["-q", "analyze", str(only), "--out", str(tmp_path / "a"), "--bootstrap", "0"]) == 0
    m = json.loads((tmp_path / "a" / "d" / "metrics.json").read_text())
    assert m["downstream_rank_order"]["religion"] == 1.0 and m["chunks"] == []
    assert not (tmp_path / "a" / "leaderboard.csv").exists()
    both = tmp_path / "both.csv"
    pd.concat([values, ds], ignore_index=True).to_csv(both, index=False)
    assert main(["-q", "analyze", str(both), "--out", str(tmp_path / "b"), "--bootstrap", "0"]) == 0
    lb = pd.read_csv(tmp_path / "b" / "leaderboard.csv")
    assert lb["Model"].tolist() == ["v"]
    assert (tmp_path / "b" / "d" / "metrics.json").is_file()


def test_pairs_from_the_analysis_settings():
    """`analysis.downstream_pairs` in params pairs downstream and values chunks explicitly."""
    rng = np.random.default_rng(0)
    bene = dict(zip(personas(20), rng.integers(1, 7, 20).tolist(), strict=True))
    table = pd.concat([pvq_rows("pvq_x", bene, rng), pvq_rows("pvq_y", bene, rng),
                       task_rows("don_x", "tolkien_donation", 100, bene)], ignore_index=True)
    settings = AnalysisSettings(bootstrap=0, bootstrap_cardinal=0,
                                downstream_pairs={"don_x": "pvq_x"})
    m = analyze_model(table, settings).metrics
    assert m["value_behaviour_pairs"] == {"don_x": "pvq_x"}
