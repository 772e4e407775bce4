"""How well can a crawl be judged early? Replays the optimizer paths of the CFA reference fits
under candidate crawl rules and counts their verdicts against lavaan's stable ones.

On near-random answers lavaan's optimizer can crawl for thousands of iterations along a valley
without a minimum; stickrole's default (``analysis.cfa_crawls: follow``) runs it to the end as lavaan
does, ``judge`` (and the Cardinal bootstrap's resamples) decides it early from the level of its
gradient (``CrawlRule``). This script follows every attempt of every reference fit to nlminb's end
once, keeping the max |gradient| at each iteration and the point every 50 iterations, then replays
any rule (first look, its limit, last look, its limit) over those paths without refitting. It
prints, per rule, the stable lavaan verdicts missed, the iterations spent on the noise sets (a
proxy for time) and the random baseline's CFI (the mean over the 252 fits of the seven nine-chunk
noise sets, a failed fit counting 0; lavaan's, in file order, is printed first): a rule can miss
few stable verdicts yet accept crawls lavaan goes on to reject.

Usage: ``python benchmarks/cfa_crawl_rules.py`` (a few minutes on 2 cores; run from the repository
root: it reads ``tests/reference/cfa_lavaan.csv`` and the fixtures of ``make_cfa_fixtures.py``).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "reference")]

import test_cfa_reference as T  # noqa: E402

from stickrole_utils.analysis import cfa as cfa_module  # noqa: E402
from stickrole_utils.analysis import cfa_ml  # noqa: E402
from stickrole_utils.design.instruments import get_instrument  # noqa: E402

SNAP_EVERY = 50
SNAP_UNTIL = 3000


def record_paths() -> dict:
    """Every attempt of every reference fit, followed to nlminb's end."""
    paths: dict = {}
    current: list = []

    def recording_fit_ml(problem, start, crawl=None):  # noqa: ANN001, ARG001
        attempts = []
        for _, x0, scale in cfa_ml.attempt_plans(problem, start):
            trace = np.zeros(10001)
            path = np.zeros((SNAP_UNTIL // SNAP_EVERY + 1, x0.size))
            res, _ = cfa_ml.run_attempt(problem, x0, scale, (-1, 0.0, -1, 0.0), trace, path,
                                        SNAP_EVERY)
            trace = trace[:res.iterations]  # iterations 0 .. end - 1 started
            snaps = {k * SNAP_EVERY: path[k] for k in range(1, len(path))
                     if k * SNAP_EVERY <= res.iterations}
            gmax = float(np.abs(problem.gradient(res.x)).max()) if res.converged else np.nan
            accepted = bool(res.converged and gmax <= cfa_ml.GRADIENT_TOL)
            snaps["end"] = res.x.copy()
            # every attempt, also after an accepted one: a rule may fail that one early
            attempts.append({"trace": np.array(trace), "snaps": snaps, "accepted": accepted,
                             "iterations": res.iterations})
        current.append({"problem": problem, "attempts": attempts})
        return cfa_ml.fit_ml(problem, start, crawl=cfa_ml.CRAWL_RULE)

    cfa_module.fit_ml = recording_fit_ml
    try:
        for name in T.REF["dataset"].unique():
            build, instrument = T.REFERENCE_DATASETS[name]
            items, inst = build(), get_instrument(instrument)
            for group in T.CFA_GROUPS:
                current.clear()
                cfa_module.fit_cfa(items, inst, group)
                paths[(name, group)] = current[0] if current else None
                if current:
                    current[0]["n"] = int(items.notna().all(axis=1).sum())
    finally:
        cfa_module.fit_ml = cfa_ml.fit_ml
    return paths


def replay(rec: dict, rule: tuple) -> tuple[np.ndarray | None, int]:
    """(the accepted point or None, iterations spent) under ``rule`` = (first look, its limit,
    last look, its limit); a look of None never judges (lavaan: ``follow``)."""
    f1, l1, f2, l2 = rule
    used = 0
    for a in rec["attempts"]:
        t, it = a["trace"], a["iterations"]
        if f1 is not None and it > f1 and np.median(t[f1 // 2:f1]) > l1:
            used += f1
            continue
        if f2 is not None and it > f2:
            used += f2
            if np.median(t[f2 // 2:f2]) < l2:
                return a["snaps"][f2], used
            continue
        used += it
        if a["accepted"]:
            return a["snaps"]["end"], used
    return None, used


def score(paths: dict, rule: tuple) -> dict:
    ref = T.REF.set_index(["dataset", "group"])
    noise = set(T.NOISE_CHUNKS) | set(T.NOISE_SETS)
    wrong, cost, n, baseline = [], 0, 0, []
    for (name, group), rec in paths.items():
        if rec is None:  # lavaan and stickrole stop before fitting (zero variance, ...)
            baseline += [0.0] if name in noise else []
            continue
        x, used = replay(rec, rule)
        cost += used if name in noise else 0
        used_fit = False
        pb = rec["problem"]
        if x is not None:
            off = pb.phi(x)[np.tril_indices(pb.m, -1)]
            used_fit = not (off.size and off.max() >= 1)
        if name in noise:
            baseline.append(cfa_module.fit_measures(pb.s, pb.sigma(x), 2 * pb.value(x), rec["n"],
                                                    pb.n_par)["cfi"] if used_fit else 0.0)
        r = ref.loc[(name, group)]
        if r["stable_used"]:
            n += 1
            if used_fit != (r["verdict"] == "ok"):
                wrong.append(f"{name} {group}")
    return {"rule": rule, "stable": n, "missed": len(wrong), "noise iterations": cost,
            "baseline CFI": round(float(np.mean(baseline)), 3), "first missed": ", ".join(wrong[:4])}


def main() -> int:
    paths = record_paths()
    rules = [(None, 0.0, None, 0.0), (150, 1.5e-2, 600, 4e-3)]
    firsts = [(None, 0.0), (150, 1.5e-2), (150, 3e-2), (300, 1.5e-2), (300, 3e-2), (600, 1.5e-2)]
    for (f1, l1), (f2, l2) in itertools.product(
            firsts, itertools.product([600, 800, 1000, 1500, 2000, 3000], [3e-3, 4e-3, 5e-3, 6e-3])):
        if f1 is None or f2 > f1:
            rules.append((f1, l1, f2, l2))
    rules += [(f1, l1, None, 0.0) for f1, l1 in firsts[1:]]  # fail early, else follow
    table = pd.DataFrame([score(paths, r) for r in rules])
    lav = T.REF[T.REF["dataset"].isin(set(T.NOISE_CHUNKS) | set(T.NOISE_SETS))]
    print(f"random baseline CFI, lavaan in file order: "
          f"{np.where(lav['verdict'] == 'ok', lav['cfi'], 0.0).mean():.3f}\n")
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print("follow (no rule) and the default rule:")
        print(table.head(2).to_string(index=False))
        print("\nbest rules:")
        print(table.iloc[2:].sort_values(["missed", "noise iterations"]).head(12)
              .to_string(index=False))
        print("\nfail early, else follow to the end:")
        print(table[table["rule"].map(lambda r: r[2] is None and r[0] is not None)]
              .to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
