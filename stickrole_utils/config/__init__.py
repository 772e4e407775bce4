"""Settings: the typed, validated params file (run, generation, analysis, execution)."""

from .analysis import (
    AnalysisSettings,
    LEADERBOARD_CHUNKS,
)
from .leaderboard import (
    LeaderboardSettings,
)
from .run import (
    ChunkSpec,
    SamplingConfig,
    PromptTemplates,
    GenerationConfig,
    ModelEntry,
    ReportSettings,
    ExecutionSettings,
    RunConfig,
    load_run_config,
    parse_run_config,
)

__all__ = [
    "AnalysisSettings",
    "LEADERBOARD_CHUNKS",
    "LeaderboardSettings",
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
