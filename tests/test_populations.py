"""Populations and interlocutor derangements."""

import json
from pathlib import Path

import pytest

from stickrole_utils.design.populations import derangement, load_population, read_persona_file
from stickrole_utils.errors import ConfigError, DataError

DATA = Path(__file__).resolve().parents[2] / "shared" / "value_stability_data"


@pytest.fixture
def data_path():
    if not DATA.is_dir():
        pytest.skip(f"the original's data is not at {DATA}")
    return DATA


def test_builtin_real_world_people():
    pop = load_population("real_world_people")
    assert len(pop) == 50
    assert sum(p.gender == "F" for p in pop) == 25
    assert len({p.id for p in pop}) == 50
    assert all(p.name.split()[-1].split(".")[-1] in p.description for p in pop)


def test_builtin_matches_original_names_and_genders(data_path):
    ours = load_population("real_world_people")
    theirs = load_population("original:real_world_people", data_path)
    assert [(p.name, p.gender) for p in ours] == [(p.name, p.gender) for p in theirs]
    assert all(a.description != b.description for a, b in zip(ours, theirs, strict=False))  # our own words


@pytest.mark.parametrize(("name", "n", "n_female"), [("tolkien_characters", 60, 12),
                                                     ("famous_people", 50, 11)])
def test_builtin_paper_populations(name, n, n_female):
    pop = load_population(name)
    assert len(pop) == n
    assert sum(p.gender == "F" for p in pop) == n_female
    assert len({p.id for p in pop}) == n
    assert all(p.name.split()[0].split(".")[-1] in p.description for p in pop)  # names itself


@pytest.mark.parametrize("name", ["tolkien_characters", "famous_people"])
def test_builtin_paper_populations_match_original(name, original_data):
    ours = load_population(name)
    theirs = load_population(f"original:{name}", original_data)
    assert [p.name for p in ours] == [p.name for p in theirs]
    assert [p.gender for p in ours] == [p.gender for p in theirs]
    theirs_desc = {p.description.strip() for p in theirs}
    assert not [p.name for p in ours if p.description.strip() in theirs_desc]  # our own words


def test_original_populations_load(data_path):
    assert len(load_population("original:tolkien_characters", data_path)) == 60
    assert len(load_population("original:famous_people", data_path)) == 50


def test_persona_file_without_gender(tmp_path):
    p = tmp_path / "p.json"
    p.write_text(json.dumps([{"name": "A", "description": "a"}]))
    with pytest.raises(DataError, match="lacks gender"):
        read_persona_file(p)
    p.write_text(json.dumps([{"name": "A", "description": "a", "gender": "X"}]))
    with pytest.raises(DataError, match="allowed: F, M, or empty"):
        read_persona_file(p)


def test_unknown_population():
    with pytest.raises(ConfigError, match="unknown population 'elves'"):
        load_population("elves")


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_derangement(seed):
    d = derangement(50, seed)
    assert sorted(d) == list(range(50))
    assert all(i != j for i, j in enumerate(d))
    assert d == derangement(50, seed)
    assert d != derangement(50, seed + 100)
