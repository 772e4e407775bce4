"""Metrics of your own: functions registered by name, computed for every model after the built-in
ones (``docs/extending.md``, A metric).

A registered function gets the model's value scores (:data:`~.scoring.SCORE_COLUMNS`: ``model,
chunk, persona, questionnaire, value, raw, centered``) and its answers table as given (unparsed
items with score NaN), and returns a number or a mapping of numbers (e.g. chunk -> number). The
value is stored in the model's ``metrics.json`` under the metric's name, and the names in
``custom_metrics``; an experiment's ``experiment.csv`` gets a row for a number (``<name>``) or for
each entry of a mapping (``<name>:<key>``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ..errors import DataError
from .metrics import Metrics

__all__ = ["MetricFunction", "register_metric", "registered_metrics", "compute_custom_metrics"]

#: ``(scores, answers) -> number | {key: number}``.
MetricFunction = Callable[[pd.DataFrame, pd.DataFrame], Any]

_METRICS: dict[str, MetricFunction] = {}


def register_metric(name: str) -> Callable[[MetricFunction], MetricFunction]:
    """Decorator: compute ``fn(scores, answers)`` for every analysed model as metric ``name``.

    Raises
    ------
    ValueError
        A name that is not a lowercase identifier, one that a built-in metric uses, or one that
        another function already registered.
    """
    def register(fn: MetricFunction) -> MetricFunction:
        if not name.isidentifier() or name != name.lower():
            raise ValueError(f"metric name {name!r}: use a lowercase identifier (a-z, 0-9, _)")
        if name in Metrics.model_fields or name == "custom_metrics":
            raise ValueError(f"metric name {name!r} is a built-in key of metrics.json")
        if name in _METRICS and _METRICS[name] is not fn:
            raise ValueError(f"metric {name!r} is already registered by {_METRICS[name]!r}")
        _METRICS[name] = fn
        return fn

    return register


def registered_metrics() -> dict[str, MetricFunction]:
    """The registered metrics, by name, in registration order."""
    return dict(_METRICS)


def _checked(name: str, value: Any) -> Any:
    def number(x: Any, where: str) -> float:
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise DataError(f"metric {name!r}{where}: returned {x!r}; a metric is a number or a "
                            "mapping of numbers")
        return float(x)

    if isinstance(value, Mapping):
        return {str(k): number(v, f"[{k!r}]") for k, v in value.items()}
    return number(value, "")


def compute_custom_metrics(scores: pd.DataFrame, answers: pd.DataFrame) -> dict[str, Any]:
    """Every registered metric of one model (NaN stays NaN).

    Raises
    ------
    DataError
        A metric returned something other than a number or a mapping of numbers.
    """
    out = {name: _checked(name, fn(scores, answers)) for name, fn in _METRICS.items()}
    return {k: (v if isinstance(v, dict) else (float("nan") if math.isnan(v) else v))
            for k, v in out.items()}
