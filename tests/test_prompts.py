"""Prompt assembly: roles, persona placement, overrides."""

import pytest

from stickrole_utils.config import PromptTemplates
from stickrole_utils.design.prompts import (
    Prompts,
    alternate_roles,
    format_options,
    item_message,
    letters,
    with_persona,
)
from stickrole_utils.errors import ConfigError


def test_alternate_roles_end_with_requested_role():
    conv = ["opener", "r1", "r2", "r3"]
    assert [m["role"] for m in alternate_roles(conv, "assistant")] == [
        "user", "assistant", "user", "assistant"]
    assert [m["role"] for m in alternate_roles(conv[:2], "user")] == ["assistant", "user"]


def test_system_placement_inserts_empty_user_before_assistant():
    msgs = with_persona("You are X.", alternate_roles(["a", "b"], "user"), "system")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"] == ""


def test_user_placement_merges_into_first_user_turn():
    msgs = with_persona("You are X.", alternate_roles(["a", "b", "c"], "user"), "user")
    assert msgs[0] == {"role": "user", "content": "You are X.\n\na"}
    assert len(msgs) == 3
    msgs = with_persona("You are X.", alternate_roles(["a", "b"], "user"), "user")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]


def test_item_message_layout():
    text = item_message("Desc.", "Item.", ["yes", "no"], "Reply.")
    assert text == "Desc.\n\nItem.\n(A) yes\n(B) no\nReply."
    assert item_message("", "Item.", ["x"], "Q") == "Item.\n(A) x\nQ"
    assert format_options([]) == ""


def test_letters_beyond_z():
    assert letters(30)[26:] == ["a", "b", "c", "d"]
    with pytest.raises(ConfigError):
        letters(60)


def test_overrides_and_placeholder_check():
    p = Prompts.from_config(PromptTemplates(persona="Pretend to be {name}."))
    assert p.persona == "Pretend to be {name}."
    assert p.query_cot.endswith("choose.")
    with pytest.raises(ConfigError, match="unknown placeholder"):
        Prompts.from_config(PromptTemplates(persona="You are {nmae}"))
