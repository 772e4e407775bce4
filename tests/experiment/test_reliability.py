"""Test-retest reliability across seeds: ICCs against pingouin's (``tests/reference/
icc_pingouin.py`` on the seeded tables of ``tests/reference/icc_data.py``; pingouin 0.5.5), the
noise ceiling and the retest rank-order stability on hand-checkable cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.experiment.reliability import (
    icc_matrix,
    intraclass_corr,
    noise_ceiling,
    retest_rank_order,
    retest_table,
)

REFERENCE = Path(__file__).parents[1] / "reference"
sys.path.insert(0, str(REFERENCE))
from icc_data import datasets  # noqa: E402

PINGOUIN = json.loads((REFERENCE / "icc_pingouin.json").read_text())


@pytest.mark.parametrize("name", sorted(PINGOUIN["datasets"]))
def test_iccs_and_their_intervals_equal_pingouins(name):
    ours = intraclass_corr(datasets()[name], targets="persona", raters="seed", ratings="score")
    for kind, ref in PINGOUIN["datasets"][name].items():
        assert ours.at[kind, "ICC"] == pytest.approx(ref["ICC"], abs=1e-9)
        assert ours.at[kind, "ci_low"] == pytest.approx(ref["ci_low"], abs=1e-9)
        assert ours.at[kind, "ci_high"] == pytest.approx(ref["ci_high"], abs=1e-9)


def test_shrout_fleiss_table_2():
    # Shrout & Fleiss (1979), Table 4: ICC(2,1) = .29, ICC(2,4) = .62
    from icc_data import SHROUT_FLEISS

    r = icc_matrix(SHROUT_FLEISS)
    assert round(float(r["icc2_1"]), 2) == 0.29 and round(float(r["icc2_k"]), 2) == 0.62


def test_vectorised_over_leading_axes_equals_one_at_a_time():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 30, 5)) + rng.normal(size=(3, 4, 30, 1))
    whole = icc_matrix(x)
    for i in range(3):
        for j in range(4):
            one = icc_matrix(x[i, j])
            for key, arr in whole.items():
                assert arr[i, j] == pytest.approx(float(one[key]), rel=1e-12)


def _scores(cube: np.ndarray) -> pd.DataFrame:
    """[value, chunk, persona, seed] -> a stacked scores table."""
    v, c, p, s = np.indices(cube.shape)
    return pd.DataFrame({"value": [f"v{i}" for i in v.ravel()],
                         "chunk": [f"c{i}" for i in c.ravel()],
                         "persona": [f"p{i:02d}" for i in p.ravel()], "seed": s.ravel(),
                         "centered": cube.ravel()})


def test_identical_seeds_are_perfectly_reliable_and_reach_a_ceiling_of_one():
    rng = np.random.default_rng(1)
    cube = np.repeat(rng.normal(size=(2, 3, 20, 1)), 4, axis=-1)
    scores = _scores(cube)
    icc = retest_table(scores)
    assert len(icc) == 2 * 3 * 2 and np.allclose(icc["estimate"], 1.0)
    assert noise_ceiling(icc) == pytest.approx(1.0)
    assert retest_rank_order(scores) == pytest.approx(1.0)


def test_pure_noise_has_a_ceiling_near_zero():
    rng = np.random.default_rng(2)
    scores = _scores(rng.normal(size=(10, 5, 50, 5)))
    icc = retest_table(scores)
    assert abs(icc.loc[icc.quantity == "icc2_1", "estimate"].mean()) < 0.05
    assert noise_ceiling(icc) < 0.15  # negative ICCs count as 0
    assert abs(retest_rank_order(scores)) < 0.05


def test_a_persona_missing_at_one_seed_is_left_out_of_that_value_and_chunk():
    rng = np.random.default_rng(3)
    scores = _scores(rng.normal(size=(1, 2, 10, 3)))
    scores = scores.drop(scores.index[(scores.persona == "p00") & (scores.chunk == "c0")
                                      & (scores.seed == 1)])
    icc = retest_table(scores).set_index(["chunk", "quantity"])
    assert icc.at[("c0", "icc2_1"), "n"] == 9 and icc.at[("c1", "icc2_1"), "n"] == 10
    assert icc["k"].eq(3).all()


def test_one_seed_gives_nan_not_an_error():
    scores = _scores(np.random.default_rng(4).normal(size=(1, 2, 10, 1)))
    icc = retest_table(scores)
    assert icc["estimate"].isna().all()
    assert np.isnan(noise_ceiling(icc))


def test_icc2k_interval_is_an_interval_with_few_personas():
    """With 5 personas and 3 seeds ICC(2,1)'s lower bound can fall below -1/(k-1); stepped up
    by Spearman-Brown it is then -inf, never a number above the upper bound (pingouin's 23.2)."""
    from stickrole_utils.experiment.reliability import icc_matrix

    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 5, 3))  # 200 independent pure-noise problems
    r = icc_matrix(x)
    low, high = r["icc2_1_low"], r["icc2_k_low"]
    assert (low <= -0.5).any()  # the case arises
    assert (r["icc2_k_low"] <= r["icc2_k_high"]).all()
    assert np.isneginf(high[low <= -0.5]).all()
    ok = low > -0.5
    assert np.allclose(high[ok], 3 * low[ok] / (1 + 2 * low[ok]))
