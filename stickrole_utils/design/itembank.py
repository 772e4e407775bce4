"""Item wording shown to models: stickrole's own texts, or the original's questionnaire CSVs.

The scoring facts (item -> value key, scale) live in :mod:`stickrole_utils.design.instruments`; an item
bank holds what is *said*: the questionnaire description, each item's text (gendered for PVQ-40)
and its answer options in ascending scale order (option index 0 = ``scale_min``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ConfigError, DataError
from ..io import read_text_utf8
from .instruments import get_instrument

__all__ = ["ItemBank", "BUILTIN_BANKS", "ORIGINAL_FILES", "load_itembank", "read_original_csv"]

#: Instruments with built-in wording.
BUILTIN_BANKS: tuple[str, ...] = ("pvq40", "svs57", "religion", "tolkien_donation",
                                  "tolkien_bag")

#: The original's questionnaire CSVs (relative to its data directory), per gender for PVQ.
ORIGINAL_FILES: dict[str, dict[str, str]] = {
    "pvq40": {"M": "data/data_pvq/test/pvq_male_test.csv",
              "F": "data/data_pvq/test/pvq_female_test.csv"},
    "svs57": {"": "data/data_svs/test/svs_test.csv"},
    "religion": {"": "data/data_religion/test/religion_test.csv"},
    "tolkien_donation": {"": "data/data_tolkien_donation/test/tolkien_donation_test.csv"},
    "tolkien_bag": {"": "data/data_tolkien_bag/test/tolkien_bag_test.csv"},
}
_PRONOUNS = {
    "M": {"He": "He", "he": "he", "him": "him", "his": "his", "His": "His", "himself": "himself"},
    "F": {"He": "She", "he": "she", "him": "her", "his": "her", "His": "Her", "himself": "herself"},
}


@dataclass(frozen=True)
class ItemBank:
    """Wording of one instrument.

    Attributes
    ----------
    name : str
        Instrument name (``questionnaire`` column).
    description : str
        Questionnaire instructions shown before each item ("" for none).
    texts : dict[int, dict[str, str]]
        Item number -> {gender: text}; gender ``""`` is the fallback form.
    options : dict[int, tuple[str, ...]]
        Item number -> answer options in ascending scale order.
    list_headers : dict[int, str]
        SVS only: list number (1, 2) -> header shown when that list starts.
    source : str
        ``builtin`` or the path the wording was read from.
    """

    name: str
    description: str
    texts: dict[int, dict[str, str]]
    options: dict[int, tuple[str, ...]]
    list_headers: dict[int, str] = field(default_factory=dict)
    source: str = "builtin"

    @property
    def items(self) -> tuple[int, ...]:
        """Item numbers, ascending."""
        return tuple(sorted(self.texts))

    def text(self, item: int, gender: str = "") -> str:
        """Item text in the form for ``gender`` (male form when the gender is unknown).

        >>> bank = load_itembank("pvq40")
        >>> bank.text(2, "F").startswith("Being wealthy matters to her")
        True
        """
        forms = self.texts[item]
        return forms.get(gender) or forms.get("") or forms.get("M") or next(iter(forms.values()))


def _render(template: str, gender: str) -> str:
    return template.format(**_PRONOUNS[gender])


def _resource(name: str) -> dict:
    return yaml.safe_load(resources.files("stickrole_utils").joinpath(
        f"resources/instruments/{name}.yaml").read_text(encoding="utf-8"))


def _templated(name: str, raw: dict) -> ItemBank:
    """Expand a template bank: one item per (race block, name) of the names resource.

    Item ``20*r + k + 1`` is name ``k`` of race block ``r`` (the instrument's key order);
    ``{race}``, ``{name}`` and the pronouns of the name's gender are filled into the template
    and into the options.
    """
    names = _resource(str(raw["names"]))["races"]
    texts: dict[int, dict[str, str]] = {}
    options: dict[int, tuple[str, ...]] = {}
    item = 0
    for block in names:
        for person in block["names"]:
            item += 1
            fields = {**_PRONOUNS[person["gender"]], "race": block["race"],
                      "name": person["name"]}
            texts[item] = {"": " ".join(str(raw["template"]).split()).format(**fields)}
            options[item] = tuple(str(o).format(**fields) for o in raw["options"])
    return ItemBank(name=name, description=str(raw.get("description") or "").strip(),
                    texts=texts, options=options)


def _builtin(name: str) -> ItemBank:
    raw = _resource(name)
    if "template" in raw:
        return _templated(name, raw)
    options = tuple(str(o) for o in raw["options"])
    texts: dict[int, dict[str, str]] = {}
    for k, t in raw["items"].items():
        if "{" in t:
            texts[int(k)] = {g: _render(t, g) for g in ("M", "F")}
        else:
            texts[int(k)] = {"": t}
    return ItemBank(name=name, description=str(raw.get("description") or "").strip(), texts=texts,
                    options={i: options for i in texts},
                    list_headers={int(k): v for k, v in (raw.get("list_headers") or {}).items()})


def read_original_csv(path: str | Path) -> list[tuple[str, tuple[str, ...]]]:
    """Rows (item text, options) of one of the original's questionnaire CSVs.

    The original's format: no header; item text, the options in ascending order, and a final
    label column (``undef``) that is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: questionnaire file not found (is data_path the original's "
                        "value_stability_data directory?)")
    rows = []
    text = read_text_utf8(path, "questionnaire file")
    for lineno, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1):
        if not row:
            continue
        if len(row) < 3:
            raise DataError(f"{path}:{lineno}: expected item text, options and a label; got "
                            f"{len(row)} field(s)")
        rows.append((row[0], tuple(row[1:-1])))
    return rows


