"""End-to-end analysis of synthetic answers: metrics.json contract, settings, bad input."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis.batch import analyze_answers, analyze_files, write_analyses
from stickrole_utils.analysis.bootstrap import exact_rank_order, rank_order_statistic
from stickrole_utils.analysis.metrics import Metrics
from stickrole_utils.analysis.model import FIT_FAILURE_VALUES, analyze_model
from stickrole_utils.analysis.model_io import read_model_analysis, write_model_analysis
from stickrole_utils.analysis.scoring import value_scores
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.design.chunks import LEADERBOARD_CHUNKS
from stickrole_utils.design.values import HIGHER_ORDER, VALUES
from stickrole_utils.errors import DataError
from stickrole_utils.leaderboard.table import write_leaderboard

FAST = AnalysisSettings(bootstrap=0)
CONTRACT_KEYS = {
    "rank_order", "rank_order_per_value", "pairwise_rank_order", "ipsative", "stress", "cfa",
    "cfi", "srmr", "rmsea", "cronbach_alpha", "unparsed_rate", "n_personas", "chunks", "settings",
    "stress_mean", "cfi_mean", "srmr_mean", "rmsea_mean", "cronbach_alpha_mean",
}


@pytest.fixture(scope="module")
def nine_chunks():
    return synthetic_answers({"stable": 0.9}, n_personas=30, seed=4, unparsed_rate=0.02)


@pytest.fixture(scope="module")
def analysed(nine_chunks):
    return analyze_model(nine_chunks, AnalysisSettings(bootstrap=200, bootstrap_cardinal=3))


def test_metrics_follow_the_contract(analysed):
    m = analysed.metrics
    assert CONTRACT_KEYS <= set(m.keys())
    assert m["chunks"] == list(LEADERBOARD_CHUNKS)
    assert set(m["rank_order_per_value"]) == set(VALUES)
    assert m["n_personas"] == 30
    for c in m["chunks"]:
        assert m["pairwise_rank_order"][c][c] == 1.0
        assert set(m["cfa"][c]) == set(HIGHER_ORDER)
        for fit in m["cfa"][c].values():
            assert {"cfi", "tli", "srmr", "rmsea", "converged", "note"} <= set(fit)
        assert 0 <= m["stress"][c] < 1
    # symmetric pairwise matrix, 36 pairs
    assert m["pairwise_rank_order"]["chunk_0"]["chunk_4"] == m["pairwise_rank_order"]["chunk_4"]["chunk_0"]
    assert len(analysed.rank_order) == 36 * 10
    assert m["unparsed_count"] > 0 and math.isclose(m["unparsed_rate"], m["unparsed_count"] / m["n_items"])
    assert any("unparsed" in n for n in m["notes"])
    assert json.loads(json.dumps(m.to_json(), allow_nan=True))["settings"]["unparsed"] == "random"


def test_stable_population_beats_unstable_and_dummy():
    df = synthetic_answers({"stable": 0.95, "unstable": 0.1}, uniform=("dummy",), n_personas=40,
                           chunks=["chunk_0", "chunk_1", "chunk_no_conv"], seed=9)
    df = pd.concat([df, synthetic_answers(["dummy"], uniform=("dummy",), n_personas=40,
                                          chunks=["chunk_0", "chunk_1", "chunk_no_conv"], seed=1)])
    res = analyze_answers(df, FAST)
    ro = {m: a.metrics["rank_order"] for m, a in res.items()}
    assert ro["stable"] > 0.7 > ro["unstable"]
    assert abs(ro["dummy"]) < 0.1
    # circular structure: structured data fits the circle better than uniform noise
    assert res["stable"].metrics["stress_mean"] < res["dummy"].metrics["stress_mean"]


def test_cardinal_and_bootstrap_intervals(analysed):
    m = analysed.metrics
    assert math.isclose(m["cardinal"], _cardinal_by_hand(m))
    lo, hi = m["rank_order_ci"]
    assert lo <= m["rank_order"] <= hi and hi - lo < 0.3
    clo, chi = m["cardinal_ci"]
    assert np.isfinite(clo) and clo <= chi


def _cardinal_by_hand(m: Metrics) -> float:
    """The Cardinal score from its definition, independently of the package's column code:
    the mean of RO per chunk pair and, per chunk, 1 - Stress, CFI, 1 - SRMR, 1 - RMSEA, where
    CFI/SRMR/RMSEA are the means over the four CFA models of the raw fits with the leaderboard's
    failure rule (CFI 0, SRMR and RMSEA 1 for a fit that did not converge); NaN skipped."""
    chunks = m["chunks"]
    cols = []
    for i, a in enumerate(chunks):
        for b in chunks[i + 1:]:
            cols.append(m["pairwise_rank_order"][a][b])
    for c in chunks:
        fits = m["cfa"][c].values()

        def mean_fit(key, fits=fits):
            vals = [f[key] if f["converged"] and math.isfinite(f[key]) else FIT_FAILURE_VALUES[key]
                    for f in fits]
            return sum(vals) / len(vals)

        cols += [1 - m["stress"][c], mean_fit("cfi"), 1 - mean_fit("srmr"), 1 - mean_fit("rmsea")]
    finite = [v for v in cols if not math.isnan(v)]
    assert len(cols) == 72
    return sum(finite) / len(finite)


def test_fast_rank_order_bootstrap_statistic_equals_the_exact_one():
    """The vectorised bootstrap statistic against rank_order + rank_order_summary on the
    resampled scores, for complete data and with a persona missing from one chunk."""
    chunks = ["chunk_0", "chunk_1", "chunk_svs_no_conv"]
    df = synthetic_answers({"m": 0.7}, chunks=chunks, n_personas=12, seed=5)
    assert df["score"].notna().all()
    rng = np.random.default_rng(7)
    for table in (df, df[~((df.chunk == "chunk_1") & (df.persona == "p03"))]):
        scores = value_scores(table)
        personas = np.array(sorted(set(scores["persona"])))
        fast = rank_order_statistic(scores, chunks, personas)
        for _ in range(5):
            idx = rng.integers(0, len(personas), len(personas))
            assert fast(idx) == pytest.approx(exact_rank_order(scores, chunks, personas, idx),
                                              abs=1e-12)
        identity = np.arange(len(personas))
        assert np.isfinite(fast(identity))


def _odd_persona_ids(df: pd.DataFrame) -> pd.DataFrame:
    """Persona ids whose string order differs from their numbers' (p2 < p10 < Zoë as numbers),
    so a resample's row order matters: the array path must follow the table path's."""
    ids = sorted(set(df["persona"]))
    names = {p: n for p, n in zip(ids, ["p10", "p2", "Zoë", "p1", "a#1", "p100", "b", "p11",
                                        "Ω", "p3", "c-7", "p02"], strict=False)}
    return df.assign(persona=df["persona"].map(names))


@pytest.mark.parametrize("unparsed", ["random", "drop"])
def test_cardinal_resamples_from_arrays_equal_the_resampled_tables(unparsed, monkeypatch):
    """The Cardinal bootstrap's statistic from precomputed arrays (the default) against _core
    on persona_resampler's table: the same float for each draw, bit for bit (same row order,
    same CFA verdicts), and the same interval; with ``drop`` and unparsed items the arrays do
    not apply and the table path runs. The definition's rank order agrees up to rounding."""
    from stickrole_utils.analysis import model as model_module
    from stickrole_utils.analysis.bootstrap import persona_resampler
    from stickrole_utils.analysis.scoring import substitute_unparsed

    chunks = ["chunk_0", "chunk_1", "chunk_svs_no_conv"]
    df = _odd_persona_ids(synthetic_answers({"m": 0.6}, chunks=chunks, n_personas=12, seed=2,
                                            unparsed_rate=0.03))
    settings = AnalysisSettings(bootstrap=20, bootstrap_cardinal=6, unparsed=unparsed)
    subst, _ = substitute_unparsed(df, unparsed, settings.seed)
    qmap = {"chunk_0": "pvq40", "chunk_1": "pvq40", "chunk_svs_no_conv": "svs57"}
    personas = np.array(sorted(set(subst["persona"])))
    fast = model_module._cardinal_statistic(subst, value_scores(subst), chunks, qmap, settings,
                                            personas)
    assert (fast is None) == (unparsed == "drop")
    resample = persona_resampler(subst, personas)
    rng = np.random.default_rng(11)
    for k in range(4):
        idx = rng.integers(0, len(personas), len(personas)) if k else np.arange(len(personas))
        m, _ = model_module._core(resample(idx), chunks, qmap, settings, tables=False)
        by_tables = model_module._cardinal(m | {"chunks": chunks})
        if fast is not None:
            assert fast(idx) == by_tables
    intervals = {}
    for mode in ("arrays", "tables", "definition"):
        monkeypatch.setattr(model_module, "RESAMPLES", mode)
        intervals[mode] = analyze_model(df, settings).metrics["cardinal_ci"]
    assert intervals["arrays"] == intervals["tables"]
    assert intervals["definition"] == pytest.approx(intervals["tables"], abs=1e-12)


