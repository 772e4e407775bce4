"""docs/extending.md's recipes, run as written: its ``python recipe`` code blocks (a toy backend and
a toy metric) are executed, then a params file using the ``yaml recipe-params`` block's model runs
through generation and analysis. So the documented steps are enough, and stay true."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stickrole_utils.analysis import analyze_model, read_answers
from stickrole_utils.analysis import custom as custom_metrics
from stickrole_utils.config import AnalysisSettings
from stickrole_utils.experiment import metric_values
from stickrole_utils.generation import generate_from_params
from stickrole_utils.generation.backends import base as backend_base

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def recipes(tmp_path):
    """Import the recipes' code as the modules a user would write; afterwards the registries are
    as they were (other tests see only the built-in backends and metrics)."""
    backends, metrics = dict(backend_base._REGISTRY), dict(custom_metrics._METRICS)
    try:
        code = _blocks("python recipe")
        assert len(code) == 2, "extending.md: a backend recipe and a metric recipe"
        for k, block in enumerate(code):
            path = tmp_path / f"recipe_{k}.py"
            path.write_text(block)
            spec = importlib.util.spec_from_file_location(f"recipe_{k}", path)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        yield yaml.safe_load(_blocks("yaml recipe-params")[0])["models"]
    finally:
        backend_base._REGISTRY.clear()
        backend_base._REGISTRY.update(backends)
        custom_metrics._METRICS.clear()
        custom_metrics._METRICS.update(metrics)


def test_the_documented_backend_and_metric_run_end_to_end(recipes, tmp_path):
    params = tmp_path / "toy.yaml"
    params.write_text(yaml.safe_dump({
        "version": 1, "run": "toy", "output_dir": str(tmp_path),
        "models": recipes,
        "generation": {"n_personas": 4, "mode": "cot", "n_messages": 1,
                       "chunks": ["chunk_no_conv", "chunk_joke"]},
    }))
    [model_dir] = generate_from_params(params, progress=False)
    answers = read_answers(model_dir / "answers.parquet")
    # the toy model always picks its option letter: B, as its entry says
    assert set(pd.read_parquet(model_dir / "answers.parquet")["letter"]) == {"B"}
    analysis = analyze_model(answers, AnalysisSettings(bootstrap=0, bootstrap_cardinal=0))
    metrics = analysis.metrics
    assert metrics["custom_metrics"] == ["mean_centered_spread"]
    spread = metrics["mean_centered_spread"]
    assert set(spread) == {"chunk_no_conv", "chunk_joke"}
    assert all(v > 0 for v in spread.values())
    # an experiment tracks it too
    assert set(metric_values(metrics)) >= {"mean_centered_spread:chunk_joke"}


def test_a_mistyped_option_of_the_documented_backend_is_one_line(recipes, tmp_path):
    from stickrole_utils.errors import ConfigError
    from stickrole_utils.generation import load_params

    params = tmp_path / "bad.yaml"
    params.write_text(yaml.safe_dump({"version": 1, "run": "bad", "output_dir": str(tmp_path),
                                      "models": [{"name": "toy", "backend": "always",
                                                  "leter": "B"}]}))
    with pytest.raises(ConfigError, match=r"models\[0\] \(toy\): leter: unknown key; allowed "
                                          r"keys here: .*letter"):
        load_params(params)
