"""stickrole's CFA verdicts and fit indices against lavaan, and the stability of lavaan's verdicts.

Reference: R 4.2.2 + lavaan 0.6-14, ``cfa(model, data, std.lv = TRUE)`` + ``fitMeasures``, run by
``tests/reference/cfa_lavaan.R`` on the data sets of ``tests/reference/make_cfa_fixtures.py``
(structured, weak, near-random and noise answers, constant and near-constant items, 20-200
personas, PVQ-40 and SVS-57; the nine reference noise chunks; six fresh nine-chunk noise sets as
the leaderboard's protocol has them; near-random sets at signal 0.05). Output committed in
``tests/reference/cfa_lavaan.csv`` (CI has no R).

Each lavaan verdict comes with its stability: the same model refitted on 10 copies of the answers
perturbed by 1e-15 (relative) and on 30 row permutations (columns ``pert_*``, ``perm_*``). The
leaderboard uses a fit or fails it, so a verdict is *stable* here when all 41 runs agree on that
(``ok`` in all, or in none; the CSV's own ``stable`` column is stricter: same ok / nc / lv / err).
Elsewhere the verdict is decided by rounding, and any deterministic answer is as good as lavaan's
own, provided the leaderboard columns stay inside the range lavaan's variants span. The R script
stops a row's variants at the first disagreement outside the nine reference chunks (the row is
then labelled unstable). Crawls (> 299 iterations) outside the nine reference chunks and the
near-random sets were labelled cheapest first (``ONLY``); the 32 slowest have a file-order
verdict only (``variants_done`` 0: their 40 variants would take lavaan hours each here); they
carry no label and count for the leaderboard columns and the random baseline only.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis import cfa as cfa_module
from stickrole_utils.analysis import cfa_ml
from stickrole_utils.analysis.cfa import CFA_GROUPS, fit_cfa, fit_magnifying_glass
from stickrole_utils.analysis.cfa_ml import CRAWL_RULE
from stickrole_utils.design.instruments import get_instrument

sys.path.insert(0, str(Path(__file__).parent / "reference"))
from make_cfa_fixtures import (  # noqa: E402
    NEAR_RANDOM_SETS,
    NOISE_CHUNKS,
    NOISE_SETS,
    REFERENCE_DATASETS,
)

REF = pd.read_csv(Path(__file__).parent / "reference" / "cfa_lavaan.csv",
                  dtype={"pert_status": str, "perm_status": str})
REF["verdict"] = REF["status"].where(~REF["status"].str.startswith("error"), "error")
REF["labelled"] = REF["variants_done"] == 40


def _used_everywhere(row: pd.Series) -> float:
    """Share of lavaan's 41 runs (file order and variants) that use the fit (verdict ok)."""
    runs = [row["status"]] + [v for k in ("pert_status", "perm_status")
                              for v in (row[k].split(";") if isinstance(row[k], str) else [])]
    return float(np.mean([v == "ok" for v in runs]))


REF["p_used"] = REF.apply(_used_everywhere, axis=1)
REF["stable_used"] = REF["labelled"] & REF["p_used"].isin([0.0, 1.0])
# a row whose variants stopped at a used/failed disagreement is known to be unstable
REF["labelled"] |= (REF["variants_done"] > 0) & ~REF["p_used"].isin([0.0, 1.0])

#: lavaan's last attempt ran at least this long: a crawl along a valley without a minimum
#: (minima are reached within ~250 iterations throughout the set)
PATH_ITERATIONS = 300

#: The original's failure rule: a failed fit enters the leaderboard as CFI 0, SRMR 1, RMSEA 1.
FAILED = {"cfi": 0.0, "srmr": 1.0, "rmsea": 1.0}

_SHORT = {"ok": "ok", "not_converged": "nc", "lv_cor_ge_1": "lv", "error": "err"}


