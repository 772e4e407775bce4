"""Settings: the typed, validated params file (run, generation, analysis, execution)."""

from .analysis import (
    AnalysisSettings,
)
from .run import (
    ChunkSpec,
    ExecutionSettings,
    GenerationConfig,
    ModelEntry,
    PromptTemplates,
    ReportSettings,
    RunConfig,
    SamplingConfig,
    load_run_config,
    parse_run_config,
)

__all__ = [
    "AnalysisSettings",
    "ChunkSpec",
    "SamplingConfig",
    "PromptTemplates",
    "GenerationConfig",
    "ModelEntry",
    "ReportSettings",
    "ExecutionSettings",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
]
