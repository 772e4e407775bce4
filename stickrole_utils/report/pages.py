"""The HTML report of a run: executed notebooks as self-contained pages, and an index tying them up.

Layout (all under ``<run>/report/``, see :class:`~stickrole_utils.layout.RunLayout`; each page one
self-contained HTML file: styles inline, figures embedded as data URIs, no code cells, no external
scripts):

- ``model_<model>.html`` — from the executed ``30_model_report`` notebook of the model;
- ``leaderboard.html`` — from the executed ``40_leaderboard`` notebook;
- ``index.html`` — run title, links to every page, the leaderboard's main columns and the stage
  summary of the last ``stickrole run`` (links to the executed notebooks, which show any error).

The pipeline (``stickrole run`` / ``stickrole report``) executes the notebooks and calls
:func:`notebook_to_html` and :func:`write_index`; nothing here writes data.
"""

from __future__ import annotations

import html
import logging
import os
import re
import time
from pathlib import Path

import pandas as pd

from ..io import atomic_write_text
from ..layout import RunLayout
from ..records import read_leaderboard, read_run_config, read_run_summary
from .tables import _TABLE_CSS, links_html, model_links, sortable_table_html

__all__ = ["notebook_to_html", "write_index", "LEADERBOARD_INDEX_COLUMNS"]

#: Leaderboard columns shown on the index page (the contract's main columns).
LEADERBOARD_INDEX_COLUMNS: tuple[str, ...] = (
    "Model", "Ordinal (Win rate)", "Cardinal (Score)", "RO Stability", "Stress", "CFI", "SRMR",
    "RMSEA",
)


