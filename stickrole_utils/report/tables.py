"""Tables of the report pages: sortable HTML tables, styled DataFrames, summaries of metrics.

Everything here renders what the stages wrote; nothing writes data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.answers import read_answers
from ..generation.store import read_manifest as generation_read_manifest
from ..layout import ModelFiles, model_dir_name

__all__ = [
    "sortable_table_html",
    "show_table",
    "links_html",
    "manifest_table",
    "context_table",
    "model_links",
    "read_manifest",
    "metrics_summary",
    "unparsed_table",
    "model_unparsed_table",
    "ranking_table",
    "cfa_table",
    "style_cfa_table",
]


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
    """``<model_dir>/manifest.json`` as a dict (``{}`` if absent, e.g. answers imported); read and
    validated by :func:`stickrole_utils.generation.store.read_manifest`."""
    return generation_read_manifest(model_dir)


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


def context_table(manifest: Mapping[str, Any]) -> pd.DataFrame:
    """What each chunk's units heard before the questionnaire, from the manifest's
    ``chunk_contexts`` (written by generation from the resolved run specification).

    Returns
    -------
    DataFrame
        One row per chunk, in run order: ``chunk, questionnaire, context, topic, messages``
        (simulated after the opener), ``interlocutor``, ``opener`` (its first characters, or the
        corpus file), ``openers sha256`` (first 12 hex digits). Empty when the manifest has no
        such record (a run from before it was written, or imported answers).

    Examples
    --------
    >>> context_table({"chunk_order": ["c"], "chunk_contexts": {"c": {
    ...     "questionnaire": "pvq40", "context": "topic", "topic": "chess", "n_messages": 3,
    ...     "interlocutor": "persona", "opener_start": "1. e4", "opener_sha256": "ab" * 32}}}
    ...     ).iloc[0].astype(str).tolist()
    ['c', 'pvq40', 'topic', 'chess', '3', 'persona', '1. e4', 'abababababab']
    """
    records = manifest.get("chunk_contexts") or {}
    order = [c for c in manifest.get("chunk_order", []) if c in records]
    order += [c for c in records if c not in order]
    rows = []
    for chunk in order:
        r = records[chunk]
        opener = Path(r["corpus"]).name if r.get("corpus") else r.get("opener_start", "")
        rows.append([chunk, r.get("questionnaire", ""), r.get("context", ""), r.get("topic", ""),
                     r.get("n_messages", 0), r.get("interlocutor", ""), opener,
                     str(r.get("opener_sha256", ""))[:12]])
    return pd.DataFrame(rows, columns=["chunk", "questionnaire", "context", "topic", "messages",
                                       "interlocutor", "opener", "openers sha256"])


def model_links(models: Iterable[str]) -> dict[str, str]:
    """model -> relative link to its page (pages sit side by side in ``<run>/report/``)."""
    return {str(m): f"model_{model_dir_name(str(m))}.html" for m in models}


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


def model_unparsed_table(model_dir: str | Path, metrics: Mapping[str, Any]) -> pd.DataFrame:
    """:func:`unparsed_table` of ``<model_dir>/answers.parquet``; without that file (answers
    analysed elsewhere), the single ``all`` row from metrics.json's ``unparsed_count`` /
    ``n_items``."""
    path = ModelFiles(model_dir).answers
    if path.is_file():
        return unparsed_table(read_answers(path))
    items, count = _count(metrics.get("n_items")), _count(metrics.get("unparsed_count"))
    return pd.DataFrame([{"chunk": "all", "questionnaire": "", "items": items, "unparsed": count,
                          "rate": _num(metrics.get("unparsed_rate"))}],
                        dtype=object).astype({"rate": float})


def ranking_table(ranking: Any) -> pd.DataFrame:
    """Diversity and sensitivity numbers of ``ranking.json`` (a
    :class:`~stickrole_utils.records.RankingFile`, its data, or ``None`` when absent) as
    ``measure, value`` rows.

    Only the keys present are listed; ``notes`` (reasons for NaN) come last as text rows.
    """
    if ranking is None:
        ranking = {}
    elif not isinstance(ranking, Mapping):
        ranking = ranking.model_dump()
    rows = [(label, ranking[key]) for key, label in _RANKING_ROWS if key in ranking]
    rows += [("note", n) for n in ranking.get("notes", [])]
    return pd.DataFrame(rows, columns=["measure", "value"])


def cfa_table(cfa: pd.DataFrame, *, chunks: Sequence[str] | None = None,
              metrics: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """CFA fit per chunk and higher-order model, with two means of the four models per chunk.

    Parameters
    ----------
    cfa : DataFrame
        Columns ``chunk, group, cfi, tli, srmr, rmsea, converged, improper, note`` (one row per
        chunk and magnifying-glass model).
    chunks : sequence of str, optional
        Row order of the chunks.
    metrics : mapping, optional
        The model's ``metrics.json``: its ``cfi``, ``srmr``, ``rmsea`` per chunk are the
        leaderboard's numbers (failed fits scored by ``settings.cfa_failure``), shown as the row
        ``mean (leaderboard)``; this function computes no such number itself.

    Returns
    -------
    DataFrame
        Index (chunk, model) where model is a higher-order group, ``mean of converged`` or
        ``mean (leaderboard)``; columns ``CFI ↑, SRMR ↓, RMSEA ↓, status``. ``status`` is
        ``ok``, ``improper: <note>`` or ``FAILED: <note>``; ``mean of converged`` averages the
        converged fits only (NaN if none), its status counting the failures (``1 of 4
        failed``).
    """
    cols = {"cfi": "CFI ↑", "srmr": "SRMR ↓", "rmsea": "RMSEA ↓"}
    order = list(chunks) if chunks is not None else list(dict.fromkeys(cfa["chunk"]))
    rows = []
    for chunk in order:
        sub = cfa[cfa["chunk"] == chunk]
        for _, r in sub.iterrows():
            note = str(r.get("note") or "").strip()
            if not bool(r["converged"]):
                status = f"FAILED: {note}" if note else "FAILED"
            elif bool(r.get("improper", False)):
                status = f"improper: {note}" if note else "improper"
            else:
                status = "ok"
            rows.append({"chunk": chunk, "model": r["group"],
                         **{v: r[k] for k, v in cols.items()}, "status": status})
        ok = sub[sub["converged"].astype(bool)]
        n_failed = len(sub) - len(ok)
        rows.append({"chunk": chunk, "model": "mean of converged",
                     **{v: ok[k].mean() if len(ok) else np.nan for k, v in cols.items()},
                     "status": f"{n_failed} of {len(sub)} failed" if n_failed else "ok"})
        if metrics is not None:
            rule = (metrics.get("settings") or {}).get("cfa_failure", "")
            rows.append({"chunk": chunk, "model": "mean (leaderboard)",
                         **{v: _num((metrics.get(k) or {}).get(chunk)) for k, v in cols.items()},
                         "status": f"failures scored by rule {rule!r}" if rule and n_failed
                         else ""})
    out = pd.DataFrame(rows, columns=["chunk", "model", *cols.values(), "status"])
    return out.set_index(["chunk", "model"])


def style_cfa_table(table: pd.DataFrame):
    """Styled :func:`cfa_table` for HTML: failures on a red background, mean rows in bold.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    def _row(row: pd.Series) -> list[str]:
        status = str(row["status"])
        if status.startswith("FAILED") or (row.name[1].startswith("mean") and " failed" in status):
            css = "background-color: #f8d7da; color: #721c24"
        elif status.startswith("improper"):
            css = "background-color: #fff3cd"
        else:
            css = ""
        if row.name[1].startswith("mean"):
            css += "; font-weight: bold"
        return [css] * len(row)

    return (table.style.apply(_row, axis=1)
            .format({c: "{:.3f}" for c in table.columns if c != "status"}, na_rep="n/a"))
