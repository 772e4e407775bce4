"""The stage notebooks and their parameters.

Each stage is a jupytext percent notebook in ``notebooks/`` (:data:`NOTEBOOK_FILES`). Its
parameters are declared here (:data:`NOTEBOOK_PARAMETERS`), and each notebook's second cell calls
:func:`check_parameters`, so a wrongly-typed parameter stops a notebook at its start with a
message naming the parameter, the expected type and the value received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import ConfigError
from ..layout import NOTEBOOK_FILES

__all__ = [
    "NOTEBOOK_FILES",
    "NOTEBOOK_PARAMETERS",
    "MODEL_STAGES",
    "check_parameters",
    "notebooks_dir",
    "load_notebook",
]

#: Per-model stages in execution order.
MODEL_STAGES: tuple[str, ...] = ("generate", "analyze", "report")



class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GenerateParameters(_Params):
    """Parameters of ``10_generate``."""

    params_path: str
    """Params YAML file of the run."""
    model: str
    """Name of the model (as in the params file's ``models``)."""
    force: bool = False
    """Discard earlier answers of this model and start over."""
    progress: Literal["auto", "text", "none"] = "auto"
    """Progress bar: ``auto`` (a widget in JupyterLab), ``text`` (on stderr: what the batch
    runner passes to the terminal), ``none``."""
    executor: dict = {}
    """Where the stage runs (``stickrole run`` on Ray: ``{engine, address, node, gpu_ids}``),
    recorded in the manifest (``{}``: nothing recorded)."""


class AnalyzeParameters(_Params):
    """Parameters of ``20_analyze``."""

    params_path: str
    model: str


class ModelReportParameters(_Params):
    """Parameters of ``30_model_report``."""

    run_dir: str
    """Run directory (``<output_dir>/<run>``) holding ``<model>/metrics.json``."""
    model: str


class LeaderboardParameters(_Params):
    """Parameters of ``40_leaderboard`` (it displays what the leaderboard stage wrote)."""

    run_dir: str
    """Run directory holding ``leaderboard.csv``, ``leaderboard_columns.csv``, ``ranking.json``."""
    title: str = ""
    """Report title (``report.title``)."""


class ExperimentParameters(_Params):
    """Parameters of ``50_experiment`` (it displays what the experiment stage wrote)."""

    run_dir: str
    """Experiment directory holding ``experiment.csv`` and ``comparisons.csv``."""
    title: str = ""
    """Report title (``report.title``)."""


class ExplorerParameters(_Params):
    """Parameters of ``90_explorer``."""

    run_dir: str


#: Stage -> pydantic model of its notebook parameters.
NOTEBOOK_PARAMETERS: dict[str, type[_Params]] = {
    "generate": GenerateParameters,
    "analyze": AnalyzeParameters,
    "report": ModelReportParameters,
    "leaderboard": LeaderboardParameters,
    "experiment": ExperimentParameters,
    "explorer": ExplorerParameters,
}


def check_parameters(stage: str, **values: Any) -> _Params:
    """Validate a notebook's parameters (called in each notebook's second cell).

    Parameters
    ----------
    stage : str
        Key of :data:`NOTEBOOK_PARAMETERS`.
    **values
        The parameter values, by name.

    Returns
    -------
    pydantic.BaseModel
        The validated parameters.

    Raises
    ------
    ConfigError
        Unknown stage, unknown parameter, or a value of the wrong type (strict: ``"yes"`` is not a
        bool, ``1`` is not a str): the message names the notebook, the parameter, the expected
        type and the value received.

    Examples
    --------
    >>> check_parameters("report", run_dir="outputs/demo", model="dummy").model
    'dummy'
    >>> check_parameters("generate", params_path="p.yaml", model="m", force="yes")
    Traceback (most recent call last):
    ...
    stickrole_utils.errors.ConfigError: notebook 10_generate.py: parameter 'force' must be bool, got str 'yes'
    """
    if stage not in NOTEBOOK_PARAMETERS:
        raise ConfigError(f"unknown notebook stage {stage!r}; stages: {', '.join(NOTEBOOK_PARAMETERS)}")
    cls = NOTEBOOK_PARAMETERS[stage]
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"])
            top = str(err["loc"][0])
            if err["type"] == "extra_forbidden":
                msgs.append(f"unknown parameter {name!r}; parameters: {', '.join(cls.model_fields)}")
            elif err["type"] == "missing":
                msgs.append(f"parameter {name!r} is required")
            else:
                given = err.get("input")
                expected = _type_name(cls.model_fields[top].annotation) if top in cls.model_fields else "?"
                msgs.append(f"parameter {top!r} must be {expected}, got "
                            f"{type(given).__name__} {given!r}")
        msgs = list(dict.fromkeys(msgs))
        raise ConfigError(f"notebook {NOTEBOOK_FILES[stage]}: " + "; ".join(msgs)) from None


def _type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    if name in ("str", "bool", "int", "float"):
        return name
    text = str(tp).replace("typing.", "")
    return text


def notebooks_dir() -> Path:
    """The stage notebooks (jupytext percent ``.py``) shipped beside the package.

    Raises
    ------
    ConfigError
        If the folder is missing (the package is installed without its source tree: install it
        with ``pip install -e .`` from a checkout).
    """
    path = Path(__file__).resolve().parents[2] / "notebooks"
    if not (path / NOTEBOOK_FILES["generate"]).is_file():
        raise ConfigError(f"stage notebooks not found in {path}; install stickrole from a checkout "
                          "with `pip install -e .` (the notebooks live in the repository)")
    return path


def load_notebook(stage: str, directory: Path | None = None):
    """The stage notebook as an ``nbformat`` node, made from its jupytext percent source."""
    import jupytext

    path = (directory or notebooks_dir()) / NOTEBOOK_FILES[stage]
    if not path.is_file():
        raise ConfigError(f"notebook {path} not found")
    return jupytext.read(path, fmt="py:percent")
