"""Stage 2, analysis: answers -> scores -> stability, structure, CFA, reliability; per-model metrics."""

from .answers import (
    check_unique_rows,
    concat_answers,
    read_answers,
    validate_answers,
)
from .batch import (
    analyze_answers,
    analyze_files,
    model_dir_name,
    write_analyses,
)
from .bootstrap import (
    exact_rank_order,
    persona_resampler,
    rank_order_statistic,
)
from .cfa import (
    CFA_GROUPS,
    cfa_syntax,
    fit_cfa,
    fit_magnifying_glass,
    fit_measures,
)
from .columns import (
    cardinal_of,
    cardinal_score,
    column_names,
    model_columns,
)
from .mds import (
    TIE_TOLERANCE,
    mds_dissimilarities,
    smacof_nonmetric,
)
from .metrics import (
    PER_CHUNK_KEYS,
    REQUIRED_KEYS,
    CfaFit,
    Metrics,
    as_metrics,
    read_metrics,
    write_metrics,
)
from .model import (
    FIT_FAILURE_VALUES,
    ModelAnalysis,
    analyze_model,
)
from .model_io import (
    MODEL_TABLES,
    read_model_analysis,
    write_model_analysis,
)
from .original import (
    SUBJECTS,
    chunk_label,
    find_result_files,
    import_original,
    read_original_results,
)
from .reliability import (
    alpha_from_matrix,
    center_items,
    cronbach_alpha,
    mean_alpha,
)
from .scoring import (
    SCORE_COLUMNS,
    item_matrix,
    substitute_unparsed,
    value_scores,
)
from .stability import (
    IPSATIVE_COLUMNS,
    RANK_ORDER_COLUMNS,
    ipsative,
    ipsative_summary,
    rank_order,
    rank_order_summary,
    spearman,
)
from .stats import (
    COMPARISON_COLUMNS,
    benjamini_hochberg,
    bootstrap_distribution,
    compare_models,
    percentile_bootstrap,
)
from .structure import (
    MAX_RANK_DISTANCE,
    StructureResult,
    circular_rank_distance,
    item_intercorrelations,
    rank_distance,
    value_structure,
)

__all__ = [
    "read_answers",
    "validate_answers",
    "check_unique_rows",
    "concat_answers",
    "analyze_answers",
    "analyze_files",
    "write_analyses",
    "model_dir_name",
    "persona_resampler",
    "exact_rank_order",
    "rank_order_statistic",
    "CFA_GROUPS",
    "cfa_syntax",
    "fit_cfa",
    "fit_magnifying_glass",
    "fit_measures",
    "column_names",
    "model_columns",
    "cardinal_score",
    "cardinal_of",
    "TIE_TOLERANCE",
    "mds_dissimilarities",
    "smacof_nonmetric",
    "REQUIRED_KEYS",
    "PER_CHUNK_KEYS",
    "CfaFit",
    "Metrics",
    "as_metrics",
    "read_metrics",
    "write_metrics",
    "ModelAnalysis",
    "analyze_model",
    "FIT_FAILURE_VALUES",
    "MODEL_TABLES",
    "write_model_analysis",
    "read_model_analysis",
    "SUBJECTS",
    "chunk_label",
    "find_result_files",
    "read_original_results",
    "import_original",
    "center_items",
    "cronbach_alpha",
    "alpha_from_matrix",
    "mean_alpha",
    "substitute_unparsed",
    "value_scores",
    "item_matrix",
    "SCORE_COLUMNS",
    "spearman",
    "rank_order",
    "rank_order_summary",
    "ipsative",
    "ipsative_summary",
    "RANK_ORDER_COLUMNS",
    "IPSATIVE_COLUMNS",
    "bootstrap_distribution",
    "percentile_bootstrap",
    "benjamini_hochberg",
    "compare_models",
    "COMPARISON_COLUMNS",
    "StructureResult",
    "item_intercorrelations",
    "circular_rank_distance",
    "rank_distance",
    "value_structure",
    "MAX_RANK_DISTANCE",
]
