"""Tests for stickrole_utils.analysis.structure.

Reference numbers: scikit-learn 1.6.1 run by ``tests/reference/mds_sklearn16.py`` on the seeded
data sets of ``tests/reference/synthetic.py`` (stress and n_iter pasted below; embeddings, rounded
to 1e-8, read from ``tests/reference/mds_sklearn16.json``).
"""

from __future__ import annotations

import json
import sys
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ConstantInputWarning, spearmanr
from sklearn.isotonic import IsotonicRegression

from stickrole_utils.analysis.mds import (
    TIE_TOLERANCE,
    _isotonic,
    _tie_groups,
    mds_dissimilarities,
    smacof_nonmetric,
)
from stickrole_utils.analysis.structure import (
    MAX_RANK_DISTANCE,
    circular_rank_distance,
    item_intercorrelations,
    rank_distance,
    structure_stress,
    value_structure,
)
from stickrole_utils.design.instruments import PVQ40, SVS57, get_instrument
from stickrole_utils.design.values import THEORETICAL_COORDS, VALUES, theoretical_coords

REF_DIR = Path(__file__).parent / "reference"
sys.path.insert(0, str(REF_DIR))
from synthetic import MDS_DATASETS, pvq_structured, uniform  # noqa: E402

# (stress_, n_iter_) from scikit-learn 1.6.1 (tests/reference/mds_sklearn16.py).
# original: MDS(n_components=2, metric=False, normalized_stress=True).fit(R, init=theoretical)
# dissimilarity: same, dissimilarity="precomputed" on 1 - R
# original_long: original with eps=1e-7, max_iter=200
SKLEARN16 = {
    "pvq_structured": {"original": (0.09762407213404573, 3), "dissimilarity": (0.1035112011568162, 3), "original_long": (0.0103885772121174, 186)},
    "pvq_uniform": {"original": (0.29286343316524066, 3), "dissimilarity": (0.29251847660762914, 3), "original_long": (0.29407693328955314, 5)},
    "svs_uniform": {"original": (0.30037715790662245, 3), "dissimilarity": (0.3004649789396611, 3), "original_long": (0.3017927605504393, 5)},
    "svs_structured": {"original": (0.09084989483687475, 3), "dissimilarity": (0.10613490841962613, 3), "original_long": (0.014613515274282564, 200)},
    "pvq_constants": {"original": (0.12029243442550476, 4), "dissimilarity": (0.14757335974573546, 3), "original_long": (0.0527706938778269, 68)},
}  # fmt: skip

CASES = [(d, v) for d in SKLEARN16 for v in SKLEARN16[d]]

#: Agreement with scikit-learn 1.6.1 (see test_stress_matches_sklearn_16 for the argument).
STRESS_TOL_SAME_ITER = 1e-5
EMBEDDING_TOL_SAME_ITER = 1e-3
STRESS_TOL_REPORTED = 1e-3


@pytest.fixture(scope="module")
def ref_embeddings() -> dict:
    return json.loads((REF_DIR / "mds_sklearn16.json").read_text())


