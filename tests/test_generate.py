"""Whole-protocol dummy runs: deterministic given the seed, answers-table contract honoured."""

import json

import pandas as pd
import yaml

from stickrole_utils.analysis.answers import read_answers
from stickrole_utils.generation.backends import ContextOverflowError, ScriptedBackend
from stickrole_utils.generation.generate import generate_from_params
from stickrole_utils.generation.store import read_run_answers
from stickrole_utils.schema import ANSWER_COLUMNS, GENERATION_COLUMNS

PARAMS = {
    "version": 1,
    "run": "det",
    "models": [{"name": "dummy", "backend": "dummy"}, {"name": "dummy2", "backend": "dummy",
                                                       "seed": 1}],
    "generation": {
        "n_personas": 3,
        "mode": "cot",
        "chunks": ["chunk_no_conv", "chunk_chess_0", "chunk_svs_no_conv",
                   {"label": "chunk_religion", "questionnaire": "religion"}],
    },
}


def _run(tmp_path, name, seed=0, model=None):
    data = {**PARAMS, "output_dir": str(tmp_path / name),
            "generation": {**PARAMS["generation"], "seed": seed}}
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return generate_from_params(p, model=model, progress=False)


def test_same_seed_identical_answers(tmp_path):
    a = read_run_answers(_run(tmp_path, "a", model="dummy")[0])
    b = read_run_answers(_run(tmp_path, "b", model="dummy")[0])
    pd.testing.assert_frame_equal(a, b)
    c = read_run_answers(_run(tmp_path, "c", seed=1, model="dummy")[0])
    # the seed drives the dummy's answers; the option orders come from the chunk seed strings
    assert (a["option_order"] == c["option_order"]).all()
    assert (a["score"] != c["score"]).mean() > 0.5


def test_contract_and_shape(tmp_path):
    dirs = _run(tmp_path, "x")
    assert [d.name for d in dirs] == ["dummy", "dummy2"]
    df = read_answers(dirs[0] / "answers.parquet")  # the analysis reader accepts it
    assert list(df.columns[:7]) == list(ANSWER_COLUMNS)
    assert set(GENERATION_COLUMNS) <= set(df.columns)
    sizes = df.groupby(["chunk", "questionnaire"]).size().to_dict()
    assert sizes == {("chunk_no_conv", "pvq40"): 120, ("chunk_chess_0", "pvq40"): 120,
                     ("chunk_svs_no_conv", "svs57"): 171, ("chunk_religion", "religion"): 15}
    assert df["parsed"].all() and df["score"].notna().all()
    assert list(df["chunk"].unique()) == ["chunk_no_conv", "chunk_chess_0", "chunk_svs_no_conv",
                                          "chunk_religion"]
    manifest = json.loads((dirs[0] / "manifest.json").read_text())
    assert manifest["stats"]["unparsed_rate"] == 0.0
    assert manifest["identity"]["generation"]["seed"] == 0
    assert manifest["backend_info"]["backend"] == "dummy"
    other = read_run_answers(dirs[1])
    assert (other["score"] != df["score"].to_numpy()).any()


def _overflowing() -> ScriptedBackend:
    """Conversations in chunk_joke are 'too long' for the context; items get a letter."""

    def reply(messages, seed):
        if any("joke" in m["content"] for m in messages):
            raise ContextOverflowError("prompt of 9000 tokens + 100 reply tokens exceeds n_ctx=4096")
        return "Answer: (A)"

    return ScriptedBackend(reply)