def _ours_verdict(res: dict) -> str:
    if res["converged"]:
        return "ok"
    note = res["note"]
    if "zero-variance" in note:
        return "error"
    if "latent correlation" in note and ">= 1" in note:
        return "lv_cor_ge_1"
    return "not_converged"


def _variants(row: pd.Series, key: str) -> list[str]:
    out = []
    for kind in ("pert", "perm"):
        v = row[f"{kind}_{key}"]
        if isinstance(v, str) and v:
            out += v.split(";")
    return out


@pytest.fixture(scope="module")
def judged() -> tuple[dict, set]:
    """Every reference fit with ``cfa_crawls: judge`` (``crawl=CRAWL_RULE``), and the pairs where
    the rule stopped an attempt (elsewhere ``follow`` takes the same steps, bit for bit)."""
    out, stopped = {}, set()
    current: list = []

    def recording_fit_ml(problem, start, crawl=None):  # noqa: ANN001
        est = cfa_ml.fit_ml(problem, start, crawl=crawl)
        current.append(any(a.crawl is not None for a in est.attempts))
        return est

    cfa_module.fit_ml = recording_fit_ml
    try:
        for name in REF["dataset"].unique():
            build, instrument = REFERENCE_DATASETS[name]
            items, inst = build(), get_instrument(instrument)
            out[name] = {}
            for g in CFA_GROUPS:
                current.clear()
                out[name][g] = fit_cfa(items, inst, g, crawl=CRAWL_RULE)
                if any(current):
                    stopped.add((name, g))
    finally:
        cfa_module.fit_ml = cfa_ml.fit_ml
    return out, stopped


@pytest.fixture(scope="module")
def fits(judged: tuple[dict, set]) -> dict:
    return judged[0]


class _Followed(dict):
    """Every reference fit with the default ``cfa_crawls: follow`` (``crawl=None``):
    ``followed[data set][model]``. A fit where the rule stopped an attempt is refitted, following
    every crawl to nlminb's end, when first looked up (the refits take ~30 s in all: each test
    pays for those it uses); the others are the judged fits (the same steps)."""

    def __init__(self, judged: tuple[dict, set]) -> None:
        super().__init__()
        self.judged, self.stopped = judged

    def __missing__(self, name: str) -> dict:
        self[name] = _FollowedSet(self, name)
        return self[name]


class _FollowedSet(dict):
    def __init__(self, parent: _Followed, name: str) -> None:
        super().__init__()
        self.parent, self.name = parent, name

    def __missing__(self, group: str) -> dict:
        if (self.name, group) in self.parent.stopped:
            build, instrument = REFERENCE_DATASETS[self.name]
            self[group] = fit_cfa(build(), get_instrument(instrument), group, crawl=None)
        else:
            self[group] = self.parent.judged[self.name][group]
        return self[group]


@pytest.fixture(scope="module")
def followed(judged: tuple[dict, set]) -> dict:
    return _Followed(judged)


def _mode_fits(request: pytest.FixtureRequest, mode: str) -> dict:
    return request.getfixturevalue("followed" if mode == "follow" else "fits")


@pytest.fixture(scope="module")
def table(fits: dict) -> pd.DataFrame:
    rows = []
    for r in REF.itertuples():
        res = fits[r.dataset][r.group]
        short = r.verdict == "error" or (
            r.verdict in ("ok", "lv_cor_ge_1") and r.iterations < PATH_ITERATIONS
        )
        rows.append(
            {
                "dataset": r.dataset,
                "group": r.group,
                "set": _set_of(r.dataset),
                "regime": "minimum" if short else "path",
                "labelled": r.labelled,
                "stable": bool(r.stable_used),
                "p_used": r.p_used,
                "lavaan": r.verdict,
                "ours": _ours_verdict(res),
                "lavaan_used": r.verdict == "ok",
                "ours_used": bool(res["converged"]),
                "note": res["note"],
                **{f"lavaan_{k}": getattr(r, k) for k in ("chisq", "cfi", "tli", "srmr", "rmsea")},
                **{k: res[k] for k in ("cfi", "tli", "srmr", "rmsea")},
                "chisq": res["chi2"],
                "df": r.df,
            }
        )
    return pd.DataFrame(rows)


