"""The stage notebooks: thin jupytext drivers with a typed, tagged parameters cell; the explorer
notebook and a wrongly-typed parameter run headless through papermill; the explorer's data
functions. (10-40 run end to end in tests/test_runner.py and tests/test_report.py.)"""

from __future__ import annotations

import ast
import html
import json
from pathlib import Path

import jupytext
import papermill as pm
import pytest
from papermill.exceptions import PapermillExecutionError

from stickrole_utils.pipeline import (
    NOTEBOOK_FILES,
    NOTEBOOK_PARAMETERS,
    execute_stage,
    notebooks_dir,
)

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

TINY = """\
version: 1
run: nb
output_dir: out
models:
  - {name: dummy, backend: dummy, seed: 3}
generation:
  n_personas: 4
  mode: direct
  chunks: [chunk_no_conv, chunk_chess_0]
analysis: {bootstrap: 0, bootstrap_cardinal: 0}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, Path]:
    """(params file, run dir): one dummy model generated and analysed in-process."""
    from stickrole_utils.analysis import analyze_model, write_model_analysis
    from stickrole_utils.analysis.answers import read_answers
    from stickrole_utils.config import load_run_config
    from stickrole_utils.generation.generate import generate_model

    tmp = tmp_path_factory.mktemp("nb")
    params = tmp / "nb.yaml"
    params.write_text(TINY)
    cfg = load_run_config(params)
    model_dir = generate_model(cfg, cfg.models[0], progress=False)
    a = analyze_model(read_answers(model_dir / "answers.parquet"), cfg.analysis)
    write_model_analysis(a, model_dir)
    return params, Path(cfg.run_dir)


def test_notebooks_dir_has_every_stage():
    assert notebooks_dir() == NB_DIR
    assert sorted(p.name for p in NB_DIR.glob("*.py")) == sorted(NOTEBOOK_FILES.values())


@pytest.mark.parametrize("stage", list(NOTEBOOK_FILES))
def test_notebook_is_a_thin_driver_with_typed_parameters(stage):
    path = NB_DIR / NOTEBOOK_FILES[stage]
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "stickrole"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].metadata.get("tags") == ["parameters"]
    # every parameter: annotated literal default with a trailing comment, as the runner declares
    lines = [ln for ln in code[0].source.splitlines() if ln.strip()]
    names = []
    for ln in lines:
        stmt = ast.parse(ln).body[0]
        assert isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name), ln
        ast.literal_eval(stmt.value)
        assert "  # " in ln and ln.split("  # ", 1)[1].strip(), f"no comment: {ln}"
        assert ln.count("=") == 1, f"papermill cannot parse a '=' in the comment: {ln}"
        names.append(stmt.target.id)
    assert names == list(NOTEBOOK_PARAMETERS[stage].model_fields)
    # the second code cell validates them through the package
    assert f'check_parameters("{stage}"' in code[1].source
    # no logic: no def, class, loop, while or try in any cell
    tree = ast.parse("\n".join(c.source for c in code if not c.source.lstrip().startswith("%")))
    banned = (ast.FunctionDef, ast.ClassDef, ast.For, ast.While, ast.Try, ast.Lambda)
    assert not [type(n).__name__ for n in ast.walk(tree) if isinstance(n, banned)]


def test_papermill_reads_the_parameters(tmp_path):
    for stage, name in NOTEBOOK_FILES.items():
        nb = jupytext.read(NB_DIR / name)
        out = tmp_path / name.replace(".py", ".ipynb")
        jupytext.write(nb, out)
        found = [p["name"] for p in pm.inspect_notebook(str(out)).values()]
        assert found == list(NOTEBOOK_PARAMETERS[stage].model_fields)


@pytest.mark.slow
def test_wrong_type_fails_in_the_first_cells(run, kernel, tmp_path):
    params, run_dir = run
    out = tmp_path / "gen.ipynb"
    with pytest.raises(PapermillExecutionError) as err:
        execute_stage("generate", out, {"params_path": str(params), "model": "dummy",
                                        "force": "yes"}, kernel_name=kernel,
                      execution_timeout=300)
    assert err.value.ename == "ConfigError"
    assert "parameter 'force' must be bool, got str 'yes'" in err.value.evalue
    nb = json.loads(out.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    failing = [i for i, c in enumerate(code) if any(o.get("output_type") == "error"
                                                    for o in c.get("outputs", []))]
    assert failing == [2]  # parameters, injected parameters, then the validating cell


@pytest.mark.slow
def test_explorer_notebook_runs_headless(run, kernel, tmp_path):
    _, run_dir = run
    out = tmp_path / "90_explorer.ipynb"
    execute_stage("explorer", out, {"run_dir": str(run_dir)}, kernel_name=kernel,
                  execution_timeout=300)
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_explorer_functions(run):
    from stickrole_utils.report.explorer import (
        ALL_VALUES,
        Explorer,
        conversation_html,
        find_conversation,
        load_run,
        score_evidence,
        value_matrix,
    )

    _, run_dir = run
    data = load_run(run_dir)
    a = data.analyses["dummy"]
    chunks = a.metrics["chunks"]
    mean = value_matrix(a)
    assert list(mean.index) == chunks and (mean.to_numpy().diagonal() == 1).all()
    power = value_matrix(a, "Power")
    ro = a.rank_order
    expected = ro[(ro["value"] == "Power")]["r"].iloc[0]
    assert power.iloc[0, 1] == pytest.approx(expected, nan_ok=True)
    persona = sorted(a.scores["persona"])[0]
    ev = score_evidence(data.answers["dummy"], chunks[0], persona, "Power")
    assert set(ev["value"]) == {"Power"} and len(ev) == 3  # PVQ-40 has 3 Power items
    assert {"letter", "raw", "parsed"} <= set(ev.columns)
    assert len(score_evidence(data.answers["dummy"], chunks[0], persona, ALL_VALUES)) == 40
    rec = find_conversation(data.conversations["dummy"], "chunk_chess_0", persona)
    assert rec is not None and rec["persona"] == persona
    page = conversation_html(rec)
    assert rec["conversation"], "chunk_chess_0 has a simulated conversation"
    for message in rec["conversation"]:
        assert html.escape(message["content"]) in page
    assert f"<b>persona · {html.escape(persona)}</b>" in page  # speakers labelled, not "?"
    assert "<b>?</b>" not in page
    assert "No conversation" in conversation_html(None)
    ex = Explorer(run_dir)
    ex.value.value = "Power"
    ex.persona.value = persona
    box = ex.widget()
    assert len(box.children) == 3
    tabs = box.children[2]
    assert len(tabs.titles) == 4
    assert all(0 < len(t) <= 18 for t in tabs.titles), "JupyterLab cuts longer tab titles"


def _widget_capture_notebook(n_cells: int):
    """Cells that fill an ipywidgets Output through ``with out: display(...)`` (a frontend's job)."""
    import nbformat

    cells = [nbformat.v4.new_code_cell("import ipywidgets as w\nfrom IPython.display import HTML, display")]
    cells += [nbformat.v4.new_code_cell(
        f"out = w.Output()\nwith out:\n    display(HTML('<b>{i}</b>'))\n    print({i})\nout"
    ) for i in range(n_cells)]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.mark.slow
def test_output_widget_cells_never_hang(kernel, tmp_path):
    """nbclient's Output-widget mock sends on the shell socket while the reply is awaited there;
    a missed wake-up used to leave such a run waiting forever (jupyter/nbclient#312). Our engine
    polls in slices: every cell completes, and none is reported stalled."""
    from stickrole_utils.pipeline import execute_notebook

    out = tmp_path / "widgets.ipynb"
    # measured with papermill's own engine and a 15 s cell limit: 1-2 of these 12 cells waited
    # out the whole limit in each of 4 runs (without a limit: forever); with ours, none. If the
    # slicing broke, a missed reply would end this run with StageStalled after 10 s.
    execute_notebook(_widget_capture_notebook(12), out, {}, kernel_name=kernel,
                     execution_timeout=None, stall_timeout=10)
    nb = json.loads(out.read_text())
    views = [o for c in nb["cells"] for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 12


def test_stall_reason():
    """The last-resort guard: a reply still missing ``stall_timeout`` s after the kernel went idle
    stops the stage with a one-line reason naming the setting."""
    from stickrole_utils.pipeline import stall_reason

    assert stall_reason(None, 100.0, 5.0) is None  # busy: never a stall
    assert stall_reason(97.0, 100.0, 5.0) is None  # idle for less than the limit
    assert stall_reason(90.0, 100.0, None) is None  # no limit
    reason = stall_reason(94.0, 100.0, 5.0)
    assert reason == ("the kernel finished a cell 6 s ago but its reply never arrived "
                      "(execution.stall_timeout_s = 5)")
