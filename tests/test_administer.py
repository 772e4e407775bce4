"""Protocol details: option permutations (both schemes), score mapping, SVS dialogue."""

import itertools
import random

import numpy as np
import pytest

from stickrole_utils.config import GenerationConfig, ModelEntry
from stickrole_utils.design.contexts import chunk_contexts, resolve_chunk
from stickrole_utils.design.itembank import load_itembank
from stickrole_utils.design.populations import load_population
from stickrole_utils.design.prompts import Prompts
from stickrole_utils.generation.administer import administer_unit
from stickrole_utils.generation.backends import DummyBackend, ScriptedBackend
from stickrole_utils.generation.permutations import (
    original_permutations,
    per_item_permutations,
    unit_permutations,
)


def _reference(seed: str, n_options: int, n_items: int, n_personas: int):
    """The original's code path, spelled out: seed, enumerate, draw, slice (with the bug)."""
    state = random.getstate()
    random.seed(seed)
    allp = list(itertools.permutations(range(n_options)))
    perms = random.choices(allp, k=n_items * n_personas)
    random.setstate(state)
    return [perms[p:p + n_items] for p in range(n_personas)]


@pytest.mark.parametrize("seed", ["leaderboard_0", "leaderboard_no_conv", "3_1"])
def test_original_scheme_reproduces_the_draws(seed):
    assert original_permutations(seed, 6, 40, 50) == _reference(seed, 6, 40, 50)


def test_original_scheme_nine_options_svs():
    assert original_permutations("leaderboard_svs_no_conv", 9, 57, 4) == _reference(
        "leaderboard_svs_no_conv", 9, 57, 4)


def test_original_slicing_bug_shifts_personas_by_one_item():
    perms = original_permutations("leaderboard_0", 6, 40, 3)
    assert perms[1][:-1] == perms[0][1:]
    assert perms[2][:-2] == perms[0][2:]


def test_per_item_scheme_independent_and_stable():
    a = per_item_permutations("s", "Ann", "pvq40", 6, 40)
    b = per_item_permutations("s", "Bob", "pvq40", 6, 40)
    assert a == per_item_permutations("s", "Ann", "pvq40", 6, 40)
    assert a[1:] != b[:-1]  # no shifted overlap as in the original
    assert all(sorted(p) == list(range(6)) for p in a)
    assert len(set(a)) > 30


def test_unit_permutations_scheme_switch():
    pop = load_population("real_world_people")[:3]
    chunk = resolve_chunk("chunk_0")
    orig = unit_permutations(GenerationConfig(permutation_scheme="original"), chunk, pop[1], 1,
                             50, "pvq40")
    assert orig[1] == tuple(original_permutations("leaderboard_0", 6, 40, 50)[1][0])
    ident = unit_permutations(GenerationConfig(permute_options=False), chunk, pop[1], 1, 50,
                              "pvq40")
    assert set(ident.values()) == {tuple(range(6))}


def _unit(questionnaire="pvq40", chunk="chunk_no_conv", n=3, items=None):
    from stickrole_utils.generation.administer import Unit

    pop = load_population("real_world_people")[:n]
    spec = resolve_chunk(chunk)
    ctx = chunk_contexts(spec, pop)
    bank = load_itembank(questionnaire)
    items = items or bank.items
    gen = GenerationConfig()
    return Unit(model="dummy", chunk=spec, persona=pop[0], persona_index=0, context=ctx[0],
                bank=bank, items=tuple(items),
                permutations=unit_permutations(gen, spec, pop[0], 0, n, questionnaire))


@pytest.mark.parametrize("mode", ["logprob", "direct", "cot"])
def test_score_is_original_index_of_chosen_letter(mode):
    unit = _unit()
    res = administer_unit(DummyBackend(ModelEntry(name="d", backend="dummy")), unit,
                          GenerationConfig(), Prompts.from_config(), mode, "system")
    rows = res.rows
    assert len(rows) == 40 and rows["parsed"].all()
    for r in rows.itertuples():
        order = [int(x) for x in r.option_order.split(",")]
        assert r.score == 1 + order["ABCDEF".index(r.letter)]
    if mode == "logprob":
        probs = np.array([__import__("json").loads(p) for p in rows["option_probs"]])
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_svs_dialogue_scores_every_item_once():
    unit = _unit("svs57", "chunk_svs_no_conv")
    res = administer_unit(DummyBackend(ModelEntry(name="d", backend="dummy")), unit,
                          GenerationConfig(), Prompts.from_config(), "direct", "system")
    assert list(res.rows["item"]) == list(range(1, 58))
    assert res.rows["score"].between(-1, 7).all()
    dialogue = res.conversation["dialogue"]
    # per list: pick most, rate it, pick least, rate it, then the rest -> 30 + 4 and 27 + 4 turns
    assert len([m for m in dialogue if m["role"] == "user"]) == 30 + 2 + 27 + 2
    assert "LIST OF VALUES I" in dialogue[0]["content"]
    assert dialogue[1]["content"].startswith("(")


def test_conversation_roles_and_record():
    unit = _unit(chunk="chunk_chess_0", items=[1, 2])
    res = administer_unit(DummyBackend(ModelEntry(name="d", backend="dummy")), unit,
                          GenerationConfig(n_messages=3), Prompts.from_config(), "direct",
                          "system")
    conv = res.conversation["conversation"]
    assert [c["speaker"] for c in conv] == ["context", "persona", "interlocutor", "persona"]
    assert conv[0]["content"] == "1. e4"
    assert res.conversation["interlocutor"] not in ("human", unit.persona.name)


def test_logprob_argmax_and_letter_mass_from_scripted_distributions():
    unit = _unit(items=[1, 2])
    backend = ScriptedBackend(letter_probs=[[0.1, 0.1, 0.5, 0.1, 0.05, 0.05],
                                            [0.05, 0.05, 0.05, 0.05, 0.05, 0.25]])
    rows = administer_unit(backend, unit, GenerationConfig(), Prompts.from_config(), "logprob",
                           "system").rows
    assert list(rows["letter"]) == ["C", "F"]
    assert np.allclose(rows["letter_mass"], [0.9, 0.5])
    assert rows["raw"].tolist() == ["(C)", "(F)"] and backend.calls == []
    assert len(backend.scored) == 2
