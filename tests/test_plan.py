"""`stickrole plan`: units, items, estimated tokens and ETA per model and chunk, from the prompts
the run would build, before any model loads; user errors are one line with exit code 2."""

import json

import pytest
import yaml

from stickrole_utils.cli import main
from stickrole_utils.generation import load_params
from stickrole_utils.generation.cost import format_duration, format_plan, plan_run
from stickrole_utils.generation.generate import generate_from_params
from stickrole_utils.generation.store import RunStore


def _params(tmp_path, name="p", mode="logprob", chunks=("chunk_no_conv",), n_messages=1,
            models=None, output_dir="out", **gen):
    data = {"version": 1, "run": "r", "output_dir": str(tmp_path / output_dir),
            "models": models or [{"name": "d", "backend": "dummy"}],
            "generation": {"n_personas": 3, "mode": mode, "n_messages": n_messages,
                           "chunks": list(chunks), "items": {"pvq40": [1, 2, 3, 4]},
                           "conversation": {"max_tokens": 40}, **gen}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _plan(path):
    cfg = load_params(path)
    return cfg, plan_run(cfg)


def test_counts_and_generated_bounds_follow_the_params(tmp_path):
    served = {"name": "srv", "backend": "openai", "base_url": "http://127.0.0.1:9/v1",
              "model": "m", "mode": "direct"}
    cfg, plans = _plan(_params(tmp_path, chunks=("chunk_no_conv", "chunk_chess_0"),
                               models=[{"name": "d", "backend": "dummy"}, served]))
    dummy, srv = plans
    assert [c.chunk for c in dummy.chunks] == ["chunk_no_conv", "chunk_chess_0"]
    no_conv, chess = dummy.chunks
    assert (no_conv.units, no_conv.items, no_conv.done) == (3, 12, 0)
    assert no_conv.generated_tokens == 0  # logprob: one forward pass per item
    assert chess.generated_tokens == 3 * 1 * 40  # n_messages x conversation max_tokens
    assert chess.prompt_tokens > no_conv.prompt_tokens > 0
    assert no_conv.evaluated_tokens == chess.evaluated_tokens == 0  # the dummy computes nothing
    assert srv.mode == "direct"
    assert srv.chunks[0].generated_tokens == 12 * 10  # direct: answer max_tokens default 10
    assert srv.chunks[1].generated_tokens == 12 * 10 + 3 * 40
    # a cached prefix (persona and questionnaire text) is not evaluated again
    assert 0 < srv.total.evaluated_tokens < srv.total.prompt_tokens
    longer = _plan(_params(tmp_path, "q", chunks=("chunk_chess_0",), n_messages=3))[1][0]
    assert longer.chunks[0].generated_tokens == 3 * 3 * 40
    assert longer.chunks[0].prompt_tokens > chess.prompt_tokens
    cot = _plan(_params(tmp_path, "c", mode="cot", answer={"max_tokens": 300}))[1][0]
    assert cot.chunks[0].generated_tokens == 12 * 300


def test_prompt_tokens_are_those_of_the_real_prompts(tmp_path):
    """Independent items after no conversation: the dummy run presents exactly the prompts the
    plan walked, and both count them the same tokenizer-free way. In the SVS dialogue the
    dummy's random picks change the order a little, not the size."""
    for mode in ("logprob", "direct"):
        for chunks in (("chunk_no_conv",), ("chunk_no_conv", "chunk_svs_no_conv")):
            name = f"{mode}{len(chunks)}"
            path = _params(tmp_path, name, mode=mode, chunks=chunks, output_dir=name,
                           items={"pvq40": [1, 2, 3, 4], "svs57": [1, 2, 31, 40]})
            planned = _plan(path)[1][0].total
            out = generate_from_params(path, progress=False)[0]
            usage = json.loads((out / "manifest.json").read_text())["usage"]
            if len(chunks) == 1:
                assert usage["prompt_tokens"] == planned.prompt_tokens
            else:
                assert usage["prompt_tokens"] == pytest.approx(planned.prompt_tokens, rel=0.02)


def test_eta_from_an_earlier_session_and_calibration_hint(tmp_path):
    path = _params(tmp_path, mode="direct")
    cfg, plans = _plan(path)
    text = format_plan(cfg, plans)
    assert "no throughput measured yet; run a short calibration (e.g. n_personas: 2)" in text
    assert "characters / 4" in text
    assert not (tmp_path / "out").exists()  # planning writes nothing
    out = generate_from_params(path, progress=False)[0]
    plan = _plan(path)[1][0]
    assert plan.tokens_per_second is not None and plan.tokens_per_second > 0
    assert plan.total.done == 3 and plan.eta_seconds(plan.total) == 0
    store = RunStore(out)
    store.part_files()[0].unlink()  # one unit to do again
    cfg, plans = _plan(path)
    assert plans[0].total.done == 2 and plans[0].eta_seconds(plans[0].total) > 0
    text = format_plan(cfg, plans)
    assert "tokens/s (evaluated + generated) measured by an earlier session" in text


def test_format_duration():
    assert format_duration(59) == "59s"
    assert format_duration(36 * 3600) == "1.5d"


def test_cli_plan_prints_the_table(tmp_path, capsys):
    path = _params(tmp_path, chunks=("chunk_no_conv", "chunk_chess_0"),
                   models=[{"name": "a", "backend": "dummy"}, {"name": "b", "backend": "dummy"}])
    assert main(["-q", "plan", str(path), "--model", "b"]) == 0
    out = capsys.readouterr().out
    assert "model b (dummy, mode logprob)" in out and "model a " not in out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["chunk", "units"])
    assert [line.split()[0] for line in lines[head + 1:head + 4]] == [
        "chunk_no_conv", "chunk_chess_0", "total"]


