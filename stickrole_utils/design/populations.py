"""Populations of simulated personas and interlocutor pairings.

A persona is (id, name, description, gender). Built-in sets are package resources written for
stickrole (``resources/personas/*.yaml``); the original's ``personas.json`` files are read from a
user-given path. Persona ids are the names, so the same person pairs with themself across chunks.

``no_persona`` / ``no_persona:<N>`` is the paper's persona-less setting (``docs/method.md``,
Protocol): N participants with no persona text at all, differing only by their option orders.
A persona with an empty description gets no persona message.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..errors import ConfigError, DataError, shown
from ..io import read_json, read_yaml

__all__ = [
    "Persona",
    "BUILTIN_POPULATIONS",
    "ORIGINAL_POPULATIONS",
    "load_population",
    "no_persona_population",
    "NO_PERSONA",
    "read_persona_file",
    "derangement",
]

#: Built-in population names (package resources).
BUILTIN_POPULATIONS: tuple[str, ...] = ("real_world_people", "famous_people",
                                        "tolkien_characters")
#: Populations readable from the original's data directory as ``original:<name>``.
ORIGINAL_POPULATIONS: tuple[str, ...] = ("real_world_people", "famous_people",
                                         "tolkien_characters")
_GENDERS = ("F", "M", "")
#: Population name of the persona-less setting (``no_persona`` or ``no_persona:<N>``).
NO_PERSONA = "no_persona"
#: Participants of ``no_persona`` without a count (the original's default).
_NO_PERSONA_DEFAULT = 50


@dataclass(frozen=True)
class Persona:
    """One simulated participant.

    Attributes
    ----------
    id : str
        Stable identifier (the answers table's ``persona`` column); the name.
    name : str
        The person's name.
    description : str
        Text completing "You are ..."; empty for a persona-less participant (no persona
        message at all).
    gender : str
        ``F``, ``M`` or ``""``; selects the gendered PVQ wording.
    """

    id: str
    name: str
    description: str
    gender: str


def _personas_from_records(records: object, source: str) -> list[Persona]:
    if isinstance(records, dict) and "personas" in records:
        records = records["personas"]
    if not isinstance(records, list) or not records:
        raise DataError(f"{source}: expected a non-empty list of personas "
                        "({name, description, gender}); got " + type(records).__name__)
    out: list[Persona] = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise DataError(f"{source}: persona {i} is not a mapping: {rec!r}")
        missing = [k for k in ("name", "description", "gender") if k not in rec]
        if missing:
            raise DataError(f"{source}: persona {i} ({rec.get('name', '?')!r}) lacks "
                            f"{', '.join(missing)}; every persona needs name, description and "
                            "gender (F, M, or empty)")
        for key in ("id", "name", "description"):
            value = rec.get(key, "")
            if isinstance(value, (bool, list, dict)) or (value is None and key != "id"):
                raise DataError(f"{source}: persona {i} ({rec['name']!r}): {key} must be text; "
                                f"got {shown(value)}")
        gender = "" if rec["gender"] is None else str(rec["gender"]).strip().upper()
        if gender not in _GENDERS:
            raise DataError(f"{source}: persona {i} ({rec['name']!r}) has gender "
                            f"{rec['gender']!r}; allowed: F, M, or empty")
        pid = rec.get("id")
        out.append(Persona(id=str(rec["name"] if pid is None else pid), name=str(rec["name"]),
                           description=str(rec["description"]), gender=gender))
    ids = [p.id for p in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataError(f"{source}: persona ids must be unique; repeated: {', '.join(dup)}")
    return out


def read_persona_file(path: str | Path) -> list[Persona]:
    """Read personas from a JSON or YAML file (a list of {name, description, gender}).

    Raises
    ------
    DataError
        Missing file, not UTF-8, malformed JSON/YAML (line and column), a persona without
        gender or with a field of the wrong type; one line naming the file.
    """
    path = Path(path)
    read = read_json if path.suffix == ".json" else read_yaml
    return _personas_from_records(read(path, "persona file", DataError), str(path))


def no_persona_population(n: int = _NO_PERSONA_DEFAULT) -> list[Persona]:
    """``n`` persona-less participants (the paper's no-persona setting).

    Ids ``p00``, ``p01``, ... (zero-padded to the width of ``n - 1``, at least 2 digits), name
    ``CHATBOT`` and an empty description (no persona message). Genders alternate ``M``, ``F``,
    as the original's: the PVQ wording alternates between its male and female forms.

    >>> [(p.id, p.gender, p.description) for p in no_persona_population(3)]
    [('p00', 'M', ''), ('p01', 'F', ''), ('p02', 'M', '')]
    """
    if n < 1:
        raise ConfigError(f"generation.population: {NO_PERSONA}:<N> needs N >= 1; got {n}")
    width = max(2, len(str(n - 1)))
    return [Persona(id=f"p{i:0{width}d}", name="CHATBOT", description="",
                    gender="M" if i % 2 == 0 else "F") for i in range(n)]


def _no_persona(spec: str) -> list[Persona]:
    count = spec.removeprefix(NO_PERSONA).removeprefix(":")
    if not count:
        return no_persona_population()
    if not count.isdigit():
        raise ConfigError(f"generation.population: {spec!r}: write {NO_PERSONA} or "
                          f"{NO_PERSONA}:<N> with N a positive whole number")
    return no_persona_population(int(count))


def load_population(spec: str, data_path: str | Path | None = None) -> list[Persona]:
    """Load a population by name or path.

    Parameters
    ----------
    spec : str
        A built-in name (``real_world_people``, ``famous_people``, ``tolkien_characters``),
        ``no_persona`` or ``no_persona:<N>`` (N persona-less participants, default 50),
        ``original:<name>`` (the original's
        ``personas/<name>/personas.json`` under ``data_path``), or a JSON/YAML file path.
    data_path : path, optional
        The original's data directory.

    Returns
    -------
    list of Persona

    Examples
    --------
    >>> pop = load_population("real_world_people")
    >>> len(pop), pop[0].name, pop[0].gender
    (50, 'Marilyn Monroe', 'F')
    """
    if spec in BUILTIN_POPULATIONS:
        text = resources.files("stickrole_utils").joinpath(
            f"resources/personas/{spec}.yaml").read_text(encoding="utf-8")
        return _personas_from_records(yaml.safe_load(text), f"built-in population {spec}")
    if spec == NO_PERSONA or spec.startswith(NO_PERSONA + ":"):
        return _no_persona(spec)
    if spec.startswith("original:"):
        name = spec.removeprefix("original:")
        if name not in ORIGINAL_POPULATIONS:
            raise ConfigError(f"generation.population: unknown original population {name!r}; "
                              f"allowed: {', '.join('original:' + n for n in ORIGINAL_POPULATIONS)}")
        if data_path is None:
            raise ConfigError(f"generation.population: {spec!r} needs data_path (the original's "
                              "value_stability_data directory)")
        return read_persona_file(Path(data_path) / "personas" / name / "personas.json")
    if spec.endswith((".json", ".yaml", ".yml")):
        return read_persona_file(spec)
    raise ConfigError(
        f"generation.population: unknown population {spec!r}; allowed: "
        f"{', '.join(BUILTIN_POPULATIONS)}, {NO_PERSONA}[:<N>], "
        f"{', '.join('original:' + n for n in ORIGINAL_POPULATIONS)}, or a .json/.yaml file"
    )


def derangement(n: int, seed: int) -> list[int]:
    """A seeded uniformly random derangement of ``range(n)`` (no i maps to itself).

    Rejection sampling of uniform permutations (about e tries on average).

    Parameters
    ----------
    n : int
        Size (>= 2).
    seed : int
        Seed of ``numpy.random.default_rng`` (0 is valid).

    Examples
    --------
    >>> d = derangement(5, seed=0)
    >>> sorted(d) == list(range(5)) and all(i != j for i, j in enumerate(d))
    True
    """
    if n < 2:
        raise ConfigError(f"a persona interlocutor needs at least 2 personas; got {n}")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(x) for x in perm]
