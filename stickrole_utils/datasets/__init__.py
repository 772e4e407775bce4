"""Synthetic answers tables with known truth, for tests, doctests, benchmarks and the demo.

:func:`synthetic_answers` draws persona value profiles with a circular (Schwartz-like) structure and
lets each model keep them across chunks with a chosen stability: ``stability=1`` gives identical
latent profiles in every chunk (rank-order near 1 up to item noise), ``stability=0`` independent
profiles per chunk (rank-order near 0), and ``uniform=True`` the random baseline (the "dummy" model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..design.chunks import LEADERBOARD_CHUNKS
from ..design.contexts import CHUNK_PRESETS
from ..design.instruments import PVQ40, SVS57
from ..design.values import THEORETICAL_COORDS, VALUES
from ..schema import ANSWER_COLUMNS

__all__ = ["synthetic_answers", "DEFAULT_SYNTHETIC_CHUNKS"]

#: The nine leaderboard chunks (chunk_svs_no_conv is answered on SVS-57, the others on PVQ-40).
DEFAULT_SYNTHETIC_CHUNKS: tuple[str, ...] = LEADERBOARD_CHUNKS

_ANGLES = np.array([np.arctan2(THEORETICAL_COORDS[v][1], THEORETICAL_COORDS[v][0]) for v in VALUES])


def _profiles(rng: np.random.Generator, n: int) -> np.ndarray:
    """Latent value profiles (n x 10) with circumplex structure: a random direction on the circle
    plus value-specific noise, so adjacent values correlate and opposite values anti-correlate."""
    direction = rng.normal(size=(n, 2))
    circ = direction[:, [0]] * np.cos(_ANGLES) + direction[:, [1]] * np.sin(_ANGLES)
    return circ + 0.5 * rng.normal(size=(n, 10))


def synthetic_answers(
    models: Mapping[str, float] | Sequence[str] = ("model_a",),
    *,
    chunks: Sequence[str] = DEFAULT_SYNTHETIC_CHUNKS,
    n_personas: int = 50,
    seed: int = 0,
    item_noise: float = 0.6,
    uniform: Sequence[str] = (),
    unparsed_rate: float = 0.0,
    questionnaires: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Synthetic answers table (answers-table contract columns).

    Parameters
    ----------
    models : mapping model -> stability in [0, 1], or a sequence of names (stability 0.8 each)
        Latent profile in chunk c is ``s * base + sqrt(1 - s**2) * fresh``.
    chunks : sequence of str
        Chunk labels. Each is answered on its ``questionnaires`` entry, else on the built-in
        chunk's questionnaire (``chunk_svs_no_conv``: SVS-57, -1..7), else on PVQ-40.
    n_personas : int
        Personas ``p00``, ``p01``, ...; genders alternate F/M.
    seed : int
        Everything is drawn from ``np.random.default_rng(seed)``.
    item_noise : float
        SD of the per-item noise added to the latent value before rounding to the scale.
    uniform : sequence of str
        Model names answering uniformly at random (the leaderboard's random baseline).
    unparsed_rate : float
        Fraction of items set to NaN (as unparsed answers are).
    questionnaires : mapping chunk -> ``pvq40`` or ``svs57``, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``model, chunk, persona, gender, questionnaire, item, score``.

    Examples
    --------
    >>> df = synthetic_answers(["m"], chunks=["chunk_0", "chunk_svs_no_conv"], n_personas=3)
    >>> df.groupby("questionnaire").size().to_dict()
    {'pvq40': 120, 'svs57': 171}
    """
    if not isinstance(models, Mapping):
        models = {m: 0.8 for m in models}
    rng = np.random.default_rng(seed)
    personas = [f"p{i:02d}" for i in range(n_personas)]
    genders = ["F" if i % 2 == 0 else "M" for i in range(n_personas)]
    frames = []
    for model, stability in models.items():
        base = _profiles(rng, n_personas)
        for chunk in chunks:
            inst = _instrument(chunk, questionnaires)
            latent = stability * base + np.sqrt(max(0.0, 1 - stability**2)) * _profiles(
                rng, n_personas
            )
            lo, hi = inst.scale_min, inst.scale_max
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            item_val = inst.item_value
            items = np.arange(1, inst.n_items + 1)
            # unkeyed SVS items load on the persona's overall level only
            vidx = np.array([VALUES.index(item_val[i]) if i in item_val else -1 for i in items])
            lat = np.where(vidx >= 0, latent[:, np.clip(vidx, 0, None)], 0.0)
            raw = mid + half * 0.45 * (lat + item_noise * rng.normal(size=lat.shape))
            if model in uniform:
                scores = rng.integers(lo, hi + 1, size=lat.shape).astype(float)
            else:
                scores = np.clip(np.rint(raw), lo, hi)
            if unparsed_rate > 0:
                scores[rng.random(size=scores.shape) < unparsed_rate] = np.nan
            frames.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "chunk": chunk,
                        "persona": np.repeat(personas, inst.n_items),
                        "gender": np.repeat(genders, inst.n_items),
                        "questionnaire": inst.name,
                        "item": np.tile(items, n_personas),
                        "score": scores.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)[list(ANSWER_COLUMNS)]


def _instrument(chunk: str, questionnaires: Mapping[str, str] | None):
    name = (questionnaires or {}).get(chunk)
    if name is None:
        name = CHUNK_PRESETS[chunk].questionnaire if chunk in CHUNK_PRESETS else "pvq40"
    if name not in ("pvq40", "svs57"):
        raise ValueError(f"synthetic answers exist for pvq40 and svs57, not {name!r} ({chunk})")
    return SVS57 if name == "svs57" else PVQ40
