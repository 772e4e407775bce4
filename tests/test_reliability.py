"""Tests for stickrole_utils.analysis.reliability.

Reference alphas: pingouin 0.7.0 ``cronbach_alpha`` on the original's centering, produced by
``tests/reference/alpha_pingouin.py`` on the seeded data of ``tests/reference/synthetic.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stickrole_utils.analysis.reliability import (
    alpha_from_matrix,
    center_items,
    cronbach_alpha,
    mean_alpha,
)
from stickrole_utils.design.instruments import PVQ40, SVS57, Instrument
from stickrole_utils.design.values import VALUES

sys.path.insert(0, str(Path(__file__).parent / "reference"))
from synthetic import pvq_structured, svs_structured, uniform  # noqa: E402

# pingouin 0.7.0 (tests/reference/alpha_pingouin.py)
PINGOUIN = {
    "pvq_structured": {
        "Self-Direction": 0.9096350999952236,
        "Stimulation": 0.9038518268465301,
        "Hedonism": 0.901892045492804,
        "Achievement": 0.9214111558385168,
        "Power": 0.9032461004166246,
        "Security": 0.936294986979212,
        "Conformity": 0.8979009346483693,
        "Tradition": 0.9113000346605731,
        "Benevolence": 0.901453617215739,
        "Universalism": 0.9011376460244269,
    },
    "pvq_uniform": {
        "Self-Direction": -0.6879549962527769,
        "Stimulation": -0.08954210023631759,
        "Hedonism": -0.6680451422341588,
        "Achievement": -0.6734480819191964,
        "Power": 0.0773360670919217,
        "Security": -0.05166814396530994,
        "Conformity": -0.2909746552200616,
        "Tradition": -0.3973794892947927,
        "Benevolence": -0.038775164828122044,
        "Universalism": -1.4703995150787972,
    },
    "svs_structured": {
        "Self-Direction": 0.9409040804411472,
        "Stimulation": 0.9407903733515929,
        "Hedonism": 0.9536515852187348,
        "Achievement": 0.9317020467181785,
        "Power": 0.9107141076309151,
        "Security": 0.9331442322175847,
        "Conformity": 0.9274347036744892,
        "Tradition": 0.9255460659178696,
        "Benevolence": 0.9030168251664381,
        "Universalism": 0.9487801985574931,
    },
}
BUILD = {
    "pvq_structured": (lambda: pvq_structured(21), PVQ40),
    "pvq_uniform": (lambda: uniform(22, 40, 1, 6), PVQ40),
    "svs_structured": (lambda: svs_structured(23), SVS57),
}


@pytest.mark.parametrize("name", list(PINGOUIN))
def test_alpha_matches_pingouin(name: str) -> None:
    build, instrument = BUILD[name]
    ours = cronbach_alpha(build(), instrument)
    assert list(ours) == list(VALUES)
    for value, ref in PINGOUIN[name].items():
        assert ours[value] == pytest.approx(ref, abs=1e-12)


def test_alpha_hand_computed() -> None:
    # Items (1,2,3), (2,3,5): variances 1 and 7/3, covariance 3/2; sum-score variance
    # 1 + 7/3 + 2 * 3/2 = 19/3; alpha = 2 * (1 - (10/3) / (19/3)) = 18/19.
    x = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 5.0]])
    assert alpha_from_matrix(x) == pytest.approx(18 / 19)


def test_centering_uses_all_items_including_unkeyed() -> None:
    x = uniform(4, 57, -1, 7, n=5)
    c = center_items(x, SVS57)
    np.testing.assert_allclose(c.sum(axis=1), 0, atol=1e-12)
    assert c.shape == (5, 57)
    np.testing.assert_allclose(c[2], x[2] - x.mean(axis=1))  # item 2 is unkeyed


def test_degenerate_values_are_nan_not_errors() -> None:
    # a value with a single item
    toy_instr = Instrument("toy", 4, 1, 6, key={"A": (1,), "B": (2, 3, 4)})
    toy = pd.DataFrame(
        [[1.0, 2.0, 3.0, 1.0], [2.0, 4.0, 4.0, 5.0], [3.0, 1.0, 2.0, 2.0], [4.0, 5.0, 5.0, 2.0]],
        columns=[1, 2, 3, 4],
    )
    out = cronbach_alpha(toy, toy_instr)
    assert np.isnan(out["A"])
    assert np.isfinite(out["B"])
    # fewer than two personas
    x = uniform(5, 40, 1, 6, n=30)
    assert all(np.isnan(a) for a in cronbach_alpha(x.iloc[:1], PVQ40).values())
    # all answers identical -> every centered item is 0 -> zero variance -> NaN, no exception
    flat = pd.DataFrame(3.0, index=range(6), columns=range(1, 41))
    assert all(np.isnan(a) for a in cronbach_alpha(flat, PVQ40).values())
    # sum score with zero variance (two perfectly opposite items) -> NaN, not -inf
    assert np.isnan(alpha_from_matrix(np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])))


def test_missing_answers_listwise_per_value() -> None:
    x = pvq_structured(6)
    ref = cronbach_alpha(x.iloc[1:], PVQ40)
    x.loc["p0", 1] = np.nan  # item 1 is Self-Direction
    res = cronbach_alpha(x, PVQ40)
    # Self-Direction drops p0; p0's mean over the other 39 answers changes only p0's row.
    assert res["Self-Direction"] == pytest.approx(ref["Self-Direction"], abs=1e-12)
    assert res["Power"] != pytest.approx(ref["Power"], abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.floats(-3, 3))
def test_alpha_invariant_to_persona_shift_and_order(seed: int, shift: float) -> None:
    x = uniform(seed, 40, 1, 6, n=12)
    a = cronbach_alpha(x, PVQ40)
    b = cronbach_alpha(x.iloc[::-1] + shift, PVQ40)  # centering removes a common shift
    np.testing.assert_allclose(list(b.values()), list(a.values()), atol=1e-9)


def test_mean_alpha() -> None:
    assert mean_alpha({"a": 0.5, "b": float("nan"), "c": 0.7}) == pytest.approx(0.6)
    assert np.isnan(mean_alpha({"a": float("nan")}))
    assert np.isnan(mean_alpha({}))