def _set_of(name: str) -> str:
    if name in NOISE_CHUNKS:
        return "reference noise chunks"
    if name in NOISE_SETS:
        return "fresh noise sets"
    if name in NEAR_RANDOM_SETS:
        return "near-random 0.05"
    return "reference set"


def agreement_report(table: pd.DataFrame) -> str:
    """Same used/failed decision, by set and regime, on the fits whose lavaan verdict is stable."""
    out = [f"{len(table)} fits ({table['dataset'].nunique()} data sets x 4 models); "
           f"{int(table['labelled'].sum())} with a stability label, "
           f"{int(table['stable'].sum())} with a stable used/failed verdict", ""]
    st = table[table["stable"]]
    summary = (
        st.assign(same=st["lavaan_used"] == st["ours_used"])
        .groupby(["set", "regime"])["same"]
        .agg(["size", "sum", "mean"])
        .rename(columns={"size": "stable fits", "sum": "same verdict", "mean": "rate"})
    )
    out += [summary.to_string(), ""]
    ct = pd.crosstab(st["lavaan"], st["ours"], margins=True)
    out += ["stable fits, lavaan (rows) x stickrole (columns):", ct.to_string()]
    return "\n".join(out)


def test_reference_set_is_broad() -> None:
    assert len(REF) >= 600
    assert set(REF["group"]) == set(CFA_GROUPS)
    assert set(REF["instrument"]) == {"pvq40", "svs57"}
    assert REF["n"].min() == 20 and REF["n"].max() == 200
    names = " ".join(REF["dataset"].unique())
    for kind in ("struct", "nearrandom", "uniform", "skewed", "nearconst", "const", "noiseset",
                 "nr5set"):
        assert kind in names
    assert set(REF["verdict"]) == {"ok", "not_converged", "lv_cor_ge_1", "error"}
    # six fresh nine-chunk noise sets: chunks 0-7 PVQ-40, chunk 8 SVS-57, 50 personas
    fresh = REF[REF["dataset"].str.startswith("noiseset")]
    assert fresh["dataset"].nunique() == 54 and (fresh["n"] == 50).all()
    assert set(fresh.loc[fresh["dataset"].str.endswith("chunk8"), "instrument"]) == {"svs57"}


def test_stability_labels_are_complete() -> None:
    lab = REF[REF["variants_done"] > 0]
    for r in lab.itertuples():
        verdicts = _variants(pd.Series(r._asdict()), "status")
        assert len(verdicts) == r.variants_done
        same = all(v == _SHORT[r.verdict] for v in verdicts)
        assert bool(r.stable) == same, (r.dataset, r.group)
        if r.stable:  # a stable label needs every variant
            assert r.variants_done == 40, (r.dataset, r.group)
    # the nine reference chunks: every variant, stable or not (their spread is a target)
    ref9 = REF[REF["dataset"].isin(NOISE_CHUNKS)]
    assert len(ref9) == 36 and (ref9["variants_done"] == 40).all()


def test_decision_agreement_on_stable_verdicts(table: pd.DataFrame) -> None:
    """Same used/failed decision as lavaan where lavaan's verdict is stable, with the fast
    ``cfa_crawls: judge`` (what the Cardinal bootstrap's resamples use): every fit where lavaan
    reaches a minimum; on crawls (no minimum) the early judgement misses some (measured 447 of
    456, 98.0 %; the default ``follow``, below, reaches the issue's 99 %)."""
    print("\n" + agreement_report(table))
    st = table[table["stable"]]
    wrong = st[st["lavaan_used"] != st["ours_used"]]
    print("stable-verdict disagreements:\n"
          + wrong[["dataset", "group", "lavaan", "ours", "note"]].to_string())
    assert len(st) >= 350
    same = st["lavaan_used"] == st["ours_used"]
    assert same[st["regime"] == "minimum"].all()
    assert same.mean() >= 0.975
    for part in ("reference set", "reference noise chunks", "fresh noise sets", "near-random 0.05"):
        sub = st[st["set"] == part]
        assert len(sub) and (sub["lavaan_used"] == sub["ours_used"]).mean() >= 0.94, part


