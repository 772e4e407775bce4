"""Seeded persona x seed score tables for the ICC reference (pure numpy and pandas, no
stickrole import, so that ``icc_pingouin.py`` runs in a side environment).

Each data set is a long table ``persona, seed, score``: a persona effect (the signal), a seed
effect (a shift of every persona at that seed) and noise, with some missing scores in
``missing``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6],
                          [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float)


def _long(x: np.ndarray) -> pd.DataFrame:
    n, k = x.shape
    return pd.DataFrame({"persona": np.repeat([f"p{i:02d}" for i in range(n)], k),
                         "seed": np.tile(np.arange(k), n), "score": x.ravel()})


def scores(seed: int, n: int, k: int, persona_sd: float, seed_sd: float,
           noise_sd: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, persona_sd, (n, 1)) + rng.normal(0, seed_sd, (1, k))
         + rng.normal(0, noise_sd, (n, k)))
    return _long(x)


def datasets() -> dict[str, pd.DataFrame]:
    out = {
        "shrout_fleiss": _long(SHROUT_FLEISS),
        "strong": scores(1, 50, 5, 1.0, 0.2, 0.4),
        "weak": scores(2, 50, 5, 0.3, 0.1, 1.0),
        "noise": scores(3, 50, 5, 0.0, 0.0, 1.0),
        "two_seeds": scores(4, 20, 2, 1.0, 0.5, 0.7),
        "likert": scores(5, 50, 3, 1.0, 0.0, 1.0).assign(
            score=lambda d: d["score"].round().clip(-2, 2)),
    }
    missing = scores(6, 40, 4, 1.0, 0.3, 0.5)
    missing.loc[[3, 17, 18, 101], "score"] = np.nan
    out["missing"] = missing
    return out
