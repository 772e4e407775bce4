"""Stage 1, generation: plan and check a run, administer the questionnaires through a backend, store the answers."""

from .administer import (
    ROW_COLUMNS,
    Unit,
    UnitResult,
    administer_unit,
    call_seed,
    original_permutations,
    per_item_permutations,
    simulate_conversation,
    unit_permutations,
)
from .generate import (
    generate_from_params,
    generate_model,
)
from .parsing import (
    ParsedAnswer,
    parse_answer,
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
    atomic_write_text,
    git_commit,
    identity_hash,
    read_run_answers,
)

__all__ = [
    "ROW_COLUMNS",
    "Unit",
    "UnitResult",
    "original_permutations",
    "per_item_permutations",
    "unit_permutations",
    "call_seed",
    "simulate_conversation",
    "administer_unit",
    "generate_model",
    "generate_from_params",
    "ParsedAnswer",
    "parse_answer",
    "load_params",
    "check_run_config",
    "preflight",
    "resolved_chunks",
    "plan_units",
    "model_run_dir",
    "RunStore",
    "identity_hash",
    "git_commit",
    "atomic_write_text",
    "read_run_answers",
]