def test_follow_mode_reaches_lavaans_stable_verdicts(table: pd.DataFrame, followed: dict) -> None:
    """The default, ``cfa_crawls: follow`` (``crawl=None``), runs every crawl to nlminb's end as
    lavaan does: >= 99 % same decision on the stable verdicts (measured: 455 of 456)."""
    st = table[table["stable"]].copy()
    st["ours_used"] = [bool(followed[d][g]["converged"]) for d, g in zip(st["dataset"], st["group"],
                                                                          strict=True)]
    same = st["lavaan_used"] == st["ours_used"]
    print(f"\nfollow: {int(same.sum())} of {len(st)} stable verdicts; wrong: "
          + ", ".join(f"{d} {g}" for d, g in st.loc[~same, ["dataset", "group"]]
                      .itertuples(index=False)))
    assert same[st["regime"] == "minimum"].all()
    assert same.mean() >= 0.99


def test_unstable_verdicts_are_deterministic(fits: dict) -> None:
    """Where lavaan's verdict is decided by rounding, ours is a function of the answers."""
    unstable = REF[REF["labelled"] & ~REF["stable_used"]]
    assert len(unstable) >= 8
    for name in unstable["dataset"].unique()[:12]:
        build, instrument = REFERENCE_DATASETS[name]
        again = fit_magnifying_glass(build(), get_instrument(instrument), crawl=CRAWL_RULE)
        for g in CFA_GROUPS:
            a, b = fits[name][g], again[g]
            assert a["converged"] == b["converged"] and a["note"] == b["note"]
            assert np.array_equal(np.nan_to_num([a["cfi"], a["srmr"]], nan=-1),
                                  np.nan_to_num([b["cfi"], b["srmr"]], nan=-1))


def test_fit_values_agree_where_both_report_a_fit(table: pd.DataFrame) -> None:
    """Within 1e-6 where lavaan reached a minimum; on a crawl (no minimum) lavaan reports the
    point where it stopped, which its own variants move: there, within their range."""
    both = table[table["lavaan_used"] & table["ours_used"]]
    at_min = both[both["regime"] == "minimum"]
    assert len(at_min) >= 150
    chi2 = at_min["lavaan_chisq"]
    rel_chi2 = np.abs(at_min["chisq"] - chi2) / np.maximum(1.0, chi2)
    assert rel_chi2.max() <= 1e-6
    for k in ("cfi", "tli", "srmr", "rmsea"):
        delta = np.abs(at_min[k] - at_min[f"lavaan_{k}"])
        if k == "tli":
            # unbounded; TLI = 1 - (chi2/df - 1) / (chi2_0/df0 - 1), so a chi2 known to 1e-6
            # (relative) gives TLI to 1e-6 * chi2 |1 - TLI| / |chi2 - df|: up to 20 times more
            # where the baseline chi2 is near its df
            tli = at_min["lavaan_tli"]
            gain = chi2 * np.abs(1 - tli) / np.abs(chi2 - at_min["df"])
            delta = delta / np.maximum(1.0, np.maximum(np.abs(tli), gain))
        assert delta.max() <= 1e-6, at_min.loc[delta.idxmax(), ["dataset", "group", k]]
    crawl = both[both["regime"] == "path"]
    print(f"\n{len(at_min)} fits at a minimum, {len(crawl)} crawls both report; max |delta| on "
          "crawls: " + ", ".join(f"{k} {np.abs(crawl[k] - crawl[f'lavaan_{k}']).max():.2g}"
                                  for k in ("cfi", "srmr", "rmsea")))


