"""Settings: the typed, validated params file (run, generation, analysis, execution)."""

from .analysis import (
    AnalysisSettings,
)
from .chunks import (
    CHUNK_PRESETS,
    expand_chunk,
)
from .generation import (
    ChunkSpec,
    GenerationConfig,
    PromptTemplates,
    SamplingConfig,
)
from .grid import (
    GRID_KEYS,
    ComparisonSettings,
    ExperimentSettings,
    ReliabilitySettings,
    grid_points,
    point_generation,
    point_label,
)
from .leaderboard import (
    LeaderboardSettings,
)
from .run import (
    ExecutionSettings,
    ModelEntry,
    ReportSettings,
    RunConfig,
    expand_grid,
    load_run_config,
    parse_run_config,
    run_spec,
)

__all__ = [
    "AnalysisSettings",
    "CHUNK_PRESETS",
    "expand_chunk",
    "GRID_KEYS",
    "ComparisonSettings",
    "ReliabilitySettings",
    "ExperimentSettings",
    "grid_points",
    "point_label",
    "point_generation",
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
    "expand_grid",
    "run_spec",
]
