"""Item wording: built-in banks agree with the instruments; the original's CSV loader."""

from pathlib import Path

import pytest
import yaml

from stickrole_utils.analysis.answers import read_answers
from stickrole_utils.analysis.model import value_scores
from stickrole_utils.design.instruments import get_instrument
from stickrole_utils.design.itembank import load_itembank, read_original_csv
from stickrole_utils.errors import ConfigError
from stickrole_utils.generation.generate import generate_from_params

DATA = Path(__file__).resolve().parents[2] / "shared" / "value_stability_data"


@pytest.mark.parametrize("name", ["pvq40", "svs57", "religion"])
def test_builtin_banks_cover_instrument(name):
    bank = load_itembank(name)
    inst = get_instrument(name)
    assert bank.items == tuple(range(1, inst.n_items + 1))
    assert all(len(o) == inst.n_options for o in bank.options.values())


def test_pvq_gendered_forms():
    bank = load_itembank("pvq40")
    male, female = bank.text(34, "M"), bank.text(34, "F")
    assert "himself" in male and "herself" in female
    assert "{" not in male + female
    assert bank.text(34, "") == male


@pytest.mark.parametrize("name", ["tolkien_donation", "tolkien_bag"])
def test_builtin_tolkien_banks(name):
    bank = load_itembank(name)
    inst = get_instrument(name)
    assert bank.items == tuple(range(1, 101))
    assert all(len(o) == 6 for o in bank.options.values())
    assert bank.description == ""
    singular = {"elves": "elf", "dwarves": "dwarf", "orcs": "orc", "humans": "human",
                "hobbits": "hobbit"}
    for r, (value, items) in enumerate(inst.key.items()):  # item k of block r: 20*r + k + 1
        race = singular[value.split()[-1]]
        assert items == tuple(range(20 * r + 1, 20 * r + 21))
        for item in items:
            text = bank.text(item)
            assert f" {race}" in text and "{" not in text, (item, text)
    marker = "Sitting beside you is " if name == "tolkien_donation" else "called "
    names = [bank.text(i).split(marker)[1].split(",")[0] for i in bank.items]
    assert len(set(names)) == 100
    if name == "tolkien_donation":
        assert bank.options[1] == tuple(f"{c} coins" for c in range(0, 11, 2))
        assert bank.text(1) != bank.text(2)
    else:
        assert "orc's" in bank.options[41][5] and "elf's" in bank.options[1][3]
    assert any(" she " in bank.text(i).lower() or " her " in bank.text(i) for i in bank.items)


def test_builtin_tolkien_names_are_our_own(original_data):
    bank = load_itembank("tolkien_bag")
    theirs = load_itembank("tolkien_bag", "original", original_data)
    ours = [bank.text(i).split("called ")[1].split(",")[0] for i in bank.items]
    their_names = {theirs.text(i).split("called ")[1].split(" and ")[0] for i in theirs.items}
    assert len(set(ours)) == 100
    assert not set(ours) & their_names
    for r in range(5):  # as many female names per race block as the paper's
        block = range(20 * r + 1, 20 * r + 21)
        assert (sum(" her " in bank.text(i) for i in block)
                == sum(" her " in theirs.text(i) for i in block)), r


def test_unknown_questionnaire():
    with pytest.raises(ConfigError, match="unknown questionnaire 'bogus'"):
        load_itembank("bogus")


@pytest.mark.parametrize("name", ["tolkien_donation", "tolkien_bag"])
def test_dummy_generation_scores_tolkien_tasks(tmp_path, name):
    params = {
        "version": 1, "run": "tolkien", "output_dir": str(tmp_path / "out"),
        "models": [{"name": "dummy", "backend": "dummy"}],
        "generation": {"population": "tolkien_characters", "n_personas": 2, "mode": "direct",
                       "instrument_source": "builtin",
                       "chunks": [{"label": "chunk_task", "questionnaire": name}]},
    }
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    (run_dir,) = generate_from_params(path, progress=False)
    answers = read_answers(run_dir / "answers.parquet")
    assert len(answers) == 200 and answers["parsed"].all()
    assert answers["score"].between(1, 6).all()
    scores = value_scores(answers)
    prefix = "Donation" if name == "tolkien_donation" else "Return"
    assert list(scores["value"].unique()) == [f"{prefix} {r}" for r in
                                             ("elves", "dwarves", "orcs", "humans", "hobbits")]
    assert len(scores) == 10 and scores["raw"].between(1, 6).all()


def test_original_csvs(tmp_path):
    if not DATA.is_dir():
        pytest.skip(f"the original's data is not at {DATA}")
    for name in ("pvq40", "svs57", "religion", "tolkien_donation", "tolkien_bag"):
        bank = load_itembank(name, "original", DATA)
        assert len(bank.items) == get_instrument(name).n_items
    pvq = load_itembank("pvq40", "original", DATA)
    assert pvq.text(1, "F") != pvq.text(1, "M")
    bad = tmp_path / "bad.csv"
    bad.write_text('"only text"\n')
    with pytest.raises(Exception, match="bad.csv:1"):
        read_original_csv(bad)
