"""Per-speaker KV sequences (``backends/llama_kv.py``) on a fake KV cache: which history sequence
0 holds, what a turn evaluates, room made by dropping kept histories. The same on a real model:
tests/test_llama_speakers.py."""

from types import SimpleNamespace

import numpy as np

from stickrole_utils.generation.backends.llama_kv import SpeakerSlots

# ------------------------------------------------------------------------------------------
# bookkeeping, on a fake KV cache: cells are (seq, pos, token)
# ------------------------------------------------------------------------------------------


class _FakeKV:
    def __init__(self):
        self.cells: set[tuple[int, int, int]] = set()

    def llama_memory_seq_rm(self, mem, seq, p0, p1):
        self.cells = {c for c in self.cells if c[0] != seq or c[1] < max(p0, 0)}
        return True

    def llama_memory_seq_cp(self, mem, src, dst, p0, p1):
        self.cells |= {(dst, p, t) for s, p, t in self.cells if s == src}

    def seq(self, k):
        return [t for _, _, t in sorted(c for c in self.cells if c[0] == k)]


def _fake_backend(n_ctx=100):
    lib = _FakeKV()
    llm = SimpleNamespace(input_ids=np.zeros(n_ctx, dtype=np.int64), n_tokens=0,
                          _ctx=SimpleNamespace(memory=None), _requires_eval=False)
    backend = SimpleNamespace(_lib=lib, llm=llm, opts=SimpleNamespace(n_ctx=n_ctx))

    def evaluate(tokens):  # what create_completion does to sequence 0: keep the common prefix
        keep = 0
        while (keep < min(llm.n_tokens, len(tokens))
               and llm.input_ids[keep] == tokens[keep]):
            keep += 1
        lib.llama_memory_seq_rm(None, 0, keep, -1)
        lib.cells |= {(0, p, t) for p, t in enumerate(tokens) if p >= keep}
        llm.input_ids[: len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return len(tokens) - keep

    return backend, evaluate


def test_each_speaker_finds_its_own_history():
    backend, evaluate = _fake_backend()
    slots = SpeakerSlots(backend, first_id=5, n_slots=1)
    persona, partner = [1, 10, 11, 12, 13], [1, 20, 21, 22]
    slots.select("persona")
    assert evaluate(persona) == 5
    slots.select("interlocutor")
    assert backend.llm.n_tokens == 0 and backend.llm._requires_eval
    assert evaluate(partner) == 4
    slots.select("persona")
    assert list(backend.llm.input_ids[:5]) == persona
    assert evaluate([*persona, 14, 15]) == 2  # only the new tokens
    assert backend._lib.seq(0) == [*persona, 14, 15] and backend._lib.seq(5) == partner
    slots.select("interlocutor")
    assert evaluate([*partner, 23]) == 1
    assert backend._lib.seq(5) == [*persona, 14, 15]
    assert not any(c[0] == slots.scratch for c in backend._lib.cells)
    assert slots.held_cells() == 7


def test_room_is_made_by_dropping_kept_histories():
    backend, evaluate = _fake_backend(n_ctx=10)
    slots = SpeakerSlots(backend, first_id=3, n_slots=1)
    slots.select("persona")
    evaluate([1, 2, 3, 4, 5, 6])
    slots.select("interlocutor")
    slots.make_room(4)  # 6 kept + 4 fits
    assert slots.held_cells() == 6
    slots.make_room(5)
    assert slots.held_cells() == 0 and backend._lib.seq(3) == []
    slots.select("persona")  # its history is gone: it starts afresh, nothing breaks
    assert backend.llm.n_tokens == 0 and evaluate([1, 2, 3]) == 3


def test_a_third_speaker_displaces_the_least_recent():
    backend, evaluate = _fake_backend()
    slots = SpeakerSlots(backend, first_id=2, n_slots=1)
    for who, toks in (("a", [1, 2]), ("b", [3, 4]), ("c", [5, 6])):
        slots.select(who)
        evaluate(toks)
    assert set(slots.where) == {"b"}  # a was used least recently
    slots.select("b")
    assert list(backend.llm.input_ids[:2]) == [3, 4]


def test_without_slots_every_speaker_shares_sequence_0():
    backend, evaluate = _fake_backend()
    slots = SpeakerSlots(backend, first_id=2, n_slots=0)
    slots.select("persona")
    evaluate([1, 2, 3])
    slots.select("interlocutor")
    assert backend.llm.n_tokens == 3 and slots.swaps == 0


def test_clear_forgets_every_kept_history():
    backend, evaluate = _fake_backend()
    slots = SpeakerSlots(backend, first_id=2, n_slots=1)
    slots.select("persona")
    evaluate([1, 2])
    slots.select("interlocutor")
    evaluate([3])
    slots.clear()
    assert slots.held_cells() == 0 and backend._lib.seq(2) == []
    slots.select("persona")
    assert backend.llm.n_tokens == 0
