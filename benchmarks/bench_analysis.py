"""Analysis benchmark: prints seconds; not a test (machines are noisy, compare within one run).

1. One model, 9 chunks x 50 personas (36 CFA fits, 9 MDS fits): the core analysis
   (no bootstrap), then the rank-order bootstrap, then the Cardinal bootstrap per resample;
   the 36 CFA fits alone on structured and on uniform-noise answers (the random baseline),
   following crawls to their end (``cfa_crawls: follow``, the default) and judging them early
   (``judge``, what the bootstrap's resamples do), in wall and CPU seconds (the machine is shared: the load average is printed with them).
2. The equivalent CFA work done the original's way, when R's lavaan is installed: one
   ``Rscript`` process per fit reading a CSV written to disk (36 processes), side by side.
3. A 30-model leaderboard: analyse 30 synthetic models, then combine their metrics.json files
   (leaderboard table, win rates, diversity and sensitivity).

Usage: ``python benchmarks/bench_analysis.py [--models 30] [--personas 50] [--no-r]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stickrole_utils.analysis import analyze_model, write_model_analysis
from stickrole_utils.analysis.cfa import cfa_syntax, fit_magnifying_glass
from stickrole_utils.analysis.cfa_ml import CRAWL_RULE
from stickrole_utils.analysis.scoring import item_matrix
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.design.instruments import get_instrument
from stickrole_utils.design.values import HIGHER_ORDER
from stickrole_utils.leaderboard.table import load_metrics, write_leaderboard

R_SCRIPT = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- cfa(readLines(args[2]), data = d, std.lv = TRUE)
m <- fitMeasures(fit, c("cfi", "tli", "srmr", "rmsea"))
cat(sprintf('{"cfi":%f,"tli":%f,"srmr":%f,"rmsea":%f}\n', m[1], m[2], m[3], m[4]))
"""


def _time(fn, repeat: int = 1, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = clock()
        fn()
        best = min(best, clock() - t)
    return best


def original_way_cfa(answers, tmp: Path) -> tuple[float, int]:
    """36 Rscript processes, one per (chunk, CFA model), each reading a CSV from disk."""
    script = tmp / "cfa.R"
    script.write_text(R_SCRIPT)
    n = 0
    t = time.perf_counter()
    for (_chunk, q), rows in answers.groupby(["chunk", "questionnaire"]):
        items = item_matrix(rows)
        items.columns = [f"item{c}" for c in items.columns]
        csv = tmp / "dummy_data.csv"
        items.to_csv(csv, index=False)
        for group in HIGHER_ORDER:
            model = tmp / "model.lav"
            model.write_text(cfa_syntax(get_instrument(q), group))
            subprocess.run(["Rscript", str(script), str(csv), str(model)], check=False,
                           capture_output=True)
            n += 1
    return time.perf_counter() - t, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=30)
    ap.add_argument("--personas", type=int, default=50)
    ap.add_argument("--no-r", action="store_true", help="skip the one-R-process-per-fit timing")
    args = ap.parse_args()

    answers = synthetic_answers({"bench": 0.8}, n_personas=args.personas, seed=1)
    no_boot = AnalysisSettings(bootstrap=0)
    analyze_model(answers, no_boot)  # warm-up (imports, caches)
    t_core = _time(lambda: analyze_model(answers, no_boot), repeat=3)
    ro_boot = AnalysisSettings(bootstrap=1000, bootstrap_cardinal=0)
    t_ro = _time(lambda: analyze_model(answers, ro_boot)) - t_core
    card = AnalysisSettings(bootstrap=1, bootstrap_cardinal=10)
    t_card = (_time(lambda: analyze_model(answers, card)) - t_core) / 10
    default = AnalysisSettings()
    t_cfa = {}
    noise = synthetic_answers(["noise"], n_personas=args.personas, seed=2, uniform=["noise"])
    for name, table in (("structured", answers), ("uniform noise", noise)):
        items = [(g.pivot(index="persona", columns="item", values="score"), get_instrument(q))
                 for (_, q), g in table.groupby(["chunk", "questionnaire"])]

        for mode, rule in (("follow", None), ("judge", CRAWL_RULE)):

            def run(items=items, rule=rule):
                return [fit_magnifying_glass(x, ins, crawl=rule) for x, ins in items]

            t_cfa[f"{name} answers, {mode}"] = (_time(run, repeat=3),
                                        _time(run, repeat=3, clock=time.process_time),
                                        4 * len(items))
    print(f"one model, 9 chunks x {args.personas} personas "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for name, (t, cpu, n) in t_cfa.items():
        print(f"  CFA alone, {n} fits, {name:30s}{t:8.2f} s wall, {cpu:.2f} s CPU")
    print(f"  core analysis (no bootstrap)          {t_core:8.2f} s   (target < 5 s)")
    print(f"  + rank-order bootstrap, 1000 resamples {t_ro:8.2f} s")
    print(f"  + Cardinal bootstrap, per resample     {t_card:8.2f} s   "
          f"(default {default.bootstrap_cardinal} resamples ~ {t_card * default.bootstrap_cardinal:.0f} s)")

    if not args.no_r and shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            t_r, n = original_way_cfa(answers, Path(tmp))
        print(f"  original's way, CFA only: {n} Rscript processes {t_r:8.2f} s "
              f"-> stickrole's whole analysis is {t_r / t_core:.1f}x faster than that CFA step")
    else:
        print("  (Rscript with lavaan not found: skipping the original's-way timing)")

    with tempfile.TemporaryDirectory() as tmp:
        many = synthetic_answers({f"model_{k:02d}": (k % 10) / 10 for k in range(args.models)},
                                 n_personas=args.personas, seed=2)
        t = time.perf_counter()
        for m, g in many.groupby("model"):
            write_model_analysis(analyze_model(g, no_boot), Path(tmp) / m)
        t_all = time.perf_counter() - t
        t = time.perf_counter()
        write_leaderboard(load_metrics([tmp]), Path(tmp))
        t_lb = time.perf_counter() - t
    print(f"{args.models}-model leaderboard")
    print(f"  analysing {args.models} models (no bootstrap)   {t_all:8.2f} s  "
          f"({t_all / args.models:.2f} s per model)")
    print(f"  combining metrics.json -> leaderboard.csv, ranking.json {t_lb:8.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
