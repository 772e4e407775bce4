"""Prompt wording and chat-message assembly (stickrole's own wording; overridable in params).

Messages are lists of ``{"role": ..., "content": ...}`` dicts (OpenAI chat format). The persona
text goes into a system message, or, for models whose chat template rejects a system turn, into
the first user turn (``placement="user"``; merged into it, or the original's separate turn
answered "OK"), and that choice is recorded in the manifest.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..config import GenerationConfig, PromptTemplates
from ..errors import ConfigError, shown
from ..io import read_yaml

__all__ = [
    "PROMPTS_FILE_KEYS",
    "read_prompts_file",
    "Prompts",
    "DEFAULT_PROMPTS",
    "letters",
    "format_options",
    "item_message",
    "alternate_roles",
    "with_persona",
    "PERSONA_ACK",
]

Message = dict[str, str]

#: The assistant's reply inserted after a separate persona turn (``persona_turn: separate``).
PERSONA_ACK = "OK"


@dataclass(frozen=True)
class Prompts:
    """Every string stickrole says to a model (see ``config.PromptTemplates`` for the fields)."""

    persona: str
    human_interlocutor: str
    persona_interlocutor: str
    knows_persona: str
    query_cot: str
    query_direct: str
    answer_prefix: str
    svs_most: str
    svs_rate_chosen: str
    svs_least: str
    svs_rest: str
    descriptions: dict[str, str] = field(default_factory=dict)
    """Questionnaire instructions by questionnaire name, replacing the item bank's."""
    openers: dict[str, str] = field(default_factory=dict)
    """Opening texts by topic, replacing the built-in ones (``contexts.TOPIC_OPENERS``)."""

    def description(self, questionnaire: str, default: str) -> str:
        """The instructions said before a ``questionnaire`` item (``default``: the bank's)."""
        return self.descriptions.get(questionnaire, default)

    @classmethod
    def for_generation(cls, gen: GenerationConfig) -> Prompts:
        """The texts of a run: defaults, then ``gen.prompts_file``'s texts, then the fields set
        in ``gen.prompts`` (:func:`read_prompts_file` checks the file)."""
        if gen.prompts_file is None:
            return cls.from_config(gen.prompts)
        texts, openers = read_prompts_file(gen.prompts_file)
        merged = {**texts.model_dump(), **gen.prompts.model_dump(exclude_none=True)}
        return cls.from_config(PromptTemplates.model_validate(merged), openers=openers)

    @classmethod
    def from_config(cls, overrides: PromptTemplates | None = None,
                    openers: dict[str, str] | None = None) -> Prompts:
        """Defaults with the non-None fields of ``overrides`` replaced; placeholders checked."""
        values = {f.name: getattr(DEFAULT_PROMPTS, f.name) for f in fields(cls)}
        if overrides is not None:
            values.update({k: v for k, v in overrides.model_dump().items() if v is not None})
        values["descriptions"] = dict(values["descriptions"])
        values["openers"] = dict(openers or {})
        out = cls(**values)
        allowed = {"persona": {"description", "name"}, "human_interlocutor": {"knows"},
                   "persona_interlocutor": {"description", "knows", "name"},
                   "knows_persona": {"name"}, "svs_rate_chosen": {"value"}}
        for name, keys in allowed.items():
            text = getattr(out, name)
            try:
                used = {f[1] for f in string.Formatter().parse(text) if f[1]}
            except ValueError as exc:  # an unbalanced brace
                raise ConfigError(f"generation.prompts.{name}: {exc} in {shown(text)}; write a "
                                  "literal brace as {{ or }}") from None
            if used - keys:
                raise ConfigError(f"generation.prompts.{name}: unknown placeholder(s) "
                                  f"{', '.join(sorted(used - keys))}; allowed: "
                                  f"{', '.join(sorted(keys))}")
        return out


DEFAULT_PROMPTS = Prompts(
    persona="You are {description}",
    human_interlocutor=("You are playing a person who is chatting with an AI chatbot. {knows}"
                        "Keep each of your replies to a single sentence."),
    persona_interlocutor=("You are playing {description} {knows}"
                          "Keep each of your replies to a single sentence."),
    knows_persona="The chatbot is role-playing {name}. ",
    query_cot=('Reason step by step, then end your reply with "Answer: (X)", where X is the '
               "letter of the option you choose."),
    query_direct='Reply with nothing but "(X)", where X is the letter of the option you choose.',
    answer_prefix="Answer: (",
    svs_most=("First read all the values of this list. Then reply with the letter of the value "
              "that matters most to you, so that you can rate its importance next."),
    svs_rate_chosen="You picked {value}. Now rate how important it is to you.",
    svs_least=("Next, reply with the letter of the value that goes most against your values or, "
               "if none does, the one that matters least to you, so that you can rate it next."),
    svs_rest="Now rate each of the remaining values.",
)


#: The keys of a prompts file (``generation.prompts_file``): every field of
#: ``config.PromptTemplates``, plus ``openers``.
PROMPTS_FILE_KEYS: tuple[str, ...] = (*PromptTemplates.model_fields, "openers")


