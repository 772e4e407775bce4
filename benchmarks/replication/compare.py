"""Hold stickrole against the replication reference of the original code (same GGUF, same build).

Runs stickrole in process (``llama_cpp`` backend, the reference's GGUF and llama settings) with
the replication recipe on the reference's slice (its personas, chunks in its order, CoT answers,
temperature 0, the server's sampling defaults where the original's requests were silent), records
every model call through a thin wrapper around the backend, reduces the calls with the same
code as the reference (``calls.py``) and reports, per chunk and kind of call, how many prompts
(SHA-256 of the messages) and replies (SHA-256 of the text) are identical, the option orders,
and the answers as stored (``conversations.jsonl``, the ``raw`` column of ``answers.parquet``).

The original's texts are read from your checkout (``original_texts.py``) into a prompts file
written in the work directory at run time; the project carries none of them.

Usage::

    nice -n 10 .venv/bin/python benchmarks/replication/compare.py --original /tmp/orig \\
        [--reference tests/reference/replication_smollm2.json] \\
        [--kv-reuse server|speakers] [--strip-replies] \\
        [--workdir /tmp/stickrole-replication-compare]

``--kv-reuse server`` (default) is the model entry's ``kv_reuse: server``: one KV sequence reused
as llama-cpp-python's server reuses it; ``speakers`` keeps a KV history per speaker (stickrole's
default outside the replication settings). ``--strip-replies`` strips conversation replies
(stickrole's default; the original does not, hence ``strip_replies: false`` otherwise).
Exit status 0 when every prompt, option order and reply is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from calls import QuestionnaireTexts, label_calls, text_sha256  # noqa: E402
from original_texts import original_prompts  # noqa: E402

REPO = HERE.parent.parent
DEFAULT_REFERENCE = REPO / "tests" / "reference" / "replication_smollm2.json"


class RecordingBackend:
    """A backend that passes every call to ``inner`` and records the messages, the reply and
    its token counts, tagged with the chunk being administered (``chunk``); each call is also
    appended to ``log`` as it is made (an interrupted run can still be compared)."""

    def __init__(self, inner: Any, log: Path):
        self.inner = inner
        self.chunk = ""
        self.calls: list[dict[str, Any]] = []
        self.log = log
        log.write_text("")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def chat(self, messages, sampling, seed):
        gen = self.inner.chat(messages, sampling, seed)
        call = {"chunk": self.chunk, "messages": [dict(m) for m in messages], "reply": gen.text,
                "prompt_tokens": gen.prompt_tokens, "reply_tokens": gen.completion_tokens,
                "finish_reason": None}
        self.calls.append(call)
        with open(self.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(call, ensure_ascii=False) + "\n")
        return gen

    def chat_many(self, messages, sampling, seeds):
        return [self.chat(m, sampling, s) for m, s in zip(messages, seeds, strict=True)]


def _chunk_spec(label: str, proto: dict[str, Any]) -> str | dict[str, Any]:
    """stickrole's preset of a leaderboard chunk, with the original's interlocutors file (the
    topic openers come from the prompts file, the Reddit texts from ``data_path``)."""
    inter = proto["chunks"][label]["interlocutors"]
    if inter == "human":
        return label
    return {"label": label, "preset": label, "interlocutors_file": inter}


def _sampling(ref: dict[str, Any], kind: str,
              repeat_penalty: float | None = None) -> dict[str, Any]:
    """The sampling a call of ``kind`` got on the server: the request's fields, the server's
    defaults for the fields it did not set (only those stickrole can set); ``repeat_penalty``
    replaces the server's (a check of what it changes)."""
    reqs = ref["requests_sampling"][kind]
    if len(reqs) != 1:
        raise SystemExit(f"reference: {kind} calls were sent with {len(reqs)} different settings")
    req, server = reqs[0], ref["server_sampling_defaults"]
    out = {"temperature": req.get("temperature", server["temperature"]),
           "max_tokens": req["max_tokens"]}
    for key in ("top_p", "top_k", "min_p", "repeat_penalty"):
        out[key] = req.get(key, server[key])
    if repeat_penalty is not None:
        out["repeat_penalty"] = repeat_penalty
    return out


