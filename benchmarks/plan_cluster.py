"""Predicted wall time of a leaderboard and of a paper-sized experiment on 1, 8 and 64 GPUs.

A simple list-scheduling simulation of what ``stickrole run`` does on Ray: every model's
generation is one task holding its GPUs (longest first, each started on the GPUs that free up
earliest -- Ray's own order differs, but not its bound), followed by its analysis on a CPU (CPUs
assumed plentiful), then the leaderboard. On Ray, ``stickrole run`` submits every grid point of
an experiment at once (the last row); the row before shows one point at a time (the models of
a point side by side), for comparison. Not a test; no model loads.

Per-model work (evaluated + generated tokens) comes from, in this order:

* ``--run-dir DIR``: the ``usage`` of every ``DIR/<model>/manifest.json`` an earlier run wrote
  (tokens, and the throughput measured there);
* ``--params PARAMS.yaml``: the estimate ``stickrole plan`` prints (tokenizer-free, upper bound
  on generated tokens);
* otherwise ``--tokens`` per model (default 60 M: nine chunks x 50 personas of chain-of-thought
  answers, the order of magnitude ``stickrole plan params/leaderboard.yaml`` gives).

Throughput (tokens per second of one GPU for one model) is ``--throughput`` unless measured; a
model of the leaderboard's size mix is slower the larger it is: the 35 models are drawn as
small / medium / large / very large (1 / 2 / 4 / 8 x slower, the largest on 2 GPUs).

Usage: ``python benchmarks/plan_cluster.py [--params P] [--run-dir D] [--tokens N]
[--throughput T] [--gpus 1 8 64]``
"""

from __future__ import annotations

import argparse
import heapq
import json
from dataclasses import dataclass
from pathlib import Path

#: The leaderboard's size mix: (share of models, slowdown, GPUs per model).
SIZE_MIX = [(0.4, 1.0, 1), (0.3, 2.0, 1), (0.2, 4.0, 1), (0.1, 8.0, 2)]


@dataclass(frozen=True)
class Job:
    """One model's generation (GPU seconds) and analysis (CPU seconds)."""

    name: str
    seconds: float
    gpus: int = 1
    analysis_s: float = 120.0


def makespan(jobs: list[Job], n_gpus: int, tail_s: float = 60.0) -> float:
    """Seconds until the last analysis and the leaderboard (``tail_s``) are done: longest job
    first, on the ``gpus`` GPUs that free up earliest; a job needing more GPUs than there are
    runs on all of them."""
    free = [0.0] * n_gpus
    heapq.heapify(free)
    end = 0.0
    for job in sorted(jobs, key=lambda j: -j.seconds):
        k = min(job.gpus, n_gpus)
        taken = [heapq.heappop(free) for _ in range(k)]
        start = max(taken)
        done = start + job.seconds
        for _ in range(k):
            heapq.heappush(free, done)
        end = max(end, done + job.analysis_s)
    return end + tail_s


def leaderboard_jobs(n_models: int, tokens: float, throughput: float,
                     load_s: float = 60.0) -> list[Job]:
    """``n_models`` models of the size mix, each doing ``tokens`` tokens of work."""
    jobs = []
    for i in range(n_models):
        share_sum, slow, gpus = 0.0, 1.0, 1
        for share, s, g in SIZE_MIX:  # deterministic: model i falls in the class of i / n
            share_sum += share
            if i / n_models < share_sum:
                slow, gpus = s, g
                break
        jobs.append(Job(f"m{i}", load_s + tokens * slow / throughput, gpus))
    return jobs


def measured_jobs(run_dir: Path, throughput: float) -> list[Job]:
    """One job per model manifest of an earlier run, with its measured work and speed."""
    jobs = []
    for manifest in sorted(run_dir.glob("*/manifest.json")):
        usage = json.loads(manifest.read_text()).get("usage") or {}
        work = usage.get("evaluated_tokens", 0) + usage.get("generated_tokens", 0)
        secs = usage.get("seconds") or (work / throughput if work else 0.0)
        if work:
            jobs.append(Job(manifest.parent.name, secs))
    return jobs


def planned_tokens(params: Path) -> list[tuple[str, int]]:
    """Per model of ``params``: the remaining work ``stickrole plan`` estimates."""
    from stickrole_utils.generation import load_params
    from stickrole_utils.generation.cost import plan_run

    return [(p.model, p.total.remaining_work) for p in plan_run(load_params(params))]


def fmt(seconds: float) -> str:
    h = seconds / 3600
    return f"{h / 24:.1f} d" if h >= 48 else f"{h:.1f} h"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--params", type=Path)
    ap.add_argument("--run-dir", type=Path)
    ap.add_argument("--tokens", type=float, default=60e6, help="work per model (tokens)")
    ap.add_argument("--throughput", type=float, default=2000.0,
                    help="tokens/s of one GPU for a small model")
    ap.add_argument("--models", type=int, default=35, help="models of the leaderboard")
    ap.add_argument("--grid-points", type=int, default=12,
                    help="grid points of the paper-sized experiment (each a run of --grid-models)")
    ap.add_argument("--grid-models", type=int, default=6)
    ap.add_argument("--gpus", type=int, nargs="+", default=[1, 8, 64])
    args = ap.parse_args(argv)

    tokens = args.tokens
    if args.run_dir is not None:
        jobs = measured_jobs(args.run_dir, args.throughput)
        print(f"{len(jobs)} model(s) measured in {args.run_dir}")
        board = jobs
    else:
        if args.params is not None:
            planned = planned_tokens(args.params)
            tokens = max(w for _, w in planned) if planned else tokens
            print(f"work per model from `stickrole plan {args.params}`: {tokens:,.0f} tokens")
        board = leaderboard_jobs(args.models, tokens, args.throughput)
    point = leaderboard_jobs(args.grid_models, tokens, args.throughput)
    grid = point * args.grid_points
    print(f"work per model {tokens:,.0f} tokens at {args.throughput:g} tokens/s (small model)\n")
    print(f"| workload | models x runs | {' | '.join(f'{g} GPU' for g in args.gpus)} |")
    print(f"|---|---|{'---|' * len(args.gpus)}")
    size = f"{args.grid_models} x {args.grid_points}"
    rows = [(f"leaderboard ({len(board)} models)", f"{len(board)} x 1",
             [makespan(board, g) for g in args.gpus]),
            ("paper-sized experiment, one grid point at a time", size,
             [args.grid_points * makespan(point, g) for g in args.gpus]),
            ("paper-sized experiment, all points at once (stickrole run on Ray)", size,
             [makespan(grid, g) for g in args.gpus])]
    for name, size, spans in rows:
        print(f"| {name} | {size} | {' | '.join(fmt(s) for s in spans)} |")


if __name__ == "__main__":
    main()
