"""Reliability-stage benchmark: prints seconds; not a test (machines are noisy).

The signal-and-noise stage of an experiment (``experiment.signal.write_signal``) on
5 models x 5 seeds x 5 contexts x 50 personas (PVQ-40, synthetic answers): stacking the
scores, the ICCs and the variance decomposition with 200 bootstrap replicates
(``reliability.csv``), the permutation noise floor (200 shuffles per model and seed), and
measurement invariance with omega (``invariance.csv``: 4 CFA models x 3 levels per model on
its lowest seed, the partial-invariance search at its default). Target: <= 30 s on the 2-core
machine (issue 20).

Usage: ``python benchmarks/bench_reliability.py [--models 5] [--seeds 5] [--contexts 5]
[--personas 50]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from stickrole_utils.analysis.scoring import value_scores
from stickrole_utils.config.grid import ReliabilitySettings
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.experiment.signal import (
    collect_scores,
    invariance_table,
    noise_floor,
    reliability_table,
    write_signal,
)
from stickrole_utils.layout import RunLayout
from stickrole_utils.records import EXPERIMENT_COLUMNS


def build(root: Path, n_models: int, n_seeds: int, n_contexts: int, n_personas: int):
    """Grid points whose runs hold answers.parquet and scores.parquet of every model."""
    models = {f"model_{k}": 0.5 + 0.1 * k for k in range(n_models)}
    chunks = [f"ctx_{c}" for c in range(n_contexts)]
    points = []
    for seed in range(n_seeds):
        run_dir = root / f"seed_{seed}"
        answers = synthetic_answers(models, chunks=chunks, n_personas=n_personas, seed=seed)
        for m, g in answers.groupby("model"):
            layout = RunLayout(run_dir)
            layout.answers(m).parent.mkdir(parents=True, exist_ok=True)
            g.to_parquet(layout.answers(m))
            value_scores(g).to_parquet(layout.table(m, "scores"))
        points.append(({"seed": seed}, SimpleNamespace(
            run_dir=run_dir, generation=SimpleNamespace(seed=seed, n_messages=1))))
    entries = [SimpleNamespace(name=m, factors={}) for m in models]
    return points, entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--contexts", type=int, default=5)
    ap.add_argument("--personas", type=int, default=50)
    args = ap.parse_args()
    settings = ReliabilitySettings()
    with tempfile.TemporaryDirectory() as tmp:
        points, entries = build(Path(tmp), args.models, args.seeds, args.contexts,
                                args.personas)
        experiment = pd.DataFrame(columns=list(EXPERIMENT_COLUMNS))
        names = [e.name for e in entries]
        parts = {}
        t = time.perf_counter()
        scores = collect_scores(points, entries)
        parts["stack scores.parquet"] = time.perf_counter() - t
        t = time.perf_counter()
        floor = noise_floor(experiment, scores, [], n_perm=settings.permutations)
        parts[f"noise floor ({settings.permutations} shuffles)"] = time.perf_counter() - t
        t = time.perf_counter()
        reliability_table(scores, n_boot=settings.bootstrap, floor=floor)
        parts[f"ICCs + decomposition ({settings.bootstrap} bootstrap)"] = (
            time.perf_counter() - t)
        t = time.perf_counter()
        inv, _ = invariance_table(points, names, max_free=settings.partial_invariance)
        parts["invariance + omega"] = time.perf_counter() - t
        t = time.perf_counter()
        write_signal(experiment, collect_scores(points, entries), RunLayout(Path(tmp) / "exp"),
                     settings, points, entries)
        total = time.perf_counter() - t
    print(f"reliability stage, {args.models} models x {args.seeds} seeds x {args.contexts} "
          f"contexts x {args.personas} personas")
    for name, s in parts.items():
        print(f"  {name:42s}{s:7.2f} s")
    print(f"  {'whole stage (write_signal)':42s}{total:7.2f} s   (target <= 30 s)")
    print(f"  invariance fits: {int(inv['converged'].sum())} of {len(inv)} converged; "
          f"first failing levels: {inv[~inv['holds'].astype(bool)]['level'].value_counts().to_dict()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
