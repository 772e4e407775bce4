"""Stage 4, the experiment: every grid point's metrics in one long table (``experiment.csv``), means
over seeds, model comparisons (``comparisons.csv``) and the pairwise stability behind the
experiment page; signal and noise (``reliability.csv``: ICCs across seeds, noise ceilings,
variance decomposition, noise floors; :mod:`.signal`, :mod:`.reliability`,
:mod:`.decomposition`, with the synthetic generator :mod:`.synthetic`); the grid itself is a
setting (``config.grid``), its page is drawn by ``report.experiment_figures`` and
``report.signal_figures``."""

from .decomposition import DECOMPOSITION_COLUMNS, anova_components, decompose
from .reliability import (
    ICC_COLUMNS,
    icc_matrix,
    intraclass_corr,
    noise_ceiling,
    retest_rank_order,
    retest_table,
)
from .signal import (
    SIGNAL_METRICS,
    collect_scores,
    noise_floor,
    reliability_table,
    signal_metrics,
    write_signal,
)
from .synthetic import synthetic_cube, synthetic_scores, true_icc
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
    "DECOMPOSITION_COLUMNS",
    "ICC_COLUMNS",
    "SIGNAL_METRICS",
    "anova_components",
    "collect_scores",
    "decompose",
    "icc_matrix",
    "intraclass_corr",
    "noise_ceiling",
    "noise_floor",
    "reliability_table",
    "retest_rank_order",
    "retest_table",
    "signal_metrics",
    "synthetic_cube",
    "synthetic_scores",
    "true_icc",
    "write_signal",
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
