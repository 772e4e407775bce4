"""Schwartz's 10 basic values: circle order, higher-order groups, theoretical 2-D positions.

Facts from Schwartz (1992, 2012) as used by the original "Stick to Your Role!" code
(docs/method.md, "Questionnaires and scoring").
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "VALUES",
    "VALUE_CODES",
    "HIGHER_ORDER",
    "HIGHER_ORDER_OF",
    "THEORETICAL_COORDS",
    "THEORETICAL_RANKS",
    "theoretical_coords",
]

#: The 10 values in circle order (counter-clockwise from Self-Direction).
VALUES: tuple[str, ...] = (
    "Self-Direction",
    "Stimulation",
    "Hedonism",
    "Achievement",
    "Power",
    "Security",
    "Conformity",
    "Tradition",
    "Benevolence",
    "Universalism",
)

#: Short codes, same order.
VALUE_CODES: dict[str, str] = dict(
    zip(VALUES, ("SD", "ST", "HE", "AC", "PO", "SE", "CO", "TR", "BE", "UN"), strict=True)
)

#: The four higher-order values and the basic values each "magnifying glass" CFA model holds.
#: Hedonism is placed under Openness to change only, as in the original's cfa.R.
HIGHER_ORDER: dict[str, tuple[str, ...]] = {
    "conservation": ("Security", "Conformity", "Tradition"),
    "openness_to_change": ("Self-Direction", "Stimulation", "Hedonism"),
    "self_transcendence": ("Benevolence", "Universalism"),
    "self_enhancement": ("Achievement", "Power"),
}

#: value -> higher-order group (for colouring plots).
HIGHER_ORDER_OF: dict[str, str] = {v: g for g, vs in HIGHER_ORDER.items() for v in vs}

#: The hard-coded "theoretical" 2-D point of each value used to initialise MDS (docs/method.md, "Circular structure (MDS Stress)").
THEORETICAL_COORDS: dict[str, tuple[float, float]] = {
    "Self-Direction": (-0.34, 0.94),
    "Stimulation": (-0.87, 0.50),
    "Hedonism": (-0.98, -0.17),
    "Achievement": (-0.64, -0.77),
    "Power": (0.0, -1.0),
    "Security": (0.65, -0.77),
    "Conformity": (0.49, -0.09),
    "Tradition": (0.98, -0.17),
    "Benevolence": (0.87, 0.50),
    "Universalism": (0.34, 0.94),
}

#: Theoretical circular ranks (Conformity and Tradition share a wedge) used by rank distance (docs/method.md, "Rank distance").
THEORETICAL_RANKS: dict[str, float] = {
    "Self-Direction": 1,
    "Stimulation": 2,
    "Hedonism": 3,
    "Achievement": 4,
    "Power": 5,
    "Security": 6,
    "Conformity": 7.5,
    "Tradition": 7.5,
    "Benevolence": 9,
    "Universalism": 10,
}


def theoretical_coords(values: list[str] | tuple[str, ...]) -> np.ndarray:
    """Theoretical points for a sequence of value names, shape (len(values), 2).

    >>> theoretical_coords(["Power", "Hedonism"]).tolist()
    [[0.0, -1.0], [-0.98, -0.17]]
    """
    return np.array([THEORETICAL_COORDS[v] for v in values], dtype=float)
