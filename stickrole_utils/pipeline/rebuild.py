"""``stickrole report``: (re)render the HTML pages of a run or an experiment directory from what
the stages wrote (the stages themselves are run by :mod:`.run`); it never writes data.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..layout import ModelFiles, RunLayout
from ..leaderboard.table import load_metrics
from ..records import read_run_config
from ..report import notebook_to_html, write_index
from .execute import DEFAULT_KERNEL, check_kernel, execute_stage

__all__ = ["build_report"]


def build_report(run_dir: str | Path, *, kernel_name: str | None = None) -> Path:
    """(Re)render the HTML report of a run directory: ``stickrole report RUN_DIR``; of an
    experiment's directory (holding ``experiment.csv``): every grid point's report, the
    experiment page and the experiment's index.

    Executes ``30_model_report`` for every ``<model>/metrics.json`` and ``40_leaderboard``
    (executed notebooks under ``<run>/notebooks/``), renders the pages and writes
    ``index.html``. It renders only: ``leaderboard.csv`` and ``ranking.json`` are read as the
    leaderboard stage wrote them (with the ties rule and chunks it was given), never rewritten.

    Parameters
    ----------
    run_dir : path
        A run directory (``<output_dir>/<run>``) or any directory with ``<model>/metrics.json``.
    kernel_name : str, optional
        Jupyter kernel (default ``stickrole``).

    Returns
    -------
    Path
        ``<run>/report/index.html``.

    Raises
    ------
    DataError
        No ``<model>/metrics.json`` in ``run_dir``, or a report notebook failed (the message
        names the executed notebook that shows the error).
    """
    layout = RunLayout(Path(run_dir).resolve())
    kernel_name = kernel_name or DEFAULT_KERNEL
    if layout.experiment_csv.is_file():
        return _build_experiment_report(layout, kernel_name)
    model_dirs = layout.analysed_model_dirs()
    if not model_dirs:
        raise DataError(f"{layout.run_dir}: no <model>/metrics.json found; run `stickrole run "
                        "PARAMS` or `stickrole analyze ... --out RUN_DIR` first")
    check_kernel(kernel_name)
    metrics = load_metrics([ModelFiles(d).metrics for d in model_dirs])
    failures = []
    for model, mdir in zip(metrics, model_dirs, strict=True):
        nb = layout.executed_notebook(mdir.name, "report")
        try:
            execute_stage("report", nb, {"run_dir": str(layout.run_dir), "model": mdir.name},
                          kernel_name=kernel_name)
            notebook_to_html(nb, layout.model_page(mdir.name), title=f"{model}")
        except Exception as exc:  # noqa: BLE001 - other pages are still built
            failures.append(f"{model}: {getattr(exc, 'ename', type(exc).__name__)} (see {nb})")
    cfg = read_run_config(layout.run_dir)
    title = cfg.report.title if cfg is not None else ""
    if layout.leaderboard_csv.is_file():
        nb = layout.executed_notebook(None, "leaderboard")
        try:
            execute_stage("leaderboard", nb, {"run_dir": str(layout.run_dir), "title": title},
                          kernel_name=kernel_name)
            notebook_to_html(nb, layout.leaderboard_page, title=title or "leaderboard")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"leaderboard: {getattr(exc, 'ename', type(exc).__name__)} "
                            f"(see {nb})")
    index = write_index(layout.run_dir, title=title or None)
    if failures:
        raise DataError(f"{layout.run_dir}: report pages failed: {'; '.join(failures)}")
    return index


def _build_experiment_report(layout: RunLayout, kernel_name: str) -> Path:
    """``build_report`` of an experiment: each grid point's pages, then the experiment page."""
    check_kernel(kernel_name)
    failures = []
    for point in layout.point_dirs():
        try:
            build_report(point, kernel_name=kernel_name)
        except DataError as exc:
            failures.append(f"{point.name}: {exc}")
    cfg = read_run_config(layout.run_dir)
    title = cfg.report.title if cfg is not None else ""
    nb = layout.executed_notebook(None, "experiment")
    try:
        execute_stage("experiment", nb, {"run_dir": str(layout.run_dir), "title": title},
                      kernel_name=kernel_name)
        notebook_to_html(nb, layout.experiment_page, title=title or "experiment")
    except Exception as exc:  # noqa: BLE001 - the index is still written
        failures.append(f"experiment: {getattr(exc, 'ename', type(exc).__name__)} (see {nb})")
    index = write_index(layout.run_dir, title=title or None)
    if failures:
        raise DataError(f"{layout.run_dir}: report pages failed: {'; '.join(failures)}")
    return index
