"""Settings: the typed, validated params file (run, generation, analysis, execution)."""

from .analysis import (
    AnalysisSettings,
)
from .chunks import (
    CHUNK_PRESETS,
    expand_chunk,
)
from .experiment import (
    GRID_KEYS,
    ComparisonSettings,
    ExperimentSettings,
    grid_points,
    point_generation,
    point_label,
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
    AUTO_N_PARALLEL,
    ExecutionSettings,
    ModelEntry,
    ReportSettings,
    RunConfig,
    auto_n_parallel,
    expand_grid,
    load_run_config,
    parse_run_config,
    resolve_kv_reuse,
    run_spec,
)

__all__ = [
    "AnalysisSettings",
    "CHUNK_PRESETS",
    "expand_chunk",
    "GRID_KEYS",
    "ComparisonSettings",
    "ExperimentSettings",
    "grid_points",
    "point_label",
    "point_generation",
    "ChunkSpec",
    "SamplingConfig",
    "PromptTemplates",
    "GenerationConfig",
    "LeaderboardSettings",
    "AUTO_N_PARALLEL",
    "auto_n_parallel",
    "ModelEntry",
    "ReportSettings",
    "ExecutionSettings",
    "RunConfig",
    "load_run_config",
    "parse_run_config",
    "expand_grid",
    "run_spec",
    "resolve_kv_reuse",
]
