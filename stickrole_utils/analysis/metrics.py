"""The per-model metrics (``metrics.json``): schema, the one writer and the one reader.

:class:`Metrics` is the schema as code. The keys a metrics.json must hold are
:data:`REQUIRED_KEYS` (what the leaderboard reads); analysis writes every field. A file enters
through :func:`read_metrics` (or :meth:`Metrics.parse` for JSON content already in memory), which
checks it once and names the file, the key and the value in a one-line :class:`DataError`; the
objects handed on are then trusted by the leaderboard and the report. :func:`write_metrics` writes
NaN as the JSON token ``NaN`` (as the original's files; Python's json reads it back).

Definitions of the numbers: ``docs/method.md`` (Rank-order stability, Ipsative stability,
Circular structure (MDS Stress), Rank distance, CFA (magnifying glass), Cronbach alpha,
Leaderboard (Cardinal and Ordinal), Bootstrap intervals, Downstream behaviour). A table with
only downstream answers gives empty values keys (``chunks`` is ``[]``) and the ``downstream_*``
and ``value_behaviour_*`` keys.
"""

from __future__ import annotations

import itertools
import json
import numbers
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from typing_extensions import TypedDict

from ..errors import DataError, format_validation_error, shown
from ..io import read_json

__all__ = [
    "REQUIRED_KEYS",
    "PER_CHUNK_KEYS",
    "CfaFit",
    "Metrics",
    "as_metrics",
    "read_metrics",
    "write_metrics",
]

#: metrics.json keys the leaderboard needs (every other key is optional when reading).
REQUIRED_KEYS: tuple[str, ...] = ("chunks", "pairwise_rank_order", "stress", "cfi", "srmr", "rmsea")
#: The per-chunk validity keys the leaderboard columns are built from.
PER_CHUNK_KEYS: tuple[str, ...] = ("stress", "cfi", "srmr", "rmsea")


def _none_to_nan(x: Any) -> Any:
    return float("nan") if x is None else x


#: A metric value: a number, NaN where undefined (JSON ``NaN``; ``null`` reads as NaN).
Number = Annotated[float, BeforeValidator(_none_to_nan)]


class CfaFit(TypedDict, total=False):
    """One CFA model's fit in ``metrics["cfa"][chunk][group]`` (raw: NaN when not converged)."""

    cfi: Number
    tli: Number
    srmr: Number
    rmsea: Number
    converged: bool
    improper: bool
    note: str