def _original(name: str, data_path: Path) -> ItemBank:
    files = ORIGINAL_FILES[name]
    texts: dict[int, dict[str, str]] = {}
    options: dict[int, tuple[str, ...]] = {}
    for gender, rel in files.items():
        for k, (text, opts) in enumerate(read_original_csv(data_path / rel), 1):
            texts.setdefault(k, {})[gender] = text
            options[k] = opts
    description = ""
    if name == "svs57":
        desc = data_path / "data/data_svs/raw/description.txt"
        description = read_text_utf8(desc, "description").strip() if desc.is_file() else ""
    builtin_headers = _builtin("svs57").list_headers if name == "svs57" else {}
    builtin_desc = _builtin("pvq40").description if name == "pvq40" else ""
    return ItemBank(name=name, description=description or builtin_desc, texts=texts,
                    options=options, list_headers=builtin_headers,
                    source=str(data_path / next(iter(files.values()))))


def load_itembank(name: str, source: str = "builtin",
                  data_path: str | Path | None = None) -> ItemBank:
    """Load the wording of an instrument and check it against the instrument's facts.

    Parameters
    ----------
    name : str
        Instrument name (``pvq40``, ``svs57``, ``religion``, ``tolkien_donation``,
        ``tolkien_bag``).
    source : {"builtin", "original"}
        stickrole's own wording, or the original's CSVs under ``data_path``.
    data_path : path, optional
        The original's data directory (needed for ``original``).

    Raises
    ------
    ConfigError
        Unknown instrument, no built-in wording, or no data path.
    DataError
        The files do not match the instrument (item or option count).
    """
    if name not in ORIGINAL_FILES:
        raise ConfigError(f"unknown questionnaire {name!r}; allowed: {', '.join(ORIGINAL_FILES)}")
    inst = get_instrument(name)
    if source == "builtin":
        if name not in BUILTIN_BANKS:
            raise ConfigError(f"questionnaire {name!r} has no built-in wording; set "
                              "generation.instrument_source: original and data_path")
        bank = _builtin(name)
    elif source == "original":
        if data_path is None:
            raise ConfigError(f"questionnaire {name!r} from the original's files needs data_path")
        bank = _original(name, Path(data_path))
    else:
        raise ConfigError(f"instrument_source must be builtin or original; got {source!r}")
    if bank.items != tuple(range(1, inst.n_items + 1)):
        raise DataError(f"{bank.source}: {name} needs items 1..{inst.n_items}; found "
                        f"{len(bank.items)} items")
    bad = [i for i, o in bank.options.items() if len(o) != inst.n_options]
    if bad:
        raise DataError(f"{bank.source}: {name} items need {inst.n_options} options "
                        f"({inst.scale_min}..{inst.scale_max}); item {bad[0]} has "
                        f"{len(bank.options[bad[0]])}")
    return bank