def test_resample_ranks_by_counting_equal_rankdata():
    from scipy.stats import rankdata

    from stickrole_utils.analysis.bootstrap import _ResampleRanks

    rng = np.random.default_rng(3)
    for x in (rng.normal(size=(20, 7)), rng.integers(-1, 3, (15, 9)).astype(float),
              np.ones((5, 2))):
        ranks = _ResampleRanks(x)
        for _ in range(20):
            idx = rng.integers(0, len(x), len(x))
            np.testing.assert_array_equal(ranks(idx), rankdata(x[idx], axis=0))


def test_settings_change_only_what_they_name(nine_chunks):
    base = analyze_model(nine_chunks, FAST).metrics
    drop = analyze_model(nine_chunks, FAST.model_copy(update={"unparsed": "drop"})).metrics
    assert drop["unparsed_count"] == base["unparsed_count"]
    assert drop["rank_order"] != base["rank_order"]
    textbook = analyze_model(nine_chunks, FAST.model_copy(update={"stress": "dissimilarity"})).metrics
    assert textbook["stress"] != base["stress"] and textbook["rank_order"] == base["rank_order"]


def test_same_seed_same_numbers(nine_chunks):
    a = analyze_model(nine_chunks, FAST).metrics
    b = analyze_model(nine_chunks.sample(frac=1, random_state=0), FAST).metrics
    assert a["rank_order"] == b["rank_order"] and a["cfi"] == b["cfi"]


