"""Interactive exploration of a run in JupyterLab (``notebooks/90_explorer.py``).

Pick a model, a chunk, a value and a persona; the views update:

- the pairwise rank-order stability heatmap (of the chosen value, or the mean over values),
- the persona orders of the chosen value (personas sorted by the chosen chunk),
- the chosen persona's value profile across chunks,
- the evidence behind one score: the persona's conversation in the chosen chunk and its answers
  to the value's items (option shown, parsed or not, raw reply).

The data access functions are pure and tested on their own; :class:`Explorer` only wires them to
ipywidgets.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.answers import read_answers
from ..analysis.model import ModelAnalysis
from ..analysis.model_io import read_model_analysis
from ..design.instruments import INSTRUMENTS
from ..design.values import VALUES
from ..errors import DataError
from ..io import read_jsonl
from ..layout import ModelFiles, RunLayout

__all__ = [
    "ALL_VALUES",
    "RunData",
    "load_run",
    "load_conversations",
    "value_matrix",
    "find_conversation",
    "conversation_html",
    "score_evidence",
    "Explorer",
]

log = logging.getLogger(__name__)

#: Choice in the value menu meaning "mean over the 10 values".
ALL_VALUES = "(mean over values)"


@dataclass
class RunData:
    """What the explorer reads from a run directory, per model."""

    run_dir: Path
    analyses: dict[str, ModelAnalysis] = field(default_factory=dict)
    answers: dict[str, pd.DataFrame] = field(default_factory=dict)
    conversations: dict[str, list[dict]] = field(default_factory=dict)


def load_conversations(path: str | Path) -> list[dict]:
    """Read ``conversations.jsonl`` (one JSON object per line; blank lines skipped).

    Raises
    ------
    DataError
        A line that is not a JSON object (the message names file and line).
    """
    return read_jsonl(path, "conversations")


def load_run(run_dir: str | Path) -> RunData:
    """Every ``<model>/metrics.json`` of a run with its tables, answers and conversations.

    Missing answers or conversations (e.g. answers analysed elsewhere) are left out, not errors.

    Raises
    ------
    DataError
        No analysed model in ``run_dir``.
    """
    run_dir = Path(run_dir)
    data = RunData(run_dir=run_dir)
    for mdir in RunLayout(run_dir).analysed_model_dirs():
        files = ModelFiles(mdir)
        a = read_model_analysis(mdir)
        data.analyses[a.model] = a
        if files.answers.is_file():
            data.answers[a.model] = read_answers(files.answers)
        if files.conversations.is_file():
            data.conversations[a.model] = load_conversations(files.conversations)
    if not data.analyses:
        raise DataError(f"{run_dir}: no <model>/metrics.json; run the analysis first "
                        "(`stickrole run PARAMS` or `stickrole analyze ... --out RUN_DIR`)")
    return data


def value_matrix(analysis: ModelAnalysis, value: str = ALL_VALUES) -> pd.DataFrame:
    """Chunk x chunk rank-order stability of one value (or the mean over values).

    Parameters
    ----------
    analysis : ModelAnalysis
        ``metrics["pairwise_rank_order"]`` gives the mean; ``rank_order`` (columns
        ``value, chunk_a, chunk_b, r``) the per-value correlations.
    value : str
        A value name or :data:`ALL_VALUES`.

    Returns
    -------
    DataFrame
        Square, symmetric, diagonal 1, rows and columns in ``metrics["chunks"]`` order.
    """
    chunks = list(analysis.metrics["chunks"])
    if value == ALL_VALUES:
        return pd.DataFrame(analysis.metrics["pairwise_rank_order"]).reindex(
            index=chunks, columns=chunks).astype(float)
    mat = pd.DataFrame(np.eye(len(chunks)), index=chunks, columns=chunks)
    ro = analysis.rank_order
    for _, r in ro[ro["value"] == value].iterrows():
        if r["chunk_a"] in mat.index and r["chunk_b"] in mat.index:
            mat.loc[r["chunk_a"], r["chunk_b"]] = mat.loc[r["chunk_b"], r["chunk_a"]] = r["r"]
    return mat


def _get(rec: dict, *keys: str) -> Any:
    for k in keys:
        if k in rec:
            return rec[k]
    return None


def find_conversation(conversations: Sequence[dict], chunk: str, persona: str) -> dict | None:
    """The record of (chunk, persona) in ``conversations.jsonl`` content, or None."""
    for rec in conversations:
        if str(rec.get("chunk")) == str(chunk) and str(rec.get("persona")) == str(persona):
            return rec
    return None


def conversation_html(record: dict | None) -> str:
    """A conversation record as HTML: one block per message (role in bold), or a notice.

    Messages are read from ``conversation`` (else ``messages`` / ``turns``) and, when present,
    ``dialogue`` (the SVS question-and-answer dialogue), each a list of mappings with ``content``
    and a ``speaker`` (``context``, ``persona``, ``interlocutor``: the generation's conversation
    records) or a ``role`` (chat messages); persona and interlocutor are labelled with the record's
    names. The record's other scalar fields are listed above the messages.
    """
    if record is None:
        return "<p><i>No conversation recorded for this persona and chunk.</i></p>"
    lists = ("conversation", "messages", "turns", "dialogue")
    messages = list(_get(record, "conversation", "messages", "turns") or [])
    messages += list(record.get("dialogue") or [])
    meta = {k: v for k, v in record.items()
            if k not in lists and not isinstance(v, (list, dict)) and v not in ("", None)}
    head = "".join(f"<b>{html.escape(str(k))}</b>: {html.escape(str(v))}<br>"
                   for k, v in meta.items())
    blocks = []
    for m in messages:
        if isinstance(m, dict):
            role, content = m.get("speaker") or m.get("role") or "?", m.get("content", "")
            name = record.get(role) if role in ("persona", "interlocutor") else None
            if name:
                role = f"{role} · {name}"
        else:
            role, content = "", m
        blocks.append('<div style="margin:4px 0;padding:4px 8px;border-left:3px solid #ccc">'
                      f"<b>{html.escape(str(role))}</b><br>"
                      f"<span style=\"white-space:pre-wrap\">{html.escape(str(content))}</span>"
                      "</div>")
    if not blocks:
        blocks.append("<p><i>(no messages: a chunk without conversation)</i></p>")
    return f"<div>{head}{''.join(blocks)}</div>"


def score_evidence(answers: pd.DataFrame, chunk: str, persona: str,
                   value: str = ALL_VALUES) -> pd.DataFrame:
    """The answers behind a persona's value score in one chunk.

    Parameters
    ----------
    answers : DataFrame
        Answers table of one model (contract columns; generation columns such as ``letter``,
        ``parsed``, ``raw``, ``option_order`` are kept when present).
    chunk, persona : str
    value : str
        Keep the items keyed to this value (via the questionnaire's key); :data:`ALL_VALUES`
        keeps every item.

    Returns
    -------
    DataFrame
        One row per item, sorted by item, with a ``value`` column (``""`` for unkeyed items).
    """
    sub = answers[(answers["chunk"] == chunk) & (answers["persona"] == persona)].copy()
    sub["value"] = [INSTRUMENTS[q].item_value.get(int(i), "") if q in INSTRUMENTS else ""
                    for q, i in zip(sub["questionnaire"], sub["item"], strict=True)]
    if value != ALL_VALUES:
        sub = sub[sub["value"] == value]
    keep = ["questionnaire", "item", "value", "score"] + [
        c for c in ("letter", "parsed", "parse_reason", "option_order", "raw", "error")
        if c in sub.columns]
    return sub.sort_values("item")[keep].reset_index(drop=True)


class Explorer:
    """ipywidgets view of a run (see the module docstring).

    Parameters
    ----------
    run_dir : path
        A run directory with ``<model>/metrics.json`` (and ideally answers and conversations).

    Examples
    --------
    In JupyterLab: ``Explorer("outputs/demo").widget()`` as the last line of a cell.
    """

    def __init__(self, run_dir: str | Path):
        import ipywidgets as w

        self.data = load_run(run_dir)
        models = list(self.data.analyses)
        self.model = w.Dropdown(options=models, value=models[0], description="model")
        self.chunk = w.Dropdown(description="chunk")
        self.value = w.Dropdown(options=[ALL_VALUES, *VALUES], value=ALL_VALUES,
                                description="value")
        self.persona = w.Dropdown(description="persona")
        self.out_heatmap = w.Output()
        self.out_orders = w.Output()
        self.out_profile = w.Output()
        self.out_evidence = w.Output()
        self._updating = False
        self._set_choices()
        self.model.observe(self._on_model, names="value")
        for widget in (self.chunk, self.value, self.persona):
            widget.observe(self._on_change, names="value")
        self.refresh()

    @property
    def analysis(self) -> ModelAnalysis:
        return self.data.analyses[self.model.value]

    def _set_choices(self) -> None:
        a = self.analysis
        chunks = list(a.metrics["chunks"])
        personas = sorted(set(a.scores["persona"].astype(str)))
        self._updating = True  # no redraw while the menus are refilled
        try:
            self.chunk.options = chunks
            self.chunk.value = "chunk_no_conv" if "chunk_no_conv" in chunks else chunks[0]
            self.persona.options = personas
            self.persona.value = personas[0]
        finally:
            self._updating = False

    def _on_model(self, _change: dict) -> None:
        self._set_choices()
        self.refresh()

    def _on_change(self, _change: dict) -> None:
        if not self._updating:
            self.refresh()

    def refresh(self) -> None:
        """Redraw every view for the current choices."""
        from IPython.display import HTML

        from . import figures as plots

        a = self.analysis
        chunks = list(a.metrics["chunks"])
        value = self.value.value
        title = ("Pairwise rank-order stability (mean over values)" if value == ALL_VALUES
                 else f"Rank-order stability of {value}")
        _fill(self.out_heatmap,
              plots.rank_order_heatmap(value_matrix(a, value), chunks=chunks, title=title))
        _fill(self.out_orders,
              plots.persona_order_plot(a.scores, values=None if value == ALL_VALUES else [value],
                                       chunks=chunks, reference_chunk=self.chunk.value))
        _fill(self.out_profile,
              plots.persona_profile_plot(a.scores, self.persona.value, chunks=chunks))
        sc = a.scores
        row = sc[(sc["chunk"] == self.chunk.value) & (sc["persona"] == self.persona.value)]
        if value != ALL_VALUES:
            row = row[row["value"] == value]
        evidence = [HTML(f"<h4>Scores of {html.escape(self.persona.value)} in "
                         f"{html.escape(self.chunk.value)}</h4>"),
                    row.drop(columns=["model"], errors="ignore").reset_index(drop=True)]
        answers = self.data.answers.get(a.model)
        if answers is None:
            evidence.append(HTML("<p><i>No answers.parquet in this model's directory.</i></p>"))
        else:
            evidence += [HTML("<h4>Answers behind the score</h4>"),
                         score_evidence(answers, self.chunk.value, self.persona.value, value)]
        evidence += [HTML("<h4>Conversation</h4>"),
                     HTML(conversation_html(find_conversation(
                         self.data.conversations.get(a.model, []), self.chunk.value,
                         self.persona.value)))]
        _fill(self.out_evidence, *evidence)

    def widget(self):
        """The whole explorer as one ipywidgets box."""
        import ipywidgets as w

        tabs = w.Tab(children=[self.out_heatmap, self.out_orders, self.out_profile,
                               self.out_evidence])
        # titles short enough for JupyterLab's fixed tab width (~18 characters)
        for i, name in enumerate(("Stability heatmap", "Persona orders", "Persona profile",
                                  "Score evidence")):
            tabs.set_title(i, name)
        return w.VBox([w.HBox([self.model, self.chunk]), w.HBox([self.value, self.persona]), tabs])


def _fill(out, *objects) -> None:
    """Replace the contents of an ``ipywidgets.Output`` with ``objects``, formatted in the kernel.

    Why not ``with out: display(...)``: that form only records where the outputs go (the
    Output's ``msg_id``); a *frontend* must route them into the widget and send the new state
    back to the kernel. Without JupyterLab, nbclient plays that frontend and sends those
    updates on the shell socket while it is waiting on that same socket for the cell's reply,
    and the reply can then be missed, so the headless run hangs after the cell has finished
    (jupyter/nbclient#312, nteract/papermill#723). Formatting here and setting ``outputs``
    once is what ipywidgets documents for output made without a frontend (``append_display_data``,
    which this does for several objects in one state update); the page looks the same in
    JupyterLab, in the executed notebook and in its HTML.
    """
    from IPython.core.interactiveshell import InteractiveShell

    fmt = InteractiveShell.instance().display_formatter.format
    outputs = []
    for obj in objects:
        data, metadata = fmt(obj)
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    out.outputs = tuple(outputs)
