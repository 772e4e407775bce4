"""Context chunks: what each persona hears before the questionnaire.

A chunk (``config.ChunkSpec``) is no conversation, a text from a JSONL corpus (persona i gets
text i; the original's Reddit chunks), or a topic opener shared by all personas; the opener is
followed by a simulated conversation with a human or persona interlocutor (``administer``).
The leaderboard's nine chunks are presets (docs/method.md, "Protocol").
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import CHUNK_PRESETS, ChunkSpec, expand_chunk
from ..errors import ConfigError, DataError, ParseError, shown
from ..io import read_jsonl
from .instruments import INSTRUMENTS
from .populations import Persona, derangement, read_persona_file

__all__ = [
    "TOPIC_OPENERS",
    "CHUNK_PRESETS",
    "ChunkContext",
    "resolve_chunk",
    "read_corpus",
    "chunk_contexts",
    "find_data_file",
    "describe_context",
]

#: Conversation openers by topic (chess is the move itself; the rest are worded for stickrole).
TOPIC_OPENERS: dict[str, str] = {
    "chess": "1. e4",
    "grammar": ("Could you check the grammar of this sentence?\n"
                "While Tom were waiting for his sister, there dog started barking at a strangers."),
    "joke": "Can you tell me a joke?",
    "poem": ("Let's write a poem together, one verse each. You write the first verse, I'll add "
             "the second, and so on."),
    "history": "Why does the battle of Hastings matter? Please answer in two sentences.",
}

def resolve_chunk(spec: str | ChunkSpec, where: str = "generation.chunks",
                  openers: Mapping[str, str] | None = None) -> ChunkSpec:
    """A chunk preset name or spec -> a complete, checked :class:`ChunkSpec` (presets expanded by
    :func:`~stickrole_utils.config.expand_chunk`, as a validated config already holds them).

    Raises
    ------
    ConfigError
        Unknown preset, unknown questionnaire, missing corpus or topic (a topic is known when
        :data:`TOPIC_OPENERS` or ``openers``, a prompts file's, has it).

    Examples
    --------
    >>> resolve_chunk("chunk_chess_0").permutation_seed
    'leaderboard_chess_0'
    """
    try:
        spec = ChunkSpec.model_validate(expand_chunk(spec))
    except ValueError as exc:
        raise ConfigError(f"{where}: {str(exc).splitlines()[-1].strip()}") from None
    if spec.questionnaire not in INSTRUMENTS:
        raise ConfigError(f"{where} {spec.label}: unknown questionnaire {spec.questionnaire!r}; "
                          f"allowed: {', '.join(INSTRUMENTS)}")
    if spec.context == "corpus" and not spec.corpus:
        raise ConfigError(f"{where} {spec.label}: context corpus needs 'corpus' (a JSONL path)")
    if spec.context == "topic" and not (spec.opener or spec.topic):
        raise ConfigError(f"{where} {spec.label}: context topic needs 'topic' or 'opener'")
    topics = {**TOPIC_OPENERS, **(openers or {})}
    if spec.context == "topic" and not spec.opener and spec.topic not in topics:
        raise ConfigError(f"{where} {spec.label}: unknown topic {spec.topic!r}; topics: "
                          f"{', '.join(topics)} (or give 'opener' text)")
    return spec


def find_data_file(rel: str, data_path: str | Path | None, base_dir: str | Path | None = None,
                   what: str = "file") -> Path:
    """Locate a file given in params: absolute, under ``data_path``, or under ``base_dir``."""
    p = Path(rel).expanduser()
    candidates = [p] if p.is_absolute() else [
        *( [Path(data_path) / p] if data_path else []),
        *( [Path(base_dir) / p] if base_dir else []),
    ]
    for c in candidates:
        if c.is_file():
            return c
    tried = ", ".join(str(c) for c in candidates) or str(p)
    hint = "" if data_path else " (data_path is not set; point it to the original's data directory)"
    raise ConfigError(f"{what} {rel!r} not found (looked in: {tried}){hint}")


def read_corpus(path: str | Path, field: str = "content") -> list[str]:
    """Texts of a JSONL corpus, one per line, in file order.

    Raises
    ------
    ParseError
        A line that is not a JSON object or lacks ``field`` (file and line number named).
    """
    path = Path(path)
    texts = []
    for lineno, obj in enumerate(read_jsonl(path, "corpus", ParseError), 1):
        if field not in obj:
            raise ParseError(f"{path}:{lineno}: expected a JSON object with field {field!r}")
        if not isinstance(obj[field], str):
            raise ParseError(f"{path}:{lineno}: field {field!r} must be text; got "
                             f"{shown(obj[field])}")
        texts.append(obj[field])
    return texts


@dataclass(frozen=True)
class ChunkContext:
    """What persona i hears in a chunk: the opener (None: no conversation) and the interlocutor
    (None: the simulated human)."""

    opener: str | None
    interlocutor: Persona | None


def chunk_contexts(chunk: ChunkSpec, personas: list[Persona],
                   data_path: str | Path | None = None,
                   base_dir: str | Path | None = None,
                   openers: Mapping[str, str] | None = None) -> list[ChunkContext]:
    """Per-persona openers and interlocutors of a chunk, in population order.

    Parameters
    ----------
    chunk : ChunkSpec
        A resolved chunk.
    personas : list of Persona
        The population (persona i gets corpus text i and interlocutor i).
    data_path, base_dir : path, optional
        Where relative corpus/interlocutor paths are looked up.
    openers : mapping, optional
        Opening texts by topic replacing the built-in ones (a prompts file's ``openers``).

    Raises
    ------
    DataError
        A corpus or interlocutor list shorter than the population.
    """
    n = len(personas)
    if chunk.context == "none":
        return [ChunkContext(None, None) for _ in personas]
    if chunk.context == "corpus":
        corpus_path = find_data_file(chunk.corpus or "", data_path, base_dir, "corpus")
        texts = read_corpus(corpus_path, chunk.corpus_field)
        if len(texts) < n:
            raise DataError(f"{corpus_path}: {len(texts)} texts for {n} personas; persona i gets "
                            "text i, so the corpus needs at least one text per persona")
        openers: list[str] = texts[:n]
    else:
        opener = chunk.opener or {**TOPIC_OPENERS, **(openers or {})}[chunk.topic or ""]
        openers = [opener] * n
    if chunk.interlocutor == "human":
        partners: list[Persona | None] = [None] * n
    elif chunk.interlocutors_file:
        path = find_data_file(chunk.interlocutors_file, data_path, base_dir, "interlocutors file")
        people = read_persona_file(path)
        if len(people) < n:
            raise DataError(f"{path}: {len(people)} interlocutors for {n} personas")
        partners = list(people[:n])
    else:
        order = derangement(n, chunk.interlocutor_seed)
        partners = [personas[j] for j in order]
    return [ChunkContext(o, p) for o, p in zip(openers, partners, strict=True)]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def describe_context(chunk: ChunkSpec, contexts: list[ChunkContext],
                     n_messages: int) -> dict[str, object]:
    """What a chunk's units hear before the questionnaire, as a record for the manifest.

    Returns
    -------
    dict
        ``questionnaire``; ``context`` (``none``, ``corpus``, ``topic``); ``topic``;
        ``n_messages`` (simulated messages after the opener, 0 without a conversation);
        ``openers`` (distinct opening texts), ``opener_sha256`` (sha256 of the opening texts in
        population order, one per line; empty without a conversation), ``opener_start`` (the
        first 60 characters of the first opener); ``corpus`` and ``corpus_sha256`` (the file
        and its bytes' sha256, corpus chunks); ``interlocutor`` (``human``, ``persona``, or
        ``file`` with ``interlocutors_file``), ``interlocutor_seed``, ``interlocutors``
        (distinct interlocutors).

    Examples
    --------
    >>> from stickrole_utils.config import ChunkSpec
    >>> rec = describe_context(ChunkSpec(label="c", context="topic", opener="Hi"),
    ...                        [ChunkContext("Hi", None)] * 2, 3)
    >>> rec["n_messages"], rec["openers"], rec["opener_sha256"][:12], rec["interlocutor"]
    (3, 1, 'a6b4aa2312f4', 'human')
    """
    openers = [c.opener for c in contexts if c.opener is not None]
    talk = chunk.context != "none" and bool(openers)
    if chunk.interlocutor == "human" or not talk:
        who = "human" if talk else ""
    else:
        who = "file" if chunk.interlocutors_file else "persona"
    record: dict[str, object] = {
        "questionnaire": chunk.questionnaire,
        "context": chunk.context,
        "topic": chunk.topic or "",
        "n_messages": n_messages if talk else 0,
        "openers": len(set(openers)),
        "opener_sha256": _sha256("\n".join(openers)) if talk else "",
        "opener_start": openers[0][:60] if talk else "",
        "interlocutor": who,
        "interlocutor_seed": chunk.interlocutor_seed if who == "persona" else None,
        "interlocutors_file": chunk.interlocutors_file if who == "file" else None,
        "interlocutors": len({c.interlocutor.id for c in contexts if c.interlocutor}),
    }
    if chunk.context == "corpus" and chunk.corpus:
        path = Path(chunk.corpus)
        record["corpus"] = str(path)
        record["corpus_sha256"] = (hashlib.sha256(path.read_bytes()).hexdigest()
                                   if path.is_file() else "")
    return record
