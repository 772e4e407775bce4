"""Option orders and call seeds: which order a unit's options are shown in, and the sampling
seed of each model call (``docs/method.md``, Protocol).

Everything here is a pure function of the params and the unit's names, so a run's option orders
and seeds do not depend on the order in which units or calls are made.
"""

from __future__ import annotations

import hashlib
import math
import random

import numpy as np

from ..config import ChunkSpec, GenerationConfig
from ..design.instruments import get_instrument
from ..design.populations import Persona

__all__ = [
    "original_permutations",
    "per_item_permutations",
    "unit_permutations",
    "call_seed",
]


def _unrank(index: int, n: int) -> tuple[int, ...]:
    """The ``index``-th permutation of range(n) in ``itertools.permutations`` order."""
    pool = list(range(n))
    out = []
    for k in range(n, 0, -1):
        f = math.factorial(k - 1)
        q, index = divmod(index, f)
        out.append(pool.pop(q))
    return tuple(out)


def original_permutations(seed: str, n_options: int, n_items: int,
                          n_personas: int) -> list[list[tuple[int, ...]]]:
    """The original's option orders, per persona and item, bug included (``docs/method.md``, Protocol, step 7).

    The original seeds Python's ``random`` with the seed string, draws
    ``k = n_items * n_personas`` permutations with ``random.choices`` from the list of all
    ``itertools.permutations(range(n_options))`` and gives persona p the draws ``p .. p+n_items-1``
    (overlapping windows, instead of ``p*n_items ..``). Reproduced here without building the list
    of all permutations: ``random.choices`` picks ``floor(random() * n!)``, and that index is
    unranked in lexicographic (``itertools``) order.

    Parameters
    ----------
    seed : str
        Seed string, e.g. ``"leaderboard_0"``.
    n_options, n_items, n_personas : int
        Options per item, items in the full instrument, personas in the full population.

    Returns
    -------
    list of list of tuple
        ``perms[p][k]``: display position j shows original option ``perms[p][k][j]``.

    Examples
    --------
    >>> import itertools, random
    >>> rnd = random.Random("leaderboard_0")
    >>> ref = rnd.choices(list(itertools.permutations(range(6))), k=40 * 3)
    >>> original_permutations("leaderboard_0", 6, 40, 3)[2] == ref[2:42]
    True
    """
    rnd = random.Random(seed)
    n_perm = float(math.factorial(n_options))
    needed = n_items + n_personas - 1
    draws = [_unrank(math.floor(rnd.random() * n_perm), n_options) for _ in range(needed)]
    return [draws[p:p + n_items] for p in range(n_personas)]


def _stable_int(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def per_item_permutations(seed: str, persona_id: str, questionnaire: str, n_options: int,
                          n_items: int) -> list[tuple[int, ...]]:
    """One independent uniformly random option order per item for one persona.

    ``numpy.random.default_rng`` seeded with sha256(seed, persona id, questionnaire); item k's
    order does not depend on which other items or personas are asked.
    """
    rng = np.random.default_rng(_stable_int(seed, persona_id, questionnaire))
    return [tuple(int(x) for x in rng.permutation(n_options)) for _ in range(n_items)]


def unit_permutations(gen: GenerationConfig, chunk: ChunkSpec, persona: Persona,
                      persona_index: int, n_population: int,
                      questionnaire: str) -> dict[int, tuple[int, ...]]:
    """Item number -> option order for one unit, per ``gen.permutation_scheme``."""
    inst = get_instrument(questionnaire)
    n_opt, n_items = inst.n_options, inst.n_items
    if not gen.permute_options:
        return {i: tuple(range(n_opt)) for i in range(1, n_items + 1)}
    if gen.permutation_scheme == "original":
        perms = original_permutations(chunk.permutation_seed, n_opt, n_items,
                                      n_population)[persona_index]
    else:
        perms = per_item_permutations(chunk.permutation_seed, persona.id, questionnaire, n_opt,
                                      n_items)
    return {i: perms[i - 1] for i in range(1, n_items + 1)}


def call_seed(base: int, *parts: object) -> int:
    """A 31-bit sampling seed for one model call, stable under reordering of calls."""
    return _stable_int(base, *parts) % (2**31 - 1)
