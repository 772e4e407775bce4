"""Each speaker's history in a KV sequence of its own, so a conversation evaluates its context
once per speaker.

In a simulated conversation the persona's and the interlocutor's prompts differ from their first
tokens (system message, role order), so a single KV sequence reusing the longest common prefix
re-evaluates the whole context at every turn (three times with ``n_messages: 3``).
:class:`SpeakerSlots` keeps the history (prompt plus generated tokens, as evaluated) of each
speaker named by :meth:`LlamaCppBackend.speak_as
<stickrole_utils.generation.backends.llama_cpp.LlamaCppBackend.speak_as>` in a KV sequence of
its own, and brings the current speaker's history into sequence 0, the one llama-cpp-python's
``create_completion`` and ``eval`` work on. There the usual longest-common-prefix reuse applies:
a speaker's next turn evaluates only what its prompt does not share token by token with that
speaker's history (the other speaker's reply, the turn markers), and the items after the
conversation, asked as the persona, reuse the persona's history.

A swap relabels cells (``llama_memory_seq_cp`` / ``seq_rm`` in the unified KV cache: no
evaluation, no tensor copy) and rewrites the ``Llama`` object's record of sequence 0
(``input_ids``, ``n_tokens``). Kept histories occupy KV cells: when a prompt needs room, they are
dropped, least recently used first (:meth:`SpeakerSlots.make_room`), which costs re-evaluation
later, never an answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "lcp",
    "SpeakerSlots",
]


def lcp(a: Any, b: Any) -> int:
    """Length of the longest common prefix of two token sequences.

    >>> lcp([1, 2, 3], [1, 2, 4, 5]), lcp([], [1]), lcp([7, 8], [7, 8])
    (2, 0, 2)
    """
    a, b = np.asarray(a), np.asarray(b)
    m = min(len(a), len(b))
    diff = np.nonzero(a[:m] != b[:m])[0]
    return int(diff[0]) if len(diff) else m


_EMPTY = np.zeros(0, dtype=np.int64)


class SpeakerSlots:
    """Speakers' histories of a :class:`~stickrole_utils.generation.backends.llama_cpp.
    LlamaCppBackend`: the current speaker's in sequence 0, the others' in sequences
    ``first_id .. first_id + n_slots - 1`` (``first_id + n_slots`` is scratch for swaps).

    Parameters
    ----------
    backend : LlamaCppBackend
        Its ``llm`` (the ``Llama`` object, whose ``input_ids[:n_tokens]`` are sequence 0's
        tokens), ``_lib`` and ``opts.n_ctx`` are used.
    first_id : int
        First KV sequence id free for kept histories.
    n_slots : int
        How many speakers besides the current one keep a history (0 disables).
    """

    def __init__(self, backend: Any, first_id: int, n_slots: int = 1):
        self.backend = backend
        self.free = list(range(first_id, first_id + n_slots))
        self.scratch = first_id + n_slots
        self.current: str | None = None  # the speaker whose history is in sequence 0
        self.where: dict[str, int] = {}  # other speakers -> their KV sequence
        self.held: dict[int, np.ndarray] = {}  # KV sequence -> tokens it holds
        self.last_used: dict[str, int] = {}
        self._clock = 0
        self.swaps = 0

    @property
    def n_seq(self) -> int:
        """KV sequences needed besides sequence 0 and the parallel ones (slots + scratch)."""
        return len(self.free) + len(self.where) + 1

    def held_cells(self) -> int:
        """KV cells taken by the other speakers' histories."""
        return int(sum(len(t) for t in self.held.values()))

    def _seq0(self) -> np.ndarray:
        llm = self.backend.llm
        return np.array(llm.input_ids[: llm.n_tokens], dtype=np.int64)

    def select(self, speaker: str) -> None:
        """Make ``speaker``'s history the one in sequence 0 (an unknown speaker starts with an
        empty one); the history it displaces is kept in a sequence of its own, dropping the
        least recently used one when every slot is taken."""
        self._clock += 1
        self.last_used[speaker] = self._clock
        if speaker == self.current:
            return
        if self.current is None or (not self.free and not self.where):
            # the first speaker adopts what sequence 0 holds; without slots (disabled) every
            # speaker shares sequence 0, as a single-sequence cache does
            self.current = speaker
            return
        lib, llm = self.backend._lib, self.backend.llm
        mem = llm._ctx.memory
        seq0 = self._seq0()
        if speaker in self.where:
            k = self.where.pop(speaker)
            incoming = self.held.pop(k)
            tmp = self.scratch
            lib.llama_memory_seq_rm(mem, tmp, -1, -1)
            lib.llama_memory_seq_cp(mem, 0, tmp, -1, -1)
            lib.llama_memory_seq_rm(mem, 0, -1, -1)
            lib.llama_memory_seq_cp(mem, k, 0, -1, -1)
            lib.llama_memory_seq_rm(mem, k, -1, -1)
            lib.llama_memory_seq_cp(mem, tmp, k, -1, -1)
            lib.llama_memory_seq_rm(mem, tmp, -1, -1)
        else:
            if not self.free:  # every slot taken: drop the least recently used history
                old = min(self.where, key=lambda s: self.last_used.get(s, -1))
                self._drop(old)
            k = self.free.pop(0)
            incoming = _EMPTY
            lib.llama_memory_seq_rm(mem, k, -1, -1)
            lib.llama_memory_seq_cp(mem, 0, k, -1, -1)
            lib.llama_memory_seq_rm(mem, 0, -1, -1)
        self.where[self.current] = k
        self.held[k] = seq0
        llm.input_ids[: len(incoming)] = incoming
        llm.n_tokens = len(incoming)
        llm._requires_eval = True  # the current logits belong to the other history
        self.current = speaker
        self.swaps += 1

    def _drop(self, speaker: str) -> None:
        k = self.where.pop(speaker)
        self.backend._lib.llama_memory_seq_rm(self.backend.llm._ctx.memory, k, -1, -1)
        del self.held[k]
        self.free.append(k)

    def make_room(self, need: int) -> None:
        """Drop kept histories, least recently used first, until ``need`` cells (sequence 0
        and the parallel sequences at their largest) and the kept ones fit ``n_ctx``."""
        n_ctx = self.backend.opts.n_ctx
        for speaker in sorted(self.where, key=lambda s: self.last_used.get(s, -1)):
            if need + self.held_cells() <= n_ctx:
                return
            self._drop(speaker)

    def clear(self) -> None:
        """Drop every kept history (sequence 0 stays as it is)."""
        for speaker in list(self.where):
            self._drop(speaker)
