"""Comparability settings: the no-persona population, the original's answer parser and its
separate persona turn (``generation.population: no_persona``, ``parsing``, ``persona_turn``)."""

import pytest

from stickrole_utils.config import GenerationConfig, ModelEntry
from stickrole_utils.design.contexts import chunk_contexts, resolve_chunk
from stickrole_utils.design.itembank import load_itembank
from stickrole_utils.design.populations import load_population, no_persona_population
from stickrole_utils.design.prompts import Prompts, alternate_roles, with_persona
from stickrole_utils.errors import ConfigError
from stickrole_utils.generation.administer import Unit, administer_unit
from stickrole_utils.generation.backends import DummyBackend, ScriptedBackend
from stickrole_utils.generation.parsing import parse_answer, parse_answer_original
from stickrole_utils.generation.permutations import unit_permutations

PVQ = "ABCDEF"

# (reply, mode, expected letter, expected reason) under the original's rule
ORIGINAL_TABLE = [
    ("Reasoning... Answer: (C)", "cot", "C", "first_paren"),
    ("(E) is tempting. Answer: (D)", "cot", "D", "first_paren"),  # only after the tag
    ("Answer: (D) rather than (B)", "cot", "B", "first_paren"),  # alphabetically first
    ("Answer: (F), not (A)", "cot", "A", "first_paren"),
    ("Answer: (B)\nOn reflection... Answer: (E)", "cot", None, "several_answer_tags"),
    ("answer: (B)", "cot", None, "no_answer_tag"),  # case-sensitive tag
    ("ANSWER: (B)", "cot", None, "no_answer_tag"),
    ("So the option is (E).", "cot", None, "no_answer_tag"),  # no fallback to the whole reply
    ("Answer: D", "cot", None, "no_letter"),  # a bare letter is not "(X)"
    ("Answer: D)", "cot", None, "no_letter"),
    ("Answer: (d)", "cot", None, "no_letter"),  # case-sensitive letter
    ("Answer: (G)", "cot", None, "no_letter"),  # not an option
    ("Answer:" + " " * 40 + "(A)", "cot", None, "no_letter"),  # beyond the 40 characters
    ("Answer:" + " " * 36 + "(A)", "cot", "A", "first_paren"),  # just within
    ("**Answer:** (C)", "cot", "C", "first_paren"),
    ("(C)", "direct", "C", "first_paren"),
    ("I think (E) or maybe (B)", "direct", "B", "first_paren"),
    ("C", "direct", None, "no_letter"),
    ("(c)", "direct", None, "no_letter"),
    ("Answer: (B) Answer: (C)", "direct", "B", "first_paren"),  # direct reads the whole reply
    ("", "cot", None, "empty"),
    ("   ", "direct", None, "empty"),
]


@pytest.mark.parametrize(("reply", "mode", "expected", "reason"), ORIGINAL_TABLE)
def test_original_parser_table(reply, mode, expected, reason):
    got = parse_answer(reply, PVQ, mode, rule="original")
    assert (got.letter, got.reason) == (expected, reason)
    assert got == parse_answer_original(reply, PVQ, mode)


def test_original_parser_orders_svs_letters_upper_then_lower():
    lets = [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "a", "b"]
    assert parse_answer("Answer: (b) or (Z)", lets, "cot", rule="original").letter == "Z"


def test_rules_differ_where_the_original_differs():
    reply = "(A) is tempting. Answer: (D) rather than (B)"
    assert parse_answer(reply, PVQ, "cot").letter == "D"  # stickrole: the letter after the tag
    assert parse_answer(reply, PVQ, "cot", rule="original").letter == "B"
    two = "Answer: (B)\nOn reflection... Answer: (E)"
    assert parse_answer(two, PVQ, "cot").letter == "E"
    assert parse_answer(two, PVQ, "cot", rule="original").letter is None


def test_unknown_parsing_rule():
    with pytest.raises(ConfigError, match="parsing rule"):
        parse_answer("(A)", PVQ, "direct", rule="loose")
    with pytest.raises(Exception, match="parsing"):
        GenerationConfig(parsing="loose")


# ---------------------------------------------------------------------------- persona turn