@pytest.mark.parametrize("case", ["missing", "model", "manifest", "corpus"])
def test_cli_plan_user_errors_are_one_line(tmp_path, capsys, case):
    path = _params(tmp_path)
    args = ["plan", str(path)]
    if case == "missing":
        args = ["plan", str(tmp_path / "nope.yaml")]
        expected = "nope.yaml"
    elif case == "model":
        args += ["--model", "ghost"]
        expected = "no model named 'ghost'"
    elif case == "manifest":
        bad = tmp_path / "out" / "r" / "d" / "manifest.json"
        bad.parent.mkdir(parents=True)
        bad.write_text("[1, 2]")
        expected = "manifest.json: expected a JSON object"
    else:
        path = _params(tmp_path, chunks=({"label": "c", "context": "corpus",
                                          "corpus": "absent.txt"},))
        args = ["plan", str(path)]
        expected = "absent.txt"
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("stickrole plan: error: ")
    assert expected in err


def test_estimate_keeps_a_cached_history_per_speaker():
    from stickrole_utils.config import SamplingConfig
    from stickrole_utils.generation.cost import CostEstimator

    est = CostEstimator()
    ctx = "a long context " * 100
    persona = [{"role": "system", "content": "You are Ann."}, {"role": "user", "content": ctx}]
    partner = [{"role": "system", "content": "You talk to Ann."}, {"role": "user", "content": ""},
               {"role": "assistant", "content": ctx}]
    sampling = SamplingConfig(max_tokens=5)
    est.speak_as("persona")
    reply0 = est.chat(persona, sampling, 0).text
    est.speak_as("interlocutor")
    reply1 = est.chat([*partner, {"role": "user", "content": reply0}], sampling, 0).text
    before = est.evaluated_tokens
    est.speak_as("persona")
    est.chat([*persona, {"role": "assistant", "content": reply0},
              {"role": "user", "content": reply1}], sampling, 0)
    # persona turn 2 continues the persona's own history: only the new turns are evaluated
    assert est.evaluated_tokens - before < 20