def test_failed_fits_apply_the_leaderboard_rule_and_are_counted():
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_no_conv"], n_personas=20, seed=2)
    # a constant item makes every CFA model holding it fail
    df.loc[(df.chunk == "chunk_0") & (df["item"] == 5), "score"] = 3.0  # Security item
    orig = analyze_model(df, FAST).metrics
    fit = orig["cfa"]["chunk_0"]["conservation"]
    assert fit["converged"] is False and math.isnan(fit["cfi"]) and fit["note"]
    assert orig["cfa_failures"] >= 1
    others = [orig["cfa"]["chunk_0"][g]["cfi"] for g in HIGHER_ORDER if g != "conservation"]
    assert math.isclose(orig["cfi"]["chunk_0"], (0.0 + sum(others)) / 4)
    assert math.isclose(orig["srmr"]["chunk_0"], (1.0 + sum(orig["cfa"]["chunk_0"][g]["srmr"]
                                                         for g in HIGHER_ORDER if g != "conservation")) / 4)
    nan_rule = analyze_model(df, FAST.model_copy(update={"cfa_failure": "nan"})).metrics
    assert math.isclose(nan_rule["cfi"]["chunk_0"], sum(others) / 3)


def test_constant_persona_answers_give_nan_with_reason_not_a_crash():
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1", "chunk_no_conv"], n_personas=6)
    df.loc[df.chunk == "chunk_1", "score"] = 4.0  # every persona answers 4 to everything
    m = analyze_model(df, FAST).metrics
    assert m["rank_order_nan"] == 20  # 10 values x the 2 pairs touching chunk_1
    assert np.isfinite(m["rank_order"])
    assert math.isnan(m["pairwise_rank_order"]["chunk_0"]["chunk_1"])
    assert any("rank-order correlations undefined" in n for n in m["notes"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d[d.chunk == "chunk_0"], "single chunk"),
        (lambda d: d[d.persona.isin(["p00", "p01"])], "has 2 persona(s)"),
        (lambda d: pd.concat([d, d.assign(model="other")]), "expects one model"),
    ],
)
def test_bad_input_gives_one_clear_error(change, message):
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1"], n_personas=5)
    with pytest.raises(DataError, match="data.csv") as e:
        analyze_model(change(df), FAST, source="data.csv")
    assert message in str(e.value)


def test_downstream_only_table_gives_downstream_metrics_not_an_error():
    # formerly a DataError "no PVQ-40 or SVS-57 answers"; now that message is a note and the
    # downstream chunks are analysed (docs/method.md, Downstream behaviour)
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1"], n_personas=5)
    df = df.assign(questionnaire="religion", item=1).drop_duplicates(["chunk", "persona"])
    m = analyze_model(df, FAST, source="data.csv").metrics
    assert any("no PVQ-40 or SVS-57 answers" in n for n in m["notes"])
    assert m["chunks"] == [] and m["downstream_chunks"] == {"chunk_0": "religion",
                                                             "chunk_1": "religion"}
    assert set(m["downstream_rank_order"]) == {"religion"}


