"""Model backends: the protocol, the registry (by name), llama.cpp, OpenAI-compatible servers, the dummy baseline, a scripted backend for tests, and what reasoning models need of them."""

from .base import (
    ANSWER_MODES,
    REASONING_KEY,
    TEMPLATE_TOKENS_PER_MESSAGE,
    Backend,
    BackendBase,
    BackendOptions,
    ContextOverflowError,
    Generation,
    TokenUsage,
    UsageCounter,
    backend_class,
    backend_names,
    backend_usage,
    estimate_prompt_tokens,
    estimate_tokens,
    make_backend,
    mode_problem,
    model_options,
    register_backend,
    resolve_model,
)
from .dummy import (
    DummyBackend,
    DummyOptions,
)
from .embedded import (
    EMBEDDED_PACKAGES,
    GGUF_MAGIC,
    cache_dir,
    cached_sha256,
    check_gguf_file,
    check_model_ref,
    resolve_model_path,
)
from .llama_batch import (
    BatchEngine,
    common_prefix_len,
)
from .llama_cpp import (
    LlamaCppBackend,
    llama_cpp_available,
)
from .llama_options import (
    AUTO_N_PARALLEL,
    LlamaCppOptions,
    auto_n_parallel,
    resolve_kv_reuse,
)
from .llama_units import (
    UnitView,
    generate_batched,
    score_batched,
)
from .openai import (
    OpenAIBackend,
    OpenAIOptions,
)
from .reasoning import (
    REASONING_FORMATS,
    REASONING_STATUSES,
    ReasoningFormat,
    ReasoningOptions,
    ReasoningPlan,
    ReasoningTracker,
    SplitReply,
    format_from_template,
    plan_reasoning,
    reasoning_problem,
    split_reasoning,
    switch_from_template,
)
from .scripted import (
    ScriptedBackend,
)
from .templates import (
    REPLY_LABEL,
    STOP_STRINGS,
    TEMPLATES,
    USER_LABEL,
    cut_reply,
    labelled_prompt,
)


def _load_plugins() -> None:
    """Import the backends other packages declare (entry point group ``stickrole.backends``):
    their modules register themselves on import (``docs/extending.md``, A backend)."""
    from importlib.metadata import entry_points

    from ...errors import ConfigError

    for ep in entry_points(group="stickrole.backends"):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - one line naming the plugin, not a traceback
            raise ConfigError(f"backend plugin {ep.name!r} ({ep.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from None


_load_plugins()

__all__ = [
    "ANSWER_MODES",
    "REASONING_KEY",
    "Generation",
    "TokenUsage",
    "UsageCounter",
    "TEMPLATE_TOKENS_PER_MESSAGE",
    "estimate_tokens",
    "estimate_prompt_tokens",
    "backend_usage",
    "Backend",
    "BackendBase",
    "BackendOptions",
    "ContextOverflowError",
    "register_backend",
    "backend_class",
    "backend_names",
    "mode_problem",
    "make_backend",
    "model_options",
    "resolve_model",
    "DummyBackend",
    "DummyOptions",
    "AUTO_N_PARALLEL",
    "LlamaCppOptions",
    "auto_n_parallel",
    "resolve_kv_reuse",
    "OpenAIOptions",
    "EMBEDDED_PACKAGES",
    "GGUF_MAGIC",
    "cache_dir",
    "check_model_ref",
    "check_gguf_file",
    "resolve_model_path",
    "cached_sha256",
    "common_prefix_len",
    "BatchEngine",
    "UnitView",
    "generate_batched",
    "score_batched",
    "LlamaCppBackend",
    "llama_cpp_available",
    "OpenAIBackend",
    "ScriptedBackend",
    "REASONING_FORMATS",
    "REASONING_STATUSES",
    "ReasoningFormat",
    "ReasoningOptions",
    "ReasoningPlan",
    "ReasoningTracker",
    "SplitReply",
    "format_from_template",
    "plan_reasoning",
    "reasoning_problem",
    "split_reasoning",
    "switch_from_template",
    "TEMPLATES",
    "USER_LABEL",
    "REPLY_LABEL",
    "STOP_STRINGS",
    "labelled_prompt",
    "cut_reply",
]
