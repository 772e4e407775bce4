"""A catalogue of bad inputs across every command: each ends in exit code 2 and one line on stderr
naming the file, the field and the offending value, with no traceback, and leaves what an earlier
run wrote byte-identical. Legal but odd inputs give a warning that names the culprit.

Commands run in-process (``cli.main``) for speed; two cases run the real entry point.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from stickrole_utils.cli import main
from stickrole_utils.datasets import synthetic_answers

LATIN1 = "caf\xe9".encode("latin-1")  # not UTF-8: 0xe9 starts a multi-byte sequence
PARAMS = """version: 1
run: {run}
output_dir: {out}
models:
  - name: d
    backend: dummy
generation:
  n_personas: 3
  items: {{pvq40: [1, 2]}}
{extra}"""


def _params(ws: Path, run: str = "earlier", extra: str = "", out: Path | None = None) -> str:
    return PARAMS.format(run=run, out=out or ws / "outs", extra=extra)


def _snapshot(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file (and '<dir>' for every directory) under root."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                       if p.is_file() else "<dir>")
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    """A workspace holding what earlier, successful runs wrote: ``run/`` (analyze + leaderboard
    output and an imported answers table), ``outs/earlier/d`` (a generated run), and the inputs
    the cases start from."""
    ws = tmp_path_factory.mktemp("bad_inputs")
    answers = synthetic_answers({"m1": 0.5}, chunks=["chunk_0", "chunk_no_conv"], n_personas=4,
                                seed=0)
    answers.to_csv(ws / "answers.csv", index=False)
    assert main(["-q", "analyze", str(ws / "answers.csv"), "--out", str(ws / "run"),
                 "--bootstrap", "0"]) == 0
    (ws / "run" / "imported.csv").write_text("earlier import\n")
    (ws / "params.yaml").write_text(_params(ws))
    assert main(["-q", "generate", str(ws / "params.yaml")]) == 0
    (ws / "results.json").write_text(json.dumps(_results()))
    return ws


def _results() -> dict:
    pop = [{"name": f"p{i}", "description": "x", "gender": "FM"[i % 2]} for i in range(3)]
    answers = [{"pvq_auto": [["ABCDEF"[k % 6], 1 + k % 6] for k in range(40)]} for _ in pop]
    return {"params": {"engine": "m", "permute_options_seed": "s"},
            "simulated_population": pop, "answers": answers}


@dataclass
class Case:
    """One bad input: ``setup(ws, case_dir)`` writes it and returns the argv; ``expect`` are
    substrings the error line must hold (file, field, value); ``earlier`` the directory whose
    files must stay byte-identical: relative to ws, or to the case's directory as ``case/...``.
    """

    cls: str
    id: str
    setup: Callable[[Path, Path], list[str]]
    expect: list[str]
    earlier: str = "run"


CASES: list[Case] = []


def case(cls: str, id: str, expect: list[str], earlier: str = "run"):
    def deco(fn):
        CASES.append(Case(cls, id, fn, expect, earlier))
        return fn
    return deco


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


# ---- builders ---------------------------------------------------------------------------------

def _metrics(ws: Path) -> dict:
    return json.loads((ws / "run" / "m1" / "metrics.json").read_text())


def metrics_case(id: str, mutate: Callable[[dict], object], expect: list[str]) -> None:
    """leaderboard over one metrics.json with a wrong value."""
    def setup(ws: Path, d: Path) -> list[str]:
        m = _metrics(ws)
        mutate(m)
        _write(d / "m1" / "metrics.json", json.dumps(m))
        return ["leaderboard", str(d), "--out", str(ws / "run")]
    CASES.append(Case("wrong type: metrics.json", id, setup, ["metrics.json", *expect]))


def results_case(id: str, mutate: Callable[[dict], object], expect: list[str]) -> None:
    """import-original of one results.json with a wrong value."""
    def setup(ws: Path, d: Path) -> list[str]:
        data = _results()
        mutate(data)
        _write(d / "chunk_0_2024_01_01" / "results.json", json.dumps(data))
        return ["import-original", str(d / "chunk_0_2024_01_01"), "--out",
                str(ws / "run" / "imported.csv")]
    CASES.append(Case("wrong type: results.json", id, setup, ["results.json", *expect]))


def answers_case(id: str, column: str, value: object, expect: list[str]) -> None:
    """analyze of an answers table with one bad value in row 3."""
    def setup(ws: Path, d: Path) -> list[str]:
        text = (ws / "answers.csv").read_text().splitlines()
        header = text[0].split(",")
        row = text[3].split(",")
        row[header.index(column)] = str(value)
        text[3] = ",".join(row)
        _write(d / "answers.csv", "\n".join(text) + "\n")
        return ["analyze", str(d / "answers.csv"), "--out", str(ws / "run")]
    CASES.append(Case("numbers in answers", id, setup, ["answers.csv", f"'{column}'", *expect]))


def params_case(cls: str, id: str, extra: str, expect: list[str], command: str = "generate",
                files: dict[str, str | bytes] | None = None) -> None:
    """generate/run with a params file whose generation section ends in ``extra``."""
    def setup(ws: Path, d: Path) -> list[str]:
        for name, data in (files or {}).items():
            _write(d / name, data)
        _write(d / "p.yaml", _params(ws, extra=extra.format(d=d)))
        return [command, str(d / "p.yaml")]
    CASES.append(Case(cls, id, setup, ["p.yaml", *expect], earlier="outs"))


def settings_case(cls: str, id: str, text: str | bytes, expect: list[str],
                  command: str = "analyze") -> None:
    """analyze/leaderboard with ``--params`` holding ``text``."""
    def setup(ws: Path, d: Path) -> list[str]:
        _write(d / "p.yaml", text)
        inputs = str(ws / "answers.csv") if command == "analyze" else str(ws / "run")
        return [command, inputs, "--out", str(ws / "run"), "--params", str(d / "p.yaml")]
    CASES.append(Case(cls, id, setup, ["p.yaml", *expect]))


def report_case(id: str, name: str, data: str | bytes, expect: list[str]) -> None:
    """report of a copy of the earlier run directory with one file replaced."""
    def setup(ws: Path, d: Path) -> list[str]:
        shutil.copytree(ws / "run", d / "run")
        _write(d / "run" / name, data)
        return ["report", str(d / "run")]
    CASES.append(Case("report inputs", id, setup, [Path(name).name, *expect],
                      earlier="case/run"))


# ---- 1. files that are not UTF-8 --------------------------------------------------------------

settings_case("not UTF-8", "analyze --params", b"analysis:\n  stress: '" + LATIN1 + b"'\n",
              ["not UTF-8", "0xe9", "line 2, column 15"])
settings_case("not UTF-8", "leaderboard --params", b"analysis:\n  ties: " + LATIN1 + b"\n",
              ["not UTF-8", "0xe9"], command="leaderboard")


@case("not UTF-8", "generate params", ["p.yaml", "not UTF-8", "0xe9", "line 1"], "outs")
def _(ws, d):
    _write(d / "p.yaml", b"# " + LATIN1 + b"\n" + _params(ws).encode())
    return ["generate", str(d / "p.yaml")]


@case("not UTF-8", "run params", ["p.yaml", "not UTF-8", "0xe9"], "outs")
def _(ws, d):
    _write(d / "p.yaml", _params(ws).encode() + b"# " + LATIN1 + b"\n")
    return ["run", str(d / "p.yaml")]


@case("not UTF-8", "leaderboard metrics.json", ["metrics.json", "not UTF-8", "0xe9"])
def _(ws, d):
    text = json.dumps(_metrics(ws)).encode()
    _write(d / "m1" / "metrics.json", text.replace(b'"m1"', b'"' + LATIN1 + b'"'))
    return ["leaderboard", str(d), "--out", str(ws / "run")]


@case("not UTF-8", "import-original results.json", ["results.json", "not UTF-8", "0xe9"])
def _(ws, d):
    text = json.dumps(_results()).encode()
    _write(d / "chunk_0_2024" / "results.json", text.replace(b'"p1"', b'"' + LATIN1 + b'"'))
    return ["import-original", str(d / "chunk_0_2024"), "--out", str(ws / "run" / "imported.csv")]


@case("not UTF-8", "analyze answers CSV", ["answers.csv", "not UTF-8", "0xe9", "line 4"])
def _(ws, d):
    lines = (ws / "answers.csv").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"p0", LATIN1, 1)
    _write(d / "answers.csv", b"\n".join(lines))
    return ["analyze", str(d / "answers.csv"), "--out", str(ws / "run")]


params_case("not UTF-8", "generate persona JSON", "  population: {d}/people.json\n",
            ["people.json", "not UTF-8", "0xe9"],
            files={"people.json": b'[{"name": "' + LATIN1 + b'", "description": "x", '
                                  b'"gender": "F"}]'})
params_case("not UTF-8", "run persona YAML", "  population: {d}/people.yaml\n",
            ["people.yaml", "not UTF-8", "0xe9"], command="run",
            files={"people.yaml": b"- name: " + LATIN1 + b"\n  description: x\n  gender: F\n"})
params_case("not UTF-8", "generate corpus", "  chunks: [{{label: c, context: corpus, "
            "corpus: {d}/corpus.jsonl}}]\n", ["corpus.jsonl", "not UTF-8", "0xe9"],
            files={"corpus.jsonl": b'{"content": "' + LATIN1 + b'"}\n' * 3})


@case("not UTF-8", "generate earlier manifest.json", ["manifest.json", "not UTF-8", "0xff"],
      "case/outs")
def _(ws, d):
    _write(d / "outs" / "other" / "d" / "manifest.json", b"\xff\xfe{}")
    _write(d / "outs" / "other" / "d" / "answers.parquet", b"x")
    _write(d / "p.yaml", _params(ws, run="other", out=d / "outs"))
    return ["generate", str(d / "p.yaml")]


@case("not UTF-8", "generate original questionnaire CSV",
      ["p.yaml", "pvq_male_test.csv", "not UTF-8", "0xe9"], "outs")
def _(ws, d):
    _write(d / "data" / "data" / "data_pvq" / "test" / "pvq_male_test.csv",
           b"It is important to " + LATIN1 + b",a,b,c,d,e,f,undef\n")
    _write(d / "p.yaml", f"data_path: {d / 'data'}\n" + _params(ws, extra="  instrument_source:"
                                                                  " original\n"))
    return ["generate", str(d / "p.yaml")]


report_case("metrics.json not UTF-8", "m1/metrics.json", b'{"model": "' + LATIN1 + b'"}',
            ["not UTF-8", "0xe9"])
report_case("run_config.json not UTF-8", "run_config.json", b'{"run": "' + LATIN1 + b'"}',
            ["not UTF-8", "0xe9"])


# ---- 2. JSON with the right keys and values of the wrong type ---------------------------------

def _pair(m):
    return m["pairwise_rank_order"]["chunk_0"]


metrics_case("pairwise text", lambda m: _pair(m).update(chunk_no_conv="high"),
             ["pairwise_rank_order['chunk_0']['chunk_no_conv']", "'high'"])
metrics_case("pairwise list", lambda m: _pair(m).update(chunk_no_conv=[0.5]),
             ["pairwise_rank_order", "[0.5]"])
metrics_case("pairwise huge", lambda m: _pair(m).update(chunk_no_conv=10**400),
             ["pairwise_rank_order", "out of range", "1000000"])
metrics_case("pairwise bool", lambda m: _pair(m).update(chunk_no_conv=True),
             ["pairwise_rank_order", "True"])
metrics_case("ipsative text", lambda m: m.update(ipsative="abc"), ["ipsative", "'abc'"])
metrics_case("ipsative object", lambda m: m.update(ipsative={"mean": 1}),
             ["ipsative", "{'mean': 1}"])
metrics_case("rank_order_ci text items", lambda m: m.update(rank_order_ci=["a", "b"]),
             ["rank_order_ci[0]", "'a'"])
metrics_case("rank_order_ci string", lambda m: m.update(rank_order_ci="0.1-0.2"),
             ["rank_order_ci", "'0.1-0.2'"])
metrics_case("cardinal_ci three values", lambda m: m.update(cardinal_ci=[1, 2, 3]),
             ["cardinal_ci", "[1, 2, 3]"])
metrics_case("cfa_failures text", lambda m: m.update(cfa_failures="two"),
             ["cfa_failures", "'two'"])
metrics_case("cfa_failures fraction", lambda m: m.update(cfa_failures=2.5),
             ["cfa_failures", "2.5"])
metrics_case("cfa_failures negative", lambda m: m.update(cfa_failures=-1),
             ["cfa_failures", "-1"])
metrics_case("cfa_failures huge", lambda m: m.update(cfa_failures=10**30),
             ["cfa_failures", "1000000000000000000000000000000"])
metrics_case("unparsed_rate text", lambda m: m.update(unparsed_rate="none"),
             ["unparsed_rate", "'none'"])
metrics_case("stress text", lambda m: m["stress"].update(chunk_0="low"),
             ["stress['chunk_0']", "'low'"])
metrics_case("cfi object", lambda m: m["cfi"].update(chunk_0={"x": 1}), ["cfi['chunk_0']",
                                                                        "{'x': 1}"])
metrics_case("chunks string", lambda m: m.update(chunks="chunk_0"), ["'chunks'", "'chunk_0'"])
metrics_case("settings string", lambda m: m.update(settings="default"),
             ["'settings'", "'default'"])
metrics_case("model list", lambda m: m.update(model=["m1"]), ["'model'", "['m1']"])
metrics_case("pairwise not an object", lambda m: m.update(pairwise_rank_order=[0.5]),
             ["'pairwise_rank_order'", "list"])

results_case("answers text", lambda r: r.update(answers="abc"), ["'answers'", "'abc'"])
results_case("answers object", lambda r: r.update(answers={"a": 1}), ["'answers'", "{'a': 1}"])
results_case("population text", lambda r: r.update(simulated_population="abc"),
             ["'simulated_population'", "'abc'"])
results_case("population number", lambda r: r.update(simulated_population=3),
             ["'simulated_population'", "got 3"])
results_case("subject items number", lambda r: r["answers"][1].update(pvq_auto=5),
             ["answers[1]['pvq_auto']", "got 5"])
results_case("subject items text", lambda r: r["answers"][1].update(pvq_auto="x" * 40),
             ["answers[1]['pvq_auto']", "'xxxx"])
results_case("score text", lambda r: r["answers"][2]["pvq_auto"].__setitem__(4, ["A", "high"]),
             ["answers[2]['pvq_auto'][4]", "'high'"])
results_case("score list", lambda r: r["answers"][0]["pvq_auto"].__setitem__(0, ["A", [3]]),
             ["answers[0]['pvq_auto'][0]", "[3]"])
results_case("score bool", lambda r: r["answers"][0]["pvq_auto"].__setitem__(0, ["A", True]),
             ["answers[0]['pvq_auto'][0]", "True"])
results_case("score huge", lambda r: r["answers"][0]["pvq_auto"].__setitem__(7, ["A", 10**400]),
             ["answers[0]['pvq_auto'][7]", "out of range", "10000000"])
results_case("score off the scale", lambda r: r["answers"][0]["pvq_auto"].__setitem__(
    7, ["A", 99]), ["'score'", "item 8 = 99"])
results_case("pair empty", lambda r: r["answers"][0]["pvq_auto"].__setitem__(3, []),
             ["answers[0]['pvq_auto'][3]", "[]"])
results_case("pair of three", lambda r: r["answers"][0]["pvq_auto"].__setitem__(3, ["A", 1, 2]),
             ["answers[0]['pvq_auto'][3]", "['A', 1, 2]"])
results_case("letter number", lambda r: r["answers"][0]["pvq_auto"].__setitem__(3, [1, 1]),
             ["answers[0]['pvq_auto'][3]", "letter", "got 1"])
results_case("generations text", lambda r: r.update(generations="x"), ["'generations'", "'x'"])
results_case("params text", lambda r: r.update(params="x"), ["'params'", "'x'"])
results_case("engine list", lambda r: r["params"].update(engine=["m"]),
             ["params.engine", "['m']"])
results_case("persona name list", lambda r: r["simulated_population"][1].update(name=["a"]),
             ["simulated_population[1].name", "['a']"])
results_case("persona gender number", lambda r: r["simulated_population"][0].update(gender=1),
             ["simulated_population[0].gender", "got 1"])


# ---- 3. numbers: infinite or huge items, every score empty ------------------------------------

answers_case("item inf", "item", "inf", ["whole numbers", "inf"])
answers_case("item -inf", "item", "-inf", ["whole numbers", "-inf"])
answers_case("item 1e30", "item", "1e30", ["1..40", "1e+30"])
answers_case("item huge integer", "item", 10**30, ["1..40", "1000000000000000000000000000000"])
answers_case("item fraction", "item", "2.5", ["whole numbers", "2.5"])
answers_case("item text", "item", "one", ["whole numbers", "'one'"])
answers_case("score inf", "score", "inf", ["1..6", "= inf"])
answers_case("score text", "score", "high", ["numeric", "'high'"])


@case("numbers in answers", "every score empty, --unparsed drop",
      ["empty.csv", "'score'", "empty in all", "'chunk_0'", "drop"])
def _(ws, d):
    import pandas as pd

    a = pd.read_csv(ws / "answers.csv")
    a.assign(score=float("nan")).to_csv(d / "empty.csv", index=False)
    return ["analyze", str(d / "empty.csv"), "--out", str(ws / "run"), "--unparsed", "drop"]


@case("numbers in answers", "one chunk's scores empty, --unparsed drop",
      ["half.csv", "'score'", "empty in all", "'chunk_no_conv'"])
def _(ws, d):
    import pandas as pd

    a = pd.read_csv(ws / "answers.csv")
    a.assign(score=a["score"].where(a["chunk"] != "chunk_no_conv")).to_csv(d / "half.csv",
                                                                          index=False)
    return ["analyze", str(d / "half.csv"), "--out", str(ws / "run"), "--unparsed", "drop"]


params_case("numbers in params", "items infinite", "  items: {{pvq40: [1, .inf]}}\n",
            ["generation.items.pvq40.1", "inf"])
params_case("numbers in params", "items huge", "  items: {{pvq40: [1, 100000000000000000000]}}\n",
            ["generation.items.pvq40", "1..40", "100000000000000000000"])
params_case("numbers in params", "n_personas text", "  n_personas: many\n",
            ["generation.n_personas", "'many'"])


# ---- 4. paths: --out a file, a file where a directory is expected, params a directory ---------

@case("paths", "analyze --out is a file", ["--out", "imported.csv", "is a file"])
def _(ws, d):
    return ["analyze", str(ws / "answers.csv"), "--out", str(ws / "run" / "imported.csv")]


@case("paths", "analyze --out under a file", ["--out", "imported.csv", "is a file"])
def _(ws, d):
    return ["analyze", str(ws / "answers.csv"), "--out", str(ws / "run" / "imported.csv" / "x")]


@case("paths", "leaderboard --out is a file", ["--out", "imported.csv", "is a file"])
def _(ws, d):
    return ["leaderboard", str(ws / "run"), "--out", str(ws / "run" / "imported.csv")]


@case("paths", "import-original --out is a directory", ["--out", "m1", "is a directory"])
def _(ws, d):
    _write(d / "chunk_0_2024" / "results.json", json.dumps(_results()))
    return ["import-original", str(d / "chunk_0_2024"), "--out", str(ws / "run" / "m1")]


@case("paths", "import-original --out under a file", ["--out", "imported.csv", "is a file"])
def _(ws, d):
    _write(d / "chunk_0_2024" / "results.json", json.dumps(_results()))
    return ["import-original", str(d / "chunk_0_2024"), "--out",
            str(ws / "run" / "imported.csv" / "a.csv")]


@case("paths", "analyze --params is a directory", ["m1", "is a directory", "params file"])
def _(ws, d):
    return ["analyze", str(ws / "answers.csv"), "--out", str(ws / "run"), "--params",
            str(ws / "run" / "m1")]


@case("paths", "generate params is a directory", ["m1", "is a directory", "params file"])
def _(ws, d):
    return ["generate", str(ws / "run" / "m1")]


@case("paths", "run params is a directory", ["m1", "is a directory", "params file"])
def _(ws, d):
    return ["run", str(ws / "run" / "m1")]


@case("paths", "report run dir is a file", ["imported.csv", "not a directory"])
def _(ws, d):
    return ["report", str(ws / "run" / "imported.csv")]


@case("paths", "generate output_dir is a file", ["p.yaml", "output_dir", "file", "is a file"],
      "outs")
def _(ws, d):
    _write(d / "file", "x")
    _write(d / "p.yaml", _params(ws, out=d / "file"))
    return ["generate", str(d / "p.yaml")]


@case("paths", "run GGUF path is a directory", ["p.yaml", "models[0] (l).model", "m.gguf",
                                                 "is a directory"], "outs")
def _(ws, d):
    (d / "m.gguf").mkdir()
    _write(d / "p.yaml", f"version: 1\nrun: earlier\noutput_dir: {ws / 'outs'}\nmodels:\n"
                         f"  - {{name: l, backend: llama_cpp, model: {d / 'm.gguf'}}}\n")
    return ["run", str(d / "p.yaml")]


# ---- 5. prompt templates, YAML syntax, settings -----------------------------------------------

params_case("templates and YAML", "persona template unbalanced {",
            "  prompts: {{persona: 'You are {{description'}}\n",
            ["generation.prompts.persona", "'You are {description'"])
params_case("templates and YAML", "knows_persona template stray }",
            "  prompts: {{knows_persona: 'Plays }} {{name}}'}}\n",
            ["generation.prompts.knows_persona", "'Plays } {name}'"], command="run")
params_case("templates and YAML", "persona_interlocutor template unbalanced {",
            "  prompts: {{persona_interlocutor: 'You play {{description {{knows}}'}}\n",
            ["generation.prompts.persona_interlocutor", "'You play {description {knows}'"])


settings_case("templates and YAML", "analyze --params YAML syntax",
              "analysis:\n  stress: [a\n  ties: loss\n",
              ["not valid YAML at line 3, column 7", "expected ',' or ']'"])


@case("templates and YAML", "generate YAML syntax",
      ["p.yaml", "not valid YAML at line 3, column 7", "expected ',' or ']'"], "outs")
def _(ws, d):
    _write(d / "p.yaml", "version: 1\nrun: [a\nmodels: x\n")
    return ["generate", str(d / "p.yaml")]


@case("templates and YAML", "run YAML tab", ["p.yaml", "line 2, column 1", "'\\t'"], "outs")
def _(ws, d):
    _write(d / "p.yaml", "version: 1\n\trun: x\n")
    return ["run", str(d / "p.yaml")]


params_case("templates and YAML", "persona file YAML syntax", "  population: {d}/people.yaml\n",
            ["people.yaml", "not valid YAML at line 2", "<stream end>"],
            files={"people.yaml": "- name: [a\n"})
params_case("templates and YAML", "persona file wrong type", "  population: {d}/people.json\n",
            ["people.json", "description", "['x']"],
            files={"people.json": json.dumps([{"name": "a", "description": ["x"],
                                               "gender": "F"}])})


settings_case("templates and YAML", "analysis section not a mapping", "analysis: 3\n",
              ["'analysis'", "3"])
settings_case("templates and YAML", "analysis setting of the wrong type",
              "analysis:\n  bootstrap: lots\n", ["analysis setting 'bootstrap'", "'lots'"],
              command="leaderboard")


@case("templates and YAML", "option out of range", ["option --bootstrap", "-1"])
def _(ws, d):
    return ["analyze", str(ws / "answers.csv"), "--out", str(ws / "run"), "--bootstrap", "-1"]


# ---- 6. run validates everything before any model or notebook starts --------------------------

@case("run up front", "run with a file that is not GGUF",
      ["p.yaml", "models[0] (l).model", "fake.gguf", "not a GGUF file", "PK"], "outs")
def _(ws, d):
    _write(d / "fake.gguf", b"PK\x03\x04 not a model")
    _write(d / "p.yaml", f"version: 1\nrun: earlier\noutput_dir: {ws / 'outs'}\nmodels:\n"
                         f"  - {{name: l, backend: llama_cpp, model: {d / 'fake.gguf'}}}\n")
    return ["run", str(d / "p.yaml")]


@case("run up front", "generate with a file that is not GGUF",
      ["p.yaml", "models[1] (l).model", "fake.gguf", "not a GGUF file"], "outs")
def _(ws, d):
    _write(d / "fake.gguf", b"PK\x03\x04 not a model")
    _write(d / "p.yaml", f"version: 1\nrun: earlier\noutput_dir: {ws / 'outs'}\nmodels:\n"
                         f"  - {{name: d, backend: dummy}}\n"
                         f"  - {{name: l, backend: llama_cpp, model: {d / 'fake.gguf'}}}\n")
    return ["generate", str(d / "p.yaml")]


params_case("run up front", "run with a corpus shorter than the population",
            "  chunks: [{{label: c, context: corpus, corpus: {d}/corpus.jsonl}}]\n",
            ["corpus.jsonl", "2 texts for 3 personas"], command="run",
            files={"corpus.jsonl": '{"content": "a"}\n{"content": "b"}\n'})
params_case("run up front", "run with a corpus line of the wrong type",
            "  chunks: [{{label: c, context: corpus, corpus: {d}/corpus.jsonl}}]\n",
            ["corpus.jsonl:2", "'content'", "[1]"], command="run",
            files={"corpus.jsonl": '{"content": "a"}\n{"content": [1]}\n{"content": "c"}\n'})


# paths named in params that do not exist: one line, whether or not this run reads them
@case("missing path", "data_path that is not a directory", ["p.yaml", "data_path", "nowhere"],
      "outs")
def _(ws, d):
    _write(d / "p.yaml", f"data_path: {d / 'nowhere'}\n" + _params(ws))
    return ["generate", str(d / "p.yaml")]


params_case("missing path", "interlocutors_file of a chunk with a human interlocutor",
            "  chunks: [{{label: c, context: topic, topic: joke, "
            "interlocutors_file: {d}/nobody.json}}]\n",
            ["generation.chunks[0] (c).interlocutors_file", "nobody.json", "not found"])
params_case("missing path", "corpus of a chunk without conversation",
            "  chunks: [{{label: c, corpus: {d}/none.jsonl}}]\n",
            ["generation.chunks[0] (c).corpus", "none.jsonl", "not found"], command="run")
params_case("missing path", "prompts_file", "  prompts_file: {d}/prompts.yaml\n",
            ["prompts.yaml"], command="run")
params_case("missing path", "a prompts file lacking a text", "  prompts_file: {d}/pr.yaml\n",
            ["pr.yaml", "missing field(s) query_cot"],
            files={"pr.yaml": "persona: 'Be {name}'\nhuman_interlocutor: h\n"
                   "persona_interlocutor: p\nknows_persona: k\nquery_direct: d\n"
                   "answer_prefix: 'A: ('\nsvs_most: m\nsvs_rate_chosen: r\nsvs_least: l\n"
                   "svs_rest: s\ndescriptions: {}\nopeners: {}\n"})


@case("run up front", "run --model unknown", ["p.yaml", "no model named 'nope'"], "outs")
def _(ws, d):
    _write(d / "p.yaml", _params(ws))
    return ["run", str(d / "p.yaml"), "--model", "nope"]


@case("run up front", "run with an earlier manifest that is not an object",
      ["manifest.json", "expected a JSON object", "list"], "case/outs")
def _(ws, d):
    _write(d / "outs" / "other" / "d" / "manifest.json", "[1]")
    _write(d / "p.yaml", _params(ws, run="other", out=d / "outs"))
    return ["run", str(d / "p.yaml")]


report_case("metrics.json wrong type", "m1/metrics.json",
            json.dumps({"chunks": ["a", "b"], "pairwise_rank_order": {"a": {"b": "x"}},
                        "stress": {}, "cfi": {}, "srmr": {}, "rmsea": {}}),
            ["pairwise_rank_order['a']['b']", "'x'"])
report_case("run_summary.json wrong type", "run_summary.json", json.dumps({"results": "none"}),
            ["run_summary.json", "results: Input should be a valid list", "'none'"])


# ---- the tests --------------------------------------------------------------------------------

def _earlier(ws: Path, case_dir: Path, where: str) -> Path:
    return case_dir / where.removeprefix("case/") if where.startswith("case/") else ws / where


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}: {c.id}" for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(ws, tmp_path, capsys, case):
    argv = case.setup(ws, tmp_path)
    earlier = _earlier(ws, tmp_path, case.earlier)
    before = _snapshot(earlier)
    assert before, f"nothing earlier under {earlier}"
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith(f"stickrole {argv[0]}: error: ")
    for part in case.expect:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    assert _snapshot(earlier) == before


def test_catalogue_covers_every_command(ws, tmp_path):
    commands = set()
    for i, c in enumerate(CASES):
        (tmp_path / str(i)).mkdir()
        commands.add(c.setup(ws, tmp_path / str(i))[0])
    assert commands == {"run", "generate", "analyze", "import-original", "leaderboard", "report"}
    assert len(CASES) >= 60


@pytest.mark.parametrize("argv_of", [
    lambda ws, d: ["leaderboard", str(_write(d / "m1" / "metrics.json", b"\xff")), "--out",
                   str(ws / "run")],
    lambda ws, d: ["run", str(_write(d / "p.yaml",
                                     _params(ws, extra="  prompts: {persona: '{'}\n")))],
], ids=["leaderboard metrics.json not UTF-8", "run with an unbalanced brace"])
def test_entry_point_prints_one_line_without_traceback(ws, tmp_path, argv_of):
    argv = argv_of(ws, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "stickrole_utils", *argv], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_every_score_empty_with_random_warns_naming_model_and_chunk(ws, tmp_path, capsys,
                                                                     caplog):
    import pandas as pd

    a = pd.read_csv(ws / "answers.csv")
    a.assign(score=a["score"].where(a["chunk"] != "chunk_0")).to_csv(tmp_path / "half.csv",
                                                                    index=False)
    with caplog.at_level("WARNING"):
        assert main(["-q", "analyze", str(tmp_path / "half.csv"), "--out", str(tmp_path / "o"),
                     "--bootstrap", "0"]) == 0
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("half.csv" in w and "'m1'" in w and "'chunk_0'" in w and "'score'" in w
               for w in warned), warned


def test_odd_out_suffix_warns_naming_it(ws, tmp_path, caplog):
    with caplog.at_level("WARNING"):
        assert main(["-q", "import-original", str(ws / "results.json"), "--out",
                     str(tmp_path / "answers.txt")]) == 0
    assert any("answers.txt" in r.getMessage() and "'.txt'" in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize(("content", "read", "expect"), [
    (b"\xff", lambda p: p.read_text(encoding="utf-8"), ["not UTF-8", "0xff"]),
    (b"{", lambda p: json.loads(p.read_text()), ["invalid JSON at line 1 column 2"]),
    (b"9" * 400, lambda p: float(int(p.read_text())), ["a number is too large"]),
    (b"{}", lambda p: open(p.parent), ["is a directory"]),
], ids=["UnicodeDecodeError", "JSONDecodeError", "OverflowError", "IsADirectoryError"])
def test_main_turns_an_unfixed_reader_error_into_one_line_naming_the_path(
        ws, tmp_path, capsys, monkeypatch, content, read, expect):
    """The last line of defence: a reader that lets a raw exception escape (simulated)."""
    path = _write(tmp_path / "m1" / "metrics.json", content)
    monkeypatch.setattr("stickrole_utils.analysis.metrics.read_json", lambda p, *a, **k: read(p))
    before = _snapshot(ws / "run")
    assert main(["leaderboard", str(path), "--out", str(ws / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(path.parent if "directory" in expect[0] else path) in err
    for part in expect:
        assert part in err, err
    assert _snapshot(ws / "run") == before
