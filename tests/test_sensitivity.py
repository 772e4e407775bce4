"""Tests for stickrole_utils.leaderboard.sensitivity: Kendall's W, benchbench diversity and sensitivity.

Reference numbers marked "benchbench" were produced by running benchbench's procedures
(socialfoundations/benchbench @150688e, ``cardinal.get_sensitivity`` with torch 2.13 CPU,
float32 weights; ``ordinal.get_sensitivity`` with its Bernoulli draws replaced by the same
``numpy.random.default_rng(0)`` draws used here) on the inputs below.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.leaderboard.sensitivity import (
    _cardinal_loss_and_grad,
    benchbench_diversity,
    cardinal_sensitivity,
    kendall_w,
    mean_pairwise_mrc,
    ordinal_sensitivity,
    rank_change,
    ranking_robustness,
    tolerant_rankdata,
    win_rate_matrix,
)


def _cols(*columns):
    return pd.DataFrame({f"c{j}": c for j, c in enumerate(columns)}).astype(float)


def test_tolerant_rankdata_ties_and_nan():
    assert tolerant_rankdata([0.3, 0.1, 0.1 + 1e-12, 0.2]).tolist() == [4.0, 1.5, 1.5, 3.0]
    # chained tolerance and NaN joining the largest value's group (benchbench behaviour)
    assert tolerant_rankdata([1.0, np.nan, 3.0]).tolist() == [1.0, 2.5, 2.5]
    assert tolerant_rankdata([]).size == 0


def test_rank_change():
    assert rank_change([1, 2, 3], [1, 2, 3]) == (0.0, 0.0)
    tau, mrc = rank_change([3, 2, 1], [1, 2, 3])
    assert (tau, mrc) == (1.0, 1.0)
    tau, mrc = rank_change([2, 1, 3, 4], [1, 2, 3, 4])
    assert tau == pytest.approx((1 - 4 / 6) / 2) and mrc == pytest.approx(1 / 3)


def test_kendall_w_hand_cases():
    up = [1.0, 2.0, 3.0, 4.0]
    assert kendall_w(_cols(up, up, up)) == pytest.approx(1.0)
    assert kendall_w(_cols(up, up[::-1])) == pytest.approx(0.0)
    # ranks (1 = best) [1,2,3], [1,3,2], [2,1,3]: rank sums 4, 6, 8; S = 8; W = 96 / 216
    cols = _cols([-1, -2, -3], [-1, -3, -2], [-2, -1, -3])
    assert kendall_w(cols) == pytest.approx(96 / 216)


def test_kendall_w_ties():
    tied = [1.0, 1.0, 0.0]
    assert kendall_w(_cols(tied, tied)) == pytest.approx(1.0)
    # without tie correction: S = 2 * (4/2)^2... rank sums 3, 3, 6, mean 4 -> S = 6; 12*6/(4*24)
    assert kendall_w(_cols(tied, tied), tie_correction=False) == pytest.approx(0.75)


def test_kendall_w_nan_and_degenerate():
    up = [1.0, 2.0, 3.0]
    with_nan = _cols(up, up, [3.0, np.nan, 1.0])
    assert kendall_w(with_nan) == pytest.approx(1.0)  # NaN column omitted
    # "worst": the NaN column ranks 1 > 3 > 2 (best first), disagreeing with the others
    assert kendall_w(with_nan, nan="worst") < 1.0
    assert math.isnan(kendall_w(_cols([1.0])))
    assert math.isnan(kendall_w(_cols([1.0, 1.0], [2.0, 2.0])))  # every column ties
    with pytest.raises(ValueError):
        kendall_w(with_nan, nan="drop")


def test_benchbench_diversity_is_one_minus_truncated_w():
    up = [1.0, 2.0, 3.0, 4.0]
    assert benchbench_diversity(_cols(up, up)) == pytest.approx(0.0)
    assert benchbench_diversity(_cols(up, up[::-1])) == pytest.approx(1.0)
    # ties: ranks 1.5, 1.5, 3 truncated to 1, 1, 3; rank sums 2, 2, 6 (mean 10/3),
    # ss = 96/9, ss_max = 4 * 24 / 12 = 8 -> W = 4/3 > 1 and "diversity" 1 - W = -1/3,
    # while the tie-corrected W is 1.
    tied = [1.0, 1.0, 0.0]
    assert benchbench_diversity(_cols(tied, tied)) == pytest.approx(-1 / 3)
    assert kendall_w(_cols(tied, tied)) == pytest.approx(1.0)


def test_benchbench_diversity_imputed():
    cols = _cols([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    v = benchbench_diversity(cols, impute=True)
    assert 0.0 <= v < 0.1  # KNN fills the gap between its neighbours' values


def test_mean_pairwise_mrc():
    up = [1.0, 2.0, 3.0]
    assert mean_pairwise_mrc(_cols(up, up[::-1])) == pytest.approx(1.0)
    assert mean_pairwise_mrc(_cols(up, up, up[::-1])) == pytest.approx(2 / 3)
    assert math.isnan(mean_pairwise_mrc(_cols(up)))


def test_cardinal_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 5))
    rank = np.arange(1.0, 7.0)
    coef = np.where(rank[None, :] < rank[:, None], rank[:, None] - rank[None, :], 0.0)
    theta = rng.normal(size=5)
    _, grad = _cardinal_loss_and_grad(theta, z, coef, 0.01)

    def f64_loss(t):  # float64 loss (the function's own is float32-accumulated)
        w2 = np.exp(t) / np.exp(t).sum() + 0.01 / 0.99
        s = z @ (w2 / w2.sum()) / 5
        d = s[None, :] - s[:, None]
        return float(np.sum(np.where(d >= 0, coef, 0.0) * d))

    h = 1e-6
    num = [(f64_loss(theta + h * e) - f64_loss(theta - h * e)) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


# benchbench reference input (see module docstring)
_BB_INPUT = [[0.66, -0.03, 0.75, 0.6], [1.03, 0.84, 1.2, 0.31], [0.22, -0.01, 0.75, 0.36],
             [-1.51, -1.85, -1.48, -1.3], [0.71, 1.81, 1.61, -0.99]]


def test_cardinal_sensitivity_benchbench_reference():
    cols = pd.DataFrame(_BB_INPUT)
    weighted = cardinal_sensitivity(cols, use_weighted_loss=True)
    unweighted = cardinal_sensitivity(cols, use_weighted_loss=False)
    assert (weighted["tau_distance"], weighted["mrc"]) == pytest.approx((0.4, 0.5))
    assert (unweighted["tau_distance"], unweighted["mrc"]) == pytest.approx((0.2, 0.5))
    both = cardinal_sensitivity(cols)
    assert (both["tau_distance"], both["mrc"], both["loss"]) == (weighted["tau_distance"],
                                                                weighted["mrc"], "weighted")


def test_cardinal_sensitivity_properties():
    rng = np.random.default_rng(5)
    cols = pd.DataFrame(rng.normal(size=(8, 6)), index=[f"m{i}" for i in range(8)])
    cols["const"] = 0.5
    cols["c_nan"] = np.arange(8.0)
    cols.loc["m3", "c_nan"] = np.nan
    a = cardinal_sensitivity(cols)
    b = cardinal_sensitivity(cols)
    assert a == b  # deterministic
    assert 0.0 <= a["tau_distance"] <= 1.0 and 0.0 <= a["mrc"] <= 1.0
    assert a["n_columns_used"] == 6  # zero-variance and NaN columns are dropped
    assert "const" not in a["weights"] and "c_nan" not in a["weights"]
    assert max(a["weights"].values()) == pytest.approx(1.0)


def test_cardinal_sensitivity_agreeing_columns_cannot_move():
    up = [1.0, 2.0, 3.0, 4.0, 5.0]
    res = cardinal_sensitivity(_cols(up, [2 * v for v in up], [v + 7 for v in up]))
    assert (res["tau_distance"], res["mrc"]) == (0.0, 0.0)


def test_cardinal_sensitivity_conflicting_columns_move():
    res = cardinal_sensitivity(_cols([1.0, 2.0, 3.0, 4.0], [8.0, 6.0, 4.0, 1.0]))
    assert res["tau_distance"] > 0.5 and res["mrc"] >= 0.5 and res["n_steps"] > 0
    # exactly opposed z-scores: zero loss at the start, equal weights tie every model
    tied = cardinal_sensitivity(_cols([1.0, 2.0, 3.0, 4.0], [8.0, 6.0, 4.0, 2.0]))
    assert tied["n_steps"] == 0 and math.isnan(tied["tau_distance"]) and tied["mrc"] == 0.5
    assert "tie every model" in tied["note"]


def test_cardinal_sensitivity_degenerate():
    res = cardinal_sensitivity(_cols([1.0, 2.0], [2.0, 1.0]))
    assert math.isnan(res["mrc"]) and "at least 3 models" in res["note"]
    res = cardinal_sensitivity(_cols([1.0, 1.0, 1.0], [2.0, 2.0, 2.0]))
    assert math.isnan(res["tau_distance"]) and "no column varies" in res["note"]


def test_win_rate_matrix():
    cols = _cols([1.0, 2.0, 3.0], [3.0, np.nan, 1.0])
    wm = win_rate_matrix(cols)
    # model 0 vs 1: one shared column, 0 wins; model 0 vs 2: 1 win of 2 columns
    np.testing.assert_allclose(wm, [[0, 0, 0.5], [1, 0, 0], [0.5, 1, 0]])


def _ordinal_input():
    rng = np.random.default_rng(1)
    return pd.DataFrame(np.round(rng.normal(size=(20, 1)) * 0.8 + rng.normal(size=(20, 6)), 2))


def test_ordinal_sensitivity_benchbench_procedure_reference():
    res = ordinal_sensitivity(_ordinal_input(), seed=0)
    assert res["n_kept"] == 4 and res["n_steps"] == 1000
    assert (res["tau_distance"], res["mrc"]) == pytest.approx((1 / 6, 1 / 3))
    assert res == ordinal_sensitivity(_ordinal_input(), seed=0)  # deterministic


def test_ordinal_sensitivity_needs_a_kept_set():
    cols = pd.DataFrame(np.random.default_rng(0).normal(size=(9, 4)))
    res = ordinal_sensitivity(cols)
    assert math.isnan(res["mrc"]) and "n >= 10" in res["note"]
    assert "at least 3" in ordinal_sensitivity(cols.iloc[:2])["note"]


def test_ranking_robustness_bundle():
    rng = np.random.default_rng(2)
    cols = pd.DataFrame(rng.normal(size=(5, 8)) + np.arange(5)[:, None])
    r = ranking_robustness(cols)
    assert r["one_minus_w"] == pytest.approx(1 - r["kendall_w"])
    assert 0 <= r["kendall_w"] <= 1 and 0 <= r["cardinal_mrc"] <= 1
    assert math.isnan(r["ordinal_mrc"]) and len(r["notes"]) == 1
    small = ranking_robustness(cols.iloc[:2])
    assert math.isnan(small["cardinal_mrc"]) and not math.isnan(small["kendall_w"])
    assert any("at least 3 models" in n for n in small["notes"])