def _chunk_columns(verdicts: list[str], values: dict[str, list[float]]) -> dict[str, float]:
    """One chunk's leaderboard CFI / SRMR / RMSEA: the mean over the four models, failed = 0/1/1."""
    out = {}
    for k, fail in FAILED.items():
        out[k] = float(np.mean([v if ok == "ok" else fail for ok, v in zip(verdicts, values[k],
                                                                            strict=True)]))
    return out


def lavaan_noise_range(chunks: list[str]) -> pd.DataFrame:
    """Per chunk, the leaderboard columns of every lavaan variant (file order, 10 perturbations,
    30 permutations; variant k perturbs or reorders the chunk's answers once for all four
    models); the nine-chunk range is then [mean of the chunk minima, mean of the maxima]."""
    rows = []
    for chunk in chunks:
        ref = REF[REF["dataset"] == chunk].set_index("group").loc[list(CFA_GROUPS)]
        variants = [(list(ref["status"].map(_SHORT)), {k: list(ref[k]) for k in FAILED})]
        for kind in ("pert", "perm"):
            st = [v.split(";") for v in ref[f"{kind}_status"]]
            vals = {k: [[float(x) if x != "NA" else np.nan for x in v.split(";")]
                        for v in ref[f"{kind}_{k}"]] for k in FAILED}
            for j in range(len(st[0])):
                variants.append(([s[j] for s in st], {k: [v[j] for v in vals[k]] for k in FAILED}))
        for j, (verdicts, values) in enumerate(variants):
            rows.append({"chunk": chunk, "variant": j, **_chunk_columns(verdicts, values)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("mode", ["follow", "judge"])
def test_pure_noise_leaderboard_columns(request: pytest.FixtureRequest, mode: str) -> None:
    """The nine reference noise chunks: our CFI / SRMR / RMSEA columns lie inside the range
    lavaan's own variants reach (each chunk varied independently), in both crawl modes."""
    fits = _mode_fits(request, mode)
    chunks = list(NOISE_CHUNKS)
    lav = lavaan_noise_range(chunks)
    per_chunk = lav.groupby("chunk")[list(FAILED)].agg(["min", "max"])
    file_order = lav[lav["variant"] == 0].set_index("chunk")[list(FAILED)]
    ours = pd.DataFrame({c: _chunk_columns(
        ["ok" if fits[c][g]["converged"] else "nc" for g in CFA_GROUPS],
        {k: [fits[c][g][k] for g in CFA_GROUPS] for k in FAILED}) for c in chunks}).T
    with pd.option_context("display.width", 200, "display.precision", 3):
        print("\n" + pd.concat({"lavaan file order": file_order, "ours": ours}, axis=1).to_string())
    for k in FAILED:
        lo, hi = per_chunk[(k, "min")].mean(), per_chunk[(k, "max")].mean()
        print(f"{k}: lavaan file order {file_order[k].mean():.3f}, variants reach "
              f"[{lo:.3f}, {hi:.3f}]; stickrole {ours[k].mean():.3f}")
        assert lo <= ours[k].mean() <= hi, k


#: The published leaderboard's "dummy" row (the random baseline): CFI, SRMR, RMSEA.
PUBLISHED_DUMMY = {"cfi": 0.376, "srmr": 0.622, "rmsea": 0.592}


@pytest.mark.parametrize("mode", ["follow", "judge"])
def test_random_baseline_within_lavaans_spread(request: pytest.FixtureRequest, mode: str) -> None:
    """Uniform-random answers through the nine-chunk protocol (the reference chunks and the
    fresh sets: chunks 0-7 PVQ-40, chunk 8 SVS-57, 50 personas): per set, the leaderboard's CFI /
    SRMR / RMSEA columns. stickrole's mean over the sets lies within one standard deviation of
    lavaan's (file order), in both crawl modes, and so does the published dummy row."""
    fits = _mode_fits(request, mode)
    sets: dict[str, list[str]] = {"reference": list(NOISE_CHUNKS)}
    for name in NOISE_SETS:
        sets.setdefault(name.split("_chunk")[0], []).append(name)
    rows = []
    for label, chunks in sets.items():
        if not set(chunks) <= set(REF["dataset"]):
            continue
        lav = REF[REF["dataset"].isin(chunks)]
        ours = [fits[c][g] for c in chunks for g in CFA_GROUPS]
        rows.append({"set": label,
                     **{f"lavaan_{k}": float(np.where(lav["verdict"] == "ok", lav[k], fail).mean())
                        for k, fail in FAILED.items()},
                     **{k: float(np.mean([r[k] if r["converged"] else fail for r in ours]))
                        for k, fail in FAILED.items()}})
    table = pd.DataFrame(rows).set_index("set")
    print("\n" + table.round(3).to_string())
    assert len(table) >= 3
    for k in FAILED:
        mean, sd = table[f"lavaan_{k}"].mean(), table[f"lavaan_{k}"].std()
        print(f"{k}: lavaan {mean:.3f} +- {sd:.3f} over {len(table)} sets; stickrole "
              f"{table[k].mean():.3f}; published dummy row {PUBLISHED_DUMMY[k]}")
        assert abs(table[k].mean() - mean) <= sd, k
        assert abs(PUBLISHED_DUMMY[k] - mean) <= sd, k


def test_dummy_through_the_leaderboard_protocol(tmp_path: Path) -> None:
    """The random baseline as a user runs it: the ``dummy`` model of ``params/leaderboard.yaml``
    (nine chunks, 50 personas, the original's option permutations), generated and analysed by
    stickrole. Its CFI / SRMR / RMSEA columns land within lavaan's spread over the seven noise
    sets, as the published dummy row does."""
    import yaml

    from stickrole_utils.analysis import analyze_model
    from stickrole_utils.config.analysis import AnalysisSettings
    from stickrole_utils.generation import generate_from_params
    from stickrole_utils.generation.store import read_run_answers

    src = Path(__file__).resolve().parents[1] / "params" / "leaderboard.yaml"
    data = yaml.safe_load(src.read_text())
    data["data_path"] = str((src.parent / data["data_path"]).resolve())
    if not Path(data["data_path"]).is_dir():
        pytest.skip("the original's data is not beside the checkout (CI has ../shared)")
    data["models"] = [m for m in data["models"] if m["name"] == "dummy"]
    data["output_dir"] = str(tmp_path)
    params = tmp_path / "leaderboard.yaml"
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    (run_dir,) = generate_from_params(params, progress=False)
    settings = AnalysisSettings(**{**data.get("analysis", {}), "bootstrap": 0,
                                   "bootstrap_cardinal": 0})
    metrics = analyze_model(read_run_answers(run_dir), settings).metrics
    sets = [list(NOISE_CHUNKS)] + [[n for n in NOISE_SETS if n.startswith(f"noiseset{k}_")]
                                   for k in range(6)]
    lav = pd.DataFrame([{k: float(np.where(REF.loc[REF["dataset"].isin(ch), "verdict"] == "ok",
                                           REF.loc[REF["dataset"].isin(ch), k], fail).mean())
                         for k, fail in FAILED.items()} for ch in sets])
    for k in FAILED:
        ours = metrics[f"{k}_mean"]
        print(f"dummy {k} {ours:.3f}; lavaan {lav[k].mean():.3f} +- {lav[k].std():.3f}; "
              f"published {PUBLISHED_DUMMY[k]}")
        assert abs(ours - lav[k].mean()) <= lav[k].std(), k
    print(f"dummy Cardinal {metrics['cardinal']:.3f} (published leaderboard: 0.23)")
