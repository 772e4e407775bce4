"""Chunks: presets, corpora, interlocutors."""

import json

import pytest

from stickrole_utils.config import ChunkSpec
from stickrole_utils.design.chunks import LEADERBOARD_CHUNKS
from stickrole_utils.design.contexts import (
    CHUNK_PRESETS,
    chunk_contexts,
    read_corpus,
    resolve_chunk,
)
from stickrole_utils.design.populations import load_population
from stickrole_utils.errors import ConfigError, DataError, ParseError


def test_leaderboard_chunks_are_presets():
    assert set(LEADERBOARD_CHUNKS) <= set(CHUNK_PRESETS)
    assert resolve_chunk("chunk_svs_no_conv").questionnaire == "svs57"
    assert resolve_chunk("chunk_3").permutation_seed == "leaderboard_3"


def test_preset_override():
    spec = resolve_chunk(ChunkSpec(label="chess_b", preset="chunk_chess_0", interlocutor_seed=5))
    assert spec.topic == "chess" and spec.interlocutor_seed == 5 and spec.label == "chess_b"
    with pytest.raises(ConfigError, match="unknown topic"):
        resolve_chunk(ChunkSpec(label="x", context="topic", topic="cooking"))


def test_corpus_persona_i_gets_text_i(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(json.dumps({"content": f"text {i}"}) for i in range(5)) + "\n")
    pop = load_population("real_world_people")[:3]
    ctx = chunk_contexts(ChunkSpec(label="c", context="corpus", corpus=str(path)), pop)
    assert [c.opener for c in ctx] == ["text 0", "text 1", "text 2"]
    assert all(c.interlocutor is None for c in ctx)
    with pytest.raises(DataError, match="2 texts for 3 personas"):
        short = tmp_path / "s.jsonl"
        short.write_text('{"content": "a"}\n{"content": "b"}\n')
        chunk_contexts(ChunkSpec(label="c", context="corpus", corpus=str(short)), pop)


def test_malformed_jsonl_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"content": "ok"}\n{"content": oops}\n')
    with pytest.raises(ParseError, match=r"bad.jsonl:2: malformed JSON"):
        read_corpus(path)
    path.write_text('{"text": "no content field"}\n')
    with pytest.raises(ParseError, match="field 'content'"):
        read_corpus(path)


def test_persona_interlocutor_is_a_derangement():
    pop = load_population("real_world_people")[:6]
    ctx = chunk_contexts(resolve_chunk("chunk_chess_0"), pop)
    assert all(c.opener == "1. e4" for c in ctx)
    assert all(c.interlocutor is not None and c.interlocutor.id != p.id for c, p in zip(ctx, pop, strict=False))
