"""Stage 4b, the report: figures, tables, HTML pages and the interactive explorer.

It renders what the other stages wrote and never writes data.

The experiment figures (matplotlib) and the explorer (ipywidgets) are imported on first use
(PEP 562): the generation and analysis notebooks import the tables from here, in a fresh
kernel each, and should not pay ~1.5 s for plotting libraries they do not use.
"""

from .pages import notebook_to_html, write_index
from .tables import (
    cfa_table,
    context_table,
    links_html,
    manifest_table,
    metrics_summary,
    model_links,
    model_unparsed_table,
    ranking_table,
    read_manifest,
    read_ranking,
    show_table,
    sortable_table_html,
    style_cfa_table,
    unparsed_table,
)

_LAZY = {name: ".experiment" for name in (
    "HUMAN_REFERENCE", "downstream_bars", "experiment_bars", "metric_by_length",
    "pairwise_heatmaps", "significance_matrix", "value_behaviour_bars")}
_LAZY["Explorer"] = ".explorer"


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HUMAN_REFERENCE",
    "experiment_bars",
    "metric_by_length",
    "significance_matrix",
    "downstream_bars",
    "value_behaviour_bars",
    "pairwise_heatmaps",
    "Explorer",
    "cfa_table",
    "links_html",
    "context_table",
    "manifest_table",
    "metrics_summary",
    "model_links",
    "model_unparsed_table",
    "read_manifest",
    "read_ranking",
    "notebook_to_html",
    "ranking_table",
    "show_table",
    "sortable_table_html",
    "style_cfa_table",
    "unparsed_table",
    "write_index",
]
