"""``stickrole run`` on Ray (real, on the session's local Ray instance: 2 CPUs, 2 declared GPUs):
two GPU tasks side by side on different GPUs, a lost process retried without losing or
duplicating answers, the leaderboard, a second run that submits nothing, ``--address`` against
a separately started Ray head, a run without it beside that head (its own instance), an
unreachable address (one line, exit 2), and Ctrl-C on a grid, on Ray and in process (exit 130
within 10 s, stopped stages in the summary, a rerun that resumes).

Every Ray instance these tests start has a temp root of its own (``RAY_TMPDIR`` under /tmp,
short: Ray's socket paths must stay < 108 bytes) and is killed with its process group."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from stickrole_utils.pipeline import run_experiment

from .conftest import DIE_ONCE_FILE, KERNEL, REPO

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
    """When the Ray task began and when its generation last wrote (a loaded machine starts the
    two notebook kernels seconds apart, so generation alone need not overlap)."""
    return (pd.Timestamp(manifest["executor"]["task_started"]),
            pd.Timestamp(manifest["updated"]))


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
    # ... and the two tasks ran at the same time
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


def _cli_env(jupyter_path: str, ray_tmpdir: str | None = None, **extra: str) -> dict:
    """The environment of a ``stickrole`` subprocess: this checkout first on PYTHONPATH, the
    test kernels, no RAY_ADDRESS, and Ray's temp root (``RAY_TMPDIR``) where given."""
    env = {**os.environ, "JUPYTER_PATH": jupyter_path,
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           **extra}
    env.pop("RAY_ADDRESS", None)
    if ray_tmpdir:
        env["RAY_TMPDIR"] = ray_tmpdir
    return env


def _stickrole(*args: str) -> list[str]:
    return [sys.executable, "-m", "stickrole_utils", *args]


