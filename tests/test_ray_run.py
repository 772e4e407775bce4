"""``stickrole run`` on Ray (real, on the session's local Ray instance: 2 CPUs, 2 declared GPUs):
two GPU tasks side by side on different GPUs, a lost process retried without losing or
duplicating answers, the leaderboard, a second run that submits nothing, and ``--address``
against a separately started Ray head."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from stickrole_utils.generation.generate import DIE_ONCE_FILE
from stickrole_utils.pipeline import run_experiment

from .conftest import KERNEL, REPO

PARAMS = """\
version: 1
run: onray
output_dir: out
models:
  - {name: gpu-a, backend: dummy, seed: 1, gpus: 1}
  - {name: gpu-b, backend: dummy, seed: 2, gpus: 1}
generation:
  n_personas: 3
  mode: direct
  chunks: [chunk_no_conv, {label: chunk_b, context: none}]
analysis: {bootstrap: 5, bootstrap_cardinal: 0}
"""

KEY = ["model", "chunk", "persona", "questionnaire", "item"]


def _window(manifest: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    """When generation first started (``created`` survives a resume) and last wrote."""
    return pd.Timestamp(manifest["created"]), pd.Timestamp(manifest["updated"])


@pytest.mark.slow
def test_models_run_as_ray_tasks_side_by_side_on_their_gpus(tmp_path, ray_local, caplog):
    params = tmp_path / "onray.yaml"
    # enough units that each generation lasts a few seconds: the two kernels start up to ~1 s
    # apart, and batched dummy answers take ~0.3 s for 3 personas
    params.write_text(PARAMS.replace("n_personas: 3", "n_personas: 30"))
    run_dir = tmp_path / "out" / "onray"
    caplog.set_level("INFO", logger="stickrole_utils.pipeline")

    summary = run_experiment(params, kernel_name=KERNEL)
    table = summary.table().set_index(["model", "stage"])
    assert summary.ok, summary.to_text()
    assert table.loc[("(all models)", "leaderboard"), "status"] == "ok"
    assert set(pd.read_csv(run_dir / "leaderboard.csv")["Model"]) == {"gpu-a", "gpu-b"}
    lines = [r.getMessage() for r in caplog.records if r.name == "stickrole_utils.pipeline"]
    assert any("/8] generate" in m and "gpu-a" in m and " s)" in m for m in lines)

    manifests = {m: json.loads((run_dir / m / "manifest.json").read_text())
                 for m in ("gpu-a", "gpu-b")}
    ex = {m: man["executor"] for m, man in manifests.items()}
    assert all(e["engine"] == "ray" and e["address"] == "local" and e["node"]
               for e in ex.values())
    # each GPU task had one GPU of its own, and its kernel saw exactly that one
    assert len(ex["gpu-a"]["gpu_ids"]) == len(ex["gpu-b"]["gpu_ids"]) == 1
    assert ex["gpu-a"]["gpu_ids"] != ex["gpu-b"]["gpu_ids"]
    for m in ("gpu-a", "gpu-b"):
        assert ex[m]["cuda_visible_devices"] == ex[m]["gpu_ids"][0]
    # ... and the two ran at the same time
    (a0, a1), (b0, b1) = (_window(manifests[m]) for m in ("gpu-a", "gpu-b"))
    assert max(a0, b0) < min(a1, b1), ((a0, a1), (b0, b1))

    # a second run finds everything up to date and submits nothing
    caplog.clear()
    again = run_experiment(params, kernel_name=KERNEL)
    assert (again.table()["status"] == "up to date").all()
    assert any("0 of 8 stages submitted" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_a_lost_process_is_retried_without_losing_or_repeating_answers(tmp_path, ray_local):
    params = tmp_path / "flaky.yaml"
    params.write_text(PARAMS.replace("  - {name: gpu-b, backend: dummy, seed: 2, gpus: 1}\n", "")
                      .replace("gpu-a", "flaky"))
    run_dir = tmp_path / "out" / "onray"
    (run_dir / "flaky").mkdir(parents=True)
    (run_dir / "flaky" / DIE_ONCE_FILE).write_text("")  # its first attempt dies after a unit

    summary = run_experiment(params, kernel_name=KERNEL)
    assert summary.ok, summary.to_text()
    assert (run_dir / "leaderboard.csv").is_file()
    # Ray ran it again; it resumed after the unit the lost process had stored
    assert not (run_dir / "flaky" / DIE_ONCE_FILE).exists()
    stats = json.loads((run_dir / "flaky" / "manifest.json").read_text())["stats"]
    assert stats["units_run_now"] == stats["units"] - 1
    answers = pd.read_parquet(run_dir / "flaky" / "answers.parquet")
    assert len(answers) == stats["items"] == 6 * 40
    assert not answers.duplicated(KEY).any()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_run_joins_a_separately_started_ray_head(tmp_path, ray_local):
    """``stickrole run --address`` against ``ray start --head`` (its own process group, stopped
    at the end; never ``ray stop``, which would stop every Ray instance of the machine)."""
    params = tmp_path / "head.yaml"
    params.write_text(PARAMS.split("  - {name: gpu-a")[0] + "  - {name: solo, backend: dummy}\n"
                      + PARAMS.split("gpus: 1}\n")[2])
    port = _free_port()
    env = {**os.environ, "JUPYTER_PATH": ray_local,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    ray_bin = Path(sys.executable).with_name("ray")
    temp_dir = tempfile.mkdtemp(prefix="rayhead", dir="/tmp")
    log = (tmp_path / "head.log").open("w")
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--num-gpus=0", "--include-dashboard=false", "--node-ip-address=127.0.0.1",
         f"--temp-dir={temp_dir}"],  # a short path: Ray's socket paths must stay < 108 bytes
        env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        run = subprocess.run(
            [sys.executable, "-c", "from stickrole_utils.cli import main; raise SystemExit("
             f"main(['run', {str(params)!r}, '--address', '127.0.0.1:{port}']))"],
            env=env, capture_output=True, text=True, timeout=170)
        assert run.returncode == 0, (run.stdout[-3000:] + run.stderr[-3000:]
                                     + (tmp_path / "head.log").read_text()[-2000:])
        manifest = json.loads((tmp_path / "out" / "onray" / "solo" / "manifest.json").read_text())
        assert manifest["executor"]["address"] == f"127.0.0.1:{port}"
        assert (tmp_path / "out" / "onray" / "leaderboard.csv").is_file()
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:  # measured: `ray start --block` outlives SIGTERM by more than 20 s
            head.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:  # `ray start --block` may leave its GCS behind on SIGTERM
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait(timeout=30)
        log.close()
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_gpu_requests_default_by_backend_and_fall_back_without_gpus(caplog):
    from stickrole_utils.config import ModelEntry
    from stickrole_utils.pipeline.on_ray import _resources

    gguf = ModelEntry(name="g", backend="llama_cpp", model="x.gguf")
    # the backend's default: one GPU for a model that offloads layers, none otherwise
    assert _resources(gguf, 8.0, 16.0)[1] == 1
    assert _resources(ModelEntry(name="c", backend="llama_cpp", model="x.gguf",
                                 n_gpu_layers=0), 8.0, 16.0)[1] == 0
    assert _resources(ModelEntry(name="d", backend="dummy"), 8.0, 16.0) == (1.0, 0.0, None)
    assert _resources(ModelEntry(name="d", backend="dummy", gpus=2), 8.0, 16.0)[1] == 2
    caplog.set_level("INFO", logger="stickrole_utils.pipeline")
    # a laptop: runs on the CPU, says so, and holds every core (llama.cpp threads spin)
    assert _resources(gguf, 0.0, 2.0) == (2.0, 0.0, None)
    assert "has none" in caplog.text
    assert _resources(gguf, 4.0, 16.0) == (1.0, 1.0, None)
    cpu_only = ModelEntry(name="c", backend="llama_cpp", model="x.gguf", n_gpu_layers=0,
                          n_threads=4)
    assert _resources(cpu_only, 4.0, 16.0) == (4.0, 0.0, None)
    assert _resources(ModelEntry(name="d", backend="dummy"), 0.0, 2.0) == (1.0, 0.0, None)
    *_, why = _resources(ModelEntry(name="big", backend="dummy", gpus=8), 4.0, 16.0)
    assert "needs 8 GPUs" in why