@pytest.mark.parametrize(("dataset", "variant"), CASES)
def test_stress_matches_sklearn_16(dataset: str, variant: str, ref_embeddings: dict) -> None:
    build, instr = MDS_DATASETS[dataset]
    kwargs = {"eps": 1e-7, "max_iter": 200} if variant == "original_long" else {}
    res = value_structure(
        build(), get_instrument(instr), variant=variant.replace("_long", ""), **kwargs
    )
    stress, n_iter = SKLEARN16[dataset][variant]
    emb = np.array(ref_embeddings[dataset][variant]["embedding"])
    coords = res.coords[["x", "y"]].to_numpy()
    # What agreement is promised, and why not to the last bit: Stress is reported to 3
    # decimals, and the coordinates only feed the value centroids' angle order. Non-metric MDS
    # uses only the order of the dissimilarities and pools nearly equal fitted distances, so where
    # two of them differ by rounding, another CPU's BLAS can order or pool them differently.
    # Exact ties are grouped robustly (mds.TIE_TOLERANCE); measured with OpenBLAS core
    # types Haswell, Zen, SkylakeX, Sandybridge, Nehalem and Prescott the largest differences
    # from scikit-learn 1.6.1 were 1.6e-7 in Stress and 5e-5 in a coordinate (svs_uniform,
    # 5 iterations at eps 1e-7). Tolerances: two decimals beyond what is reported. Where the
    # stopping test (decrease of normalised Stress < eps) sits within rounding of eps, the
    # run may stop one iteration earlier or later; one SMACOF step then changes Stress by less
    # than the reported resolution.
    if res.n_iter == n_iter:
        assert abs(res.stress - stress) <= STRESS_TOL_SAME_ITER
        assert np.abs(coords - emb).max() <= EMBEDDING_TOL_SAME_ITER
    else:
        assert abs(res.n_iter - n_iter) == 1
        assert abs(res.stress - stress) <= STRESS_TOL_REPORTED
    assert res.note == ""


def _pairwise_spearman_like_original(x: pd.DataFrame, items: list[int]) -> np.ndarray:
    r = np.eye(len(items))
    for (a, i), (b, j) in combinations(enumerate(items), 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConstantInputWarning)
            try:
                c = spearmanr(x[i], x[j])[0]
            except ConstantInputWarning:
                c = 1.0 if x[i].nunique() == 1 and x[j].nunique() == 1 else 0.0
        r[a, b] = r[b, a] = c
    return r


def test_intercorrelations_match_pairwise_spearman_with_overrides() -> None:
    x = MDS_DATASETS["pvq_constants"][0]()
    r = item_intercorrelations(x, PVQ40)
    assert list(r.index) == sorted(PVQ40.keyed_items)
    ref = _pairwise_spearman_like_original(x, list(PVQ40.keyed_items))
    np.testing.assert_allclose(r.to_numpy(), ref, atol=1e-12)
    assert r.loc[1, 5] == 1.0  # both constant
    assert r.loc[1, 7] == 1.0  # both constant (different constants)
    assert r.loc[1, 2] == 0.0  # one constant
    assert np.all(np.diag(r.to_numpy()) == 1.0)


def test_intercorrelations_svs_only_keyed_items_and_listwise_deletion() -> None:
    x = uniform(3, 57, -1, 7)
    x.iloc[0, 0] = np.nan  # item 1 (keyed) -> persona p0 dropped
    x.iloc[1, 1] = np.nan  # item 2 (unkeyed) -> persona p1 kept
    r = item_intercorrelations(x, SVS57)
    assert r.shape == (46, 46)
    ref = _pairwise_spearman_like_original(x.iloc[1:], list(SVS57.keyed_items))
    np.testing.assert_allclose(r.to_numpy(), ref, atol=1e-12)


def test_tie_pooling_matches_sklearn_isotonic_regression() -> None:
    rng = np.random.default_rng(5)
    xw = rng.integers(0, 30, 400).astype(float)  # many ties
    yw = rng.normal(size=400)
    _, groups = _tie_groups(xw)
    w = np.bincount(groups).astype(float)
    means = np.bincount(groups, weights=yw) / w
    from sklearn.isotonic import isotonic_regression

    ours = isotonic_regression(means, sample_weight=w)[groups]
    ref = IsotonicRegression().fit_transform(xw, yw)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_isotonic_equals_sklearn_isotonic_regression_exactly() -> None:
    """SMACOF's isotonic step skips scikit-learn's argument checks (scipy's function where
    scikit-learn itself calls it): the same floats, ties pooled or not."""
    from sklearn.isotonic import isotonic_regression

    rng = np.random.default_rng(8)
    for y, w in ((rng.normal(size=500), rng.integers(1, 4, 500).astype(float)),
                 (np.sort(rng.random(50))[::-1].copy(), np.ones(50)),
                 (np.repeat(rng.random(20), 3), rng.random(60))):
        np.testing.assert_array_equal(_isotonic(y, w),
                                      isotonic_regression(y, sample_weight=w, increasing=True))


