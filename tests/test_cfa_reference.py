"""stickrole's CFA verdicts and fit indices against lavaan on a broad reference set.

Reference: R 4.2 + lavaan 0.6-14, ``cfa(model, data, std.lv = TRUE)`` + ``fitMeasures``, run by
``tests/reference/cfa_lavaan.R`` on the data sets of ``tests/reference/make_cfa_fixtures.py``
(``REFERENCE_DATASETS``: structured, weak, near-random, uniform and skewed noise, constant and
near-constant items, 20-200 personas, PVQ-40 and SVS-57; four models each). Output committed (all 301 fits of the 76 data sets) in
``tests/reference/cfa_lavaan.csv`` (CI has no R).

Two regimes, told apart on lavaan's side by how long its optimizer ran:

* finite: lavaan stopped with an error, or converged (``ok`` or latent r >= 1) within a few dozen
  nlminb iterations - the ML discrepancy has a minimum, proper or improper. lavaan's verdict is
  a property of the data there, and stickrole must agree on every such row.
* path: lavaan's final optimizer attempt ran >= ``PATH_ITERATIONS`` iterations, or all four of
  its attempts failed. On near-random answers the ML discrepancy often has no minimum: F keeps
  decreasing while a loading (or a latent correlation) runs off to infinity. nlminb then crawls
  for thousands of iterations and lavaan's verdict depends on where rounding lets it stop: refit
  on the same data with the personas in another order (only the last bits of the sample
  covariance change), lavaan flips converged / not converged (columns ``stable`` and
  ``perm_status`` for the nine noise chunks). stickrole reports these as not converged
  (``"diverging Heywood case"``); agreement there is counted and printed, not required: no
  deterministic rule can match a verdict that moves when only the order of the rows does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis.cfa import CFA_GROUPS, fit_magnifying_glass
from stickrole_utils.design.instruments import get_instrument

sys.path.insert(0, str(Path(__file__).parent / "reference"))
from make_cfa_fixtures import NOISE_CHUNKS, REFERENCE_DATASETS  # noqa: E402

REF = pd.read_csv(Path(__file__).parent / "reference" / "cfa_lavaan.csv", skipinitialspace=True)
REF["verdict"] = REF["status"].where(~REF["status"].str.startswith("error"), "error")

#: lavaan's last nlminb attempt ran at least this long: a divergent path, not a minimum
#: (minima are reached in < 110 iterations throughout the set; divergent paths take 300-10000).
PATH_ITERATIONS = 300

#: |stickrole - lavaan| allowed for CFI, TLI, SRMR, RMSEA where both converge: lavaan's own
#: stopping rule (nlminb rel.tol 1e-10 on F) leaves the indices accurate to ~1e-6; the
#: leaderboard prints 4 decimals (jsonlite) and averages; 0.005 is the product's promise.
TOL = 0.005

#: The original's failure rule: a failed fit enters the leaderboard as CFI 0, SRMR 1, RMSEA 1.
FAILED = {"cfi": 0.0, "srmr": 1.0, "rmsea": 1.0}


def _ours_verdict(res: dict) -> str:
    if res["converged"]:
        return "ok"
    note = res["note"]
    if "zero-variance" in note:
        return "error"
    if "latent correlation" in note and ">= 1" in note:
        return "lv_cor_ge_1"
    return "not_converged"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    fits = {}
    for name in REF["dataset"].unique():
        build, instrument = REFERENCE_DATASETS[name]
        fits[name] = fit_magnifying_glass(build(), get_instrument(instrument))
    rows = []
    for r in REF.itertuples():
        res = fits[r.dataset][r.group]
        finite = r.verdict == "error" or (
            r.verdict in ("ok", "lv_cor_ge_1") and r.iterations < PATH_ITERATIONS
        )
        rows.append(
            {
                "dataset": r.dataset,
                "group": r.group,
                "regime": "finite" if finite else "path",
                "lavaan": r.verdict,
                "ours": _ours_verdict(res),
                "lavaan_used": r.verdict == "ok",
                "ours_used": bool(res["converged"]),
                "note": res["note"],
                **{f"lavaan_{k}": getattr(r, k) for k in ("cfi", "tli", "srmr", "rmsea")},
                **{k: res[k] for k in ("cfi", "tli", "srmr", "rmsea")},
            }
        )
    return pd.DataFrame(rows)


def agreement_report(table: pd.DataFrame) -> str:
    """The confusion tables (lavaan rows x stickrole columns) and agreement rates, as text."""
    out = [f"{len(table)} fits ({table['dataset'].nunique()} data sets x 4 models)", ""]
    for title, part in (
        ("all fits", table),
        ("finite regime", table[table["regime"] == "finite"]),
        ("path regime", table[table["regime"] == "path"]),
    ):
        ct = pd.crosstab(part["lavaan"], part["ours"], margins=True)
        same = (part["lavaan_used"] == part["ours_used"]).mean()
        out += [
            f"{title}: {len(part)} fits; same used/failed decision on {same:.1%}",
            ct.to_string(),
            "",
        ]
    for regime in ("finite", "path"):
        both = table[table["lavaan_used"] & table["ours_used"] & (table["regime"] == regime)]
        if both.empty:
            continue
        deltas = ", ".join(
            f"{k} {np.abs(both[k] - both[f'lavaan_{k}']).max():.2g}"
            for k in ("cfi", "tli", "srmr", "rmsea")
        )
        out.append(
            f"{regime} regime, max |stickrole - lavaan| over {len(both)} fits both converged: "
            f"{deltas}"
        )
    return "\n".join(out)


def test_reference_set_is_broad() -> None:
    # every planned data set: 76 x 4 models (lavaan needs up to a minute per noise fit)
    assert len(REF) >= 300
    assert set(REF["group"]) == set(CFA_GROUPS)
    assert set(REF["instrument"]) == {"pvq40", "svs57"}
    assert REF["n"].min() == 20 and REF["n"].max() == 200
    names = " ".join(REF["dataset"].unique())
    for kind in ("struct", "nearrandom", "uniform", "skewed", "nearconst", "const"):
        assert kind in names
    assert set(REF["verdict"]) == {"ok", "not_converged", "lv_cor_ge_1", "error"}


def test_decision_agreement(table: pd.DataFrame) -> None:
    report = agreement_report(table)
    print("\n" + report)
    finite = table[table["regime"] == "finite"]
    wrong = finite[finite["lavaan_used"] != finite["ours_used"]]
    print("finite-regime disagreements:\n" + wrong[["dataset", "group", "lavaan", "ours"]].to_string())
    assert len(finite) >= 100
    # the target (99 %) where lavaan's verdict is a property of the data; measured 99.5 %
    # (204 of 205) since the quasi-Newton search follows lavaan's basin (Fisher scoring alone:
    # 97.6 %). The one left: noise_chunk4 self_enhancement, lavaan reaches a proper minimum
    # that our search, from the same start, misses for a run-off.
    assert (finite["lavaan_used"] == finite["ours_used"]).mean() >= 0.99
    assert (table["ours_used"] & ~table["lavaan_used"]).sum() <= 1
    # on divergent paths stickrole fails, with the reason -- except where it reaches a genuine
    # stationary point (gradient < 1e-9): svs_uniform5_n200 self_transcendence, where lavaan
    # too reports a fit after 6,702 iterations, at another point of a flat valley
    path = table[table["regime"] == "path"]
    used = path[path["ours_used"]]
    assert len(used) <= 1
    assert path.loc[~path["ours_used"], "note"].str.contains("Heywood|no stationary point").all()


def test_fit_indices_agree_wherever_both_converge(table: pd.DataFrame) -> None:
    # where lavaan reached a minimum; on a divergent path it reports wherever it stopped
    # (TLI, unbounded, then moves by up to 0.76 on one fit while CFI is 1 for both)
    both = table[table["lavaan_used"] & table["ours_used"] & (table["regime"] == "finite")]
    assert len(both) >= 70
    for k in ("cfi", "tli", "srmr", "rmsea"):
        delta = np.abs(both[k] - both[f"lavaan_{k}"])
        assert (delta <= TOL).all(), both.loc[delta > TOL, ["dataset", "group", k]]
        assert delta.max() < 1e-5  # in practice far tighter than promised


def _chunk_means(values: pd.DataFrame, used: pd.Series) -> pd.Series:
    filled = {k: values[k].where(used, FAILED[k]) for k in FAILED}
    return pd.DataFrame(filled).mean()


def test_pure_noise_leaderboard_columns(table: pd.DataFrame) -> None:
    """Uniform-random PVQ-40, 50 personas x 9 chunks: the original's per-chunk CFI/SRMR/RMSEA."""
    rows = []
    for chunk in NOISE_CHUNKS:
        t = table[table["dataset"] == chunk]
        ref = REF[REF["dataset"] == chunk].set_index("group").loc[t["group"]]
        lav_values = pd.DataFrame({k: t[f"lavaan_{k}"] for k in FAILED})
        lav = _chunk_means(lav_values, t["lavaan_used"])
        ours = _chunk_means(t, t["ours_used"])
        perm_used = (ref["perm_status"] == "ok").to_numpy()
        perm = pd.DataFrame(
            {k: ref[f"perm_{k}"].astype(float).to_numpy() for k in FAILED}, index=t.index
        )
        lav_perm = _chunk_means(perm, pd.Series(perm_used, index=t.index))
        # decided by rounding: lavaan reported a fit found at the end of a divergent path
        coin = bool((t["lavaan_used"] & (t["regime"] == "path")).any())
        rows.append(
            {
                "chunk": chunk,
                **{f"lavaan_{k}": lav[k] for k in FAILED},
                **{f"lavaan_permuted_{k}": lav_perm[k] for k in FAILED},
                **{f"ours_{k}": ours[k] for k in FAILED},
                "lavaan_stable": bool((ref["stable"] == 1).all()),
                "rounding_decided": coin,
            }
        )
    cols = pd.DataFrame(rows).set_index("chunk")
    with pd.option_context("display.width", 200, "display.precision", 3):
        print("\n" + cols.to_string())
        means = cols.drop(columns=["lavaan_stable", "rounding_decided"]).mean()
        print("mean over chunks:\n" + means.round(3).to_string())
    present = cols.dropna()
    assert len(present) >= 7
    # lavaan itself moves when only the order of the personas changes (chunks 4, 5: CFI 0.5 -> 0)
    moved = np.abs(present["lavaan_permuted_cfi"] - present["lavaan_cfi"]) > TOL
    assert moved.any()
    same_decisions = [
        (table.loc[table["dataset"] == c, "lavaan_used"]
         == table.loc[table["dataset"] == c, "ours_used"]).all()
        for c in present.index
    ]  # fmt: skip
    agree = present[same_decisions]
    assert len(agree) >= 1
    for k in FAILED:
        # where our four verdicts equal lavaan's, the chunk's leaderboard values agree
        assert (np.abs(agree[f"ours_{k}"] - agree[f"lavaan_{k}"]) <= TOL).all(), k
