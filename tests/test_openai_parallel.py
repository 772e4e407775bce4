"""Served models batch too: the openai backend keeps up to n_parallel requests in flight against a
local fake OpenAI-compatible server that records how many overlap; the answers equal those of
one request at a time, the manifest counts the server's usage, and a failed request never loses
a finished unit."""

import hashlib
import json
import threading
import time
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest
import yaml

from stickrole_utils.config import ModelEntry, SamplingConfig
from stickrole_utils.errors import BackendError
from stickrole_utils.generation.backends import OpenAIBackend
from stickrole_utils.generation.generate import generate_from_params
from stickrole_utils.generation.store import RunStore, read_run_answers

from .fake_http import JSONHandler

DELAY_S = 0.05


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_overlap = 0
        self.requests = 0
        self.turns_in_flight = 0  # conversation turns (no answer options in the last message)
        self.max_turn_overlap = 0
        self.fail_on = ""  # a request whose last message holds this text gets HTTP 400


class _Handler(JSONHandler):
    server: _Server

    def do_POST(self):  # noqa: N802 (http.server API)
        srv = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        turn = "\n(A) " not in body["messages"][-1]["content"]
        with srv.lock:
            srv.requests += 1
            srv.in_flight += 1
            srv.max_overlap = max(srv.max_overlap, srv.in_flight)
            srv.turns_in_flight += turn
            srv.max_turn_overlap = max(srv.max_turn_overlap, srv.turns_in_flight)
        code, payload = 200, None
        try:
            time.sleep(DELAY_S)
            last = body["messages"][-1]["content"]
            if srv.fail_on and srv.fail_on in last:
                code, payload = 400, {"error": "bad request"}
            else:
                letters = [line[1] for line in last.splitlines() if line[:1] == "(" and
                           line[2:4] == ") "]
                # the reply depends on the request only (prompt and seed), never on timing
                digest = hashlib.sha256(f"{last}|{body['seed']}".encode()).digest()
                text = (f"Answer: ({letters[digest[0] % len(letters)]})" if letters
                        else f"A reply {digest[0]}.")
                prompt = sum(len(m["content"]) for m in body["messages"]) // 4
                payload = {
                    "choices": [{"message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": prompt, "completion_tokens": 5,
                              "prompt_tokens_details": {"cached_tokens": prompt // 2}}}
        finally:
            # out of flight *before* the reply leaves: once the client has it, it may send its
            # next request at once, which must not count as overlapping this one
            with srv.lock:
                srv.in_flight -= 1
                srv.turns_in_flight -= turn
        self.send_json(payload, code)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


def _url(srv):
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def _backend(srv, n_parallel):
    return OpenAIBackend(ModelEntry(name="srv", backend="openai", base_url=_url(srv), model="m",
                                    n_parallel=n_parallel, max_retries=0, timeout_s=10),
                         backoff_s=0.01)


ITEMS = [[{"role": "user", "content": f"Item {k}.\n(A) x\n(B) y\n(C) z\nReply."}]
         for k in range(8)]


def test_chat_many_overlaps_and_keeps_request_order(server):
    sampling = SamplingConfig(temperature=0, max_tokens=5)
    seq = [g.text for g in _backend(server, 1).chat_many(ITEMS, sampling, list(range(8)))]
    assert server.max_overlap == 1
    par_backend = _backend(server, 4)
    par = [g.text for g in par_backend.chat_many(ITEMS, sampling, list(range(8)))]
    assert par == seq
    # in flight together, not one after the other (the server saw them overlap)
    assert server.max_overlap >= 2 and server.max_overlap <= 4
    assert server.requests == 16
    usage = par_backend.usage()
    assert usage.generated_tokens == 8 * 5
    assert 0 < usage.evaluated_tokens < usage.prompt_tokens


def test_chat_many_raises_once_all_finished(server):
    server.fail_on = "Item 3."
    with pytest.raises(BackendError, match="HTTP 400"):
        _backend(server, 4).chat_many(ITEMS, SamplingConfig(), list(range(8)))
    assert server.in_flight == 0


def _params(tmp_path, srv, name, n_parallel, mode="direct"):
    data = {
        "version": 1, "run": "served", "output_dir": str(tmp_path / name),
        "models": [{"name": "srv", "backend": "openai", "base_url": _url(srv), "model": "m",
                    "n_parallel": n_parallel, "max_retries": 0, "timeout_s": 10}],
        "generation": {"n_personas": 2, "mode": mode, "n_messages": 1,
                       "items": {"pvq40": [1, 2, 3, 4, 5, 6], "svs57": [1, 2, 3, 31, 32]},
                       "chunks": ["chunk_no_conv", "chunk_chess_0", "chunk_svs_no_conv"]},
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_served_run_answers_equal_sequential_and_usage_counted(tmp_path, server):
    seq_dir = generate_from_params(_params(tmp_path, server, "seq", 1), progress=False)[0]
    assert server.max_overlap == 1
    n_seq = server.requests
    par_dir = generate_from_params(_params(tmp_path, server, "par", 4), progress=False)[0]
    assert server.max_overlap >= 2
    assert server.requests == 2 * n_seq  # the same requests, no retries
    seq, par = read_run_answers(seq_dir), read_run_answers(par_dir)
    pd.testing.assert_frame_equal(seq, par)
    assert par["parsed"].all() and len(par) == 2 * (6 + 6 + 5)
    a = (seq_dir / "conversations.jsonl").read_text()
    assert a == (par_dir / "conversations.jsonl").read_text()
    manifest = json.loads((par_dir / "manifest.json").read_text())
    usage = manifest["usage"]
    assert set(usage) == {"prompt_tokens", "evaluated_tokens", "generated_tokens",
                          "reasoning_tokens", "seconds"}
    assert usage["generated_tokens"] == 5 * n_seq and usage["reasoning_tokens"] == 0
    assert 0 < usage["evaluated_tokens"] < usage["prompt_tokens"] and usage["seconds"] > 0
    seq_usage = json.loads((seq_dir / "manifest.json").read_text())["usage"]
    assert {k: v for k, v in seq_usage.items() if k != "seconds"} == \
        {k: v for k, v in usage.items() if k != "seconds"}


def test_failed_request_loses_no_finished_unit(tmp_path, server):
    whole = read_run_answers(generate_from_params(_params(tmp_path, server, "whole", 4),
                                                  progress=False)[0])
    params = _params(tmp_path, server, "broken", 4)
    server.fail_on = "LIST OF VALUES II"  # mid-way through the first SVS unit (the last chunk)
    with pytest.raises(BackendError):
        generate_from_params(params, progress=False)
    store = RunStore(tmp_path / "broken" / "served" / "srv")
    done = store.read_parts()
    assert sorted(done["chunk"].unique()) == ["chunk_chess_0", "chunk_no_conv"]
    assert len(done) == 2 * (6 + 6)
    # every stored unit is whole and equals the uninterrupted run's
    for _, rows in done.groupby(["chunk", "persona", "questionnaire"]):
        key = rows[["chunk", "persona", "questionnaire", "item"]]
        ref = whole.merge(key, on=list(key.columns))
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), ref.reset_index(drop=True))
    usage_before = json.loads(store.manifest_path.read_text())["usage"]
    server.fail_on = ""
    resumed = read_run_answers(generate_from_params(params, progress=False)[0])
    pd.testing.assert_frame_equal(resumed, whole)
    usage_after = json.loads(store.manifest_path.read_text())["usage"]
    assert usage_after["generated_tokens"] > usage_before["generated_tokens"]


def test_conversation_turns_of_several_units_reach_the_server_together(tmp_path, server):
    # units side by side: with n_parallel 4 the conversations of four units are simulated at
    # once, never more than 4 requests in flight, and the answers equal one unit at a time
    def params(name, n):
        data = {
            "version": 1, "run": "turns", "output_dir": str(tmp_path / name),
            "models": [{"name": "srv", "backend": "openai", "base_url": _url(server),
                        "model": "m", "n_parallel": n, "max_retries": 0, "timeout_s": 10}],
            "generation": {"n_personas": 6, "mode": "direct", "n_messages": 3,
                           "items": {"pvq40": [1, 2]}, "chunks": ["chunk_chess_0"]},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    one = generate_from_params(params("one", 1), progress=False)[0]
    assert server.max_turn_overlap == 1
    t0 = time.perf_counter()
    four = generate_from_params(params("four", 4), progress=False)[0]
    took = time.perf_counter() - t0
    assert server.max_turn_overlap >= 2 and server.max_overlap <= 4
    pd.testing.assert_frame_equal(read_run_answers(one), read_run_answers(four))
    convs = [sorted((d / "conversations.jsonl").read_text().splitlines()) for d in (one, four)]
    assert convs[0] == convs[1]
    # 6 units x (3 turns + 1 step of 2 items) at 50 ms each would take >= 1.2 s one by one
    print(f"\nturns in flight at once: {server.max_turn_overlap}; 6 units in {took:.2f} s")
