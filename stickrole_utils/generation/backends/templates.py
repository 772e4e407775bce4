"""Prompt text for base (non-chat) models: a chat rendered as a plain-text transcript with labelled
turns (``template: labelled`` in a model entry).

A base model has no chat template; it continues text. :func:`labelled_prompt` writes the role
setting (system text) first, as a paragraph of its own, then one line per turn, ``<label>: <text>``,
and ends with the reply's label left open, so the model's continuation is the reply::

    You are ... (the system text)

    Speaker A: Hi! Shall we play chess?
    Speaker B: Gladly.
    Speaker A: (the question)
    Speaker B:

User turns are labelled :data:`USER_LABEL`, assistant turns :data:`REPLY_LABEL` (the labels are
stickrole's own wording and do not name a role, so they read the same when the model plays the
interlocutor and the roles are flipped). A generated reply ends where the model starts the next
turn: the text is cut at the first :data:`STOP_STRINGS` (``"\\n<label>:"``), see :func:`cut_reply`.
In ``logprob`` mode the answer prefix follows the open label after one space.

An empty turn (``""``) is left out: chat templates need the empty user turn that the persona
message is followed by when a conversation starts with the assistant; a transcript does not. A
turn holding only whitespace (an empty simulated reply) keeps its label.
"""

from __future__ import annotations

__all__ = [
    "TEMPLATES",
    "USER_LABEL",
    "REPLY_LABEL",
    "STOP_STRINGS",
    "labelled_prompt",
    "cut_reply",
]

Message = dict[str, str]

#: How a model's messages become its prompt: ``chat`` (its chat template) or ``labelled``.
TEMPLATES: tuple[str, ...] = ("chat", "labelled")

#: Label of user turns in a labelled transcript.
USER_LABEL = "Speaker A"
#: Label of assistant turns (and of the open reply) in a labelled transcript.
REPLY_LABEL = "Speaker B"
#: Where a generated reply ends: the start of a new labelled line.
STOP_STRINGS: tuple[str, ...] = (f"\n{USER_LABEL}:", f"\n{REPLY_LABEL}:")

_LABELS = {"user": USER_LABEL, "assistant": REPLY_LABEL}


def _turn(label: str, text: str) -> str:
    text = text.strip()
    return f"{label}: {text}\n" if text else f"{label}:\n"


def labelled_prompt(messages: list[Message], suffix: str = "") -> str:
    """The labelled plain-text transcript of ``messages``, ending with the open reply label
    (followed by ``" " + suffix`` when a suffix, e.g. the answer prefix, is given).

    Parameters
    ----------
    messages : list of {"role", "content"}
        Roles ``system`` (a paragraph without label), ``user`` and ``assistant``.
    suffix : str
        Text the reply starts with (``logprob`` mode's answer prefix); ``""`` for none.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        A role other than system, user or assistant.

    Examples
    --------
    >>> print(labelled_prompt([{"role": "system", "content": "You are Ann."},
    ...                        {"role": "user", "content": ""},
    ...                        {"role": "assistant", "content": "Hello."},
    ...                        {"role": "user", "content": "Which one?\\nA. tea\\nB. coffee"}],
    ...                       suffix="Answer: ("))
    You are Ann.
    <BLANKLINE>
    Speaker B: Hello.
    Speaker A: Which one?
    A. tea
    B. coffee
    Speaker B: Answer: (
    """
    parts = []
    for m in messages:
        role, text = m.get("role"), m.get("content", "")
        if role == "system":
            if text.strip():
                parts.append(f"{text.strip()}\n\n")
        elif role in _LABELS:
            if text != "":
                parts.append(_turn(_LABELS[role], text))
        else:
            raise ValueError(f"a labelled transcript has system, user and assistant turns; got "
                             f"role {role!r}")
    prompt = "".join(parts) + f"{REPLY_LABEL}:"
    return f"{prompt} {suffix}" if suffix else prompt


def cut_reply(text: str) -> str:
    """``text`` up to the first :data:`STOP_STRINGS` (where the model began the next turn).

    >>> cut_reply(" Fine, thanks.\\nSpeaker A: And you?")
    ' Fine, thanks.'
    >>> cut_reply("No label here.")
    'No label here.'
    """
    cut = min((i for i in (text.find(s) for s in STOP_STRINGS) if i >= 0), default=len(text))
    return text[:cut]