def _tie_groups_by_loop(x: np.ndarray) -> np.ndarray:
    """_tie_groups' rule spelled out: a group starts where a value exceeds its group's first
    value by the window."""
    order = np.argsort(x, kind="stable")
    eps = TIE_TOLERANCE * max(float(np.abs(x).max()), 1.0)
    gid, g, first = [], 0, x[order[0]]
    for v in x[order]:
        if v - first >= eps:
            g, first = g + 1, v
        gid.append(g)
    out = np.empty(len(x), dtype=np.intp)
    out[order] = gid
    return out


def test_tie_groups_with_and_without_ties_follow_the_rule() -> None:
    rng = np.random.default_rng(4)
    distinct = rng.random(300) + 1
    near = distinct.copy()
    near[::7] = near[1::7][: len(near[::7])] * (1 + 3e-13)  # ties within the window
    for x in (distinct, near, np.array([2.0]), np.array([1.0, 1.0, 1.0 + 1e-9])):
        np.testing.assert_array_equal(_tie_groups(x)[1], _tie_groups_by_loop(x))
    assert len(set(_tie_groups(near)[1])) < len(near)


@pytest.mark.parametrize("variant", ["original", "dissimilarity"])
def test_structure_stress_equals_value_structure(variant: str) -> None:
    """The bootstrap's Stress from a numpy matrix is value_structure's, bit for bit, NaN cases
    included (missing answers, too few personas, all items constant)."""
    keyed = list(PVQ40.keyed_items)
    x = pvq_structured(3, n=30)
    x.iloc[0, 5] = np.nan
    for items in (x, x.iloc[:4], pd.DataFrame(4.0, index=range(6), columns=range(1, 41))):
        ref = value_structure(items, PVQ40, variant=variant).stress
        got = structure_stress(items[keyed].to_numpy(float), PVQ40, variant)
        assert got == ref or (np.isnan(got) and np.isnan(ref))


def test_dissimilarity_variants() -> None:
    r = np.array([[1.0, 0.5, -0.2], [0.5, 1.0, 0.1], [-0.2, 0.1, 1.0]])
    d = mds_dissimilarities(r, "dissimilarity")
    np.testing.assert_allclose(d, 1 - r)
    e = mds_dissimilarities(r, "original")
    assert e[0, 1] == pytest.approx(np.linalg.norm(r[0] - r[1]))
    assert np.all(np.diag(e) == 0)
    with pytest.raises(ValueError, match="variant"):
        mds_dissimilarities(r, "bogus")  # type: ignore[arg-type]


def test_smacof_perfect_configuration_has_zero_stress() -> None:
    # Points on a line: distances are their own monotone image -> stress 0 from the start.
    pts = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.5]])
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    _, stress, _ = smacof_nonmetric(d, pts)
    assert stress == pytest.approx(0.0, abs=1e-12)


def test_too_few_personas_is_nan_with_note() -> None:
    res = value_structure(pvq_structured(1, n=2), PVQ40)
    assert np.isnan(res.stress) and np.isnan(res.rank_distance)
    assert "2 persona" in res.note
    assert len(res.coords) == 40


def test_all_items_constant_is_nan_with_note() -> None:
    x = pd.DataFrame(4.0, index=range(10), columns=range(1, 41))
    res = value_structure(x, PVQ40)
    assert np.isnan(res.stress)
    assert "zero" in res.note