def test_context_overflow_skip_or_stop(tmp_path):
    import pytest

    from stickrole_utils.config import load_run_config
    from stickrole_utils.generation.generate import generate_model

    data = {**PARAMS, "output_dir": str(tmp_path / "o"),
            "generation": {"n_personas": 2, "mode": "direct",
                           "chunks": ["chunk_no_conv", "chunk_joke"],
                           "items": {"pvq40": [1, 2]}}}
    p = tmp_path / "o.yaml"
    p.write_text(yaml.safe_dump(data))
    cfg = load_run_config(p)
    entry = cfg.models[0]
    out = generate_model(cfg, entry, progress=False, backend=_overflowing())
    df = read_run_answers(out)
    joke = df[df["chunk"] == "chunk_joke"]
    assert len(joke) == 4 and joke["score"].isna().all() and (~joke["parsed"]).all()
    assert joke["error"].str.contains("exceeds n_ctx=4096").all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["units_skipped_overflow"] == 2
    data["generation"]["on_context_overflow"] = "stop"
    data["output_dir"] = str(tmp_path / "s")
    p.write_text(yaml.safe_dump(data))
    cfg = load_run_config(p)
    with pytest.raises(ContextOverflowError, match="exceeds n_ctx"):
        generate_model(cfg, entry, progress=False, backend=_overflowing())


def test_manifest_usage_summed_over_units_and_sessions(tmp_path):
    """usage: the dummy estimates (nothing evaluated); an interrupted session's finished units
    stay counted and the resumed session adds to them, ending where an uninterrupted run ends."""
    import pytest

    from stickrole_utils.config import load_run_config
    from stickrole_utils.errors import BackendError
    from stickrole_utils.generation.backends import DummyBackend
    from stickrole_utils.generation.generate import generate_model

    data = {**PARAMS, "output_dir": str(tmp_path / "whole"),
            "generation": {**PARAMS["generation"], "chunks": ["chunk_no_conv", "chunk_chess_0"],
                           "items": {"pvq40": [1, 2, 3]}}}
    p = tmp_path / "u.yaml"
    p.write_text(yaml.safe_dump(data))
    cfg = load_run_config(p)
    whole = json.loads((generate_model(cfg, cfg.models[0], progress=False) / "manifest.json")
                       .read_text())["usage"]
    assert whole["evaluated_tokens"] == 0 and whole["prompt_tokens"] > 0
    assert whole["generated_tokens"] > 0 and whole["seconds"] >= 0

    class Failing(DummyBackend):
        calls = 0

        def chat(self, messages, sampling, seed):
            type(self).calls += 1
            if type(self).calls > 6:  # two units of 3 items, then it fails mid-unit
                raise BackendError("server went away")
            return super().chat(messages, sampling, seed)

    data["output_dir"] = str(tmp_path / "resumed")
    p.write_text(yaml.safe_dump(data))
    cfg = load_run_config(p)
    with pytest.raises(BackendError):
        generate_model(cfg, cfg.models[0], progress=False, backend=Failing(cfg.models[0]))
    out = tmp_path / "resumed" / "det" / "dummy"
    partial = json.loads((out / "manifest.json").read_text())
    assert partial["status"] == "running"
    assert 0 < partial["usage"]["prompt_tokens"] < whole["prompt_tokens"]
    generate_model(cfg, cfg.models[0], progress=False)
    resumed = json.loads((out / "manifest.json").read_text())["usage"]
    for key in ("prompt_tokens", "evaluated_tokens", "generated_tokens"):
        assert resumed[key] == whole[key]
    assert resumed["seconds"] >= partial["usage"]["seconds"]


def test_n_parallel_auto_is_resolved_for_the_backend_not_the_identity(tmp_path, monkeypatch):
    from stickrole_utils.generation import generate as gen_mod

    built = []
    real = gen_mod.make_backend

    def spy(entry, **options):
        built.append(entry)
        return real(entry, **options)

    monkeypatch.setattr(gen_mod, "make_backend", spy)
    data = {**PARAMS, "output_dir": str(tmp_path),
            "models": [{"name": "dummy", "backend": "dummy", "n_parallel": "auto"}],
            "generation": {**PARAMS["generation"], "n_personas": 2,
                           "chunks": ["chunk_no_conv"]}}
    p = tmp_path / "auto.yaml"
    p.write_text(yaml.safe_dump(data))
    out = generate_from_params(p, progress=False)[0]
    # the backend learns the answer mode (n_parallel auto depends on it) ...
    assert built[0].n_parallel == "auto" and built[0].mode == "cot"
    # ... while the run identity keeps the params as written
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity"]["model"]["n_parallel"] == "auto"
    assert manifest["identity"]["model"]["mode"] is None
