"""Real model: SmolLM2-135M-Instruct (embedded GGUF) through llama.cpp, logprob and direct modes.

Skips only when llama-cpp-python or the model package is not importable (CI installs both).
"""


import numpy as np
import pytest
import yaml

from stickrole_utils.config import ModelEntry, load_run_config
from stickrole_utils.design.prompts import DEFAULT_PROMPTS, item_message, letters, with_persona
from stickrole_utils.generation import generate_model, plan_units
from stickrole_utils.generation.backends import LlamaCppBackend
from stickrole_utils.generation.backends.llama_units import score_batched
from stickrole_utils.generation.store import read_run_answers

from .conftest import NEEDS_SMOLLM2, SMOLLM2

pytestmark = NEEDS_SMOLLM2

ENTRY = dict(SMOLLM2)


@pytest.fixture(scope="module")
def backend():
    b = LlamaCppBackend(ModelEntry(**ENTRY))
    yield b
    b.close()


def _cfg(tmp_path, mode):
    data = {
        "version": 1, "run": f"it_{mode}", "output_dir": str(tmp_path),
        "models": [ENTRY],
        "generation": {
            "n_personas": 2, "mode": mode, "n_messages": 1,
            "conversation": {"temperature": 0.7, "max_tokens": 24},
            "answer": {"temperature": 0.0, "max_tokens": 8},
            "items": {"pvq40": [1, 2, 3]},
            "chunks": ["chunk_no_conv", "chunk_joke"],
        },
    }
    p = tmp_path / f"{mode}.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_run_config(p)


def test_gguf_template_and_info(backend):
    info = backend.info()
    assert info["chat_format"] == "gguf" and info["system_role_supported"]
    assert len(info["gguf_sha256"]) == 64 and info["offload"] is False
    assert backend.letter_token_ids("A")


@pytest.mark.parametrize("mode", ["logprob", "direct"])
def test_generation_gives_valid_answers(tmp_path, backend, mode):
    cfg = _cfg(tmp_path, mode)
    out = generate_model(cfg, cfg.models[0], progress=False, backend=backend)
    df = read_run_answers(out)
    assert len(df) == 2 * 2 * 3
    ok = df[df["parsed"]]
    assert ok["score"].between(1, 6).all() and (ok["score"] % 1 == 0).all()
    assert df.loc[~df["parsed"], "score"].isna().all()
    if mode == "logprob":
        assert df["parsed"].all()
        assert (df["letter_mass"] > 0).all() and (df["letter_mass"] <= 1 + 1e-6).all()
    convs = (out / "conversations.jsonl").read_text().splitlines()
    assert len(convs) == 4


def test_prefix_reuse_matches_full_reevaluation(tmp_path, backend):
    cfg = _cfg(tmp_path, "logprob")
    unit = next(u for u in plan_units(cfg, "smollm2") if u.chunk.label == "chunk_joke")
    conv = [{"role": "user", "content": unit.context.opener},
            {"role": "assistant", "content": "Why did the chicken cross the road? To get to "
                                             "the other side, of course."}]
    setting = DEFAULT_PROMPTS.persona.format(description=unit.persona.description,
                                             name=unit.persona.name)
    prompts = []
    for item in (1, 2, 3, 4, 5, 6):
        shown = [unit.bank.options[item][k] for k in unit.permutations[item]]
        text = item_message(unit.bank.description, unit.bank.text(item, unit.persona.gender),
                            shown, DEFAULT_PROMPTS.query_direct)
        prompts.append(with_persona(setting, [*conv, {"role": "user", "content": text}],
                                    "system"))
    lets = [letters(6)] * len(prompts)
    backend.llm.reset()
    backend.prefix_reuse = True
    ev0 = backend.n_evaluated
    reused = backend.option_logprobs(prompts, lets, DEFAULT_PROMPTS.answer_prefix)
    evaluated_reuse = backend.n_evaluated - ev0
    backend.prefix_reuse = False
    ev0 = backend.n_evaluated
    full = backend.option_logprobs(prompts, lets, DEFAULT_PROMPTS.answer_prefix)
    evaluated_full = backend.n_evaluated - ev0
    backend.prefix_reuse = True
    # the shared prefix was evaluated once, not six times
    toks = [backend.tokens(m, suffix=DEFAULT_PROMPTS.answer_prefix) for m in prompts]
    shared = min(next(i for i, (a, b) in enumerate(zip(toks[0], t, strict=False)) if a != b)
                 for t in toks[1:])
    assert shared > 50
    assert evaluated_full == sum(len(t) for t in toks)
    assert evaluated_reuse == evaluated_full - (len(toks) - 1) * shared
    for a, b in zip(reused, full, strict=False):
        pa, pb = np.exp(a), np.exp(b)
        assert np.max(np.abs(pa - pb)) < 2e-3, (pa, pb)
        assert np.argmax(a) == np.argmax(b)


def test_parallel_sequences_match_sequential(tmp_path):
    par = LlamaCppBackend(ModelEntry(**{**ENTRY, "n_parallel": 4}))
    try:
        cfg = _cfg(tmp_path, "logprob")
        unit = next(u for u in plan_units(cfg, "smollm2") if u.chunk.label == "chunk_no_conv")
        setting = DEFAULT_PROMPTS.persona.format(description=unit.persona.description,
                                                 name=unit.persona.name)
        prompts = []
        for item in range(1, 9):
            shown = [unit.bank.options[item][k] for k in unit.permutations[item]]
            text = item_message(unit.bank.description, unit.bank.text(item, unit.persona.gender),
                                shown, DEFAULT_PROMPTS.query_direct)
            prompts.append(with_persona(setting, [{"role": "user", "content": text}], "system"))
        lets = [letters(6)] * len(prompts)
        batched = par.option_logprobs(prompts, lets, DEFAULT_PROMPTS.answer_prefix)
        par.prefix_reuse = False
        single = par.option_logprobs(prompts, lets, DEFAULT_PROMPTS.answer_prefix)
        diffs = [np.max(np.abs(np.exp(a) - np.exp(b))) for a, b in zip(batched, single,
                                                                        strict=True)]
        # the first sequence of each decode is computed exactly as alone; the others differ
        # only by the CPU kernels' dependence on a row's place in the batch (no leakage: below)
        assert diffs[0] < 1e-6 and diffs[4] < 1e-6 and max(diffs) < 0.05
        par.prefix_reuse = True
        toks = [par.tokens(m, suffix=DEFAULT_PROMPTS.answer_prefix) for m in prompts[:2]]
        cut = next(i for i, (a, b) in enumerate(zip(*toks, strict=False)) if a != b) + 2
        other = toks[0][:cut] + [t + 7 for t in toks[0][cut:-3]] + toks[0][-3:]
        seq2 = score_batched(par, [toks[0], toks[1]])[1]
        seq2_other = score_batched(par, [other, toks[1]])[1]
        assert np.array_equal(seq2, seq2_other)  # sequence 2 does not see sequence 1's tokens
        assert par.info()["n_parallel"] == 4
    finally:
        par.close()
