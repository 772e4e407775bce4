"""Stage 5, the pipeline: runs the stage notebooks headless, stamps, the leaderboard and report.

``stickrole run`` / ``stickrole report``: :func:`run_experiment`, :func:`build_report`.
"""

from .execute import (
    DEFAULT_KERNEL,
    DEFAULT_STALL_TIMEOUT,
    StageStalled,
    check_kernel,
    execute_notebook,
    execute_stage,
    failure_reason,
    stall_reason,
)
from .rebuild import build_report
from .run import RunSummary, StageResult, run_experiment
from .stages import (
    MODEL_STAGES,
    NOTEBOOK_FILES,
    NOTEBOOK_PARAMETERS,
    check_parameters,
    load_notebook,
    notebooks_dir,
)
from .stamps import file_digest, inputs_digest, is_current, write_stamp

__all__ = [
    "DEFAULT_KERNEL",
    "DEFAULT_STALL_TIMEOUT",
    "MODEL_STAGES",
    "NOTEBOOK_FILES",
    "NOTEBOOK_PARAMETERS",
    "RunSummary",
    "StageResult",
    "StageStalled",
    "build_report",
    "check_kernel",
    "check_parameters",
    "execute_notebook",
    "execute_stage",
    "failure_reason",
    "file_digest",
    "inputs_digest",
    "is_current",
    "load_notebook",
    "notebooks_dir",
    "run_experiment",
    "stall_reason",
    "write_stamp",
]
