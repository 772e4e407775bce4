"""Stage 1, generation: plan and check a run, administer the questionnaires through a backend, store the answers."""

from .administer import (
    ROW_COLUMNS,
    Turn,
    Unit,
    UnitResult,
    administer_unit,
    simulate_conversation,
    simulate_turns,
)
from .cost import (
    ChunkCost,
    CostEstimator,
    ModelPlan,
    UnitCost,
    estimate_unit,
    format_duration,
    format_plan,
    plan_model,
    plan_run,
)
from .generate import (
    generate_from_params,
    generate_model,
)
from .manifest import (
    Manifest,
    ManifestStats,
    ManifestUsage,
    parse_manifest,
)
from .parsing import (
    PARSING_RULES,
    ParsedAnswer,
    parse_answer,
    parse_answer_original,
)
from .permutations import (
    call_seed,
    original_permutations,
    per_item_permutations,
    unit_permutations,
)
from .plan import (
    check_run_config,
    load_params,
    model_run_dir,
    plan_units,
    preflight,
    resolved_chunks,
)
from .store import (
    RunStore,
    git_commit,
    identity_hash,
    read_manifest,
    read_run_answers,
)

__all__ = [
    "ROW_COLUMNS",
    "Unit",
    "UnitResult",
    "Turn",
    "simulate_conversation",
    "simulate_turns",
    "administer_unit",
    "UnitCost",
    "ChunkCost",
    "ModelPlan",
    "CostEstimator",
    "estimate_unit",
    "plan_model",
    "plan_run",
    "format_duration",
    "format_plan",
    "generate_model",
    "generate_from_params",
    "ManifestUsage",
    "ManifestStats",
    "Manifest",
    "parse_manifest",
    "ParsedAnswer",
    "parse_answer",
    "parse_answer_original",
    "PARSING_RULES",
    "original_permutations",
    "per_item_permutations",
    "unit_permutations",
    "call_seed",
    "load_params",
    "check_run_config",
    "preflight",
    "resolved_chunks",
    "plan_units",
    "model_run_dir",
    "RunStore",
    "identity_hash",
    "git_commit",
    "read_manifest",
    "read_run_answers",
]
