"""Stage 4b, the report: figures, tables, HTML pages and the interactive explorer.

It renders what the other stages wrote and never writes data.

The experiment figures (matplotlib) and the explorer (ipywidgets) are imported on first use
(PEP 562): the generation and analysis notebooks import the tables from here, in a fresh
kernel each, and should not pay ~1.5 s for plotting libraries they do not use.
"""

from ..lazy import lazy_getattr
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
    show_table,
    sortable_table_html,
    style_cfa_table,
    unparsed_table,
)

_LAZY = {name: ".experiment_figures" for name in (
    "HUMAN_REFERENCE", "downstream_bars", "experiment_bars", "metric_by_length",
    "pairwise_heatmaps", "significance_matrix", "value_behaviour_bars", "metric_title",
    "task_title", "setting_label", "describe_grid")}
_LAZY.update({name: ".signal_figures" for name in (
    "ceiling_vs_observed", "variance_shares", "reliability_summary", "floor_band",
    "invariance_summary", "omega_alpha")})
_LAZY["Explorer"] = ".explorer"


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "HUMAN_REFERENCE",
    "experiment_bars",
    "metric_by_length",
    "significance_matrix",
    "downstream_bars",
    "value_behaviour_bars",
    "pairwise_heatmaps",
    "metric_title",
    "task_title",
    "setting_label",
    "describe_grid",
    "ceiling_vs_observed",
    "variance_shares",
    "reliability_summary",
    "floor_band",
    "Explorer",
    "cfa_table",
    "links_html",
    "context_table",
    "manifest_table",
    "metrics_summary",
    "model_links",
    "model_unparsed_table",
    "read_manifest",
    "notebook_to_html",
    "ranking_table",
    "show_table",
    "sortable_table_html",
    "style_cfa_table",
    "unparsed_table",
    "write_index",
]
