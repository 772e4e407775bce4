"""Per-model analysis with the default bootstrap intervals: before and after, in one run.

One model, 9 chunks x 50 personas (synthetic answers), ``AnalysisSettings()`` (1000
rank-order resamples, 50 Cardinal resamples, each refitting every CFA and MDS):

* before: every Cardinal resample computes rank-order stability by its definition (360
  Spearman correlations), in this process;
* + fast resamples: ranks once per chunk, vectorised over values
  (``analysis.stability.rank_order_fast``);
* + workers: the resamples shared by forked processes (``STICKROLE_BOOTSTRAP_WORKERS``,
  ``auto``: the CPUs this process may use; unset: 1).

The intervals are asserted equal across the three (same draws). Prints seconds; not a test.

Usage: ``python benchmarks/bench_bootstrap.py [--personas 50] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from stickrole_utils.analysis import analyze_model
from stickrole_utils.analysis import model as model_module
from stickrole_utils.analysis.stats import bootstrap_workers
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.datasets import synthetic_answers


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--personas", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    answers = synthetic_answers({"bench": 0.8}, n_personas=args.personas, seed=1)
    settings = AnalysisSettings()
    analyze_model(answers, AnalysisSettings(bootstrap=0))  # warm-up
    os.environ["STICKROLE_BOOTSTRAP_WORKERS"] = "auto"
    workers = bootstrap_workers(settings.bootstrap_cardinal)
    variants = [("before: definition, 1 process", False, "1"),
                ("fast resamples, 1 process", True, "1"),
                (f"fast resamples, {workers} workers", True, str(workers))]
    results = {}
    for name, fast, w in variants:
        model_module.FAST_RESAMPLES = fast
        os.environ["STICKROLE_BOOTSTRAP_WORKERS"] = w
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            m = analyze_model(answers, settings).metrics
            best = min(best, time.perf_counter() - t)
        results[name] = (best, m["cardinal_ci"], m["rank_order_ci"])
    ref = results[variants[0][0]]
    print(f"one model, 9 chunks x {args.personas} personas, default bootstrap "
          f"({settings.bootstrap} rank-order, {settings.bootstrap_cardinal} Cardinal resamples); "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    for name, (t, card, ro) in results.items():
        assert np.allclose(card, ref[1], atol=1e-9) and np.allclose(ro, ref[2]), name
        print(f"  {name:36s}{t:7.2f} s   cardinal_ci {card[0]:.4f} .. {card[1]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