def test_downstream_chunks_beside_values_chunks_leave_values_metrics_unchanged():
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1"], n_personas=6)
    rel = df.drop_duplicates(["chunk", "persona"]).assign(
        chunk=lambda d: "rel_" + d["chunk"], questionnaire="religion", item=1, score=3.0)
    alone = analyze_model(df, FAST).metrics
    mixed = analyze_model(pd.concat([df, rel], ignore_index=True), FAST).metrics
    assert mixed["chunks"] == alone["chunks"] == ["chunk_0", "chunk_1"]
    for key in ("rank_order", "pairwise_rank_order", "stress", "cfi", "n_items", "cardinal"):
        assert mixed[key] == alone[key], key
    assert mixed["downstream_chunks"] == {"rel_chunk_0": "religion", "rel_chunk_1": "religion"}


def test_persona_missing_from_a_chunk_is_a_note(caplog):
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1", "chunk_2"], n_personas=6)
    df = df[~((df.chunk == "chunk_2") & (df.persona == "p03"))]
    m = analyze_model(df, FAST).metrics
    assert any("chunk 'chunk_2' lacks persona(s) p03" in n for n in m["notes"])
    assert "lacks persona" in caplog.text


def test_chunks_setting_orders_and_checks():
    df = synthetic_answers({"m": 0.8}, chunks=["chunk_0", "chunk_1", "chunk_2"], n_personas=5)
    m = analyze_model(df, FAST.model_copy(update={"chunks": ["chunk_2", "chunk_0"]})).metrics
    assert m["chunks"] == ["chunk_2", "chunk_0"]
    with pytest.raises(DataError, match="'chunk_9'"):
        analyze_model(df, FAST.model_copy(update={"chunks": ["chunk_9", "chunk_0"]}))


def _analyze_and_rank(paths, out):
    """What `stickrole analyze` does: analyse, write each model's directory, then the leaderboard."""
    res = analyze_files(paths, FAST)
    write_analyses(res, out)
    write_leaderboard({m: a.metrics for m, a in res.items()}, out)
    return res


def test_write_read_roundtrip_and_files(tmp_path):
    df = synthetic_answers({"a/b": 0.8, "c": 0.2}, chunks=["chunk_0", "chunk_1", "chunk_svs_no_conv"],
                           n_personas=8)
    path = tmp_path / "answers.csv"
    df.to_csv(path, index=False)
    res = _analyze_and_rank([path], tmp_path / "out")
    assert set(res) == {"a/b", "c"}
    out = tmp_path / "out"
    assert (out / "a_b" / "metrics.json").exists() and (out / "leaderboard.csv").exists()
    back = read_model_analysis(out / "a_b")
    assert back.model == "a/b" and back.metrics["chunks"] == res["a/b"].metrics["chunks"]
    pd.testing.assert_frame_equal(back.scores, res["a/b"].scores)
    assert set(back.structure.columns) >= {"chunk", "item", "value", "x", "y"}
    assert set(back.cfa.columns) >= {"chunk", "group", "cfi", "converged", "note"}
    lb = pd.read_csv(out / "leaderboard.csv")
    assert list(lb.columns[:8]) == ["Model", "Ordinal (Win rate)", "Cardinal (Score)",
                                     "RO Stability", "Stress", "CFI", "SRMR", "RMSEA"]
    write_model_analysis(back, tmp_path / "again")
    assert json.loads((tmp_path / "again" / "metrics.json").read_text())["model"] == "a/b"


def test_full_72_column_leaderboard_from_synthetic_answers(tmp_path):
    """Nine leaderboard chunks x four models (three stabilities + the random baseline)."""
    models = {"steady": 0.95, "middling": 0.6, "drifting": 0.2}
    df = pd.concat([
        synthetic_answers(models, n_personas=20, seed=11),
        synthetic_answers(["dummy"], uniform=("dummy",), n_personas=20, seed=12),
    ])
    path = tmp_path / "all.parquet"
    df.to_parquet(path)
    _analyze_and_rank([path], tmp_path / "out")
    cols = pd.read_csv(tmp_path / "out" / "leaderboard_columns.csv", index_col=0)
    assert cols.shape == (4, 72)
    assert sum(c.startswith("RO-") for c in cols.columns) == 36
    lb = pd.read_csv(tmp_path / "out" / "leaderboard.csv").set_index("Model")
    assert lb.loc["steady", "RO Stability"] > lb.loc["middling", "RO Stability"] > lb.loc["drifting", "RO Stability"]
    assert lb.loc["steady", "Cardinal (Score)"] > lb.loc["dummy", "Cardinal (Score)"]
    assert lb.loc["steady", "Ordinal (Win rate)"] > lb.loc["dummy", "Ordinal (Win rate)"]
    assert np.isclose(lb["Cardinal (Score)"].loc["middling"], cols.loc["middling"].mean())
    assert lb["Ordinal (Win rate)"].between(0, 1).all()