def test_missing_answers_drop_personas() -> None:
    x = pvq_structured(2)
    ref = value_structure(x.iloc[2:], PVQ40)
    x.iloc[0, 3] = np.nan
    x.iloc[1, 10] = np.nan
    res = value_structure(x, PVQ40)
    assert res.n_personas == 48
    assert res.stress == ref.stress


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_stress_invariant_to_persona_order(seed: int) -> None:
    x = uniform(seed, 40, 1, 6, n=20)
    perm = np.random.default_rng(seed).permutation(len(x))
    a = value_structure(x, PVQ40)
    b = value_structure(x.iloc[perm], PVQ40)
    assert b.stress == pytest.approx(a.stress, abs=1e-6)  # rounding only: same iterations
    assert 0 <= a.stress <= 1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10), shift=st.floats(-5, 5))
def test_stress_invariant_to_monotone_rescaling(seed: int, scale: float, shift: float) -> None:
    x = uniform(seed, 40, 1, 6, n=15)
    a = value_structure(x, PVQ40)
    b = value_structure(x * scale + shift, PVQ40)  # Spearman is rank-based
    assert b.stress == pytest.approx(a.stress, abs=1e-6)  # rounding only: same iterations


def test_circular_rank_distance_and_rank_distance() -> None:
    theo = np.array([1, 2, 3, 4, 5, 6, 7.5, 7.5, 9, 10])
    assert circular_rank_distance(np.arange(10.0), np.arange(1, 11)) == 0.0
    # CO/TR share a theoretical rank: any strict order is 0.5 off for both -> 1/10.
    assert circular_rank_distance(np.arange(10.0), theo) == pytest.approx(0.1)
    # The theoretical circle itself (CCW) -> 0.1 / 3.4
    vc = pd.DataFrame(
        {"value": list(VALUES), "x": [THEORETICAL_COORDS[v][0] for v in VALUES],
         "y": [THEORETICAL_COORDS[v][1] for v in VALUES]}
    )  # fmt: skip
    assert rank_distance(vc) == pytest.approx(0.1 / MAX_RANK_DISTANCE)
    # Mirrored circle (CW order) gives the same value: min over CCW/CW.
    assert rank_distance(vc.assign(x=-vc["x"])) == pytest.approx(0.1 / MAX_RANK_DISTANCE)
    assert np.isnan(rank_distance(vc.iloc[:9]))


def test_result_frames_have_documented_columns() -> None:
    res = value_structure(pvq_structured(4), PVQ40)
    assert list(res.coords.columns) == ["item", "value", "x", "y"]
    assert list(res.value_coords.columns) == ["value", "x", "y"]
    assert list(res.value_coords["value"]) == list(VALUES)
    sd = res.coords[res.coords["value"] == "Self-Direction"][["x", "y"]].mean()
    assert res.value_coords.iloc[0]["x"] == pytest.approx(sd["x"])


@pytest.mark.parametrize("dataset", ["pvq_constants", "svs_uniform", "pvq_structured"])
@pytest.mark.parametrize("variant", ["original", "dissimilarity"])
def test_stress_unmoved_by_rounding_of_the_correlations(dataset: str, variant: str) -> None:
    """Correlations that differ only by rounding (as on another CPU) give the same Stress: equal
    dissimilarities stay one tie and identical rows stay at distance 0 (mds.TIE_TOLERANCE)."""
    build, instr = MDS_DATASETS[dataset]
    ins = get_instrument(instr)
    r = item_intercorrelations(build(), ins).to_numpy()
    init = theoretical_coords([ins.item_value[i] for i in ins.keyed_items])
    _, ref, _ = smacof_nonmetric(mds_dissimilarities(r, variant), init)
    rng = np.random.default_rng(0)
    for _ in range(10):
        noise = rng.normal(size=r.shape) * 1e-14
        noise = (noise + noise.T) / 2
        np.fill_diagonal(noise, 0.0)
        _, stress, _ = smacof_nonmetric(mds_dissimilarities(r + noise, variant), init)
        assert stress == pytest.approx(ref, abs=1e-9)
