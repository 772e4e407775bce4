"""Base (non-chat) models: messages rendered as a labelled plain-text transcript
(``template: labelled``): the rendering, the model-entry field and the dummy backend (the real
model is in ``test_templates_gguf.py``)."""

import json

import pytest
import yaml

from stickrole_utils.config import ModelEntry, load_run_config
from stickrole_utils.design.prompts import alternate_roles, with_persona
from stickrole_utils.generation import generate_model
from stickrole_utils.generation.backends import (
    REPLY_LABEL,
    STOP_STRINGS,
    USER_LABEL,
    cut_reply,
    labelled_prompt,
    model_options,
)
from stickrole_utils.generation.store import read_run_answers

# -- rendering -------------------------------------------------------------------------------


def test_system_text_first_then_labelled_turns_and_an_open_reply_label():
    msgs = with_persona("You are Ann, a baker.", alternate_roles(["Hi!", "Hello.", "Tea?"]),
                        "system")
    assert labelled_prompt(msgs) == (
        "You are Ann, a baker.\n\n"
        f"{USER_LABEL}: Hi!\n{REPLY_LABEL}: Hello.\n{USER_LABEL}: Tea?\n{REPLY_LABEL}:")
    # logprob mode: the answer prefix follows the open label after one space
    assert labelled_prompt(msgs, "Answer: (").endswith(f"{USER_LABEL}: Tea?\n"
                                                       f"{REPLY_LABEL}: Answer: (")


def test_flipped_roles_and_the_empty_turn_chat_templates_need():
    # the interlocutor's turn: history flipped so the persona's reply is the user's, led by the
    # interlocutor's role text; with_persona inserts an empty user turn after the system text
    msgs = with_persona("You play a curious human.", alternate_roles(["Hi!", "Hello."]),
                        "system")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"] == ""
    assert labelled_prompt(msgs) == (f"You play a curious human.\n\n{REPLY_LABEL}: Hi!\n"
                                     f"{USER_LABEL}: Hello.\n{REPLY_LABEL}:")
    # an empty simulated reply (kept as one space) keeps its label; multi-line text is kept
    text = labelled_prompt([{"role": "assistant", "content": " "},
                            {"role": "user", "content": "Q\nA. yes\nB. no\n"}])
    assert text == f"{REPLY_LABEL}:\n{USER_LABEL}: Q\nA. yes\nB. no\n{REPLY_LABEL}:"
    # no persona (a persona-less participant): the transcript starts with the first turn
    assert labelled_prompt([{"role": "user", "content": "Q"}]) == (
        f"{USER_LABEL}: Q\n{REPLY_LABEL}:")


def test_other_roles_are_refused_and_replies_end_at_the_next_label():
    with pytest.raises(ValueError, match="got role 'tool'"):
        labelled_prompt([{"role": "tool", "content": "x"}])
    assert STOP_STRINGS == (f"\n{USER_LABEL}:", f"\n{REPLY_LABEL}:")
    assert cut_reply(f" Sure.\n{REPLY_LABEL}: more\n{USER_LABEL}: x") == " Sure."
    assert cut_reply(f" A\n{USER_LABEL}: B\n{REPLY_LABEL}: C") == " A"
    assert cut_reply(f" {USER_LABEL}: inline mention is kept") == (
        f" {USER_LABEL}: inline mention is kept")


def test_the_template_is_an_option_of_the_backends_that_render_prompts():
    assert model_options(ModelEntry(name="m", backend="dummy")).template == "chat"
    assert model_options(ModelEntry(name="m", backend="dummy",
                                    template="labelled")).template == "labelled"
    assert model_options(ModelEntry(name="m", backend="llama_cpp", model="x.gguf",
                                    template="labelled")).template == "labelled"
    # an entry is written flat and reads back the same
    lab = ModelEntry(name="m", backend="dummy", template="labelled")
    assert lab.model_dump(mode="json")["template"] == "labelled"
    assert ModelEntry.model_validate(lab.model_dump(mode="json")) == lab


def params_for(tmp_path, entry, mode="direct", run="lab", items=(1, 2),
               chunks=("chunk_no_conv", "chunk_joke")):
    data = {
        "version": 1, "run": run, "output_dir": str(tmp_path), "models": [entry],
        "generation": {
            "n_personas": 2, "mode": mode, "n_messages": 1,
            "conversation": {"temperature": 0.7, "max_tokens": 16},
            "answer": {"temperature": 0.0, "max_tokens": 12},
            "items": {"pvq40": list(items)},
            "chunks": list(chunks),
        },
    }
    p = tmp_path / f"{run}.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_run_config(p)


def test_the_dummy_backend_accepts_a_labelled_template(tmp_path):
    cfg = params_for(tmp_path, {"name": "d", "backend": "dummy", "template": "labelled"})
    out = generate_model(cfg, cfg.models[0], progress=False)
    assert len(read_run_answers(out)) == 2 * 2 * 2
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity"]["model"]["template"] == "labelled"