_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.I)
_EXTERNAL_MODULE = re.compile(r"<script type=\"module\">(?:(?!</script>).)*https?://"
                              r"(?:(?!</script>).)*</script>", re.I | re.S)


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def notebook_to_html(notebook: str | Path, html_path: str | Path, *, title: str | None = None) -> Path:
    """Render an executed notebook as one self-contained HTML page without code.

    Code cells' inputs and prompts are left out (nbconvert ``--no-input``), stderr streams
    (warnings, progress bars) are dropped, figures stay embedded as base64 data URIs, and the
    template's CDN scripts (MathJax, require.js, mermaid; none is needed by these pages) are
    removed, so the page renders offline.

    Parameters
    ----------
    notebook : path
        Executed ``.ipynb``.
    html_path : path
        Output file (its directory is created).
    title : str, optional
        ``<title>`` of the page (default: the notebook's file name).

    Returns
    -------
    Path
        ``html_path``.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nb.metadata["title"] = title or Path(notebook).stem
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    quiet = _DropMessage("Alternative text is missing")  # our figures get an alt text below
    exporter.log.addFilter(quiet)
    try:
        body, _ = exporter.from_notebook_node(nb)
    finally:
        exporter.log.removeFilter(quiet)
    body = body.replace('alt="No description has been provided for this image"', 'alt="figure"')
    body = _EXTERNAL_SCRIPT.sub("", body)
    body = _EXTERNAL_MODULE.sub("", body)
    return atomic_write_text(html_path, body)


def _took(row: pd.Series) -> str:
    """The time a stage took when it did its work: this run's seconds, or for a stage that is
    up to date now, those its last successful run recorded and when it finished."""
    work = row.get("work_seconds")
    if row["status"] != "up to date":
        return f"{float(row['seconds']):.1f}"
    if work is None or pd.isna(work):  # a summary written before work_seconds was recorded
        return "n/a (not recorded)"
    when = str(row.get("work_finished") or "").replace("T", " ")
    return f"{float(work):.1f} (ran {when})" if when else f"{float(work):.1f}"


def _stages_html(stages: pd.DataFrame, report: Path) -> str:
    """The table of the last run's stages: status now, and the seconds each took when it did
    its work (an up-to-date stage keeps those of the run that did it)."""
    rows = []
    for _, r in stages.iterrows():
        cls = ' class="failed"' if r["status"] in ("failed", "skipped") else ""
        nb = r.get("notebook")
        link = (f'<a href="{html.escape(os.path.relpath(nb, report))}">'
                f'{html.escape(Path(nb).name)}</a>' if isinstance(nb, str) and nb else "")
        reason = r["reason"] if isinstance(r["reason"], str) else ""
        cells = [r["model"], r["stage"], r["status"], _took(r), reason]
        rows.append("<tr>" + "".join(f"<td{cls}>{html.escape(str(c))}</td>" for c in cells)
                    + f"<td>{link}</td></tr>")
    ok = bool((stages["status"].isin(["ok", "up to date"])).all())
    fresh = stages["status"].eq("up to date")
    note = (" A stage that is up to date was not run again: its time is that of the run that "
            "did its work." if fresh.any() else "")
    return ("<h2>Stages of the last run</h2>"
            + ("<p>All stages succeeded." + note + "</p>" if ok else
               "<p><b>Some stages failed</b>; the executed notebook of each shows the error."
               + note + "</p>")
            + '<table class="stickrole" id="stages"><thead><tr><th>model</th><th>stage</th>'
              "<th>status now</th><th>seconds (when it ran)</th><th>reason</th>"
              "<th>executed notebook</th></tr>"
              f"</thead><tbody>{''.join(rows)}</tbody></table>")


def write_index(run_dir: str | Path, *, stages: pd.DataFrame | None = None,
                title: str | None = None) -> Path:
    """Write ``<run>/report/index.html`` from what is in the run directory.

    Parameters
    ----------
    run_dir : path
    stages : DataFrame, optional
        Stage outcomes to show (columns ``model, stage, status, reason, notebook, seconds``,
        and ``work_seconds, work_finished``: the time the stage took in the run that did its
        work and when that run finished it, shown for a stage that is up to date now);
        default: ``<run>/run_summary.json`` if present.
    title : str, optional
        Default: ``report.title`` of ``<run>/run_config.json``, else the run directory's name.

    Returns
    -------
    Path
        The index page.
    """
    layout = RunLayout(run_dir)
    run_dir = layout.run_dir
    report = layout.report_dir
    report.mkdir(parents=True, exist_ok=True)
    cfg = read_run_config(run_dir)
    title = title or (cfg.report.title if cfg is not None else "") or run_dir.name
    if stages is None:
        summary = read_run_summary(run_dir)
        stages = summary.table() if summary is not None else pd.DataFrame()

    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Run <code>{html.escape(cfg.run if cfg is not None else run_dir.name)}</code> · "
             f"directory <code>{html.escape(str(run_dir.resolve()))}</code> · "
             f"page written {time.strftime('%Y-%m-%d %H:%M')}</p>"]
    lb_page = layout.leaderboard_page
    models = [p.name for p in layout.analysed_model_dirs()]
    page_links = {}
    if lb_page.is_file():
        page_links["Leaderboard"] = lb_page.name
    for m in models:
        if layout.model_page(m).is_file():
            page_links[f"Model page: {m}"] = layout.model_page(m).name
    if layout.experiment_page.is_file():
        page_links["Experiment"] = layout.experiment_page.name
    for point_index in sorted(run_dir.glob(f"*/{report.name}/{layout.index_page.name}")):
        label = point_index.parent.parent.name
        page_links[f"Grid point: {label}"] = os.path.relpath(point_index, report)
    parts.append("<h2>Pages</h2>" + (links_html(page_links) if page_links
                                     else "<p>No pages yet: the report stages have not run.</p>"))
    lb = read_leaderboard(run_dir)
    if lb is not None:
        lb = lb[[c for c in LEADERBOARD_INDEX_COLUMNS if c in lb.columns]]
        links = {m: href for m, href in model_links(lb["Model"].astype(str)).items()
                 if (report / href).is_file()}
        parts.append("<h2>Leaderboard</h2>"
                     + sortable_table_html(lb, table_id="index-leaderboard", links=links)
                     + (f'<p>Confidence intervals, figures, diversity and sensitivity: '
                        f'<a href="{lb_page.name}">leaderboard page</a>.</p>'
                        if lb_page.is_file() else ""))
    if not stages.empty:
        parts.append(_stages_html(stages, report))
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>{_TABLE_CSS}"
            "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;"
            "padding:0 1em;color:#222} code{background:#f3f3f3;padding:0 3px}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
    return atomic_write_text(layout.index_page, page)
