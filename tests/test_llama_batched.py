"""Batched generation (``LlamaCppBackend.chat_many``) on a real model: SmolLM2-135M-Instruct.

Skips only when llama-cpp-python or the model package is not importable (CI installs both).
"""


import pandas as pd
import pytest
import yaml

from stickrole_utils.config import ModelEntry, SamplingConfig, load_run_config
from stickrole_utils.design.prompts import DEFAULT_PROMPTS, item_message, with_persona
from stickrole_utils.errors import BackendError
from stickrole_utils.generation import generate_model, plan_units
from stickrole_utils.generation.backends import LlamaCppBackend
from stickrole_utils.generation.backends.llama_batch import common_prefix_len
from stickrole_utils.generation.store import read_run_answers

from .conftest import NEEDS_SMOLLM2, SMOLLM2, kill_engine_after_units

pytestmark = NEEDS_SMOLLM2

ENTRY = {**SMOLLM2, "n_parallel": 4}
KEY = ["chunk", "persona", "questionnaire", "item"]


@pytest.fixture(scope="module")
def backend():
    b = LlamaCppBackend(ModelEntry(**ENTRY))
    yield b
    b.close()


def _cfg(tmp_path, run="batched", items=(1, 2, 3, 4)):
    data = {
        "version": 1, "run": run, "output_dir": str(tmp_path),
        "models": [ENTRY],
        "generation": {
            "n_personas": 2, "mode": "direct", "n_messages": 1,
            "conversation": {"temperature": 0.7, "max_tokens": 16},
            "answer": {"temperature": 0.0, "max_tokens": 8},
            "items": {"pvq40": list(items)},
            "chunks": ["chunk_no_conv", "chunk_joke"],
        },
    }
    p = tmp_path / f"{run}.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_run_config(p)


def _item_prompts(tmp_path, n_items):
    cfg = _cfg(tmp_path, items=range(1, n_items + 1))
    unit = next(u for u in plan_units(cfg, "smollm2") if u.chunk.label == "chunk_joke")
    conv = [{"role": "user", "content": unit.context.opener},
            {"role": "assistant", "content": "Why did the chicken cross the road? To get to "
                                             "the other side, of course."}]
    setting = DEFAULT_PROMPTS.persona.format(description=unit.persona.description,
                                             name=unit.persona.name)
    out = []
    for item in unit.items:
        shown = [unit.bank.options[item][k] for k in unit.permutations[item]]
        text = item_message(unit.bank.description, unit.bank.text(item, unit.persona.gender),
                            shown, DEFAULT_PROMPTS.query_cot)
        out.append(with_persona(setting, [*conv, {"role": "user", "content": text}], "system"))
    return out


def test_batched_replies_match_one_at_a_time(tmp_path, backend):
    prompts = _item_prompts(tmp_path, 8)
    sampling = SamplingConfig(temperature=0.0, max_tokens=24)
    seeds = list(range(len(prompts)))
    u0 = backend.usage()
    batched = backend.chat_many(prompts, sampling, seeds)
    used = backend.usage() - u0
    single = [backend.chat(m, sampling, s) for m, s in zip(prompts, seeds, strict=True)]
    same = sum(a.text == b.text for a, b in zip(batched, single, strict=True))
    print(f"\nbatched vs one-at-a-time (temperature 0): {same}/{len(prompts)} identical, "
          f"differ rate {1 - same / len(prompts):.0%}")
    # on a CPU each parallel sequence has a KV stream of its own, so a reply is computed as
    # alone but for the batch shape of the float kernels (measured: all identical here and 16
    # of 16 in the benchmark; a near-tie may still part on another CPU)
    assert same >= 0.75 * len(prompts)
    for g, s in zip(batched, single, strict=True):
        assert g.text.strip() and 0 < g.completion_tokens <= 24
        assert g.prompt_tokens == s.prompt_tokens
    # usage: every prompt presented, the shared prefix evaluated once, every token counted
    assert used.prompt_tokens == sum(g.prompt_tokens for g in batched)
    assert used.generated_tokens == sum(g.completion_tokens for g in batched)
    toks = [backend.tokens(m) for m in prompts]
    shared = common_prefix_len(toks)
    assert shared > 50
    assert 0 < used.evaluated_tokens <= used.prompt_tokens - (len(toks) - 1) * shared
    # seeded sampling is reproducible (same seeds, same replies) in the batched engine
    warm = SamplingConfig(temperature=0.7, max_tokens=12)
    first = backend.chat_many(prompts[:4], warm, seeds[:4])
    again = backend.chat_many(prompts[:4], warm, seeds[:4])
    assert [g.text for g in first] == [g.text for g in again]