def build_params(ref: dict[str, Any], texts: dict[str, Any], data: Path, work: Path,
                 kv: str, strip: bool, n_items: int | None = None,
                 n_personas: int | None = None, chunks: list[str] | None = None,
                 repeat_penalty: float | None = None) -> Path:
    """The replication recipe for the reference's slice, as a params file in ``work``."""
    import yaml

    from stickrole_utils.design.prompts import PROMPTS_FILE_KEYS

    proto, server = ref["protocol"], ref["server"]
    model = {"name": "smollm2", "backend": "llama_cpp", "model": ref["model"]["reference"],
             "n_gpu_layers": 0, "n_ctx": server["n_ctx"], "n_batch": server["n_batch"],
             "n_threads": server["n_threads"], "n_parallel": 1, "kv_reuse": kv}
    gen: dict[str, Any] = {
        "population": f"original:{proto['population']}",
        "n_personas": n_personas or proto["n_personas"],
        "instrument_source": "original", "permutation_scheme": "original",
        "parsing": "original", "mode": "cot" if proto["cot"] else "direct",
        "n_messages": proto["n_messages"],
        "system_role": "system" if proto["system_message"] else "user",
        "persona_turn": "separate", "interlocutor_knows_persona": False,
        "conversation": _sampling(ref, "turn", repeat_penalty),
        "answer": _sampling(ref, "item", repeat_penalty),
        "chunks": [_chunk_spec(c, proto) for c in proto["chunks"]
                   if not chunks or c in chunks],
        "strip_replies": strip,
    }
    if n_items:
        gen["items"] = {"pvq40": list(range(1, n_items + 1))}
    prompts_path = work / "original_prompts.yaml"  # the user's copy, outside the project
    prompts_path.write_text(yaml.safe_dump({k: texts[k] for k in PROMPTS_FILE_KEYS},
                                           allow_unicode=True, sort_keys=False, width=1000),
                            encoding="utf-8")
    gen["prompts_file"] = str(prompts_path)
    params = {"version": 1, "run": "replication", "output_dir": str(work / "outputs"),
              "data_path": str(data), "models": [model], "generation": gen}
    path = work / "replication.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False, width=1000),
                    encoding="utf-8")
    return path


def run_stickrole(params: Path, calls_log: Path) -> tuple[Path, list[dict[str, Any]], float]:
    """Generate with a recording backend; the model run directory, the calls, the seconds."""
    import stickrole_utils.generation.generate as generate_mod
    from stickrole_utils.generation import generate_model
    from stickrole_utils.generation.backends import LlamaCppBackend
    from stickrole_utils.generation.plan import load_params

    cfg = load_params(params)
    rec = RecordingBackend(LlamaCppBackend(cfg.models[0]), calls_log)
    administer = generate_mod.administer_unit

    def tagged(backend, unit, *args, **kwargs):
        rec.chunk = unit.chunk.label
        return administer(backend, unit, *args, **kwargs)

    generate_mod.administer_unit = tagged
    t0 = time.perf_counter()
    try:
        run_dir = generate_model(cfg, cfg.models[0], force=True, progress="text", backend=rec)
    finally:
        generate_mod.administer_unit = administer
        rec.inner.close()
    return run_dir, rec.calls, time.perf_counter() - t0


def _key(c: dict[str, Any]) -> tuple:
    return (c["chunk"], c["kind"], c["persona"], c.get("turn", c.get("item")))