def _kill_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """Stop a process started with ``start_new_session`` and everything in its process group
    (Ray's processes of a local instance are there): SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:  # the group may outlive its leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def ray_head(kernel, tmp_path_factory):
    """A Ray head started separately (``ray start --head``, its own process group, stopped at
    the end: never ``ray stop``, which would stop every Ray instance of the machine), as
    another job's would be: its address file in the temp directory a driver with the same
    ``RAY_TMPDIR`` looks in (``<RAY_TMPDIR>/ray/ray_current_cluster``). Yields (address, that
    ``RAY_TMPDIR``, the head's process)."""
    port = _free_port()
    root = tempfile.mkdtemp(prefix="rh", dir="/tmp")  # short: Ray's socket paths < 108 bytes
    log_path = tmp_path_factory.mktemp("head") / "head.log"
    ray_bin = Path(sys.executable).with_name("ray")
    with log_path.open("w") as log:
        head = subprocess.Popen(
            [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
             "--num-gpus=0", "--include-dashboard=false", "--node-ip-address=127.0.0.1",
             f"--temp-dir={root}/ray"],
            env=_cli_env(os.environ["JUPYTER_PATH"], root), start_new_session=True, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        address_file = Path(root) / "ray" / "ray_current_cluster"
        deadline = time.monotonic() + 90
        while not address_file.is_file() and time.monotonic() < deadline:
            assert head.poll() is None, log_path.read_text()[-2000:]
            time.sleep(0.5)
        assert address_file.is_file(), log_path.read_text()[-2000:]
        yield f"127.0.0.1:{port}", root, head
    finally:
        _kill_group(head)  # measured: `ray start --block` outlives SIGTERM by more than 20 s
        shutil.rmtree(root, ignore_errors=True)


def _head_node_ids(address: str, env: dict) -> set[str]:
    """The node ids of the cluster at ``address`` (from a driver of its own, joining as
    ``stickrole run --address`` does: with Ray's token where there is one)."""
    code = ("from stickrole_utils.pipeline.ray_cluster import connect; "  # before Ray's import
            f"connect({address!r}); import json, ray; "
            "print(json.dumps([n['NodeID'] for n in ray.nodes()]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


SOLO = PARAMS.split("  - {name: gpu-a")[0] + "  - {name: solo, backend: dummy}\n" + \
    PARAMS.split("gpus: 1}\n")[2]


@pytest.mark.slow
def test_run_joins_a_separately_started_ray_head(tmp_path, ray_head):
    """``stickrole run --address`` against ``ray start --head``."""
    address, root, _ = ray_head
    params = tmp_path / "head.yaml"
    params.write_text(SOLO)
    run = subprocess.run(_stickrole("run", str(params), "--address", address),
                         env=_cli_env(os.environ["JUPYTER_PATH"], root), capture_output=True,
                         text=True, timeout=170)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    manifest = json.loads((tmp_path / "out" / "onray" / "solo" / "manifest.json").read_text())
    assert manifest["executor"]["address"] == address
    assert (tmp_path / "out" / "onray" / "leaderboard.csv").is_file()


@pytest.mark.slow
def test_without_address_a_run_starts_its_own_ray_beside_another_head(tmp_path, ray_head):
    """Another job's head runs on the machine and Ray's address file names it (where
    ``ray.init()`` would join it): ``stickrole run`` without ``--address`` starts a Ray
    instance of its own, runs there, and leaves the other alone."""
    address, root, head = ray_head
    address_file = Path(root) / "ray" / "ray_current_cluster"
    before = address_file.read_text()
    params = tmp_path / "own.yaml"
    params.write_text(SOLO)
    env = _cli_env(os.environ["JUPYTER_PATH"], root)
    run = subprocess.run(_stickrole("run", str(params)), env=env, capture_output=True, text=True,
                         timeout=170)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Ray started (local)" in run.stderr
    executor = json.loads((tmp_path / "out" / "onray" / "solo" / "manifest.json")
                          .read_text())["executor"]
    assert executor["address"] == "local"
    # the other head is untouched: still running, its address file as it was, and the run's
    # task ran on a node that is not one of the head's cluster
    assert head.poll() is None
    assert address_file.read_text() == before
    assert executor["node"] not in _head_node_ids(address, env)


@pytest.mark.parametrize("how", ["--address", "RAY_ADDRESS"])
def test_an_unreachable_address_is_one_line_and_exit_2_in_seconds(tmp_path, kernel, how):
    """A dead head (its port closed, as after the head died and left its address behind):
    one line on stderr, exit 2, well within 30 s (Ray alone retries for minutes)."""
    params = tmp_path / "dead.yaml"
    params.write_text(SOLO)
    dead = f"127.0.0.1:{_free_port()}"
    args = ["--address", dead] if how == "--address" else []
    extra = {"RAY_ADDRESS": dead} if how == "RAY_ADDRESS" else {}
    env = _cli_env(os.environ["JUPYTER_PATH"], tempfile.mkdtemp(prefix="rd", dir="/tmp"))
    env.update(extra)
    t0 = time.monotonic()
    try:
        run = subprocess.run(_stickrole("run", str(params), *args), env=env,
                             capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)
    took = time.monotonic() - t0
    assert run.returncode == 2, run.stderr[-3000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stickrole run: error: cannot reach the Ray "
                                                   f"cluster at {dead}"), run.stderr
    assert took < 30, took
    assert not (tmp_path / "out").exists()  # nothing ran


def test_which_cluster_a_run_joins(monkeypatch):
    """--address, else RAY_ADDRESS, else a local instance; `local` forces one; `auto` (Ray's
    "whatever is on this machine") and malformed addresses are refused."""
    from stickrole_utils.errors import ConfigError
    from stickrole_utils.pipeline.ray_cluster import cluster_address

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster_address(None) is None
    assert cluster_address("10.0.0.5:6379") == "10.0.0.5:6379"
    assert cluster_address("ray://head:10001") == "ray://head:10001"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.6:6379")
    assert cluster_address(None) == "10.0.0.6:6379"
    assert cluster_address("10.0.0.5:6379") == "10.0.0.5:6379"
    assert cluster_address("local") is None
    monkeypatch.setenv("RAY_ADDRESS", "local")
    assert cluster_address(None) is None
    for bad, says in (("auto", "never joins a cluster it finds"), ("head", "HOST:PORT"),
                      ("head:port", "HOST:PORT"), ("head:0", "HOST:PORT")):
        with pytest.raises(ConfigError, match=says):
            cluster_address(bad)
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    with pytest.raises(ConfigError, match="RAY_ADDRESS auto"):
        cluster_address(None)


def test_an_address_that_answers_but_is_no_ray_head_is_refused_quickly():
    """Something listens on the port but does not speak gRPC: refused after the probe's
    timeout, before Ray (which would retry it for minutes) is asked."""
    import threading

    from stickrole_utils.errors import ConfigError
    from stickrole_utils.pipeline.ray_cluster import check_reachable

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(100)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="is not a Ray head"):
        check_reachable(f"127.0.0.1:{port}", timeout=3)
    assert time.monotonic() - t0 < 5
    server.close()


#: A Jupyter kernel whose dummy backend sleeps before every reply (a slow stand-in for a model:
#: units take seconds, so Ctrl-C lands while units are in flight).
SLOW_KERNEL = """\
import os
import time

from stickrole_utils.generation.backends import dummy

_chat = dummy.DummyBackend.chat


def _slow_chat(self, *args, **kwargs):
    time.sleep(float(os.environ["STICKROLE_TEST_CHAT_DELAY"]))
    return _chat(self, *args, **kwargs)


dummy.DummyBackend.chat = _slow_chat
from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()
"""

GRID = """\
version: 1
run: grid
output_dir: out
models:
  - {name: solo, backend: dummy}
generation:
  n_personas: 8
  mode: direct
  chunks: [chunk_no_conv, {label: chunk_b, context: none}]
analysis: {bootstrap: 5, bootstrap_cardinal: 0}
experiment: {grid: {seed: [0, 1]}}
"""

ITEMS_PER_UNIT = 40  # PVQ-40


def _slow_kernel(root: Path, delay: float = 0.05) -> Path:
    """Register kernel ``slow`` (:data:`SLOW_KERNEL`) under ``root``; returns its script."""
    spec = root / "kernels" / "slow"
    spec.mkdir(parents=True)
    script = root / "slow_kernel.py"
    script.write_text(SLOW_KERNEL)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(script), "-f", "{connection_file}"],
        "display_name": "slow (tests)", "language": "python",
        "env": {"STICKROLE_TEST_CHAT_DELAY": str(delay),
                "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}}))
    return script


def _processes_running(script: Path) -> list[int]:
    """Processes whose command line names ``script`` (this test's slow kernels)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if str(script).encode() in (proc / "cmdline").read_bytes():
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def _parts(run_dir: Path) -> dict[str, list[Path]]:
    """Each grid point's stored units (their answer parts)."""
    return {point: sorted((run_dir / point / "solo" / "parts").glob("*.parquet"))
            for point in ("seed_0", "seed_1")}


def _interrupt(tmp_path: Path, jupyter_path: str, *args: str, group: bool) -> dict:
    """``stickrole run GRID --kernel slow ARGS`` in a session of its own; one SIGINT (to its
    process group, as a terminal's Ctrl-C, or to the process alone) once the first unit is
    stored; returns the exit code, the seconds from SIGINT to exit, its output and the units
    stored. Every process it left is killed (SIGKILL) before returning."""
    root = tmp_path / "jupyter"
    script = _slow_kernel(root)
    params = tmp_path / "grid.yaml"
    params.write_text(GRID)
    ray_tmp = tempfile.mkdtemp(prefix="ri", dir="/tmp")
    out, err = (tmp_path / "run.out").open("w+"), (tmp_path / "run.err").open("w+")
    proc = subprocess.Popen(
        _stickrole("run", str(params), "--kernel", "slow", *args), cwd=tmp_path,
        env=_cli_env(os.pathsep.join([str(root), jupyter_path]), ray_tmp),
        start_new_session=True, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 150
        while not any(_parts(tmp_path / "out" / "grid").values()):
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "run.err").read_text()[-3000:]
            time.sleep(0.1)
        t0 = time.monotonic()
        (os.killpg if group else os.kill)(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - t0
        left = []
        for _ in range(20):  # a kernel exits within a second of its parent
            left = _processes_running(script)
            if not left:
                break
            time.sleep(0.25)
        out.seek(0)
        err.seek(0)
        return {"code": code, "seconds": took, "stdout": out.read(), "stderr": err.read(),
                "kernels_left": left, "parts": _parts(tmp_path / "out" / "grid")}
    finally:
        _kill_group(proc, grace=1)
        for pid in _processes_running(script):
            os.kill(pid, signal.SIGKILL)
        out.close()
        err.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _check_stopped(got: dict, run_dir: Path) -> None:
    """What every interrupted run shows: exit 130 within 10 s, no kernel left, a summary that
    lists the stopped stages, and whole units only."""
    assert got["code"] == 130, got["stderr"][-3000:]
    assert got["seconds"] < 10, got["seconds"]
    assert not got["kernels_left"]
    # one line says so (Ray may still forward a worker's last output after it)
    said = [line for line in got["stderr"].splitlines() if line.startswith("stickrole run: ")]
    assert said == [said[0]] and said[0].startswith("stickrole run: interrupted: "), said
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["interrupted"] is True and summary["ok"] is False
    status = {(r["model"], r["stage"]): r["status"] for r in summary["results"]}
    assert status[("(all models)", "experiment")] == "stopped"
    assert all(status[(f"{p}/solo", "generate")] == "stopped" for p in ("seed_0", "seed_1"))
    assert "stopped" in got["stdout"]  # the table printed at the end
    for point in ("seed_0", "seed_1"):
        assert json.loads((run_dir / point / "run_summary.json").read_text())["interrupted"]
    for part in [p for parts in got["parts"].values() for p in parts]:
        assert len(pd.read_parquet(part)) == ITEMS_PER_UNIT  # a whole unit ...
        assert part.with_suffix(".json").is_file()  # ... with its conversation record


def _check_resumed(run_dir: Path, stored: dict[str, list[Path]], point: str) -> None:
    """A rerun did the units that were not stored, once each."""
    stats = json.loads((run_dir / point / "solo" / "manifest.json").read_text())["stats"]
    assert stats["units"] == 16
    assert stats["units_run_now"] == stats["units"] - len(stored[point])
    answers = pd.read_parquet(run_dir / point / "solo" / "answers.parquet")
    assert len(answers) == stats["items"] == 16 * ITEMS_PER_UNIT
    assert not answers.duplicated(KEY).any()


@pytest.mark.slow
def test_one_ctrl_c_stops_a_grid_on_ray_and_a_rerun_resumes(tmp_path, kernel):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while both grid points
    generate: every task is cancelled, the run exits 130 within 10 s, the summary lists the
    stopped stages; generating each point again (what a rerun's generate stage does, here in
    process to keep the test short) finishes it without losing or repeating a unit."""
    run_dir = tmp_path / "out" / "grid"
    jupyter_path = os.environ["JUPYTER_PATH"]  # the `kernel` fixture's: no Ray in this process
    got = _interrupt(tmp_path, jupyter_path, group=True)
    _check_stopped(got, run_dir)
    for point in ("seed_0", "seed_1"):
        gen = subprocess.run(_stickrole("generate", str(run_dir / point / "params.json")),
                             cwd=tmp_path, env=_cli_env(jupyter_path), capture_output=True,
                             text=True, timeout=120)
        assert gen.returncode == 0, gen.stderr[-3000:]
        _check_resumed(run_dir, got["parts"], point)


@pytest.mark.slow
def test_one_ctrl_c_stops_a_grid_in_process(tmp_path, kernel):
    """``--engine local``: SIGINT (to the process) kills the running stage's kernel at once
    (nbclient alone would shut it down politely, report the stage failed and go on with the
    next one) and starts nothing more; generation then resumes after the stored units."""
    run_dir = tmp_path / "out" / "grid"
    jupyter_path = os.environ["JUPYTER_PATH"]
    got = _interrupt(tmp_path, jupyter_path, "--engine", "local", group=False)
    _check_stopped(got, run_dir)
    stored = got["parts"]
    assert stored["seed_0"] and not stored["seed_1"]  # in turn: the second never started
    gen = subprocess.run(_stickrole("generate", str(run_dir / "seed_0" / "params.json")),
                         cwd=tmp_path, env=_cli_env(jupyter_path), capture_output=True, text=True,
                         timeout=120)
    assert gen.returncode == 0, gen.stderr[-3000:]
    _check_resumed(run_dir, stored, "seed_0")


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