def test_separate_persona_turn_before_a_conversation():
    conv = alternate_roles(["Hi", "Hello!", "How are you?"], last="user")
    msgs = with_persona("You are X.", conv, "user", "separate")
    assert msgs == [{"role": "user", "content": "You are X."},
                    {"role": "assistant", "content": "OK"},
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Hello!"},
                    {"role": "user", "content": "How are you?"}]


def test_separate_persona_turn_before_an_assistant_start_has_no_ok():
    conv = alternate_roles(["Hi", "Hello!"], last="user")  # the interlocutor's view
    msgs = with_persona("You are a human.", conv, "user", "separate")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "You are a human." and msgs[1]["content"] == "Hi"


def test_separate_persona_turn_on_a_lone_question_is_merged_as_in_the_original():
    pop = load_population("real_world_people")[:2]
    backend = ScriptedBackend("(B)")
    administer_unit(backend, _unit(pop, items=(1,)), GenerationConfig(persona_turn="separate"),
                    Prompts.from_config(), "direct", "user")
    (msgs,) = backend.calls
    assert len(msgs) == 1 and msgs[0]["content"].startswith("You are Marilyn Monroe")
    assert with_persona("P", [{"role": "user", "content": "Q"}], "user", "separate") == [
        {"role": "user", "content": "P"}, {"role": "assistant", "content": "OK"},
        {"role": "user", "content": "Q"}]


def test_merged_is_the_default_and_system_ignores_turn():
    conv = alternate_roles(["Hi", "Hello!", "Q"], last="user")
    assert with_persona("P", conv, "user") == with_persona("P", conv, "user", "merged")
    assert with_persona("P", conv, "user")[0]["content"] == "P\n\nHi"
    assert with_persona("P", conv, "system", "separate")[0] == {"role": "system", "content": "P"}
    with pytest.raises(ConfigError, match="merged or separate"):
        with_persona("P", conv, "user", "apart")


def _unit(pop, chunk="chunk_no_conv", items=(1, 2), index=0):
    spec = resolve_chunk(chunk)
    ctx = chunk_contexts(spec, pop)
    bank = load_itembank("pvq40")
    return Unit(model="m", chunk=spec, persona=pop[index], persona_index=index,
                context=ctx[index], bank=bank, items=tuple(items),
                permutations=unit_permutations(GenerationConfig(), spec, pop[index], index,
                                               len(pop), "pvq40"))


def test_separate_turn_through_the_protocol():
    pop = load_population("real_world_people")[:3]
    backend = ScriptedBackend("Answer: (B)")
    gen = GenerationConfig(persona_turn="separate", chunks=["chunk_chess_0"])
    res = administer_unit(backend, _unit(pop, "chunk_chess_0", items=(1,)), gen,
                          Prompts.from_config(), "cot", "user")
    persona_turns = [backend.calls[0], backend.calls[2], backend.calls[3]]  # turns 0, 2; item
    for msgs in persona_turns:
        assert msgs[0] == {"role": "user", "content": "You are " + pop[0].description}
        assert msgs[1] == {"role": "assistant", "content": "OK"}
        assert msgs[2]["content"] == "1. e4"
    interlocutor = backend.calls[1]
    assert [m["role"] for m in interlocutor] == ["user", "assistant", "user"]
    assert res.conversation["persona_turn"] == "separate"
    assert res.conversation["parsing"] == "stickrole"


# ---------------------------------------------------------------------------- no persona

def test_no_persona_population():
    pop = load_population("no_persona:12")
    assert [p.id for p in pop][:3] == ["p00", "p01", "p02"] and pop[-1].id == "p11"
    assert {p.description for p in pop} == {""}
    assert [p.gender for p in pop[:4]] == ["M", "F", "M", "F"]  # as the original alternates
    assert len(load_population("no_persona")) == 50
    assert [p.id for p in no_persona_population(101)][-1] == "p100"
    for bad in ("no_persona:0", "no_persona:x", "no_persona:-3"):
        with pytest.raises(ConfigError, match="no_persona"):
            load_population(bad)


