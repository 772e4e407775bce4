"""Context chunks as settings: the chunk spec, the built-in presets, and their expansion.

A params file names chunks by preset (``chunk_chess_0``) or as mappings that may start from a
preset (``{label: donation_grammar, preset: chunk_grammar, questionnaire: tolkien_donation}``).
:func:`expand_chunk` is the one place where a preset becomes a complete :class:`ChunkSpec`:
:class:`~stickrole_utils.config.GenerationConfig` applies it when it is validated, so a
validated config holds only complete specs, its dump names every field, and reading the dump
back gives the same chunks (a grid point's ``params.json`` runs what its params file said).
What a chunk's names mean (topic openers, corpus files, questionnaires) is checked by
:func:`stickrole_utils.design.resolve_chunk` and the generation preflight.
"""

from __future__ import annotations

from typing import Any, Literal

from .base import Strict

__all__ = ["ChunkSpec", "CHUNK_PRESETS", "expand_chunk"]



class ChunkSpec(Strict):
    """One context chunk: what precedes the questionnaire for every persona.

    In a params file a chunk is a preset name (:data:`CHUNK_PRESETS`: ``chunk_no_conv``,
    ``chunk_0`` .. ``chunk_4``, ``chunk_chess_0``, ``chunk_grammar_1``, ``chunk_svs_no_conv``,
    ``chunk_grammar``, ``chunk_joke``, ``chunk_poem``, ``chunk_history``, ``chunk_chess``) or a
    mapping with these fields; :func:`expand_chunk` turns either into a complete spec (every field
    explicit), which is what a validated :class:`~stickrole_utils.config.GenerationConfig` holds.
    """

    label: str
    """Chunk label written to the answers table's ``chunk`` column (e.g. ``chunk_0``)."""

    preset: str | None = None
    """The built-in preset the chunk started from (the fields given beside it override the
    preset's); kept after expansion as a record."""

    questionnaire: str = "pvq40"
    """Instrument asked after the conversation: ``pvq40``, ``svs57``, ``religion``,
    ``tolkien_donation``, ``tolkien_bag``."""

    context: Literal["none", "corpus", "topic"] = "none"
    """``none``: no conversation; ``corpus``: persona i's conversation opens with text i of a
    JSONL corpus; ``topic``: every conversation opens with the same topic opener."""

    corpus: str | None = None
    """JSONL file (one object per line) for ``context: corpus``; relative paths are looked up in
    ``data_path`` first, then next to the params file."""

    corpus_field: str = "content"
    """Field of each JSONL object holding the opening text."""

    topic: str | None = None
    """Built-in topic opener for ``context: topic`` (``chess``, ``grammar``, ``joke``, ``poem``,
    ``history``); or use ``opener`` for your own text."""

    opener: str | None = None
    """Literal opening text for ``context: topic`` (overrides ``topic``)."""

    interlocutor: Literal["human", "persona"] = "human"
    """Who the model simulates as the other speaker: a generic human using a chatbot, or another
    persona of the population (a seeded derangement: nobody talks to themself)."""

    interlocutors_file: str | None = None
    """Original-format interlocutors.json (list in population order) instead of the derangement;
    relative paths are looked up in ``data_path`` first."""

    interlocutor_seed: int = 0
    """Seed of the interlocutor derangement (0 is a valid seed)."""

    seed: str | None = None
    """Option-permutation seed string; ``None``: ``"leaderboard_" + label without "chunk_"``
    (the original's convention, e.g. ``leaderboard_chess_0``)."""

    @property
    def permutation_seed(self) -> str:
        """The seed string used for option permutations."""
        if self.seed is not None:
            return self.seed
        stem = self.label[len("chunk_"):] if self.label.startswith("chunk_") else self.label
        return f"leaderboard_{stem}"


_REDDIT = "contexts/leaderboard_reddit_chunks/chunk_{k}.jsonl"

#: Built-in chunks: the leaderboard's nine (docs/method.md, "Protocol") and the paper's topic
#: chunks (``chunk_grammar`` .. ``chunk_chess``: a topic opener and a simulated human).
CHUNK_PRESETS: dict[str, ChunkSpec] = {
    "chunk_no_conv": ChunkSpec(label="chunk_no_conv"),
    **{f"chunk_{k}": ChunkSpec(label=f"chunk_{k}", context="corpus", corpus=_REDDIT.format(k=k))
       for k in range(5)},
    "chunk_chess_0": ChunkSpec(label="chunk_chess_0", context="topic", topic="chess",
                               interlocutor="persona", interlocutor_seed=0),
    "chunk_grammar_1": ChunkSpec(label="chunk_grammar_1", context="topic", topic="grammar",
                                 interlocutor="persona", interlocutor_seed=1),
    "chunk_svs_no_conv": ChunkSpec(label="chunk_svs_no_conv", questionnaire="svs57"),
    **{f"chunk_{t}": ChunkSpec(label=f"chunk_{t}", context="topic", topic=t)
       for t in ("joke", "poem", "history", "chess", "grammar")},
}


def expand_chunk(chunk: Any) -> Any:
    """A chunk as written in params (a preset name, a mapping or a :class:`ChunkSpec`, possibly
    naming a ``preset``) -> the fields of the complete chunk: the preset's fields, overridden by
    those given, with ``preset`` kept as a record. Anything else is returned as is (the
    validation of :class:`ChunkSpec` then names what is wrong).

    Expanding twice is expanding once: every field of the result is given, so the preset
    contributes nothing more.

    Raises
    ------
    ValueError
        An unknown preset name (the message lists the presets).

    Examples
    --------
    >>> spec = ChunkSpec.model_validate(expand_chunk("chunk_chess_0"))
    >>> spec.context, spec.topic, spec.interlocutor, spec.preset
    ('topic', 'chess', 'persona', 'chunk_chess_0')
    >>> over = expand_chunk({"label": "donation_joke", "preset": "chunk_joke",
    ...                      "questionnaire": "tolkien_donation"})
    >>> over["context"], over["topic"], over["questionnaire"]
    ('topic', 'joke', 'tolkien_donation')
    >>> expand_chunk(expand_chunk("chunk_0")) == expand_chunk("chunk_0")
    True
    """
    what = "chunk preset"
    if isinstance(chunk, str):
        given: dict[str, Any] = {"preset": chunk}
        what = "chunk"
    elif isinstance(chunk, ChunkSpec):
        given = chunk.model_dump(exclude_unset=True)
    elif isinstance(chunk, dict):
        given = dict(chunk)
    else:
        return chunk
    name = given.get("preset")
    if name is None:
        return given
    if not isinstance(name, str) or name not in CHUNK_PRESETS:
        raise ValueError(f"unknown {what} {name!r}; presets: {', '.join(CHUNK_PRESETS)} "
                         "(or give a mapping with label, context, ...)")
    fields = CHUNK_PRESETS[name].model_dump()
    fields.update(given)
    return fields