def test_sequences_in_flight_must_fit_the_context(tmp_path):
    # the budget of one unified KV cache (a GPU's default; on a CPU each parallel sequence has
    # a stream of n_ctx cells of its own)
    small = LlamaCppBackend(ModelEntry(**{**ENTRY, "n_ctx": 1024}), kv_unified=True)
    try:
        prompts = _item_prompts(tmp_path, 4)
        with pytest.raises(BackendError, match="lower n_parallel") as err:
            small.chat_many(prompts, SamplingConfig(temperature=0.0, max_tokens=400), [1, 2, 3, 4])
        assert "\n" not in str(err.value) and "n_ctx=1024" in str(err.value)
        # one sequence at a time would fit: chat itself is unaffected
        assert small.chat(prompts[0], SamplingConfig(temperature=0.0, max_tokens=4), 1).text
    finally:
        small.close()


def test_generate_with_n_parallel_gives_a_valid_table(tmp_path, backend):
    cfg = _cfg(tmp_path)
    out = generate_model(cfg, cfg.models[0], progress=False, backend=backend)
    df = read_run_answers(out)
    assert len(df) == 2 * 2 * 4 and not df.duplicated(KEY).any()
    ok = df[df["parsed"]]
    assert len(ok) >= len(df) // 2
    assert ok["score"].between(1, 6).all() and (ok["score"] % 1 == 0).all()
    assert df.loc[~df["parsed"], "score"].isna().all()
    assert (df["raw"].str.len() > 0).all()


def test_interrupted_batched_run_resumes_without_loss_or_duplicates(tmp_path, backend):
    # four units side by side; the engine dies once one is stored: those in flight are lost
    cfg = _cfg(tmp_path, run="crash")
    run_dir = tmp_path / "crash" / "smollm2"
    undo = kill_engine_after_units(backend, run_dir, 1)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            generate_model(cfg, cfg.models[0], progress=False, backend=backend)
    finally:
        undo()
    before = read_run_answers(run_dir)
    assert 0 < len(before) < 2 * 2 * 4 and len(before) % 4 == 0  # whole units only
    out = generate_model(cfg, cfg.models[0], progress=False, backend=backend)
    after = read_run_answers(out)
    assert len(after) == 2 * 2 * 4 and not after.duplicated(KEY).any()
    kept = before.merge(after, on=KEY, suffixes=("", "_after"))
    assert len(kept) == len(before)
    pd.testing.assert_series_equal(kept["raw"], kept["raw_after"], check_names=False)


@pytest.mark.parametrize(("mode", "expected", "unified"), [("logprob", 1, False),
                                                           ("cot", None, False)])
def test_n_parallel_auto_on_a_cpu(mode, expected, unified):
    from stickrole_utils.generation.backends import AUTO_N_PARALLEL

    b = LlamaCppBackend(ModelEntry(**{**ENTRY, "n_parallel": "auto", "mode": mode}))
    try:
        assert b.n_parallel == (expected or AUTO_N_PARALLEL["cpu"][mode])
        assert b.kv_unified is unified and b.fit_parallel
        assert b.info()["n_parallel"] == b.n_parallel
    finally:
        b.close()


def test_histories_give_way_when_sequences_run_out(tmp_path, backend):
    # an engine with two KV sequences serving three speakers' histories: the least recently
    # used history is dropped and re-evaluated later; replies do not change, only the work
    from stickrole_utils.generation.backends.llama_batch import BatchEngine, Request

    prompts = _item_prompts(tmp_path, 3)
    toks = [backend.tokens(m) for m in prompts]
    greedy = SamplingConfig(temperature=0.0, max_tokens=6)

    def run(seq_ids):
        eng = BatchEngine(backend, seq_ids)
        u0 = backend.usage()
        order = [0, 1, 2, 0, 1, 2]  # each key asks twice: the second reuses its history
        out = []
        for j in order:
            fut = eng.submit(Request(toks[j], "generate", greedy, j, 6, key=("k", j), keep=True))
            eng.serve(fut.done)
            out.append(fut.result().text)
        eng.release(lambda k: True)
        eng._do_releases()
        return out, (backend.usage() - u0).evaluated_tokens, sorted(eng.free)

    pool = sorted(backend.engine.free)
    roomy, evaluated_roomy, free_roomy = run(pool[:3])
    tight, evaluated_tight, free_tight = run(pool[:2])
    # first round: all evaluated from scratch in both; second round: a reused history's last
    # prompt token is evaluated alone, a re-evaluated one within its whole prompt, so the
    # float kernels may part a near-tie (seen: "like me." / "like me")
    assert tight[:3] == roomy[:3]
    assert sum(a == b for a, b in zip(tight, roomy, strict=True)) >= 5
    assert evaluated_roomy < evaluated_tight  # the tight engine re-evaluated dropped histories
    assert free_roomy == pool[:3] and free_tight == pool[:2]  # every sequence given back
