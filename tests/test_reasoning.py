"""Reasoning models without a model file: the formats and their split, the budgets' tracker, the
original's rules under ``parsing: original``, a served model (a fake OpenAI-compatible server
answering with ``reasoning_content`` or inline tags), the plan's reasoning tokens (upper bound,
then measured means), metrics.json and the explorer. The in-process backend is tested on a
thinking-model GGUF in ``test_reasoning_gguf.py``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from stickrole_utils.analysis import analyze_model
from stickrole_utils.config import GenerationConfig, ModelEntry, SamplingConfig
from stickrole_utils.design.contexts import ChunkContext
from stickrole_utils.design.populations import Persona
from stickrole_utils.design.prompts import Prompts
from stickrole_utils.errors import BackendError, ConfigError
from stickrole_utils.generation import generate_from_params, load_params
from stickrole_utils.generation.administer import _parsed, simulate_turns
from stickrole_utils.generation.backends import (
    Generation,
    OpenAIBackend,
    ScriptedBackend,
    model_options,
)
from stickrole_utils.generation.backends.reasoning import (
    REASONING_FORMATS,
    ReasoningOptions,
    ReasoningTracker,
    format_from_template,
    plan_reasoning,
    split_reasoning,
)
from stickrole_utils.generation.cost import format_plan, plan_run
from stickrole_utils.generation.store import read_run_answers
from stickrole_utils.report import metrics_summary, unparsed_table
from stickrole_utils.report.explorer import conversation_html

from .conftest import pvq_rows
from .fake_http import JSONHandler, serving

THINK = REASONING_FORMATS["think"]


# -- formats, split, tracker --------------------------------------------------------------


def test_formats_from_templates_and_the_split_of_each():
    harmony = format_from_template("{{ '<|start|>assistant<|channel|>analysis<|message|>' }}")
    text = ("<|channel|>analysis<|message|>Weigh (A).<|end|><|start|>assistant"
            "<|channel|>final<|message|>(B)")
    got = split_reasoning(text, harmony, expected=True)
    assert (got.reasoning, got.reply, got.status) == ("Weigh (A).", "(B)", "closed")
    reka = format_from_template("{{ '</reasoning>' }}")
    got = split_reasoning("<reasoning>(A)?</reasoning> (C) <sep> human:", reka, expected=True)
    assert (got.reasoning, got.reply) == ("(A)?", " (C) ")
    # unclosed with the opening tag written by the model, and a reply that never reasoned
    assert split_reasoning("  <think>still", THINK, expected=True).status == "unclosed"
    got = split_reasoning("plain", THINK)
    assert (got.reasoning, got.reply, got.status) == ("", "plain", "")
    assert split_reasoning("plain", None).reply == "plain"


def test_tracker_waits_for_a_split_opening_marker():
    t = ReasoningTracker(THINK, budget=4, reply_budget=2)
    assert [t.feed(p) for p in ["<th", "ink>", "a", "b"]] == [False, False, False, True]
    assert t.reasoning_tokens == 4 and t.phase == "reasoning"
    t = ReasoningTracker(THINK, budget=4, reply_budget=2)
    assert [t.feed(p) for p in ["<", "b>"]] == [False, True]  # "<b>" opens nothing
    assert (t.phase, t.reply_tokens) == ("reply", 2)
    t = ReasoningTracker(THINK, budget=4, reply_budget=3)
    assert [t.feed(p) for p in ["(", "B", ")"]] == [False, False, True]
    assert (t.reasoning_tokens, t.reply_tokens) == (0, 3)


def test_reasoning_on_needs_a_known_format():
    opts = ReasoningOptions(reasoning="on", reasoning_format="none")
    with pytest.raises(BackendError, match="reasoning: on, but .* reasoning_format"):
        plan_reasoning(opts, "{{ messages }}", "model m")
    plan = plan_reasoning(ReasoningOptions(reasoning="off"), "enable_thinking <think>", "m")
    assert plan.template_kwargs() == {"enable_thinking": False} and plan.prefill() == ""
    nemo = plan_reasoning(ReasoningOptions(reasoning="on", reasoning_format="think",
                                           reasoning_switch="detailed_thinking"), None, "m")
    msgs = nemo.messages([{"role": "system", "content": "You are Ann."},
                          {"role": "assistant", "content": "Hi", "reasoning": "R"}],
                         send_reasoning=False)
    assert msgs == [{"role": "system", "content": "You are Ann.\ndetailed thinking on"},
                    {"role": "assistant", "content": "Hi"}]


# -- the original's rules, on scripted replies ----------------------------------------------


def _gen(text, status="closed", reasoning="thought (C)"):
    return Generation(text=text, reasoning=reasoning, reasoning_status=status,
                      reasoning_tokens=7)


def test_answers_under_both_parsing_rules():
    lets = list("ABCDEF")
    late = "(B)" + " " * 50 + "(A)"  # the original reads 40 characters: only (B)
    assert _parsed(_gen(late), lets, "direct", "original").letter == "B"
    assert _parsed(_gen(late), lets, "direct", "stickrole").reason == "ambiguous"
    doubled = _gen("(C)", "doubled")
    assert _parsed(doubled, lets, "direct", "stickrole").letter == "C"
    assert _parsed(doubled, lets, "direct", "original").reason == "reasoning_doubled"
    absent = _gen("(C)", "absent", "")
    assert _parsed(absent, lets, "direct", "stickrole").letter == "C"
    assert _parsed(absent, lets, "direct", "original").reason == "reasoning_unclosed"
    for rule in ("stickrole", "original"):
        ans = _parsed(_gen("", "unclosed", "Answer: (A)"), lets, "cot", rule)
        assert (ans.letter, ans.reason, ans.reasoning) == (None, "reasoning_unclosed",
                                                           "Answer: (A)")
    # no reasoning at all: unchanged (no cut)
    assert _parsed(Generation(late), lets, "direct", "original").letter == "A"


def _turns(replies, **gen):
    backend = ScriptedBackend(replies)
    cfg = GenerationConfig(n_messages=3, **gen)
    persona = Persona(id="p0", name="Ann", description="Ann, a pilot.", gender="F")
    turns = simulate_turns(backend, Prompts.for_generation(cfg), cfg, persona,
                           ChunkContext(opener="Hello.", interlocutor=None), "system",
                           ("c", "p0", "pvq40"))
    return turns, backend


def test_conversation_turns_under_both_rules():
    long = _gen("x" * 1000)
    replies = [long, _gen("", "unclosed", "INTERLOCUTOR-THOUGHT"), _gen("Bye.")]
    turns, backend = _turns(replies)
    assert [len(t.text) for t in turns[1:]] == [1000, 1, 4] and turns[2].text == " "
    # the interlocutor heard the reply alone; the persona's own reasoning went to its backend
    # beside its own turn only (content untouched)
    interlocutor = backend.calls[1]
    assert all("thought" not in m["content"] for m in interlocutor)
    assert all("reasoning" not in m for m in interlocutor)
    persona_again = backend.calls[2]
    assert [m.get("reasoning") for m in persona_again if m["role"] == "assistant"] == [
        "thought (C)"]
    turns, _ = _turns(replies, parsing="original",
                      conversation=SamplingConfig(temperature=0.7, max_tokens=100))
    assert [t.text for t in turns[1:]] == ["x" * 400, "error", "Bye."]
    assert [t.reasoning_status for t in turns] == ["", "closed", "unclosed", "closed"]


# -- a served model -------------------------------------------------------------------------


class _Handler(JSONHandler):
    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        last = body["messages"][-1]["content"]
        if "\n(A) " in last:  # an item: reasoning inline, naming another option
            message = {"content": "<think>SERVER-THOUGHT Answer: (A)</think>\n\n(B)"}
        elif "ramble" in last:
            message = {"content": "<think>SERVER-THOUGHT on and on"}
        elif "twice" in last:
            message = {"content": "<think>a</think>b</think>(C)"}
        else:  # a turn: the server's reasoning parser splits it off
            message = {"content": "Nice move.", "reasoning_content": "SERVER-THOUGHT turn"}
        usage = {"prompt_tokens": 20, "completion_tokens": 12,
                 "completion_tokens_details": {"reasoning_tokens": 9}}
        self.send_json({"choices": [{"message": {"role": "assistant", **message}}],
                        "usage": usage})


@pytest.fixture
def server():
    with serving(_Handler) as url:
        yield url


def _served(url, **opts):
    return OpenAIBackend(ModelEntry(name="srv", backend="openai", base_url=url, model="m",
                                    max_retries=0, timeout_s=5, **opts), backoff_s=0.01)


def test_served_reasoning_inline_or_in_reasoning_content(server):
    b = _served(server, reasoning="on", reasoning_budget=300)
    s = SamplingConfig(temperature=0, max_tokens=10)
    item = b.chat([{"role": "user", "content": "Q?\n(A) x\n(B) y"}], s, 0)
    assert (item.text, item.reasoning, item.reasoning_status) == (
        "\n\n(B)", "SERVER-THOUGHT Answer: (A)", "closed")
    assert item.reasoning_tokens == 9 and _Handler.seen[-1]["max_tokens"] == 310
    turn = b.chat([{"role": "user", "content": "e4"}], s, 0)
    assert (turn.text, turn.reasoning) == ("Nice move.", "SERVER-THOUGHT turn")
    assert b.chat([{"role": "user", "content": "ramble"}], s, 0).reasoning_status == "unclosed"
    twice = b.chat([{"role": "user", "content": "twice"}], s, 0)
    assert (twice.text, twice.reasoning_status) == ("(C)", "doubled")
    assert b.usage().reasoning_tokens == 4 * 9
    # off with the template's switch: said to the server; the budget is not added
    off = _served(server, reasoning="off", reasoning_switch="enable_thinking")
    off.chat([{"role": "user", "content": "e4", "reasoning": "never sent"}], s, 0)
    body = _Handler.seen[-1]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["max_tokens"] == 10 and body["messages"] == [{"role": "user", "content": "e4"}]
    assert off.info()["reasoning"]["off_by"] == "enable_thinking"


def _params(tmp_path, url, name="served", **entry):
    data = {
        "version": 1, "run": "served", "output_dir": str(tmp_path / name),
        "models": [{"name": "srv", "backend": "openai", "base_url": url, "model": "m",
                    "max_retries": 0, "reasoning": "on", "reasoning_budget": 500, **entry}],
        "generation": {"n_personas": 2, "mode": "direct", "n_messages": 3,
                       "items": {"pvq40": [1, 2, 3]}, "chunks": ["chunk_chess_0"]},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_served_run_keeps_reasoning_out_and_the_plan_counts_it(tmp_path, server, capsys):
    path = _params(tmp_path, server)
    cfg = load_params(path)
    [before] = plan_run(cfg)
    # upper bound: the budget before each of 3 turns and 3 items per persona
    assert before.reasoning == (500, 500) and not before.reasoning_measured
    assert before.total.reasoning_tokens == 2 * (3 + 3) * 500
    assert "its reasoning_budget, an upper bound" in format_plan(cfg, [before])
    [out] = generate_from_params(path, progress=False)
    # nobody's request carried reasoning: the interlocutor's, the persona's, the items'
    assert _Handler.seen and all("THOUGHT" not in m["content"] and "reasoning" not in m
                                 for body in _Handler.seen for m in body["messages"])
    answers = read_run_answers(out)
    assert answers["letter"].tolist() == ["B"] * 6
    assert answers["reasoning"].str.contains("SERVER-THOUGHT").all()
    records = [json.loads(x) for x in (out / "conversations.jsonl").read_text().splitlines()]
    assert {t["reasoning"] for r in records for t in r["conversation"][1:]} == {
        "SERVER-THOUGHT turn"}
    usage = json.loads((out / "manifest.json").read_text())["usage"]
    assert usage["reasoning_tokens"] == 12 * 9
    [after] = plan_run(load_params(path))
    assert after.reasoning == (9, 9) and after.reasoning_measured
    assert "means measured by an earlier session" in format_plan(cfg, [after])


# -- metrics, report, explorer --------------------------------------------------------------


def test_metrics_count_unclosed_reasoning_and_the_page_shows_it():
    rng = np.random.default_rng(0)
    rows = [pvq_rows("m", c, f"p{i}", rng.integers(1, 7, 40)) for c in ("a", "b")
            for i in range(6)]
    answers = pd.concat(rows, ignore_index=True)
    answers["parse_reason"] = "answer_tag"
    hit = answers.index[:3]
    answers.loc[hit, "score"] = np.nan
    answers.loc[hit, "parse_reason"] = "reasoning_unclosed"
    metrics = analyze_model(answers).metrics.model_dump()
    assert metrics["reasoning_unclosed"] == 3 and metrics["unparsed_count"] == 3
    summary = metrics_summary(metrics).set_index("measure")["value"]
    assert summary.filter(like="reasoning_unclosed").tolist() == [3]
    table = unparsed_table(answers)
    assert table["reasoning_unclosed"].tolist()[-1] == 3
    assert "reasoning_unclosed" not in unparsed_table(answers.assign(parse_reason="x"))


def test_explorer_shows_reasoning_collapsed_under_its_reply():
    record = {"chunk": "c", "persona": "p0", "conversation": [
        {"speaker": "context", "content": "e4"},
        {"speaker": "persona", "content": "e5", "reasoning": "I <like> e5",
         "reasoning_status": "closed", "reasoning_tokens": 4},
        {"speaker": "interlocutor", "content": " ", "reasoning": "stuck",
         "reasoning_status": "unclosed", "reasoning_tokens": 9}]}
    page = conversation_html(record)
    assert "<details" in page and "<summary>reasoning (4 tokens)</summary>" in page
    assert "I &lt;like&gt; e5" in page and "not closed: no reply" in page
    assert page.index("e5</span>") < page.index("I &lt;like&gt; e5")


def test_reasoning_on_and_off_as_yaml_reads_them():
    """An unquoted ``reasoning: on`` / ``off`` in a params file is YAML's true / false."""
    for text, want in (("on", "on"), ("off", "off"), ("'auto'", "auto"), ("yes", "on")):
        entry = yaml.safe_load("name: m\nbackend: openai\nmodel: m\n"
                               f"base_url: http://127.0.0.1:1/v1\nreasoning: {text}\n")
        assert model_options(ModelEntry.model_validate(entry)).reasoning == want
    with pytest.raises(ConfigError, match="reasoning"):
        model_options(ModelEntry.model_validate(
            {"name": "m", "backend": "openai", "model": "m", "base_url": "http://127.0.0.1:1/v1",
             "reasoning": "maybe"}))


def test_served_reasoning_off_needs_the_models_switch():
    """A server cannot start a reply with an empty reasoning block: ``reasoning: off`` for a
    served model names its switch (else the manifest would say it was turned off when it was
    not)."""
    from stickrole_utils.generation.backends import resolve_model

    def entry(**opts):
        return ModelEntry.model_validate({"name": "m", "backend": "openai", "model": "m",
                                          "base_url": "http://127.0.0.1:1/v1", **opts})

    with pytest.raises(ConfigError, match="reasoning: off for a served model needs its switch"):
        resolve_model(entry(reasoning="off"))
    for ok in ({"reasoning": "off", "reasoning_switch": "enable_thinking"},
               {"reasoning": "off", "reasoning_switch": "detailed_thinking"},
               {"reasoning": "off", "reasoning_format": "none"}, {"reasoning": "on"}, {}):
        resolve_model(entry(**ok))
