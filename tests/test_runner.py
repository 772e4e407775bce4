"""Batch runner: parameter checks, stage stamps, a run with one model failing on purpose,
skip-if-done on re-run and re-run of exactly the stage whose input changed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from stickrole_utils.errors import ConfigError
from stickrole_utils.pipeline import (
    NOTEBOOK_FILES,
    NOTEBOOK_PARAMETERS,
    RunSummary,
    StageResult,
    check_kernel,
    check_parameters,
    file_digest,
    inputs_digest,
    run_experiment,
)

TINY = """\
version: 1
run: tiny
output_dir: out
models:
  - {name: dummy-a, backend: dummy, seed: 1}
  - name: offline
    backend: openai
    model: not-served
    base_url: "http://127.0.0.1:9/v1"
    max_retries: 0
    timeout_s: 2
generation:
  n_personas: 4
  mode: direct
  chunks: [chunk_no_conv, {label: chunk_b, context: none}]
analysis: {bootstrap: 5, bootstrap_cardinal: 0}
report: {title: Tiny test run}
"""


def test_check_parameters_messages():
    p = check_parameters("leaderboard", run_dir="r", title="T")
    assert p.run_dir == "r" and p.title == "T"
    with pytest.raises(ConfigError, match="unknown parameter 'ties'; parameters: run_dir, title"):
        check_parameters("leaderboard", run_dir="r", ties="half")  # the leaderboard stage's
    with pytest.raises(ConfigError, match=r"10_generate.py: parameter 'force' must be bool, got "
                                          r"str 'yes'"):
        check_parameters("generate", params_path="p", model="m", force="yes")
    with pytest.raises(ConfigError, match="parameter 'model' is required"):
        check_parameters("analyze", params_path="p")
    with pytest.raises(ConfigError, match="unknown parameter 'modle'; parameters: run_dir, model"):
        check_parameters("report", run_dir="r", model="m", modle="x")
    with pytest.raises(ConfigError, match="must be"):
        check_parameters("leaderboard", run_dir="r", title=3)
    with pytest.raises(ConfigError, match="unknown notebook stage"):
        check_parameters("publish")
    assert set(NOTEBOOK_PARAMETERS) == set(NOTEBOOK_FILES)


def test_digest_follows_params_and_file_content(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("one")
    d1 = inputs_digest({"x": 1}, [f])
    assert inputs_digest({"x": 1}, [f]) == d1
    assert inputs_digest({"x": 2}, [f]) != d1
    f.write_text("two")
    assert inputs_digest({"x": 1}, [f]) != d1
    assert file_digest(tmp_path / "nope") == "missing"


def test_missing_kernel_is_a_config_error_with_the_fix():
    with pytest.raises(ConfigError, match="ipykernel install --sys-prefix --name no-such-kernel"):
        check_kernel("no-such-kernel")


def test_invalid_params_fail_before_anything_runs(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(TINY.replace("n_personas: 4", "n_personas: four"))
    with pytest.raises(ConfigError, match="generation.n_personas"):
        run_experiment(p)
    assert not (tmp_path / "out").exists()


def test_summary_ok_and_text():
    s = RunSummary(Path("r"), [StageResult("m", "generate", "ok", seconds=1.23),
                               StageResult("m", "analyze", "up to date")])
    assert s.ok and "generate" in s.to_text()
    s.results.append(StageResult("m", "report", "skipped", "analyze failed"))
    assert not s.ok
    assert list(s.table().columns) == ["model", "stage", "status", "seconds", "reason", "notebook",
                                       "work_seconds", "work_finished"]


@pytest.mark.slow
def test_run_with_a_failing_model_then_rerun(tmp_path, kernel, caplog):
    params = tmp_path / "tiny.yaml"
    params.write_text(TINY)
    caplog.set_level("INFO", logger="stickrole_utils.pipeline")
    summary = run_experiment(params, engine="local", kernel_name=kernel)
    run_dir = tmp_path / "out" / "tiny"
    table = summary.table().set_index(["model", "stage"])
    assert not summary.ok
    for stage in ("generate", "analyze", "report"):
        assert table.loc[("dummy-a", stage), "status"] == "ok"
    assert table.loc[("offline", "generate"), "status"] == "failed"
    assert "cannot reach" in table.loc[("offline", "generate"), "reason"]
    failed_nb = Path(table.loc[("offline", "generate"), "notebook"])
    assert failed_nb.is_file() and "BackendError" in failed_nb.read_text()
    assert table.loc[("offline", "analyze"), "status"] == "skipped"
    assert table.loc[("(all models)", "leaderboard"), "status"] == "ok"
    # outputs and logs
    assert (run_dir / "dummy-a" / "metrics.json").is_file()
    assert (run_dir / "notebooks" / "dummy-a" / "20_analyze.ipynb").is_file()
    assert (run_dir / "leaderboard.csv").read_text().startswith("Model,Ordinal (Win rate)")
    assert summary.index_html == run_dir / "report" / "index.html"
    index = summary.index_html.read_text()
    assert "model_dummy-a.html" in index and "leaderboard.html" in index and "failed" in index
    assert json.loads((run_dir / "run_summary.json").read_text())["ok"] is False
    # one progress line per model and stage, with elapsed time
    lines = [r.getMessage() for r in caplog.records if r.name == "stickrole_utils.pipeline"]
    assert any("generate" in m and "dummy-a" in m and " s)" in m for m in lines)
    # 3 stages x 2 models, then the leaderboard and its page
    assert sum("[" in m and "/8]" in m for m in lines) == 8

    # re-run: everything finished is up to date; the failing model is tried again
    caplog.clear()
    again = run_experiment(params, engine="local", kernel_name=kernel)
    t2 = again.table().set_index(["model", "stage"])
    assert (t2.loc["dummy-a", "status"] == "up to date").all()
    assert t2.loc[("(all models)", "leaderboard"), "status"] == "up to date"
    assert t2.loc[("offline", "generate"), "status"] == "failed"

    # an input of one stage changes: only that stage runs again
    manifest = run_dir / "dummy-a" / "manifest.json"
    manifest.write_text(manifest.read_text().replace("{", '{"edited": true, ', 1))
    third = run_experiment(params, engine="local", kernel_name=kernel, models=["dummy-a"])
    t3 = third.table().set_index(["model", "stage"])["status"]
    assert t3[("dummy-a", "generate")] == "up to date"
    assert t3[("dummy-a", "analyze")] == "up to date"
    assert t3[("dummy-a", "report")] == "ok"
    assert third.ok

    # the command line: non-zero exit code when a stage failed, summary and index on stdout
    from stickrole_utils.cli import main

    assert main(["run", str(params), "--engine", "local"]) == 1


def test_a_stage_past_its_time_limit_fails_with_the_reason(tmp_path, kernel):
    """execution.cell_timeout_s bounds every cell: a stage that makes no progress is stopped,
    reported as failed with the reason, and the run goes on to its summary."""
    import shutil

    from stickrole_utils.pipeline import notebooks_dir

    nbs = tmp_path / "notebooks"
    shutil.copytree(notebooks_dir(), nbs)
    slow = nbs / NOTEBOOK_FILES["analyze"]
    slow.write_text(slow.read_text() + "\n# %%\nimport time\n\ntime.sleep(600)\n")
    params = tmp_path / "slow.yaml"
    params.write_text(TINY.split("  - name: offline")[0] + TINY.split("timeout_s: 2\n")[1]
                      + "execution: {cell_timeout_s: 15, stall_timeout_s: 15}\n")
    summary = run_experiment(params, engine="local", kernel_name=kernel, notebook_dir=nbs)
    table = summary.table().set_index(["model", "stage"])
    assert table.loc[("dummy-a", "generate"), "status"] == "ok"
    assert table.loc[("dummy-a", "analyze"), "status"] == "failed"
    assert "timed out" in table.loc[("dummy-a", "analyze"), "reason"]
    assert table.loc[("dummy-a", "report"), "status"] == "skipped"
    assert not summary.ok and summary.index_html.is_file()


def test_params_example_in_this_file_is_valid(tmp_path):
    from stickrole_utils.config import load_run_config

    p = tmp_path / "tiny.yaml"
    p.write_text(textwrap.dedent(TINY))
    cfg = load_run_config(p)
    assert [m.name for m in cfg.models] == ["dummy-a", "offline"]
