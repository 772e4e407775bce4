"""The ``experiment:`` section of a params file: a grid of generation settings and how models are
compared across it (``docs/method.md``, Model comparisons).

A grid ``{seed: [0, 1, 2], n_messages: [1, 3]}`` is expanded into its points (the product of the
lists, in the order the keys are given); every point is a whole run whose generation settings are
the params' own with the point's values put in (:func:`point_generation`). ``seed`` is special:
it sets ``generation.seed`` (sampled conversation turns, the dummy model) *and* every chunk's
option-permutation seed string, which becomes ``"<seed>_<stem>"`` (the paper's
``"{seed}_{topic index}"``), ``stem`` being the chunk's own seed string if the params give one,
else its label without ``chunk_``. ``option_seed`` sets only those seed strings (the option orders
change, the sampled conversation turns do not), and a dotted key sets one sampling setting,
``conversation.temperature`` or ``answer.temperature`` (any field of ``SamplingConfig``): every
generation setting that changes answers can be a factor of the experiment
(``docs/method.md``, Signal and noise).
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from .base import Strict
from .generation import ChunkSpec, GenerationConfig, SamplingConfig

__all__ = [
    "GRID_KEYS",
    "ComparisonSettings",
    "ReliabilitySettings",
    "ExperimentSettings",
    "grid_points",
    "point_label",
    "point_generation",
]

#: Generation settings that cannot be grid keys (lists and nested sections).
_NOT_GRIDDABLE = ("chunks", "items", "prompts", "conversation", "answer", "on_context_overflow")

#: The sampling sections whose fields a grid may vary by a dotted key.
_SAMPLING = ("conversation", "answer")

#: Keys a grid may vary: the scalar generation settings (``seed``, ``n_messages``, ``mode``,
#: ``system_role``, ...), ``option_seed`` (the option orders alone) and the sampling settings
#: as ``conversation.<field>`` / ``answer.<field>`` (e.g. ``answer.temperature``).
GRID_KEYS: tuple[str, ...] = (
    *(k for k in GenerationConfig.model_fields if k not in _NOT_GRIDDABLE),
    "option_seed",
    *(f"{section}.{f}" for section in _SAMPLING for f in SamplingConfig.model_fields),
)



class ComparisonSettings(Strict):
    """How models are compared across seeds (``comparisons.csv``)."""

    fdr: Literal["bh", "bh_with_diagonal"] = "bh"
    """``bh``: Benjamini-Hochberg over the n(n-1)/2 model pairs of each (metric, setting);
    ``bh_with_diagonal``: the original's variant, BH over the lower triangle of the p-value
    matrix with its diagonal (n extra tests with p = 1, a model against itself)."""


class ReliabilitySettings(Strict):
    """The experiment's signal-and-noise analysis (``reliability.csv``; ``docs/method.md``,
    Signal and noise)."""

    bootstrap: int = Field(default=200, ge=0)
    """Bootstrap replicates (over personas) of the variance components' intervals; 0: none."""

    ci_level: float = Field(default=0.95, gt=0, lt=1)
    """Confidence level of the ICC, variance and noise-floor intervals."""

    seed: int = 0
    """Seed of the bootstrap and permutation draws."""

    noise_floor: Literal["auto", "models", "permutation"] = "auto"
    """What the figures draw as the noise floor: ``models``: the values of ``floor_models``
    (e.g. the dummy, which answers at random) over seeds; ``permutation``: the stability of
    each model's answers with the personas shuffled between contexts; ``auto``: ``models``
    when ``floor_models`` names any, else ``permutation``."""

    floor_models: list[str] = Field(default_factory=list)
    """Models of the experiment that answer at random (e.g. ``[dummy]``): the noise floor."""

    permutations: int = Field(default=200, ge=1)
    """Persona shuffles per model and seed of the permutation null."""

    invariance: bool = True
    """Measurement invariance across contexts (configural, metric, scalar; multi-group and
    longitudinal forms) of the four higher-order CFA models, and McDonald's omega, per model and setting on its lowest seed
    (``invariance.csv``; the floor models are left out)."""

    partial_invariance: int = Field(default=2, ge=0)
    """Most items freed, one at a time, where a level of invariance fails (each step refits
    the level once per item: the slow part); 0: no search."""


class ExperimentSettings(Strict):
    """A grid of generation settings; each point is a run under the experiment's directory."""

    grid: dict[str, list[Any]] = Field(min_length=1)
    """Values per generation setting, e.g. ``{seed: [0, 1, 2], n_messages: [1, 3]}``; keys:
    :data:`GRID_KEYS`."""

    comparisons: ComparisonSettings = ComparisonSettings()
    """Model comparisons over seeds."""

    reliability: ReliabilitySettings = ReliabilitySettings()
    """Reliability across seeds, variance decomposition and noise floor."""

    @field_validator("grid")
    @classmethod
    def _known_keys(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if key not in GRID_KEYS:
                raise ValueError(f"unknown grid key {key!r}; allowed keys: {', '.join(GRID_KEYS)}")
            if not values:
                raise ValueError(f"grid key {key!r} has no values; give a list of one or more")
            dup = sorted({str(v) for v in values if values.count(v) > 1})
            if dup:
                raise ValueError(f"grid key {key!r} repeats {', '.join(dup)}")
        return grid


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, first key slowest.

    >>> grid_points({"seed": [0, 1], "n_messages": [1, 3]})[1]
    {'seed': 0, 'n_messages': 3}
    """
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(grid[k] for k in keys))]


def point_label(point: dict[str, Any]) -> str:
    """The directory (run) name of a grid point: ``key_value`` joined by ``-``; characters other
    than letters, digits and ``._+`` become ``_``.

    >>> point_label({"seed": 0, "n_messages": 3})
    'seed_0-n_messages_3'
    """
    def safe(text: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "._+" else "_" for ch in text)

    return "-".join(f"{safe(str(k))}_{safe(str(v))}" for k, v in point.items())


def _seeded_chunk(spec: ChunkSpec, seed: Any) -> ChunkSpec:
    stem = spec.seed
    if stem is None:
        stem = spec.label[len("chunk_"):] if spec.label.startswith("chunk_") else spec.label
    return spec.model_copy(update={"seed": f"{seed}_{stem}"})


def point_generation(gen: GenerationConfig, point: dict[str, Any]) -> GenerationConfig:
    """The generation settings of one grid point: ``gen`` with the point's values put in
    (validated as the params are); ``seed`` also sets the chunks' permutation seed strings,
    ``option_seed`` only those (it wins over ``seed`` for them), ``section.field`` one sampling
    setting. Nothing else changes: every other setting, and every field of every chunk, is
    ``gen``'s.

    >>> gen = point_generation(GenerationConfig(), {"option_seed": 3, "answer.temperature": 0.5})
    >>> gen.seed, gen.chunks[0].seed, gen.answer.temperature
    (0, '3_no_conv', 0.5)

    Raises
    ------
    ValueError
        A value the setting does not accept (the message names the key and the value).
    """
    data = gen.model_dump()
    for key, value in point.items():
        if "." in key:
            section, name = key.split(".", 1)
            data[section] = {**data[section], name: value}
        elif key != "option_seed":
            data[key] = value
    option_seed = point.get("option_seed", point.get("seed"))
    if option_seed is not None:
        data["chunks"] = [_seeded_chunk(c, option_seed).model_dump() for c in gen.chunks]
    try:
        return GenerationConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "?"
        raise ValueError(f"grid value {key}={data.get(key, '?')!r}: {err['msg']}") from None