@pytest.mark.parametrize("placement", ["system", "user"])
@pytest.mark.parametrize("turn", ["merged", "separate"])
def test_no_persona_message_list(placement, turn):
    pop = load_population("no_persona:2")
    backend = ScriptedBackend("(C)")
    gen = GenerationConfig(persona_turn=turn)
    administer_unit(backend, _unit(pop, items=(1,)), gen, Prompts.from_config(), "direct",
                    placement)
    (msgs,) = backend.calls
    assert len(msgs) == 1 and msgs[0]["role"] == "user"
    assert msgs[0]["content"].startswith(load_itembank("pvq40").description)  # no persona


def test_no_persona_conversation_has_no_persona_or_name():
    pop = load_population("no_persona:2")
    backend = ScriptedBackend("Answer: (A)")
    gen = GenerationConfig(interlocutor_knows_persona=True)
    administer_unit(backend, _unit(pop, "chunk_joke", items=(1,)), gen, Prompts.from_config(),
                    "cot", "system")
    persona_call, interlocutor_call, _, item_call = backend.calls
    assert [m["role"] for m in persona_call] == ["user"]  # no system message at all
    assert [m["role"] for m in item_call] == ["user", "assistant", "user", "assistant", "user"]
    assert item_call[0]["content"] == persona_call[0]["content"]
    assert interlocutor_call[0]["role"] == "system"
    assert "CHATBOT" not in interlocutor_call[0]["content"]  # knows_persona dropped


@pytest.mark.parametrize("mode", ["logprob", "direct", "cot"])
def test_no_persona_with_the_dummy_backend(mode):
    pop = load_population("no_persona:3")
    res = administer_unit(DummyBackend(ModelEntry(name="d", backend="dummy")),
                          _unit(pop, items=range(1, 41), index=1), GenerationConfig(),
                          Prompts.from_config(), mode, "system")
    assert res.rows["parsed"].all() and set(res.rows["persona"]) == {"p01"}
    assert set(res.rows["gender"]) == {"F"}


# ---------------------------------------------------------------------------- whole runs

def _params(tmp_path, name, generation):
    import yaml

    data = {"version": 1, "run": name, "output_dir": str(tmp_path / name),
            "models": [{"name": "dummy", "backend": "dummy"}],
            "generation": {"chunks": ["chunk_no_conv", "chunk_joke"], "mode": "cot",
                           "items": {"pvq40": [1, 2, 3]}, **generation}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_no_persona_run_with_the_original_settings_recorded(tmp_path):
    import json

    from stickrole_utils.generation.generate import generate_from_params
    from stickrole_utils.generation.store import read_run_answers

    path = _params(tmp_path, "np", {"population": "no_persona:4", "parsing": "original",
                                    "persona_turn": "separate", "system_role": "user"})
    (run_dir,) = generate_from_params(path, progress=False)
    answers = read_run_answers(run_dir)
    assert sorted(set(answers["persona"])) == ["p00", "p01", "p02", "p03"]
    assert len(answers) == 4 * 2 * 3 and answers["parsed"].all()
    identity = json.loads((run_dir / "manifest.json").read_text())["identity"]["generation"]
    assert identity["population"] == "no_persona:4"
    assert identity["parsing"] == "original" and identity["persona_turn"] == "separate"


def test_persona_interlocutor_needs_personas(tmp_path):
    from stickrole_utils.generation.plan import load_params

    path = _params(tmp_path, "bad", {"population": "no_persona:4", "chunks": ["chunk_chess_0"]})
    with pytest.raises(ConfigError, match="no persona"):
        load_params(path)
    with pytest.raises(ConfigError, match="no_persona"):
        load_params(_params(tmp_path, "bad2", {"population": "no_persona:zero"}))


def test_questionnaire_description_override():
    from stickrole_utils.config import PromptTemplates

    text = "Read each portrait below."
    prompts = Prompts.from_config(PromptTemplates(descriptions={"pvq40": text},
                                                  query_cot="Think step by step."))
    pop = load_population("real_world_people")[:2]
    backend = ScriptedBackend("Answer: (A)")
    administer_unit(backend, _unit(pop, items=(1,)), GenerationConfig(), prompts, "cot",
                    "system")
    content = backend.calls[0][-1]["content"]
    assert content.startswith(text + "\n\n") and content.endswith("\nThink step by step.")
    assert Prompts.from_config().description("pvq40", "bank's") == "bank's"
