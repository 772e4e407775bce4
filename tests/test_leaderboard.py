"""Tests for stickrole_utils.leaderboard.table: columns, Cardinal/Ordinal scores, loading, writing."""

from __future__ import annotations

import itertools
import json
import logging
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stickrole_utils.analysis.columns import column_names
from stickrole_utils.design.chunks import LEADERBOARD_CHUNKS
from stickrole_utils.errors import DataError
from stickrole_utils.leaderboard.table import (
    LEADERBOARD_COLUMNS,
    cardinal_scores,
    leaderboard_columns,
    leaderboard_table,
    load_metrics,
    ordinal_scores,
    win_rates,
    write_leaderboard,
)


def make_metrics(quality: float, chunks=LEADERBOARD_CHUNKS, seed: int = 0, **extra) -> dict:
    """Synthetic metrics.json content; higher quality -> better on every column.

    Only the upper triangle of pairwise_rank_order is stored, to exercise the [c2][c1]
    fallback in one direction and the direct lookup in the other.
    """
    rng = np.random.default_rng(seed)
    chunks = list(chunks)
    pro = {c: {} for c in chunks}
    for c1, c2 in itertools.combinations(chunks, 2):
        pro[c2][c1] = float(quality + 0.01 * rng.random())
    per = {k: {} for k in ("stress", "cfi", "srmr", "rmsea")}
    for c in chunks:
        per["stress"][c] = float(0.5 - quality / 4)
        per["cfi"][c] = float(quality)
        per["srmr"][c] = float(0.2 - quality / 10)
        per["rmsea"][c] = float(0.3 - quality / 10)
    return {"chunks": chunks, "pairwise_rank_order": pro, **per, **extra}


def test_full_72_column_leaderboard():
    metrics = {f"model_{q}": make_metrics(q / 10, seed=q) for q in (3, 7, 5, 1)}
    cols = leaderboard_columns(metrics)
    assert cols.shape == (4, 72)
    assert list(cols.index) == ["model_3", "model_7", "model_5", "model_1"]
    assert cols.columns[0] == "RO-chunk_0-chunk_1"
    assert cols.columns[35] == "RO-chunk_no_conv-chunk_svs_no_conv"
    assert list(cols.columns[36:40]) == ["1-Stress-chunk_0", "CFI-chunk_0", "1-SRMR-chunk_0",
                                         "1-RMSEA-chunk_0"]
    m = metrics["model_3"]
    assert cols.loc["model_3", "RO-chunk_0-chunk_4"] == m["pairwise_rank_order"]["chunk_4"]["chunk_0"]
    assert cols.loc["model_3", "1-Stress-chunk_2"] == pytest.approx(1 - m["stress"]["chunk_2"])
    assert cols.loc["model_3", "1-RMSEA-chunk_2"] == pytest.approx(1 - m["rmsea"]["chunk_2"])

    table = leaderboard_table(metrics)
    assert list(table.columns[:8]) == list(LEADERBOARD_COLUMNS)
    assert list(table.Model) == ["model_7", "model_5", "model_3", "model_1"]
    assert table["Ordinal (Win rate)"].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    assert table.loc[0, "CFI"] == pytest.approx(0.7)
    assert table.loc[0, "Stress"] == pytest.approx(0.5 - 0.7 / 4)
    assert table.loc[0, "RO Stability"] == pytest.approx(cols.loc["model_7"].iloc[:36].mean())
    assert table.loc[0, "Cardinal (Score)"] == pytest.approx(cols.loc["model_7"].mean())
    assert (table["Chunks"] == 9).all()


def test_extras_and_nan():
    ms = {
        "a": make_metrics(0.6, ipsative=0.4, rank_order_ci=[0.5, 0.7], unparsed_rate=0.01,
                          cfa_failures=2),
        "b": make_metrics(0.4),
    }
    ms["b"]["stress"]["chunk_0"] = float("nan")
    table = leaderboard_table(ms)
    assert list(table.columns[8:]) == ["Ipsative", "RO Stability CI low", "RO Stability CI high",
                                       "Unparsed rate", "CFA failures", "Chunks"]
    t = table.set_index("Model")
    assert math.isnan(t.loc["b", "Ipsative"]) and math.isnan(t.loc["b", "RO Stability CI low"])
    assert t.loc["b", "Stress"] == pytest.approx(0.5 - 0.4 / 4)  # NaN chunk skipped in the mean
    assert t.loc["a", "CFA failures"] == 2 and t["CFA failures"].isna().loc["b"]


