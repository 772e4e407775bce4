"""Model backends: the protocol, the registry (by name), llama.cpp, OpenAI-compatible servers, the dummy baseline and a scripted backend for tests."""

from .base import (
    Backend,
    ContextOverflowError,
    DummyBackend,
    Generation,
    LlamaCppBackend,
    OpenAIBackend,
    llama_cpp_available,
    make_backend,
)
from .embedded import (
    EMBEDDED_PACKAGES,
    GGUF_MAGIC,
    cache_dir,
    check_gguf_file,
    check_model_ref,
    resolve_model_path,
    sha256_file,
)

__all__ = [
    "Generation",
    "Backend",
    "ContextOverflowError",
    "DummyBackend",
    "LlamaCppBackend",
    "OpenAIBackend",
    "make_backend",
    "llama_cpp_available",
    "EMBEDDED_PACKAGES",
    "GGUF_MAGIC",
    "cache_dir",
    "check_model_ref",
    "check_gguf_file",
    "resolve_model_path",
    "sha256_file",
]