def compare(ref: dict[str, Any], ours: list[dict[str, Any]],
            stored: dict[tuple, str], orders: dict[tuple, list[int]]) -> dict[str, Any]:
    """Counts per (chunk, kind): calls, identical prompts, replies, option orders, letters,
    replies as stored; and the first differing calls."""
    theirs = {_key(c): c for c in ref["calls"]}
    mine = {_key(c): c for c in ours}
    table: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    first_diff: list[dict[str, Any]] = []
    for k, t in theirs.items():
        row = table[(t["chunk"], t["kind"])]
        row["reference"] += 1
        o = mine.get(k)
        if o is None:
            continue
        row["stickrole"] += 1
        same_prompt = o["messages_sha256"] == t["messages_sha256"]
        same_reply = o["reply_sha256"] == t["reply_sha256"]
        row["prompts_identical"] += same_prompt
        row["replies_identical"] += same_reply
        row["prompt_tokens_equal"] += o["prompt_tokens"] == t["prompt_tokens"]
        if same_prompt and not same_reply:
            row["reply_differs_after_identical_prompt"] += 1
        if t["kind"] == "item":
            row["option_orders_identical"] += (o["option_order"] == t["option_order"]
                                               and orders.get(k) == t["option_order"])
            row["letters_identical"] += o["letter"] == t["letter"]
        if stored.get(k) == t["reply_sha256"]:
            row["stored_identical"] += 1
        if not (same_prompt and same_reply) and len(first_diff) < 12:
            first_diff.append({"key": list(k), "prompt": same_prompt, "reply": same_reply,
                               "prompt_tokens": [t["prompt_tokens"], o["prompt_tokens"]],
                               "reply_tokens": [t["reply_tokens"], o["reply_tokens"]]})
    return {"table": {f"{c}/{k}": dict(v) for (c, k), v in table.items()},
            "extra_calls": len(set(mine) - set(theirs)), "first_differences": first_diff}


