import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from stickrole_utils.analysis.scoring import value_scores
from stickrole_utils.analysis.stability import (
    ipsative,
    ipsative_summary,
    rank_order,
    rank_order_summary,
    spearman,
)
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.design.values import VALUES


def _scores(table: dict[str, np.ndarray]) -> pd.DataFrame:
    """chunk -> (personas x 10) centered scores, as a value_scores-shaped table."""
    rows = []
    for c, arr in table.items():
        for p in range(arr.shape[0]):
            for v, val in enumerate(VALUES):
                rows.append(("m", c, f"p{p}", "pvq40", val, arr[p, v], arr[p, v]))
    return pd.DataFrame(rows, columns=["model", "chunk", "persona", "questionnaire", "value",
                                       "raw", "centered"])


def test_identical_chunks_give_one_and_reversed_give_minus_one():
    a = np.arange(50, dtype=float).reshape(5, 10) ** 1.5
    s = _scores({"x": a, "y": a, "z": -a})
    ro = rank_order(s, ["x", "y", "z"])
    summ = rank_order_summary(ro, ["x", "y", "z"])
    assert summ["pairwise_rank_order"]["x"]["y"] == 1.0
    assert summ["pairwise_rank_order"]["x"]["z"] == -1.0
    assert summ["pairwise_rank_order"]["z"]["y"] == -1.0
    assert summ["pairwise_rank_order"]["z"]["z"] == 1.0
    assert np.isclose(summ["rank_order"], (1 - 1 - 1) / 3)
    assert summ["rank_order_nan"] == 0


def test_constant_value_gives_nan_with_reason_and_is_counted():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    b[:, VALUES.index("Power")] = 0.0
    ro = rank_order(_scores({"x": a, "y": b}), ["x", "y"])
    bad = ro[ro.value == "Power"].iloc[0]
    assert np.isnan(bad.r) and bad.reason == "constant scores for Power in y"
    summ = rank_order_summary(ro, ["x", "y"])
    assert summ["rank_order_nan"] == 1 and np.isfinite(summ["rank_order"])
    assert summ["rank_order_nan_reasons"] == ["constant scores for Power in y"]
    assert np.isnan(summ["rank_order_per_value"]["Power"])


def test_persona_with_constant_answers_gives_nan_ipsative_with_reason():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 10)), rng.normal(size=(4, 10))
    b[2, :] = 0.0
    ips = ipsative(_scores({"x": a, "y": b}), ["x", "y"])
    row = ips.set_index("persona").loc["p2"]
    assert np.isnan(row.r) and "profile of p2 in y" in row.reason
    s = ipsative_summary(ips)
    assert s["ipsative_nan"] == 1 and np.isfinite(s["ipsative"])


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(2)
    for _ in range(20):
        x, y = rng.integers(0, 4, 15), rng.integers(0, 4, 15)
        r, why = spearman(x, y)
        if why:
            continue
        assert np.isclose(r, spearmanr(x, y).statistic)


def test_personas_missing_from_one_chunk_use_common_personas():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 10))
    s = _scores({"x": a, "y": a})
    s = s[~((s.chunk == "y") & (s.persona == "p5"))]
    ro = rank_order(s, ["x", "y"])
    assert (ro["n"] == 5).all() and np.allclose(ro["r"], 1.0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_invariant_to_persona_order_and_monotone_rescaling(seed):
    df = synthetic_answers(["m"], chunks=["a", "b", "c"], n_personas=8, seed=seed)
    s = value_scores(df)
    base = rank_order_summary(rank_order(s, ["a", "b", "c"]), ["a", "b", "c"])
    shuffled = s.sample(frac=1, random_state=seed)
    rescaled = s.assign(centered=np.exp(s["centered"]))
    for other in (shuffled, rescaled):
        got = rank_order_summary(rank_order(other, ["a", "b", "c"]), ["a", "b", "c"])
        assert np.allclose(got["rank_order"], base["rank_order"], equal_nan=True)
        ips_a = ipsative_summary(ipsative(s, ["a", "b", "c"]))["ipsative"]
        ips_b = ipsative_summary(ipsative(other, ["a", "b", "c"]))["ipsative"]
        assert np.isclose(ips_a, ips_b, equal_nan=True)


def test_known_truth_stable_vs_unstable_population():
    df = synthetic_answers({"stable": 1.0, "shuffled": 0.0}, chunks=["a", "b", "c"],
                           n_personas=50, seed=5)
    res = {}
    for m, g in df.groupby("model"):
        res[m] = rank_order_summary(rank_order(value_scores(g), ["a", "b", "c"]),
                                    ["a", "b", "c"])["rank_order"]
    assert res["stable"] > 0.6
    assert abs(res["shuffled"]) < 0.15


def test_fast_rank_order_equals_the_definition_with_ties_and_a_constant_column():
    from stickrole_utils.analysis.stability import rank_order_fast

    rng = np.random.default_rng(3)
    rows = []
    for c in ("a", "b", "c"):
        for p in range(6):
            for v in ("Power", "Hedonism", "Benevolence"):
                x = float(rng.integers(0, 3))  # ties
                if v == "Benevolence" and c == "b":
                    x = 1.0  # constant in chunk b: NaN, skipped
                rows.append({"chunk": c, "persona": f"p{p}", "value": v, "centered": x})
    scores = pd.DataFrame(rows)
    exact = rank_order_summary(rank_order(scores, ["a", "b", "c"]), ["a", "b", "c"])
    fast = rank_order_fast(scores, ["a", "b", "c"])
    assert fast["rank_order"] == pytest.approx(exact["rank_order"], abs=1e-12)
    assert fast["rank_order_nan"] == exact["rank_order_nan"] == 2
    for a in "abc":
        for b in "abc":
            assert fast["pairwise_rank_order"][a][b] == pytest.approx(
                exact["pairwise_rank_order"][a][b], abs=1e-12, nan_ok=True)
    assert fast["rank_order_per_value"] == pytest.approx(exact["rank_order_per_value"])
    # a persona without a score in one chunk: only the definition knows which pairs to use
    assert rank_order_fast(scores.iloc[1:], ["a", "b", "c"]) is None
