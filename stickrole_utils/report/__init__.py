"""Stage 4b, the report: figures, tables, HTML pages and the interactive explorer.

It renders what the other stages wrote and never writes data.
"""

from .experiment import (
    HUMAN_REFERENCE,
    downstream_bars,
    experiment_bars,
    metric_by_length,
    pairwise_heatmaps,
    significance_matrix,
    value_behaviour_bars,
)
from .explorer import Explorer
from .pages import notebook_to_html, write_index
from .tables import (
    cfa_table,
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
