"""Per-model analysis with the default bootstrap intervals: before and after, in one run.

One model, 9 chunks x 50 personas (synthetic answers), ``AnalysisSettings()`` (1000
rank-order resamples, 50 Cardinal resamples, each refitting every chunk's MDS and four CFA
models):

* before (the code as of commit e76558c): every Cardinal resample builds the resampled answers
  table and scores, pivots and analyses it (``analysis.model.RESAMPLES = "tables"``); SMACOF
  calls scikit-learn's ``isotonic_regression`` with its argument validation; the rank-order
  statistic ranks chunk by chunk (:func:`_rank_order_statistic_before`, a copy of the old code).
  Not quite all of the old code: the tables path now shares the vectorised ``rank_order_fast``
  and the tie grouping's shortcut, so "before" is a little faster than e76558c was;
* after: a Cardinal resample selects rows of per-chunk arrays made once (``"arrays"``), SMACOF
  calls scipy's isotonic regression directly, the rank-order statistic ranks all chunks at once;

each in this process and with the resamples shared by forked workers
(``STICKROLE_BOOTSTRAP_WORKERS``; ``auto``: the CPUs this process may use).

Both intervals are asserted *equal* (not close) in every row: same draws, same numbers.
Prints wall and CPU seconds (CPU: this process and its finished children, i.e. the workers)
and the load average before and after. Not a test.

Usage: ``python benchmarks/bench_bootstrap.py [--personas 50] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from stickrole_utils.analysis import analyze_model
from stickrole_utils.analysis import mds as mds_module
from stickrole_utils.analysis import model as model_module
from stickrole_utils.analysis.stats import bootstrap_workers
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.datasets import synthetic_answers


def _rank_order_statistic_before(scores: pd.DataFrame, chunks: Sequence[str],
                                 personas: np.ndarray) -> Callable[[np.ndarray], float]:
    """analysis.bootstrap.rank_order_statistic as of e76558c (complete data only)."""
    chunks = list(chunks)
    values = list(dict.fromkeys(scores["value"]))
    arrays = {c: g.pivot(index="persona", columns="value", values="centered")
              .reindex(index=personas, columns=values).to_numpy()
              for c, g in scores.groupby("chunk", sort=False)}
    if not all(np.isfinite(a).all() for a in arrays.values()):
        raise SystemExit("the benchmark's answers must be complete")

    def stat(idx: np.ndarray) -> float:
        ranked = {}
        for c in chunks:
            r = rankdata(arrays[c][idx], axis=0)
            r -= r.mean(axis=0)
            ranked[c] = (r, np.sqrt((r * r).sum(axis=0)))
        rs = []
        for i, a in enumerate(chunks):
            ra, na = ranked[a]
            for b in chunks[i + 1:]:
                rb, nb = ranked[b]
                with np.errstate(invalid="ignore", divide="ignore"):
                    rs.append((ra * rb).sum(axis=0) / (na * nb))
        arr = np.concatenate(rs)
        arr = arr[np.isfinite(arr)]
        return float(arr.mean()) if len(arr) else float("nan")

    return stat


@contextlib.contextmanager
def _before() -> Iterator[None]:
    saved = (model_module.RESAMPLES, mds_module._scipy_isotonic, model_module.rank_order_statistic)
    model_module.RESAMPLES = "tables"
    mds_module._scipy_isotonic = None
    model_module.rank_order_statistic = _rank_order_statistic_before
    try:
        yield
    finally:
        (model_module.RESAMPLES, mds_module._scipy_isotonic,
         model_module.rank_order_statistic) = saved


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--personas", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    answers = synthetic_answers({"bench": 0.8}, n_personas=args.personas, seed=1)
    settings = AnalysisSettings()
    analyze_model(answers, AnalysisSettings(bootstrap=0))  # warm-up (compiled CFA kernels)
    os.environ["STICKROLE_BOOTSTRAP_WORKERS"] = "auto"
    workers = bootstrap_workers(settings.bootstrap_cardinal)
    variants = [("before, 1 process", _before, "1"),
                (f"before, {workers} workers", _before, str(workers)),
                ("after, 1 process", contextlib.nullcontext, "1"),
                (f"after, {workers} workers", contextlib.nullcontext, str(workers))]
    load_before = os.getloadavg()
    results = {}
    for name, context, w in variants:
        os.environ["STICKROLE_BOOTSTRAP_WORKERS"] = w
        best = (float("inf"), float("inf"))
        with context():
            for _ in range(args.repeat):
                t, c = time.perf_counter(), _cpu()
                m = analyze_model(answers, settings).metrics
                best = min(best, (time.perf_counter() - t, _cpu() - c))
        results[name] = (*best, m["cardinal_ci"], m["rank_order_ci"])
    ref = results[variants[0][0]]
    load = os.getloadavg()
    print(f"one model, 9 chunks x {args.personas} personas, default bootstrap "
          f"({settings.bootstrap} rank-order, {settings.bootstrap_cardinal} Cardinal resamples); "
          f"{os.cpu_count()} CPUs, load average (1 min) {load_before[0]:.1f} before, "
          f"{load[0]:.1f} after")
    print(f"  {'':24s}{'wall':>8s}{'CPU':>8s}")
    for name, (wall, cpu, card, ro) in results.items():
        assert list(card) == list(ref[2]) and list(ro) == list(ref[3]), (name, card, ro)
        print(f"  {name:24s}{wall:7.2f} s{cpu:7.2f} s   cardinal_ci {card[0]:.6f} .. {card[1]:.6f}"
              f"   rank_order_ci {ro[0]:.6f} .. {ro[1]:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
