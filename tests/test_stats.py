"""Tests for stickrole_utils.analysis.stats: bootstrap, Benjamini-Hochberg, model comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from stickrole_utils.analysis.stats import (
    COMPARISON_COLUMNS,
    benjamini_hochberg,
    bootstrap_distribution,
    compare_models,
    percentile_bootstrap,
)


def test_bh_hand_computed():
    # sorted p: .01 .03 .04 .5 ; m p / i: .04 .06 .0533 .5 ; running min from the right
    adj = benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(adj, [0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_bh_nan_is_not_a_test():
    adj = benjamini_hochberg([0.01, np.nan, 0.02])
    assert math.isnan(adj[1])
    np.testing.assert_allclose(adj[[0, 2]], [0.02, 0.02])  # m = 2, not 3


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_bh_matches_scipy(p):
    np.testing.assert_allclose(benjamini_hochberg(p),
                               sps.false_discovery_control(p, method="bh"), atol=1e-12)


def test_bh_rejects_out_of_range():
    with pytest.raises(ValueError):
        benjamini_hochberg([0.5, 1.5])


def _three_models():
    return pd.DataFrame({
        "model": ["a"] * 3 + ["b"] * 3 + ["c"] * 3,
        "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.5, 2.5, 2.0],
    })


def test_ttest_by_hand():
    res = compare_models(_three_models())
    assert list(res.columns) == list(COMPARISON_COLUMNS)
    assert list(zip(res.model_a, res.model_b, strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]
    # a = 1,2,3 ; b = 4,5,6: pooled variance 1, se = sqrt(2/3), t = -3 / sqrt(2/3), df 4
    t = -3 / math.sqrt(2 / 3)
    row = res.iloc[0]
    assert row.t == pytest.approx(t)
    assert row.p == pytest.approx(2 * sps.t.sf(abs(t), 4))
    assert (row.mean_a, row.mean_b, row.n_a, row.n_b) == (2.0, 5.0, 3, 3)


def test_bh_over_pairs_and_original_diagonal():
    data = _three_models()
    res = compare_models(data)
    np.testing.assert_allclose(res.p_adj, benjamini_hochberg(res.p.to_numpy()))
    orig = compare_models(data, include_diagonal=True)
    # original: the 3 pairs plus a diagonal of three p = 1 -> m = 6
    expected = benjamini_hochberg(np.r_[res.p.to_numpy(), 1.0, 1.0, 1.0])[:3]
    np.testing.assert_allclose(orig.p_adj, expected)
    assert (orig.p_adj >= res.p_adj - 1e-15).all()
    assert (res.significant == (res.p_adj < 0.05)).all()


def test_compare_models_too_few_values():
    data = pd.DataFrame({"model": ["a", "a", "b", "c", "c"],
                         "value": [1.0, 2.0, 3.0, 1.0, np.nan]})
    res = compare_models(data)
    assert res.p.isna().all() and not res.significant.any()
    assert res.loc[0, "n_b"] == 1


def test_compare_models_missing_column():
    with pytest.raises(KeyError, match="score"):
        compare_models(_three_models(), value="score")


def test_bootstrap_passes_indices_and_is_seeded():
    seen = []

    def stat(idx):
        seen.append(idx)
        return float(idx.mean())

    a = bootstrap_distribution(stat, 7, 20, np.random.default_rng(3))
    b = bootstrap_distribution(lambda i: float(i.mean()), 7, 20, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert all(len(i) == 7 and i.min() >= 0 and i.max() < 7 for i in seen)


def test_percentile_bootstrap_interval():
    x = np.random.default_rng(0).normal(size=50)
    lo, hi = percentile_bootstrap(lambda i: x[i].mean(), 50, 500, np.random.default_rng(1))
    assert lo < x.mean() < hi
    se = x.std(ddof=1) / math.sqrt(50)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.25)
    # a narrower level gives a narrower interval from the same draws
    lo2, hi2 = percentile_bootstrap(lambda i: x[i].mean(), 50, 500, np.random.default_rng(1), 0.5)
    assert lo < lo2 < hi2 < hi


def test_percentile_bootstrap_degenerate():
    rng = np.random.default_rng(0)
    assert all(math.isnan(v) for v in percentile_bootstrap(lambda i: 1.0, 5, 0, rng))
    assert all(math.isnan(v) for v in percentile_bootstrap(lambda i: np.nan, 5, 10, rng))
    assert percentile_bootstrap(lambda i: 2.0, 5, 10, rng) == (2.0, 2.0)
    # NaN replicates are left out, not propagated
    vals = iter([np.nan, 1.0, 3.0] * 10)
    lo, hi = percentile_bootstrap(lambda i: next(vals), 5, 30, rng, level=0.5)
    assert 1.0 <= lo <= hi <= 3.0
    with pytest.raises(ValueError):
        percentile_bootstrap(lambda i: 1.0, 5, 10, rng, level=1.0)


def test_bootstrap_workers_give_the_same_replicates(monkeypatch):
    from stickrole_utils.analysis.stats import bootstrap_distribution, bootstrap_workers

    x = np.arange(20.0) ** 2
    serial = bootstrap_distribution(lambda i: x[i].mean(), 20, 9, np.random.default_rng(5))
    forked = bootstrap_distribution(lambda i: x[i].mean(), 20, 9, np.random.default_rng(5),
                                    workers=3)
    np.testing.assert_array_equal(serial, forked)
    monkeypatch.delenv("STICKROLE_BOOTSTRAP_WORKERS", raising=False)
    assert bootstrap_workers(50) == 1  # opt-in
    monkeypatch.setenv("STICKROLE_BOOTSTRAP_WORKERS", "4")
    assert bootstrap_workers(50) == 4 and bootstrap_workers(2) == 2