class Metrics(BaseModel):
    """One model's metrics: the content of ``metrics.json``.

    Fields are listed in the order analysis writes them. Only :data:`REQUIRED_KEYS` are
    required when reading; a key a file lacks stays unset and is not written back. Unknown keys
    are kept (a file from another version round-trips). Read access by key
    (``m["stress"]``, ``m.get("cardinal")``, ``"tli" in m``) is offered for notebooks and
    tables that show metrics by name.
    """

    model_config = ConfigDict(extra="allow")

    rank_order: Number | None = None
    """Mean Spearman r over every (value, chunk pair), NaN skipped."""
    rank_order_per_value: dict[str, Number] | None = None
    """value -> mean r over chunk pairs."""
    pairwise_rank_order: dict[str, dict[str, Number]]
    """chunk -> chunk -> mean r over the values (diagonal 1; a file may hold one triangle)."""
    rank_order_nan: int | None = None
    """Number of undefined correlations skipped by the means."""
    rank_order_nan_reasons: list[str] | None = None
    """Their distinct reasons."""
    ipsative: Number | None = None
    """Mean ipsative r over every (persona, chunk pair), NaN skipped."""
    ipsative_nan: int | None = None
    """Number of undefined ipsative correlations."""
    ipsative_per_persona: dict[str, Number] | None = None
    """persona -> mean ipsative r over chunk pairs."""
    stress: dict[str, Number]
    """chunk -> Kruskal Stress of the 2-D MDS of the items."""
    rank_distance: dict[str, Number] | None = None
    """chunk -> rank distance of the value order to the theoretical circle."""
    cfa: dict[str, dict[str, CfaFit]] | None = None
    """chunk -> higher-order group -> raw fit of its CFA model."""
    cronbach_alpha: dict[str, Number] | None = None
    """chunk -> mean Cronbach alpha over the values."""
    cronbach_alpha_per_value: dict[str, dict[str, Number]] | None = None
    """chunk -> value -> Cronbach alpha."""
    structure_notes: dict[str, str] | None = None
    """chunk -> why its structure is degenerate (absent when fine)."""
    cfi: dict[str, Number]
    """chunk -> mean CFI over the four CFA models, failure rule applied."""
    tli: dict[str, Number] | None = None
    """chunk -> mean TLI, failure rule applied."""
    srmr: dict[str, Number]
    """chunk -> mean SRMR, failure rule applied."""
    rmsea: dict[str, Number]
    """chunk -> mean RMSEA, failure rule applied."""
    cfa_failures: int | None = None
    """Number of CFA fits that did not converge (over chunks and groups)."""
    stress_mean: Number | None = None
    rank_distance_mean: Number | None = None
    cronbach_alpha_mean: Number | None = None
    cfi_mean: Number | None = None
    tli_mean: Number | None = None
    srmr_mean: Number | None = None
    rmsea_mean: Number | None = None
    model: str | None = None
    """Model name."""
    chunks: list[str]
    """The chunks analysed, in order."""
    questionnaires: dict[str, str] | None = None
    """chunk -> its values questionnaire (pvq40, svs57)."""
    n_personas: int | None = None
    n_items: int | None = None
    unparsed_count: int | None = None
    unparsed_rate: Number | None = None
    """Share of items with no parsed answer."""
    reasoning_unclosed: int | None = None
    """Of the unparsed items, those whose reasoning (a reasoning model's) did not close within
    its budget (``parse_reason`` ``reasoning_unclosed``); ``None``: answers without
    ``parse_reason``."""
    cardinal: Number | None = None
    """The model's own Cardinal score (mean of its leaderboard columns)."""
    rank_order_ci: tuple[Number, Number] | None = None
    """Percentile bootstrap interval of ``rank_order`` (NaN, NaN when not computed)."""
    cardinal_ci: tuple[Number, Number] | None = None
    """Percentile bootstrap interval of ``cardinal``."""
    downstream_chunks: dict[str, str] | None = None
    """Downstream chunk -> its task (``tolkien_donation``, ``tolkien_bag``, ``religion``)."""
    downstream_n_items: int | None = None
    downstream_unparsed_count: int | None = None
    """Unparsed downstream items (handled by the same unparsed rule)."""
    downstream_means: dict[str, dict[str, Number]] | None = None
    """Downstream chunk -> task key -> mean raw behaviour score over personas."""
    downstream_rank_order: dict[str, Number] | None = None
    """task -> mean Spearman r over (task key, pair of the task's chunks), NaN skipped."""
    downstream_rank_order_per_key: dict[str, dict[str, Number]] | None = None
    """task -> task key -> mean r over the chunk pairs."""
    downstream_rank_order_nan_reasons: dict[str, list[str]] | None = None
    """task -> why some (or all) of its correlations are undefined."""
    value_behaviour_pairs: dict[str, str] | None = None
    """Downstream chunk -> the values chunk of the same context it is correlated with."""
    value_behaviour_correlation: dict[str, dict[str, Number]] | None = None
    """task -> value -> mean over the task's keys of the mean over paired contexts of Spearman r
    (centered value score vs behaviour)."""
    value_behaviour_per_key: dict[str, dict[str, dict[str, Number]]] | None = None
    """task -> value -> task key -> mean r over the paired contexts."""
    value_behaviour_nan_reasons: dict[str, list[str]] | None = None
    """task -> why some of its value-behaviour correlations are undefined."""
    notes: list[str] | None = None
    """Substitutions, undefined correlations, degenerate structures, missing personas."""
    settings: dict[str, Any] | None = None
    """The analysis settings used."""
    stickrole_version: str | None = None

    # ---- reading ---------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: Any, source: str) -> Metrics:
        """Check JSON content (a dict read from a metrics.json) and build the model.

        Raises
        ------
        DataError
            One line naming ``source``, the key (e.g. ``pairwise_rank_order['a']['b']``) and the
            value given.
        """
        _check(data, source)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DataError(format_validation_error(exc, source)) from None

    # ---- values ----------------------------------------------------------------------------

    def pair(self, c1: str, c2: str) -> float:
        """Rank-order stability of the chunk pair: ``pairwise_rank_order[c1][c2]``, else
        ``[c2][c1]`` (a file may store one triangle)."""
        value = _pair_value(self.pairwise_rank_order, c1, c2)
        return float("nan") if value is _MISSING else float(value)

    def to_json(self) -> dict[str, Any]:
        """The JSON content: the fields set, in order, then the unknown keys kept."""
        return self.model_dump(exclude_unset=True)

    # ---- read access by key ----------------------------------------------------------------

    def _keys(self) -> list[str]:
        return [k for k in type(self).model_fields if k in self.model_fields_set] + list(
            self.model_extra or {})

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def get(self, key: str, default: Any = None) -> Any:
        """``m[key]`` if the key is set, else ``default``."""
        return getattr(self, key) if key in self else default

    def keys(self) -> list[str]:
        """The keys set (as in the file)."""
        return self._keys()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, getattr(self, k)) for k in self._keys())


def as_metrics(metrics: Metrics | Mapping[str, Any], source: str) -> Metrics:
    """``metrics`` itself if already checked, else :meth:`Metrics.parse` of the mapping."""
    return metrics if isinstance(metrics, Metrics) else Metrics.parse(metrics, source)


