import pytest

from stickrole_utils.design.instruments import INSTRUMENTS, PVQ40, SVS57, get_instrument
from stickrole_utils.design.values import HIGHER_ORDER, VALUES
from stickrole_utils.errors import DataError


def test_pvq_key_covers_all_40_items_once():
    assert tuple(PVQ40.key) == VALUES
    assert PVQ40.keyed_items == tuple(range(1, 41))
    assert PVQ40.unkeyed_items == ()


def test_svs_key_has_46_keyed_and_the_11_unkeyed_items():
    assert tuple(SVS57.key) == VALUES
    assert len(SVS57.keyed_items) == 46 and len(set(SVS57.keyed_items)) == 46
    assert SVS57.unkeyed_items == (2, 6, 7, 10, 14, 19, 21, 23, 28, 42, 48)
    assert SVS57.n_options == 9


def test_higher_order_groups_partition_the_values():
    members = [v for vs in HIGHER_ORDER.values() for v in vs]
    assert sorted(members) == sorted(VALUES)


def test_downstream_tasks_are_not_centered():
    for name in ("tolkien_donation", "tolkien_bag", "religion"):
        assert not INSTRUMENTS[name].centered and not INSTRUMENTS[name].is_values
    assert len(INSTRUMENTS["tolkien_bag"].keyed_items) == 100


def test_unknown_instrument_message_lists_known():
    with pytest.raises(DataError, match="known questionnaires: pvq40, svs57"):
        get_instrument("pvq41")
