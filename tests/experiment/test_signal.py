"""The reliability stage: reliability.csv from stacked scores (synthetic experiments with known
components), the noise floor, the rows experiment.csv gains, and the typed reader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.experiment import (
    noise_floor,
    reliability_table,
    signal_metrics,
    synthetic_cube,
    synthetic_scores,
    true_icc,
)
from stickrole_utils.experiment.synthetic import DEFAULT_COMPONENTS
from stickrole_utils.layout import RunLayout
from stickrole_utils.records import RELIABILITY_COLUMNS, read_reliability

LEVELS = {"persona": 40, "context": 4, "seed": 4}


def _scores(models=("a", "b"), components=DEFAULT_COMPONENTS, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cubes = {m: synthetic_cube(components, LEVELS, rng=rng) for m in models}
    return synthetic_scores(cubes, LEVELS).assign(n_messages=3)


def test_reliability_table_holds_iccs_ceilings_and_components_per_model():
    rel = reliability_table(_scores(), n_boot=50)
    assert list(rel.columns[:len(RELIABILITY_COLUMNS)]) == list(RELIABILITY_COLUMNS)
    assert set(rel.model) == {"a", "b"}
    a = rel[(rel.model == "a") & (rel.value == "all")].set_index("quantity")["estimate"]
    icc1, icck = true_icc(DEFAULT_COMPONENTS, LEVELS["seed"])
    assert a["icc2_1"] == pytest.approx(icc1, abs=0.08)
    assert a["icc2_k"] == pytest.approx(icck, abs=0.05)
    assert a["noise_ceiling"] == pytest.approx(icc1, abs=0.08)
    assert a["retest_rank_order"] == pytest.approx(icc1, abs=0.1)
    assert a["component:persona"] == pytest.approx(DEFAULT_COMPONENTS["persona"], rel=0.3)
    per_cell = rel[(rel.model == "a") & (rel.quantity == "icc2_1") & (rel.value != "all")]
    assert len(per_cell) == 10 * 4 and per_cell.ci_low.lt(per_cell.estimate).all()


def test_the_summary_iccs_are_medians_robust_to_small_samples():
    """5 personas x 3 contexts x 3 seeds with little persona signal: single ICC(2,k) estimates
    run to -81 or +27,911 (near the estimator's pole), so their mean leaves [-1, 1] (it was 2.36
    on a real experiment); the summary row (value = chunk = all) is their median and stays a
    reliability. Seeds 4 and 27: one wild estimate pulls the mean either way."""
    levels = {"persona": 5, "context": 3, "seed": 3}
    for seed in (4, 27):
        cube = synthetic_cube({"persona": 0.05, "persona:context:seed": 1.0}, levels,
                              rng=np.random.default_rng(seed))
        rel = reliability_table(synthetic_scores({"a": cube}, levels).assign(n_messages=3),
                                n_boot=0)
        for q in ("icc2_1", "icc2_k"):
            cells = rel[(rel.quantity == q) & (rel.value != "all")]["estimate"]
            summary = rel[(rel.quantity == q) & (rel.value == "all")]["estimate"].item()
            assert len(cells) == 10 * 3
            assert summary == float(np.median(cells))
            assert -1 <= summary <= 1
        wild = rel[(rel.quantity == "icc2_k") & (rel.value != "all")]["estimate"]
        assert abs(wild.mean()) > 1  # what the mean would have shown
        rows = signal_metrics(rel).set_index("metric")["value"]
        assert rows["icc2_k"] == float(np.median(wild))  # experiment.csv shows the median


def test_a_model_family_makes_its_quantizations_a_factor():
    rng = np.random.default_rng(1)
    levels = {"persona": 30, "context": 3, "seed": 3, "quantization": 2}
    truth = {"persona": 1.0, "persona:quantization": 0.5, "persona:context:seed:quantization": 0.3}
    cube = synthetic_cube(truth, levels, n_values=10, rng=rng)
    parts = []
    for q, label in enumerate(["q4_k_m", "q8_0"]):
        sc = synthetic_scores({f"smol-{label}": cube[..., q]},
                              {k: v for k, v in levels.items() if k != "quantization"})
        parts.append(sc.assign(**{"factor:family": "smol", "factor:quantization": label}))
    rel = reliability_table(pd.concat(parts).assign(n_messages=3), n_boot=100)
    fam = rel[(rel.model == "family:smol") & (rel.value == "all")].set_index("quantity")
    assert fam.at["component:persona:quantization", "estimate"] == pytest.approx(0.5, abs=0.2)
    lo, hi = fam.loc["component:persona:quantization", ["ci_low", "ci_high"]]
    assert lo <= 0.5 <= hi


def test_a_grid_key_that_varies_is_a_factor_and_its_column_is_empty():
    a = _scores(models=("a",), seed=2)
    b = _scores(models=("a",), seed=3).assign(n_messages=5)
    rel = reliability_table(pd.concat([a, b]), n_boot=0)
    comp = rel[rel.quantity.str.startswith("component:")]
    assert comp.n_messages.isna().all()
    assert "component:persona:n_messages" in set(comp.quantity)
    iccs = rel[rel.quantity == "icc2_1"]
    assert set(iccs.n_messages) == {3, 5}  # ICCs stay per setting


def test_noise_floor_from_floor_models_or_a_permutation_null():
    scores = _scores()
    exp = pd.DataFrame({"model": ["d", "d", "a"], "seed": [0, 1, 0], "n_messages": 3,
                        "metric": "rank_order", "value": [0.02, -0.04, 0.6]})
    floor = noise_floor(exp, scores, ["d"]).iloc[0]
    assert floor.model == "floor:d" and floor.quantity == "noise_floor:rank_order"
    assert (floor.estimate, floor.ci_low, floor.ci_high) == pytest.approx((-0.01, -0.04, 0.02))
    perm = noise_floor(exp, scores, [], n_perm=50).set_index("quantity")
    assert perm.model.eq("permutation null").all()
    ro = perm.loc["noise_floor:rank_order"]
    assert abs(ro.estimate) < 0.05 and ro.ci_low < 0 < ro.ci_high
    # personas shuffled: the ipsative null is what every persona shares, not 0
    assert np.isfinite(perm.loc["noise_floor:ipsative", "estimate"])


def test_experiment_rows_and_the_typed_reader(tmp_path):
    rel = reliability_table(_scores(), n_boot=20)
    rows = signal_metrics(rel)
    assert list(rows.columns) == ["model", "seed", "n_messages", "metric", "value"]
    assert rows.seed.isna().all()
    assert {"icc2_1", "noise_ceiling", "share:persona", "share:persona:context"} <= set(
        rows.metric)
    layout = RunLayout(tmp_path)
    rel.to_csv(layout.reliability_csv, index=False)
    back = read_reliability(tmp_path)
    assert back is not None and len(back) == len(rel) and back.value.eq(rel.value).all()
    assert read_reliability(tmp_path / "nowhere") is None


def _answers_points(tmp_path, models, seeds=(1, 0), n_personas=60):
    """Grid points (point, config-like) whose runs hold synthetic answers of ``models``."""
    from types import SimpleNamespace

    from stickrole_utils.datasets import synthetic_answers

    points = []
    for seed in seeds:
        run_dir = tmp_path / f"seed_{seed}"
        answers = synthetic_answers({m: 0.8 for m in models}, n_personas=n_personas, seed=seed,
                                    chunks=["ctx_a", "ctx_b", "ctx_c"])
        for m in models:
            path = RunLayout(run_dir).answers(m)
            path.parent.mkdir(parents=True, exist_ok=True)
            answers[answers.model == m].to_parquet(path)
        points.append(({"seed": seed}, SimpleNamespace(
            run_dir=run_dir, generation=SimpleNamespace(seed=seed, n_messages=1))))
    return points


def test_invariance_table_fits_the_lowest_seed_and_puts_omega_beside_alpha(tmp_path):
    from stickrole_utils.analysis.invariance import mcdonald_omega
    from stickrole_utils.analysis.reliability import cronbach_alpha
    from stickrole_utils.analysis.scoring import item_matrix
    from stickrole_utils.design.instruments import PVQ40
    from stickrole_utils.experiment.signal import invariance_table
    from stickrole_utils.records import INVARIANCE_COLUMNS

    points = _answers_points(tmp_path, ["m", "dummy"])
    inv, rel = invariance_table(points, ["m", "dummy"], skip=["dummy"], max_free=0)
    assert list(inv.columns) == [*INVARIANCE_COLUMNS, "n_messages"]
    assert set(inv.model) == {"m"} and set(inv.seed) == {0}  # the floor model left out
    # 4 CFA models x 3 levels x 2 forms (60 personas in 3 contexts: the longitudinal form
    # fits), no search
    assert len(inv) == 4 * 3 * 2 and inv.converged.all()
    assert inv.form.tolist() == ["multigroup"] * 12 + ["longitudinal"] * 12
    assert set(inv.level) == {"configural", "metric", "scalar"}
    # omega from the configural fit = omega from a single-group fit of that context alone
    answers = pd.read_parquet(RunLayout(tmp_path / "seed_0").answers("m"))
    x = item_matrix(answers[answers.chunk == "ctx_b"])
    omega = rel[(rel.quantity == "omega") & (rel.chunk == "ctx_b") & (rel.value != "all")]
    alone = mcdonald_omega(x, PVQ40)
    for r in omega.itertuples():
        assert r.estimate == pytest.approx(alone[r.value], abs=1e-5)
        assert 0 < r.estimate < 1
    alpha = rel[(rel.quantity == "alpha") & (rel.chunk == "ctx_b") & (rel.value != "all")]
    assert dict(zip(alpha.value, alpha.estimate, strict=True)) == pytest.approx(
        cronbach_alpha(x, PVQ40))
    assert len(rel[rel.value == "all"]) == 2 * 3  # mean per quantity and context