def test_sort_is_by_ordinal_then_cardinal():
    ms = {"lo": make_metrics(0.5), "hi": make_metrics(0.5)}
    ms["hi"]["cfi"]["chunk_0"] = 0.9  # wins one column: ordinal and cardinal up
    ms["lo"]["cfi"]["chunk_1"] = 0.45  # loses one column
    table = leaderboard_table(ms)
    assert list(table.Model) == ["hi", "lo"]


def test_ties_option():
    ms = {"x": make_metrics(0.5), "y": make_metrics(0.5)}
    for m in ms.values():
        m["pairwise_rank_order"] = {c: {d: 0.5 for d in m["chunks"] if d != c}
                                    for c in m["chunks"]}
    assert (leaderboard_table(ms)["Ordinal (Win rate)"] == 0.0).all()
    assert (leaderboard_table(ms, ties="half")["Ordinal (Win rate)"] == 0.5).all()


def test_win_rates_hand_example():
    cols = pd.DataFrame({"c": [3.0, 1.0, np.nan, 1.0]}, index=list("abcd"))
    assert win_rates(cols)["c"].tolist() == [2 / 3, 0.0, 0.0, 0.0]
    assert win_rates(cols, ties="half")["c"].tolist() == [2 / 3, 1 / 6, 0.0, 1 / 6]
    with pytest.raises(ValueError):
        win_rates(cols, ties="draw")
    assert win_rates(cols.iloc[:1]).isna().all().all()


def test_cardinal_skips_nan():
    cols = pd.DataFrame({"a": [1.0, np.nan], "b": [0.0, np.nan], "c": [0.5, 0.2]})
    assert cardinal_scores(cols).tolist() == [0.5, 0.2]


_matrix = st.integers(2, 7).flatmap(lambda n: st.integers(1, 5).flatmap(
    lambda m: arrays(float, (n, m), elements=st.one_of(
        st.floats(-5, 5, allow_nan=False), st.just(np.nan), st.sampled_from([0.0, 1.0])))))


@settings(max_examples=80, deadline=None)
@given(_matrix, st.randoms(use_true_random=False))
def test_win_rate_properties(x, rnd):
    n = x.shape[0]
    cols = pd.DataFrame(x, index=[f"m{i}" for i in range(n)])
    for ties in ("loss", "half"):
        wr = win_rates(cols, ties=ties)
        assert ((wr >= 0) & (wr <= 1)).all().all()
        # invariant to model order
        perm = list(cols.index)
        rnd.shuffle(perm)
        pd.testing.assert_frame_equal(win_rates(cols.loc[perm], ties=ties).loc[cols.index], wr)
    counts = win_rates(cols, ties="half") * (n - 1)
    for j in range(x.shape[1]):
        col = x[:, j]
        if not np.isnan(col).any():
            # every pair hands out exactly one win (half credit splits ties)
            assert counts[j].sum() == pytest.approx(n * (n - 1) / 2)
            if len(np.unique(col)) == n:
                assert (win_rates(cols)[j] * (n - 1)).sum() == pytest.approx(n * (n - 1) / 2)


@settings(max_examples=50, deadline=None)
@given(_matrix)
def test_dominating_model_gets_ordinal_one(x):
    cols = pd.DataFrame(np.nan_to_num(x), index=[f"m{i}" for i in range(x.shape[0])])
    cols.loc["champion"] = 10.0  # above every value
    assert ordinal_scores(cols)["champion"] == 1.0
    assert ordinal_scores(cols, ties="half")["champion"] == 1.0
    # a NaN is never beaten (original rule): the champion loses that comparison
    cols.iloc[0, 0] = np.nan
    assert ordinal_scores(cols)["champion"] < 1.0


