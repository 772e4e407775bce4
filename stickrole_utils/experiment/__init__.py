"""Stage 4, the experiment: every grid point's metrics in one long table (``experiment.csv``), means
over seeds, model comparisons (``comparisons.csv``) and the pairwise stability behind the
experiment page; the grid itself is a setting (``config.grid``), its page is drawn by
``report.experiment_figures``."""

from .tables import (
    COMPARISONS_COLUMNS,
    EXPERIMENT_COLUMNS,
    PAIRWISE_COLUMNS,
    collect_experiment,
    compare_over_seeds,
    experiment_table,
    metric_values,
    pairwise_table,
    params_chunk_order,
    summarise,
    write_experiment,
)

__all__ = [
    "EXPERIMENT_COLUMNS",
    "COMPARISONS_COLUMNS",
    "PAIRWISE_COLUMNS",
    "collect_experiment",
    "compare_over_seeds",
    "experiment_table",
    "metric_values",
    "pairwise_table",
    "params_chunk_order",
    "summarise",
    "write_experiment",
]
