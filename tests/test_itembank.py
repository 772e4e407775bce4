"""Item wording: built-in banks agree with the instruments; the original's CSV loader."""

from pathlib import Path

import pytest

from stickrole_utils.errors import ConfigError
from stickrole_utils.instruments import get_instrument
from stickrole_utils.itembank import load_itembank, read_original_csv

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


def test_no_builtin_tolkien_wording():
    with pytest.raises(ConfigError, match="instrument_source: original"):
        load_itembank("tolkien_bag")


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
