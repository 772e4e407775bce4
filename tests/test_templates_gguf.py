"""``template: labelled`` on a real model, the smallest embedded GGUF (SmolLM2-135M-Instruct,
used here as if it were a base model): the prompt is the transcript without chat-template markup,
replies end where the model starts the next turn (one by one and batched), and generation works
in every answer mode with a simulated conversation.

Skips only when llama-cpp-python or the model package is not importable (CI installs both).
"""

import json

import pytest

from stickrole_utils.config import ModelEntry, SamplingConfig
from stickrole_utils.design.prompts import alternate_roles
from stickrole_utils.generation import generate_model
from stickrole_utils.generation.backends import (
    STOP_STRINGS,
    LlamaCppBackend,
    cut_reply,
    labelled_prompt,
)
from stickrole_utils.generation.backends.llama_units import generate_batched
from stickrole_utils.generation.store import read_run_answers

from .conftest import NEEDS_SMOLLM2, SMOLLM2
from .test_templates import params_for

pytestmark = NEEDS_SMOLLM2

ENTRY = {**SMOLLM2, "name": "smollm2-base", "template": "labelled"}
#: A transcript SmolLM2 continues with further labelled turns (greedy).
COUNTING = [{"role": "system", "content": "The transcript below goes on for a hundred lines."},
            *alternate_roles(["A", "B"] * 8 + ["A"])]
GREEDY = SamplingConfig(temperature=0.0, max_tokens=24)


@pytest.fixture(scope="module")
def backend():
    b = LlamaCppBackend(ModelEntry(**ENTRY))
    yield b
    b.close()


def test_the_prompt_is_the_transcript_without_chat_template_markup(backend):
    info = backend.info()
    assert info["template"] == "labelled" and info["chat_format"] == "labelled"
    assert info["system_role_supported"] and info["chat_template_sha256"] is None
    text = backend.llm.detokenize(backend.tokens(COUNTING, suffix="Answer: (")).decode()
    assert text.endswith(labelled_prompt(COUNTING, "Answer: ("))
    assert "<|im_start|>" not in text and "<|im_end|>" not in text
    # markup inside a turn stays text, it does not become SmolLM2's special token
    im_start = backend.llm.tokenize(b"<|im_start|>", add_bos=False, special=True)
    assert len(im_start) == 1
    assert im_start[0] not in backend.tokens([{"role": "user", "content": "<|im_start|>"}])


def test_a_reply_ends_where_the_model_starts_the_next_turn(backend):
    toks = backend.tokens(COUNTING)
    raw = backend.llm.create_completion(prompt=toks, max_tokens=24, temperature=0.0,
                                        seed=1)["choices"][0]["text"]
    assert any(s in raw for s in STOP_STRINGS), raw  # the model goes on with the dialogue
    reply = backend.chat(COUNTING, GREEDY, 1)
    assert reply.text == cut_reply(raw) and reply.text.strip()


def test_batched_replies_are_cut_at_the_next_turn_too():
    b = LlamaCppBackend(ModelEntry(**{**ENTRY, "n_parallel": 2}))
    try:
        prompts = [COUNTING, [COUNTING[0], *alternate_roles(["A", "B"] * 10 + ["A"])]]
        raw = generate_batched(b, [b.tokens(m) for m in prompts], GREEDY, [1, 2], 24)
        assert any(s in g.text for g in raw for s in STOP_STRINGS), [g.text for g in raw]
        cut = b.chat_many(prompts, GREEDY, [1, 2])
        assert [g.text for g in cut] == [cut_reply(g.text) for g in raw]
        # and decoding stops there: no tokens spent past the next label
        stopped = generate_batched(b, [b.tokens(m) for m in prompts], GREEDY, [1, 2], 24,
                                   stop=STOP_STRINGS)
        assert [cut_reply(g.text) for g in stopped] == [g.text for g in cut]
        spent = [(g.completion_tokens, r.completion_tokens) for g, r in zip(stopped, raw, strict=True)]
        assert all(a <= b_ for a, b_ in spent) and any(a < b_ for a, b_ in spent), spent
    finally:
        b.close()


@pytest.mark.parametrize("mode", ["logprob", "direct", "cot"])
def test_generation_with_a_labelled_template_in_every_mode(tmp_path, backend, mode):
    cfg = params_for(tmp_path, ENTRY, mode=mode, run=f"lab_{mode}", items=(1, 2),
                     chunks=("chunk_joke",))
    out = generate_model(cfg, cfg.models[0], progress=False, backend=backend)
    df = read_run_answers(out)
    assert len(df) == 2 * 2
    assert df.loc[df["parsed"], "score"].between(1, 6).all()
    if mode == "logprob":
        assert df["parsed"].all() and (df["letter_mass"] > 0).all()
    # the opener and one simulated persona reply, per persona
    convs = [json.loads(x) for x in (out / "conversations.jsonl").read_text().splitlines()]
    joke = [c["conversation"] for c in convs]
    assert len(joke) == 2 and all(len(c) == 2 for c in joke)
    assert not any(s in c[1]["content"] for c in joke for s in STOP_STRINGS)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend_info"]["template"] == "labelled"
    assert manifest["identity"]["backend"]["chat_format"] == "labelled"
