"""Chunk order: the one place that says in which order context chunks are listed.

The stability matrix, the metrics' ``chunks`` list, the leaderboard columns and the report's
figures all list chunks in this order (``docs/method.md``, Leaderboard (Cardinal and Ordinal)):
the nine leaderboard chunks in the original's fixed column order, then any other chunk
alphabetically, unless the ``chunks`` setting names an order.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataError

__all__ = ["LEADERBOARD_CHUNKS", "order_chunks"]

#: The nine leaderboard chunks in the original's fixed column order.
LEADERBOARD_CHUNKS: tuple[str, ...] = (
    "chunk_0",
    "chunk_1",
    "chunk_2",
    "chunk_3",
    "chunk_4",
    "chunk_chess_0",
    "chunk_grammar_1",
    "chunk_no_conv",
    "chunk_svs_no_conv",
)


def order_chunks(present: Sequence[str], wanted: Sequence[str] | None = None,
                 source: str = "<answers>") -> list[str]:
    """The chunks ``present``, in the standard order or in the order ``wanted``.

    Parameters
    ----------
    present : sequence of str
        Chunk labels found in the data (duplicates ignored).
    wanted : sequence of str, optional
        The ``chunks`` setting: exactly these chunks, in this order (each must be present).
        ``None`` or empty: the :data:`LEADERBOARD_CHUNKS` present, in that order, then the other
        chunks alphabetically.
    source : str
        Where ``present`` came from (a file name), for the error message.

    Returns
    -------
    list of str

    Raises
    ------
    DataError
        ``wanted`` names a chunk that is not present.

    Examples
    --------
    >>> order_chunks(["chunk_x", "chunk_no_conv", "chunk_0", "chunk_a"])
    ['chunk_0', 'chunk_no_conv', 'chunk_a', 'chunk_x']
    >>> order_chunks(["chunk_0", "chunk_1", "chunk_2"], wanted=["chunk_2", "chunk_0"])
    ['chunk_2', 'chunk_0']
    """
    present = list(dict.fromkeys(present))
    if wanted:
        absent = [c for c in wanted if c not in present]
        if absent:
            raise DataError(
                f"{source}: the chunks setting names chunk(s) {', '.join(map(repr, absent))} "
                f"that are not there; chunks present: {', '.join(present)}"
            )
        return list(dict.fromkeys(wanted))
    known = [c for c in LEADERBOARD_CHUNKS if c in present]
    return known + sorted(set(present) - set(LEADERBOARD_CHUNKS))