def _stored(run_dir: Path) -> tuple[dict, dict]:
    """Reply hashes as stickrole stored them (conversation turns, item ``raw``) and the option
    orders of answers.parquet, keyed as the reference's calls."""
    import pandas as pd

    stored: dict[tuple, str] = {}
    conv = run_dir / "conversations.jsonl"
    if conv.is_file():
        records = [json.loads(x) for x in conv.read_text(encoding="utf-8").splitlines() if x]
    else:  # an interrupted run: the units stored so far
        records = [json.loads(p.read_text(encoding="utf-8"))
                   for p in sorted((run_dir / "parts").glob("*.json"))]
    for rec in records:
        for t, msg in enumerate(rec["conversation"][1:]):
            stored[(rec["chunk"], "turn", rec["persona_index"], t)] = text_sha256(msg["content"])
    table = run_dir / "answers.parquet"
    parts = sorted((run_dir / "parts").glob("*.parquet")) if not table.is_file() else []
    answers = (pd.read_parquet(table) if table.is_file() else
               pd.concat([pd.read_parquet(p) for p in parts]) if parts else
               pd.DataFrame(columns=["chunk", "persona_index", "item", "raw", "option_order"]))
    orders = {}
    for r in answers.itertuples():
        key = (r.chunk, "item", int(r.persona_index), int(r.item))
        stored[key] = text_sha256(r.raw)
        orders[key] = [int(x) for x in str(r.option_order).split(",")]
    return stored, orders


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--original", required=True, type=Path,
                    help="your checkout of flowersteam/value_stability at e3dd748")
    ap.add_argument("--data", type=Path, default=None,
                    help="the original's data directory (default: the checkout)")
    ap.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/stickrole-replication-compare"))
    ap.add_argument("--kv-reuse", choices=["server", "speakers"], default="server")
    ap.add_argument("--strip-replies", action="store_true",
                    help="strip conversation replies (stickrole's default; the original does not)")
    ap.add_argument("--items", type=int, default=None,
                    help="ask only the first N items (quick checks; the reference has all)")
    ap.add_argument("--n-personas", type=int, default=None,
                    help="personas to run (quick checks; default: the reference's)")
    ap.add_argument("--chunks", nargs="+", default=None,
                    help="run only these of the reference's chunks (quick checks: the first "
                         "call then starts from another KV history than in the reference)")
    ap.add_argument("--repeat-penalty", type=float, default=None,
                    help="instead of the server's default (a check of what the server's "
                         "sampling defaults change)")
    ap.add_argument("--no-run", action="store_true",
                    help="compare the calls a previous run left in the work directory")
    ap.add_argument("--report", type=Path, default=None,
                    help="write the comparison as JSON here (default: <workdir>/comparison.json)")
    args = ap.parse_args()

    ref = json.loads(args.reference.read_text(encoding="utf-8"))
    original = args.original.resolve()
    data = (args.data or original).resolve()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    texts = original_prompts(original)
    calls_path = work / "stickrole_calls.jsonl"
    params = build_params(ref, texts, data, work, args.kv_reuse, args.strip_replies, args.items,
                          args.n_personas, args.chunks, args.repeat_penalty)
    if args.no_run:
        raw_calls = [json.loads(x) for x in calls_path.read_text(encoding="utf-8").splitlines()]
        run_dir = work / "outputs" / "replication" / "smollm2"
        seconds = float("nan")
    else:
        run_dir, raw_calls, seconds = run_stickrole(params, calls_path)

    people = json.loads((data / "personas/real_world_people/personas.json").read_text())
    people = people[: args.n_personas or ref["protocol"]["n_personas"]]
    bank = QuestionnaireTexts(data)
    ours = []
    for chunk in ref["protocol"]["chunks"]:
        if args.chunks and chunk not in args.chunks:
            continue
        calls = [c for c in raw_calls if c["chunk"] == chunk]
        ours += label_calls(calls, chunk, people, texts["persona"], texts["query_cot"],
                            texts["descriptions"]["pvq40"], bank)
    stored, orders = _stored(run_dir)
    if args.chunks:
        ref = {**ref, "calls": [c for c in ref["calls"] if c["chunk"] in args.chunks]}
    result = compare(ref, ours, stored, orders)
    result.update(kv_reuse=args.kv_reuse, strip_replies=args.strip_replies,
                  repeat_penalty=args.repeat_penalty, seconds=round(seconds, 1),
                  params=str(params), run_dir=str(run_dir))
    from run_original import _llama_build

    build = _llama_build(sys.executable)
    result["same_llama_build"] = (build["version"] == ref["llama_cpp_python"]
                                  and build["libs"] == ref["llama_cpp_libs_sha256"])
    if not result["same_llama_build"]:
        print("warning: this llama-cpp-python build is not the reference's (version or native "
              "libraries differ): replies may differ by rounding", file=sys.stderr)
    report = args.report or work / "comparison.json"
    report.write_text(json.dumps(result, indent=1))

    cols = ["reference", "stickrole", "prompts_identical", "prompt_tokens_equal",
            "option_orders_identical", "replies_identical", "stored_identical",
            "letters_identical"]
    item_only = {"option_orders_identical", "letters_identical"}
    print(f"kv_reuse={args.kv_reuse} strip_replies={args.strip_replies} ({seconds:.0f} s); "
          f"report {report}")
    short = ["calls", "ours", "prompt=", "tokens=", "order=", "reply=", "stored=", "letter="]
    print("columns: calls in the reference / made by stickrole; identical: prompt (messages), "
          "prompt token count, option order, reply, reply as stored, parsed letter")
    print(f"{'chunk/kind':24s} " + " ".join(f"{c:>8s}" for c in short))
    ok = True
    for name, row in result["table"].items():
        cells = ["-" if c in item_only and not name.endswith("/item") else str(row.get(c, 0))
                 for c in cols]
        print(f"{name:24s} " + " ".join(f"{x:>8s}" for x in cells))
        n = row.get("reference", 0)
        ok &= all(row.get(c, 0) == n for c in ("stickrole", "prompts_identical",
                                                "replies_identical"))
    total = {c: sum(r.get(c, 0) for r in result["table"].values()) for c in cols}
    print(f"{'all':24s} " + " ".join(f"{total[c]:>8d}" for c in cols))
    for d in result["first_differences"]:
        print("differs:", d)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
