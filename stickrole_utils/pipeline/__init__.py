"""Stage 5, the pipeline: runs the stage notebooks headless, stamps, the leaderboard and report.

``stickrole run`` / ``stickrole report``: :func:`run_experiment`, :func:`build_report`.

Every stage notebook imports :func:`check_parameters` from here, in a fresh kernel; the runner's
names (:func:`run_experiment`, :func:`build_report`, :class:`RunSummary`, :class:`StageResult`)
pull in the analysis, leaderboard and report stages (scipy.stats, matplotlib: ~2 s), so they
are imported on first use (PEP 562), not with the package.
"""

from ..lazy import lazy_getattr
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
from .stages import (
    MODEL_STAGES,
    NOTEBOOK_FILES,
    NOTEBOOK_PARAMETERS,
    check_parameters,
    load_notebook,
    notebooks_dir,
)
from .stamps import file_digest, inputs_digest, is_current, write_stamp

_LAZY = {"build_report": ".rebuild", "RunSummary": ".run", "StageResult": ".run",
         "run_experiment": ".run", "write_grid_points": ".run"}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())

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
    "write_grid_points",
    "write_stamp",
]