def _write(path, metrics):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics), encoding="utf-8")  # NaN -> JSON NaN token
    return path


def test_load_metrics_directory_and_names(tmp_path):
    _write(tmp_path / "run" / "alpha" / "metrics.json", make_metrics(0.3))
    _write(tmp_path / "run" / "beta" / "metrics.json", make_metrics(0.6, model="Beta-7B"))
    other = _write(tmp_path / "elsewhere" / "gamma" / "metrics.json",
                   make_metrics(0.1, cfi={c: float("nan") for c in LEADERBOARD_CHUNKS}))
    got = load_metrics([tmp_path / "run", other, tmp_path / "run" / "alpha" / "metrics.json"])
    assert list(got) == ["alpha", "Beta-7B", "gamma"]
    assert math.isnan(got["gamma"]["cfi"]["chunk_0"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("stress"), "missing key"),
        (lambda m: m["pairwise_rank_order"]["chunk_1"].pop("chunk_0"), "lacks the pair"),
        (lambda m: m["cfi"].pop("chunk_3"), "lacks chunk"),
        (lambda m: m["rmsea"].update(chunk_0="high"), "not a number"),
    ],
)
def test_load_metrics_invalid(tmp_path, mutate, message):
    m = make_metrics(0.5)
    mutate(m)
    path = _write(tmp_path / "x" / "metrics.json", m)
    with pytest.raises(DataError, match=message) as info:
        load_metrics([path])
    assert str(path) in str(info.value)


def test_load_metrics_bad_json_duplicates_and_empty(tmp_path):
    bad = tmp_path / "bad" / "metrics.json"
    bad.parent.mkdir()
    bad.write_text('{"chunks": [\n  "chunk_0",\n}', encoding="utf-8")
    with pytest.raises(DataError, match="line 3 column 1"):
        load_metrics([bad])
    a = _write(tmp_path / "a" / "metrics.json", make_metrics(0.5, model="same"))
    b = _write(tmp_path / "b" / "metrics.json", make_metrics(0.4, model="same"))
    with pytest.raises(DataError, match="appears in two metrics files"):
        load_metrics([a, b])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no metrics.json"):
        load_metrics([tmp_path / "empty"])
    with pytest.raises(DataError, match="no such file"):
        load_metrics([tmp_path / "missing"])


def test_common_chunks_with_warning(caplog):
    ms = {"full": make_metrics(0.5),
          "part": make_metrics(0.4, chunks=["chunk_0", "chunk_1", "chunk_2", "chunk_x"])}
    with caplog.at_level(logging.WARNING):
        cols = leaderboard_columns(ms)
    assert list(cols.columns) == column_names(["chunk_0", "chunk_1", "chunk_2"])
    assert "chunk_x" in caplog.text and "chunk_svs_no_conv" in caplog.text
    ms["part"] = make_metrics(0.4, chunks=["chunk_0", "chunk_x"])
    with pytest.raises(DataError, match="at least 2 chunks"):
        leaderboard_columns(ms)
    with pytest.raises(DataError, match="no chunk"):
        leaderboard_columns(ms, chunks=["chunk_0", "chunk_1"])


def test_write_leaderboard(tmp_path):
    metrics = {f"m{i}": make_metrics(i / 12, seed=i, ipsative=0.5) for i in range(12)}
    path = write_leaderboard(metrics, tmp_path / "out")
    table = pd.read_csv(path)
    assert list(table.columns[:8]) == list(LEADERBOARD_COLUMNS)
    assert table.Model.tolist()[0] == "m11"
    cols = pd.read_csv(tmp_path / "out" / "leaderboard_columns.csv", index_col="Model")
    assert cols.shape == (12, 72)
    ranking = json.loads((tmp_path / "out" / "ranking.json").read_text())
    assert ranking["n_models"] == 12 and ranking["chunks"] == list(LEADERBOARD_CHUNKS)
    assert ranking["one_minus_w"] == pytest.approx(1 - ranking["kendall_w"])
    assert 0 <= ranking["cardinal_mrc"] <= 1 and 0 <= ranking["ordinal_mrc"] <= 1
