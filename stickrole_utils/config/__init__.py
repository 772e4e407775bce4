"""Settings: the typed, validated params file (run, generation, analysis, execution)."""

from .analysis import (
    AnalysisSettings,
)
from .generation import (
    ChunkSpec,
    GenerationConfig,
    PromptTemplates,
    SamplingConfig,
)
from .leaderboard import (
    LeaderboardSettings,
)
from .run import (
    ExecutionSettings,
    ModelEntry,
    ReportSettings,
    RunConfig,
    load_run_config,
    parse_run_config,
)

__all__ = [
    "AnalysisSettings",
    "ChunkSpec",
    "SamplingConfig",
    "PromptTemplates",
    "GenerationConfig",
    "LeaderboardSettings",
    "ModelEntry",
    "ReportSettings",
    "ExecutionSettings",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
]