def read_prompts_file(path: str | Path) -> tuple[PromptTemplates, dict[str, str]]:
    """The texts of a prompts file (``generation.prompts_file``) and its topic openers.

    The file is a YAML mapping with every key of :data:`PROMPTS_FILE_KEYS`: the texts of
    :class:`~stickrole_utils.config.PromptTemplates` (strings), ``descriptions``
    (questionnaire -> instructions) and ``openers`` (topic -> opening text), both mappings that may
    be empty. Nothing falls back on stickrole's own wording, so a replication cannot mix the
    two unnoticed.

    Raises
    ------
    ConfigError
        Missing or unreadable file, a missing or unknown key, a value of the wrong type: one
        line naming the file and the key.
    """
    path = Path(path)
    data = read_yaml(path, "prompts file", ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a prompts file is a mapping of the keys "
                          f"{', '.join(PROMPTS_FILE_KEYS)}; got {type(data).__name__}")
    missing = [k for k in PROMPTS_FILE_KEYS if k not in data]
    if missing:
        raise ConfigError(f"{path}: missing field(s) {', '.join(missing)}; a prompts file gives "
                          f"every text ({', '.join(PROMPTS_FILE_KEYS)})")
    unknown = sorted(set(data) - set(PROMPTS_FILE_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(map(str, unknown))}; allowed: "
                          f"{', '.join(PROMPTS_FILE_KEYS)}")
    for key in PROMPTS_FILE_KEYS:
        value = data[key]
        if key in ("descriptions", "openers"):
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise ConfigError(f"{path}: {key}: expected a mapping of names to texts; got "
                                  f"{shown(value)}")
        elif not isinstance(value, str):
            raise ConfigError(f"{path}: {key}: expected a text; got {shown(value)}")
    texts = PromptTemplates.model_validate({k: data[k] for k in PromptTemplates.model_fields})
    return texts, dict(data["openers"])


def letters(n: int) -> list[str]:
    """Option letters: ``A``..``Z`` then ``a``..``z``.

    >>> letters(3)
    ['A', 'B', 'C']
    >>> letters(28)[-2:]
    ['a', 'b']
    """
    pool = string.ascii_uppercase + string.ascii_lowercase
    if n > len(pool):
        raise ConfigError(f"at most {len(pool)} options can be lettered; got {n}")
    return list(pool[:n])


def format_options(options: list[str]) -> str:
    """Options in display order as ``"\\n(A) text\\n(B) text..."``.

    >>> format_options(["yes", "no"])
    '\\n(A) yes\\n(B) no'
    """
    return "".join(f"\n({letter}) {text}" for letter, text in zip(letters(len(options)), options, strict=False))


def item_message(description: str, item_text: str, options: list[str], query: str) -> str:
    """The user turn asking one item: description, item, lettered options, instruction."""
    head = f"{description}\n\n" if description else ""
    return f"{head}{item_text}{format_options(options)}\n{query}"


def alternate_roles(texts: list[str], last: str = "user") -> list[Message]:
    """Give a list of turns alternating roles so that the final one has role ``last``.

    >>> [m["role"] for m in alternate_roles(["a", "b", "c"])]
    ['user', 'assistant', 'user']
    >>> [m["role"] for m in alternate_roles(["a", "b"])]
    ['assistant', 'user']
    """
    other = {"user": "assistant", "assistant": "user"}[last]
    n = len(texts)
    return [{"role": last if (n - 1 - i) % 2 == 0 else other, "content": t}
            for i, t in enumerate(texts)]


def with_persona(setting: str, messages: list[Message], placement: str = "system",
                 turn: str = "merged") -> list[Message]:
    """Put the persona/role-setting text in front of a conversation.

    ``system``: a system message; a conversation that then starts with the assistant gets an
    empty user turn first (the original does the same). ``user``: with ``turn="merged"``
    (stickrole's way), merged into the first user turn (or a user turn of its own when the
    conversation starts with the assistant); with ``turn="separate"`` (the original's way), a
    user turn of its own, followed by an assistant ``"OK"`` when the conversation starts with a
    user turn. An empty ``setting`` (a persona-less participant) adds nothing.

    >>> with_persona("You are X.", [{"role": "user", "content": "Hi"}], "user")
    [{'role': 'user', 'content': 'You are X.\\n\\nHi'}]
    >>> [m["content"] for m in with_persona("You are X.", alternate_roles(["Hi", "Yo", "Q"]),
    ...                                     "user", "separate")]
    ['You are X.', 'OK', 'Hi', 'Yo', 'Q']
    """
    msgs = [dict(m) for m in messages]
    if not setting:
        return msgs
    if placement == "system":
        if msgs and msgs[0]["role"] == "assistant":
            msgs.insert(0, {"role": "user", "content": ""})
        return [{"role": "system", "content": setting}, *msgs]
    if placement != "user":
        raise ConfigError(f"persona placement must be system or user; got {placement!r}")
    if turn not in ("merged", "separate"):
        raise ConfigError(f"persona turn must be merged or separate; got {turn!r}")
    if msgs and msgs[0]["role"] == "user" and turn == "merged":
        msgs[0]["content"] = f"{setting}\n\n{msgs[0]['content']}" if msgs[0]["content"] else setting
        return msgs
    if msgs and msgs[0]["role"] == "user":
        return [{"role": "user", "content": setting}, {"role": "assistant", "content": PERSONA_ACK},
                *msgs]
    return [{"role": "user", "content": setting}, *msgs]
