"""The HTML report of a run: executed notebooks as self-contained pages, and an index tying them up.

Layout (all under ``<run>/report/``, each page one self-contained HTML file: styles inline,
figures embedded as data URIs, no code cells, no external scripts):

- ``model_<model>.html`` — from the executed ``30_model_report`` notebook of the model;
- ``leaderboard.html`` — from the executed ``40_leaderboard`` notebook;
- ``index.html`` — run title, links to every page, the leaderboard's main columns and the stage
  summary of the last ``stickrole run`` (links to the executed notebooks, which show any error).

:func:`build_report` re-executes the two report notebooks from what is in a run directory (no
params file needed) and rewrites the pages; ``stickrole report RUN_DIR`` calls it.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import DataError

if TYPE_CHECKING:
    from .runner import RunSummary

__all__ = [
    "REPORT_DIR",
    "model_page_name",
    "model_page_path",
    "leaderboard_page_path",
    "notebook_to_html",
    "sortable_table_html",
    "show_table",
    "links_html",
    "manifest_table",
    "read_manifest",
    "read_ranking",
    "model_links",
    "metrics_summary",
    "unparsed_table",
    "model_unparsed_table",
    "ranking_table",
    "leaderboard_settings",
    "write_index",
    "build_report",
]

log = logging.getLogger(__name__)

#: Sub-directory of a run directory holding the HTML pages.
REPORT_DIR = "report"

_SORT_JS = """
<script>
(function () {
  const table = document.getElementById("%(id)s");
  if (!table || table.dataset.sortable) return;
  table.dataset.sortable = "1";
  const heads = table.tHead.rows[0].cells;
  for (let i = 0; i < heads.length; i++) {
    heads[i].style.cursor = "pointer";
    heads[i].title = "click to sort";
    heads[i].addEventListener("click", function () {
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const asc = heads[i].dataset.dir !== "asc";
      for (const h of heads) { delete h.dataset.dir; h.classList.remove("sorted"); }
      heads[i].dataset.dir = asc ? "asc" : "desc";
      heads[i].classList.add("sorted");
      const key = (r) => {
        const t = r.cells[i].dataset.value ?? r.cells[i].textContent.trim();
        const x = parseFloat(t);
        return isNaN(x) ? t.toLowerCase() : x;
      };
      rows.sort(function (a, b) {
        const ka = key(a), kb = key(b);
        const na = typeof ka === "number", nb = typeof kb === "number";
        if (na !== nb) return na ? -1 : 1;   /* numbers before text/n.a. */
        if (ka < kb) return asc ? -1 : 1;
        if (ka > kb) return asc ? 1 : -1;
        return 0;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  }
})();
</script>
"""

_TABLE_CSS = """
<style>
table.stickrole { border-collapse: collapse; font-size: 13px; margin: 0.5em 0 1em 0; }
table.stickrole th, table.stickrole td { border-bottom: 1px solid #ddd; padding: 4px 8px;
  text-align: right; }
table.stickrole th { background: #f3f3f3; position: sticky; top: 0; }
table.stickrole th.sorted[data-dir="asc"]::after { content: " \\25B2"; }
table.stickrole th.sorted[data-dir="desc"]::after { content: " \\25BC"; }
table.stickrole td:first-child, table.stickrole th:first-child { text-align: left; }
table.stickrole td.failed { background: #f8d7da; color: #721c24; }
table.stickrole tr:hover td { background: #f7fbff; }
</style>
"""


def _slug(model: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in str(model)).strip(".")
    return safe or "model"


def model_page_name(model: str) -> str:
    """File name of a model's page, e.g. ``model_dummy.html``.

    >>> model_page_name("SmolLM2-135M")
    'model_SmolLM2-135M.html'
    """
    return f"model_{_slug(model)}.html"


def model_page_path(run_dir: str | Path, model: str) -> Path:
    """``<run>/report/model_<model>.html``."""
    return Path(run_dir) / REPORT_DIR / model_page_name(model)


def leaderboard_page_path(run_dir: str | Path) -> Path:
    """``<run>/report/leaderboard.html``."""
    return Path(run_dir) / REPORT_DIR / "leaderboard.html"


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
    out = Path(html_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(out)
    return out


def _fmt(v: Any, digits: int) -> tuple[str, str]:
    """(shown text, sort key) of a table cell."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "n/a", ""
    if isinstance(v, float):
        return f"{v:.{digits}f}", repr(v)
    return html.escape(str(v)), html.escape(str(v))


def sortable_table_html(
    table: pd.DataFrame,
    *,
    table_id: str = "leaderboard",
    links: Mapping[str, str] | None = None,
    link_column: str = "Model",
    digits: int = 3,
    rank: bool = True,
) -> str:
    """HTML of a table whose columns sort on click (a few lines of inline JavaScript).

    Parameters
    ----------
    table : DataFrame
        Rows in their initial order (e.g. the leaderboard, best first).
    table_id : str
        HTML id (unique in the page).
    links : mapping value -> href, optional
        Cells of ``link_column`` become links (e.g. model -> its page).
    digits : int
        Decimals of float cells; NaN shows as ``n/a`` and sorts last.
    rank : bool
        Prepend a ``#`` column with the initial position (1-based).

    Returns
    -------
    str
        A ``<style>``, ``<table class="stickrole">`` and ``<script>`` block.
    """
    cols = list(table.columns)
    head = ("<th>#</th>" if rank else "") + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    rows = []
    for i, (_, row) in enumerate(table.iterrows(), start=1):
        cells = [f'<td data-value="{i}">{i}</td>'] if rank else []
        for c in cols:
            text, key = _fmt(row[c], digits)
            if links and c == link_column and str(row[c]) in links:
                text = f'<a href="{html.escape(links[str(row[c])])}">{text}</a>'
            cells.append(f'<td data-value="{key}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (_TABLE_CSS + f'<table class="stickrole" id="{html.escape(table_id)}"><thead><tr>'
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            + _SORT_JS % {"id": table_id})


def show_table(table: pd.DataFrame, *, digits: int = 3):
    """A table styled for the report pages: no index, no truncation, floats with ``digits``
    decimals, NaN as ``n/a``, text left-aligned.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    floats = [c for c in table.columns if pd.api.types.is_float_dtype(table[c])]
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    return (table.style.hide(axis="index")
            .format({c: f"{{:.{digits}f}}" for c in floats}, na_rep="n/a")
            .format(lambda v: "n/a" if v is None or (isinstance(v, float) and math.isnan(v))
                    else (f"{v:.{digits}f}" if isinstance(v, float) else str(v)),
                    subset=[c for c in text])
            .set_properties(subset=text, **{"text-align": "left"}))


def links_html(links: Mapping[str, str]) -> str:
    """An HTML list of links (text -> href)."""
    items = "".join(f'<li><a href="{html.escape(h)}">{html.escape(t)}</a></li>'
                    for t, h in links.items())
    return f"<ul>{items}</ul>"


def read_manifest(model_dir: str | Path) -> dict:
    """``<model_dir>/manifest.json`` as a dict (``{}`` if absent, e.g. answers imported)."""
    path = Path(model_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = ", ".join(map(str, v)) if len(v) <= 12 else f"{len(v)} entries"
        else:
            out[key] = v
    return out


def manifest_table(manifest: Mapping[str, Any], *, max_chars: int = 160) -> pd.DataFrame:
    """A run manifest flattened to ``key, value`` rows (nested keys joined with ``.``).

    >>> manifest_table({"backend": "dummy", "sampling": {"temperature": 0.7}}).to_dict("list")
    {'key': ['backend', 'sampling.temperature'], 'value': ['dummy', '0.7']}
    """
    flat = _flatten(manifest)
    rows = [(k, (s if len(s := str(v)) <= max_chars else s[: max_chars - 3] + "..."))
            for k, v in flat.items()]
    return pd.DataFrame(rows, columns=["key", "value"])


def model_links(models: Iterable[str]) -> dict[str, str]:
    """model -> relative link to its page (pages sit side by side in ``<run>/report/``)."""
    return {str(m): model_page_name(str(m)) for m in models}


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _count(x: Any) -> int | float:
    """An integer count, or NaN when absent."""
    v = _num(x)
    return int(v) if math.isfinite(v) else v


def _ci_text(ci: Any) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(math.isfinite(_num(c)) for c in ci):
        return f"[{_num(ci[0]):.3f}, {_num(ci[1]):.3f}]"
    return ""


def metrics_summary(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The headline numbers of one model's metrics.json as ``measure, value, 95% CI`` rows.

    Means over chunks use the ``*_mean`` keys when present, else the mean of the per-chunk
    values (NaN skipped). ``unparsed_rate`` is the share of items with no parsed answer.
    """
    def chunk_mean(key: str) -> float:
        if f"{key}_mean" in metrics:
            return _num(metrics[f"{key}_mean"])
        vals = [_num(v) for v in (metrics.get(key) or {}).values()]
        vals = [v for v in vals if math.isfinite(v)]
        return sum(vals) / len(vals) if vals else float("nan")

    rows = [
        ("Rank-order stability (mean over chunk pairs and values)", _num(metrics.get("rank_order")),
         _ci_text(metrics.get("rank_order_ci"))),
        ("Ipsative stability", _num(metrics.get("ipsative")), ""),
        ("Cardinal score", _num(metrics.get("cardinal")), _ci_text(metrics.get("cardinal_ci"))),
        ("Stress (mean over chunks, lower is better)", chunk_mean("stress"), ""),
        ("CFI (mean over chunks)", chunk_mean("cfi"), ""),
        ("SRMR (mean over chunks, lower is better)", chunk_mean("srmr"), ""),
        ("RMSEA (mean over chunks, lower is better)", chunk_mean("rmsea"), ""),
        ("Unparsed answers (share of items)", _num(metrics.get("unparsed_rate")), ""),
        ("CFA fits failed", _count(metrics.get("cfa_failures")), ""),
        ("Personas", _count(metrics.get("n_personas")), ""),
        ("Chunks", len(metrics.get("chunks") or []), ""),
    ]
    return pd.DataFrame(rows, columns=["measure", "value", "95% CI"], dtype=object)


def unparsed_table(answers: pd.DataFrame) -> pd.DataFrame:
    """Unparsed answers per chunk and questionnaire.

    Parameters
    ----------
    answers : DataFrame
        Answers table; an item is unparsed when ``score`` is NaN.

    Returns
    -------
    DataFrame
        ``chunk, questionnaire, items, unparsed, rate`` (rate = unparsed / items), plus a
        final ``all`` row.
    """
    g = answers.assign(unparsed=answers["score"].isna()).groupby(
        ["chunk", "questionnaire"], sort=False)["unparsed"]
    out = pd.DataFrame({"items": g.size(), "unparsed": g.sum().astype(int)}).reset_index()
    total = pd.DataFrame([{"chunk": "all", "questionnaire": "", "items": int(out["items"].sum()),
                           "unparsed": int(out["unparsed"].sum())}])
    out = pd.concat([out, total], ignore_index=True)
    out["rate"] = out["unparsed"] / out["items"].where(out["items"] > 0)
    return out


def model_unparsed_table(model_dir: str | Path, metrics: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`unparsed_table` of ``<model_dir>/answers.parquet``; without that file (answers
    analysed elsewhere), the single ``all`` row from metrics.json's ``unparsed_count`` /
    ``n_items``."""
    path = Path(model_dir) / "answers.parquet"
    if path.is_file():
        return unparsed_table(pd.read_parquet(path, columns=["chunk", "questionnaire", "score"]))
    items, count = _num(metrics.get("n_items")), _num(metrics.get("unparsed_count"))
    return pd.DataFrame([{"chunk": "all", "questionnaire": "", "items": items, "unparsed": count,
                          "rate": _num(metrics.get("unparsed_rate"))}])


def read_ranking(run_dir: str | Path) -> dict:
    """``<run>/ranking.json`` (diversity and sensitivity of the ranking), ``{}`` if absent."""
    path = Path(run_dir) / "ranking.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


_RANKING_ROWS = (
    ("kendall_w", "Kendall's W (agreement of the columns' rankings; 1 = all agree)"),
    ("one_minus_w", "Diversity 1 − W"),
    ("benchbench_diversity", "Diversity (W), benchbench's definition as in the original"),
    ("cardinal_mrc", "Sensitivity of the Cardinal ranking (MRC)"),
    ("cardinal_tau_distance", "Cardinal: Kendall tau distance under the MRC perturbation"),
    ("ordinal_mrc", "Sensitivity of the Ordinal ranking (MRC)"),
    ("ordinal_tau_distance", "Ordinal: Kendall tau distance under the MRC perturbation"),
    ("mean_pairwise_mrc", "Mean pairwise MRC"),
    ("n_models", "Models"),
    ("n_columns", "Leaderboard columns"),
)


def ranking_table(ranking: Mapping[str, Any]) -> pd.DataFrame:
    """Diversity and sensitivity numbers of ``ranking.json`` as ``measure, value`` rows.

    Only the keys present are listed; ``notes`` (reasons for NaN) come last as text rows.
    """
    rows = [(label, ranking[key]) for key, label in _RANKING_ROWS if key in ranking]
    rows += [("note", n) for n in ranking.get("notes", [])]
    return pd.DataFrame(rows, columns=["measure", "value"])


def leaderboard_settings(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``ties`` and ``chunks`` for the leaderboard, from the settings recorded in metrics.json.

    The first model's recorded ``settings`` decide (a run analyses all models alike).
    """
    for m in metrics.values():
        s = m.get("settings") or {}
        return {"ties": s.get("ties") or "loss", "chunks": list(s.get("chunks") or [])}
    return {"ties": "loss", "chunks": []}


def _model_dirs(run_dir: Path) -> list[Path]:
    return sorted(p.parent for p in run_dir.glob("*/metrics.json"))


def write_index(run_dir: str | Path, *, summary: RunSummary | None = None,
                title: str | None = None) -> Path:
    """Write ``<run>/report/index.html`` from what is in the run directory.

    Parameters
    ----------
    run_dir : path
    summary : RunSummary, optional
        Stage outcomes to show; default: ``<run>/run_summary.json`` if present.
    title : str, optional
        Default: ``report.title`` of ``<run>/run_config.json``, else the run directory's name.

    Returns
    -------
    Path
        The index page.
    """
    run_dir = Path(run_dir)
    report = run_dir / REPORT_DIR
    report.mkdir(parents=True, exist_ok=True)
    cfg = {}
    if (run_dir / "run_config.json").is_file():
        cfg = json.loads((run_dir / "run_config.json").read_text())
    title = title or (cfg.get("report") or {}).get("title") or run_dir.name
    if summary is not None:
        stages = summary.table()
    elif (run_dir / "run_summary.json").is_file():
        stages = pd.DataFrame(json.loads((run_dir / "run_summary.json").read_text())["results"])
    else:
        stages = pd.DataFrame()

    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>Run <code>{html.escape(cfg.get('run', run_dir.name))}</code> · "
             f"directory <code>{html.escape(str(run_dir.resolve()))}</code> · "
             f"page written {time.strftime('%Y-%m-%d %H:%M')}</p>"]
    lb_page = leaderboard_page_path(run_dir)
    models = [p.name for p in _model_dirs(run_dir)]
    page_links = {}
    if lb_page.is_file():
        page_links["Leaderboard"] = lb_page.name
    for m in models:
        if model_page_path(run_dir, m).is_file():
            page_links[f"Model page: {m}"] = model_page_name(m)
    parts.append("<h2>Pages</h2>" + (links_html(page_links) if page_links
                                     else "<p>No pages yet: the report stages have not run.</p>"))
    lb_csv = run_dir / "leaderboard.csv"
    if lb_csv.is_file():
        lb = pd.read_csv(lb_csv)
        from .leaderboard import LEADERBOARD_COLUMNS

        lb = lb[[c for c in LEADERBOARD_COLUMNS if c in lb.columns]]
        links = {m: model_page_name(m) for m in lb["Model"].astype(str)
                 if model_page_path(run_dir, m).is_file()}
        parts.append("<h2>Leaderboard</h2>"
                     + sortable_table_html(lb, table_id="index-leaderboard", links=links)
                     + (f'<p>Confidence intervals, figures, diversity and sensitivity: '
                        f'<a href="{lb_page.name}">leaderboard page</a>.</p>'
                        if lb_page.is_file() else ""))
    if not stages.empty:
        rel = stages.copy()
        rel["notebook"] = [
            f'<a href="{html.escape(os.path.relpath(p, report))}">{html.escape(Path(p).name)}</a>'
            if p else "" for p in rel["notebook"].fillna("")]
        rows = []
        for _, r in rel.iterrows():
            cls = ' class="failed"' if r["status"] in ("failed", "skipped") else ""
            rows.append("<tr>" + "".join(
                f"<td{cls}>{html.escape(str(r[c]))}</td>" for c in
                ("model", "stage", "status", "seconds", "reason")) + f"<td>{r['notebook']}</td></tr>")
        ok = bool((stages["status"].isin(["ok", "up to date"])).all())
        parts.append(
            "<h2>Stages of the last run</h2>"
            + ("<p>All stages succeeded.</p>" if ok else
               "<p><b>Some stages failed</b>; the executed notebook of each shows the error.</p>")
            + '<table class="stickrole" id="stages"><thead><tr><th>model</th><th>stage</th>'
              "<th>status</th><th>seconds</th><th>reason</th><th>executed notebook</th></tr>"
              f"</thead><tbody>{''.join(rows)}</tbody></table>")
    page = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>{_TABLE_CSS}"
            "<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;"
            "padding:0 1em;color:#222} code{background:#f3f3f3;padding:0 3px}</style>"
            f"</head><body>{''.join(parts)}</body></html>")
    out = report / "index.html"
    out.write_text(page, encoding="utf-8")
    return out


def build_report(run_dir: str | Path, *, kernel_name: str | None = None) -> Path:
    """(Re)build the HTML report of a run directory: ``stickrole report RUN_DIR``.

    Executes ``30_model_report`` for every ``<model>/metrics.json`` and ``40_leaderboard`` over
    all of them (executed notebooks under ``<run>/notebooks/``), renders the pages and writes
    ``index.html``. Needs no params file: settings come from the metrics files and
    ``run_config.json`` if present.

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
    # local import: runner uses this module's page helpers
    from .leaderboard import load_metrics
    from .runner import DEFAULT_KERNEL, check_kernel, execute_stage

    run_dir = Path(run_dir).resolve()
    kernel_name = kernel_name or DEFAULT_KERNEL
    model_dirs = _model_dirs(run_dir)
    if not model_dirs:
        raise DataError(f"{run_dir}: no <model>/metrics.json found; run `stickrole run PARAMS` "
                        "or `stickrole analyze ... --out RUN_DIR` first")
    check_kernel(kernel_name)
    metrics = load_metrics([d / "metrics.json" for d in model_dirs])
    names = dict(zip(metrics, model_dirs, strict=True))
    failures = []
    for model, mdir in names.items():
        nb = run_dir / "notebooks" / mdir.name / "30_model_report.ipynb"
        try:
            execute_stage("report", nb, {"run_dir": str(run_dir), "model": mdir.name},
                          kernel_name=kernel_name)
            notebook_to_html(nb, model_page_path(run_dir, mdir.name), title=f"{model}")
        except Exception as exc:  # noqa: BLE001 - other pages are still built
            failures.append(f"{model}: {getattr(exc, 'ename', type(exc).__name__)} (see {nb})")
    cfg = {}
    if (run_dir / "run_config.json").is_file():
        cfg = json.loads((run_dir / "run_config.json").read_text())
    title = (cfg.get("report") or {}).get("title") or ""
    nb = run_dir / "notebooks" / "40_leaderboard.ipynb"
    try:
        execute_stage("leaderboard", nb, {"run_dir": str(run_dir),
                                          "models": [d.name for d in model_dirs],
                                          "title": title, **leaderboard_settings(metrics)},
                      kernel_name=kernel_name)
        notebook_to_html(nb, leaderboard_page_path(run_dir), title=title or "leaderboard")
    except Exception as exc:  # noqa: BLE001
        failures.append(f"leaderboard: {getattr(exc, 'ename', type(exc).__name__)} (see {nb})")
    index = write_index(run_dir, title=title or None)
    if failures:
        raise DataError(f"{run_dir}: report pages failed: {'; '.join(failures)}")
    return index

