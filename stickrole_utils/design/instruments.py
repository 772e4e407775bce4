"""Instruments as scoring facts: item count, answer scale, item -> value key, centering rule.

These are the facts analysis needs (docs/method.md, "Questionnaires and scoring"). The wording shown to models
(our own) and loaders for the original's questionnaire CSVs live with generation
(``stickrole_utils.design.itembank``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DataError

__all__ = ["Instrument", "INSTRUMENTS", "PVQ40", "SVS57", "get_instrument"]


@dataclass(frozen=True)
class Instrument:
    """Scoring facts of one questionnaire.

    Attributes
    ----------
    name : str
        Identifier used in the answers table's ``questionnaire`` column.
    n_items : int
        Items are numbered 1..n_items.
    scale_min, scale_max : int
        Inclusive answer scale (scores are integers in this range).
    key : dict[str, tuple[int, ...]]
        Scored dimension -> 1-based item numbers. For PVQ/SVS the dimensions are the 10 values
        in circle order; items not in any dimension are "unkeyed" (asked, used for centering only).
    centered : bool
        Whether dimension scores are ipsatized (minus the persona's mean over *all* items),
        as for PVQ and SVS; downstream tasks are not centered (docs/method.md, "Downstream behaviour").
    is_values : bool
        True when the dimensions are the 10 Schwartz values (structure, CFA and alpha apply).
    """

    name: str
    n_items: int
    scale_min: int
    scale_max: int
    key: dict[str, tuple[int, ...]] = field(default_factory=dict)
    centered: bool = True
    is_values: bool = True

    @property
    def keyed_items(self) -> tuple[int, ...]:
        """All keyed item numbers, sorted ascending."""
        return tuple(sorted(i for items in self.key.values() for i in items))

    @property
    def unkeyed_items(self) -> tuple[int, ...]:
        keyed = set(self.keyed_items)
        return tuple(i for i in range(1, self.n_items + 1) if i not in keyed)

    @property
    def item_value(self) -> dict[int, str]:
        """Keyed item number -> dimension name."""
        return {i: v for v, items in self.key.items() for i in items}

    @property
    def n_options(self) -> int:
        return self.scale_max - self.scale_min + 1


# Standard Schwartz PVQ-40 key (1-based), as in the original's values.json (docs/method.md, "Questionnaires and scoring").
PVQ40 = Instrument(
    name="pvq40",
    n_items=40,
    scale_min=1,
    scale_max=6,
    key={
        "Self-Direction": (1, 11, 22, 34),
        "Stimulation": (6, 15, 30),
        "Hedonism": (10, 26, 37),
        "Achievement": (4, 13, 24, 32),
        "Power": (2, 17, 39),
        "Security": (5, 14, 21, 31, 35),
        "Conformity": (7, 16, 28, 36),
        "Tradition": (9, 20, 25, 38),
        "Benevolence": (12, 18, 27, 33),
        "Universalism": (3, 8, 19, 23, 29, 40),
    },
)

# Standard SVS-57 key: 46 keyed items, 11 unkeyed (docs/method.md, "Questionnaires and scoring").
SVS57 = Instrument(
    name="svs57",
    n_items=57,
    scale_min=-1,
    scale_max=7,
    key={
        "Self-Direction": (5, 16, 31, 41, 53),
        "Stimulation": (9, 25, 37),
        "Hedonism": (4, 50, 57),
        "Achievement": (34, 39, 43, 55),
        "Power": (3, 12, 27, 46),
        "Security": (8, 13, 15, 22, 56),
        "Conformity": (11, 20, 40, 47),
        "Tradition": (18, 32, 36, 44, 51),
        "Benevolence": (33, 45, 49, 52, 54),
        "Universalism": (1, 17, 24, 26, 29, 30, 35, 38),
    },
)

_RACES = ("elves", "dwarves", "orcs", "humans", "hobbits")

# Downstream tasks (docs/method.md, "Downstream behaviour"): 5 blocks of 20 items, one per race; not centered.
TOLKIEN_DONATION = Instrument(
    name="tolkien_donation",
    n_items=100,
    scale_min=1,
    scale_max=6,
    key={f"Donation {r}": tuple(range(20 * k + 1, 20 * k + 21)) for k, r in enumerate(_RACES)},
    centered=False,
    is_values=False,
)
TOLKIEN_BAG = Instrument(
    name="tolkien_bag",
    n_items=100,
    scale_min=1,
    scale_max=6,
    key={f"Return {r}": tuple(range(20 * k + 1, 20 * k + 21)) for k, r in enumerate(_RACES)},
    centered=False,
    is_values=False,
)
RELIGION = Instrument(
    name="religion",
    n_items=5,
    scale_min=1,
    scale_max=5,
    key={"religion time": (1, 2, 3, 4, 5)},
    centered=False,
    is_values=False,
)

INSTRUMENTS: dict[str, Instrument] = {
    i.name: i for i in (PVQ40, SVS57, TOLKIEN_DONATION, TOLKIEN_BAG, RELIGION)
}


def get_instrument(name: str) -> Instrument:
    """Look up an instrument by its ``questionnaire`` name.

    >>> get_instrument("pvq40").n_items
    40
    """
    try:
        return INSTRUMENTS[name]
    except KeyError:
        raise DataError(
            f"unknown questionnaire {name!r}; known questionnaires: {', '.join(INSTRUMENTS)}"
        ) from None