def read_metrics(path: str | Path) -> Metrics:
    """Read and check one ``metrics.json`` (the one reader of these files).

    Raises
    ------
    DataError
        Not UTF-8, malformed JSON (with line and column), a missing required key or chunk, a
        value of the wrong type.
    """
    return Metrics.parse(read_json(Path(path), "metrics file"), str(path))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_metrics(metrics: Metrics, path: str | Path) -> Path:
    """Write ``metrics.json`` (the one writer): to a temporary name, then renamed, so a crash
    leaves either the old file or the new one. NaN is written as the JSON token ``NaN``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(metrics.to_json(), indent=1, default=_json_default))
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# Checks with messages naming the key and the value (before pydantic sees the content)
# --------------------------------------------------------------------------------------------

_MISSING = object()


def _pair_value(pro: Mapping[str, Any], c1: str, c2: str) -> Any:
    """pairwise_rank_order[c1][c2], falling back to [c2][c1]; _MISSING if neither exists."""
    for a, b in ((c1, c2), (c2, c1)):
        row = pro.get(a)
        if isinstance(row, Mapping) and b in row:
            return row[b]
    return _MISSING


def _check_number(value: Any, source: str, where: str) -> None:
    """A metric value: a JSON number, NaN/Infinity token or null (NaN); never text or a list."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(f"{source}: {where} = {shown(value)} is not a number")
    try:
        float(value)
    except OverflowError:
        raise DataError(f"{source}: {where} = {shown(value)} is out of range for a "
                        "number") from None


def _check(metrics: Any, source: str) -> None:
    """What the leaderboard needs, with the messages users see (see :meth:`Metrics.parse`)."""
    if not isinstance(metrics, Mapping):
        raise DataError(f"{source}: expected a JSON object of metrics, got {type(metrics).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in metrics]
    if missing:
        raise DataError(f"{source}: missing key(s) {missing}; a metrics.json needs "
                        f"{list(REQUIRED_KEYS)} (re-run `stickrole analyze` to write it)")
    chunks = metrics["chunks"]
    if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
        raise DataError(f"{source}: 'chunks' must be a list of chunk labels, got {chunks!r}")
    if len(set(chunks)) != len(chunks):
        raise DataError(f"{source}: 'chunks' lists a chunk twice: {chunks}")
    for key in ("pairwise_rank_order", *PER_CHUNK_KEYS):
        if not isinstance(metrics[key], Mapping):
            raise DataError(f"{source}: {key!r} must be an object keyed by chunk, "
                            f"got {type(metrics[key]).__name__}")
    pro = metrics["pairwise_rank_order"]
    for c1, c2 in itertools.combinations(chunks, 2):
        if _pair_value(pro, c1, c2) is _MISSING:
            raise DataError(f"{source}: 'pairwise_rank_order' lacks the pair ({c1!r}, {c2!r}); "
                            f"it needs a value for every pair of the chunks {chunks}")
    for c1, row in pro.items():
        for c2, value in (row.items() if isinstance(row, Mapping) else ()):
            _check_number(value, source, f"pairwise_rank_order[{c1!r}][{c2!r}]")
    for key in PER_CHUNK_KEYS:
        lacking = [c for c in chunks if c not in metrics[key]]
        if lacking:
            raise DataError(f"{source}: {key!r} lacks chunk(s) {lacking}; it needs a value "
                            f"(NaN allowed) for every chunk in 'chunks'")
        for c, value in metrics[key].items():
            _check_number(value, source, f"{key}[{c!r}]")
    for key in ("ipsative", "unparsed_rate", "rank_order", "cardinal"):
        _check_number(metrics.get(key), source, key)
    for key in ("rank_order_ci", "cardinal_ci"):
        ci = metrics.get(key)
        if ci is None:
            continue
        if not isinstance(ci, list | tuple) or len(ci) != 2:
            raise DataError(f"{source}: {key!r} must be [low, high] (numbers or NaN); got "
                            f"{shown(ci)}")
        for k, v in enumerate(ci):
            _check_number(v, source, f"{key}[{k}]")
    failures = metrics.get("cfa_failures")
    if failures is not None and (isinstance(failures, bool)
                                 or not isinstance(failures, numbers.Integral)
                                 or not 0 <= failures < 2**31):
        raise DataError(f"{source}: cfa_failures = {shown(failures)} is not a count (a whole "
                        "number >= 0)")
    for key, kind in (("settings", Mapping), ("model", str)):
        if metrics.get(key) is not None and not isinstance(metrics[key], kind):
            raise DataError(f"{source}: {key!r} must be "
                            f"{'an object' if kind is Mapping else 'text'}; got "
                            f"{shown(metrics[key])}")

