"""Seeded synthetic questionnaire data shared by the reference scripts and the tests.

Pure numpy (no stickrole import) so the reference scripts can run in a side environment with
another scikit-learn. ``numpy.random.default_rng`` streams are stable across numpy versions.

Data sets (rows = personas, columns = 1-based item numbers):

* ``pvq_structured(seed)``: 50 x 40 on 1..6 with a true structure: each persona has a position
  on Schwartz's circle; each value's latent score = circular component + a value-specific part
  (so the value factors correlate < 1); item = loading * value latent + noise, rounded, clipped.
* ``uniform(seed, n_items, lo, hi)``: independent uniform integer answers (no structure).
* ``svs_structured(seed)``: 50 x 57 on -1..7, same generator with the SVS key; unkeyed items
  load on a general level only. ``signal`` < 1 weakens the value structure (item = signal *
  loading * latent + level + noise).
* ``pvq_panel(seed, n, n_contexts)``: the same ``n`` personas answering PVQ-40 in
  ``n_contexts`` contexts: each context's value latents = the persona's lasting ones (weight
  ``stability``) + a context-specific part; each item also has a lasting persona-specific part
  (correlated residuals across contexts); loadings and intercepts equal across contexts.
  ``signal`` scales everything but the noise (0.15: near-random answers).
* ``pvq_with_constants(seed)``: ``pvq_structured`` with items 1 and 5 constant at 6 and item
  7 constant at 3 (exercises the both-constant -> 1 / one-constant -> 0 rules).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Circle order; keys duplicated from stickrole_utils.design.instruments on purpose (no package import).
VALUES = (
    "Self-Direction",
    "Stimulation",
    "Hedonism",
    "Achievement",
    "Power",
    "Security",
    "Conformity",
    "Tradition",
    "Benevolence",
    "Universalism",
)
PVQ_KEY = {
    "Self-Direction": (1, 11, 22, 34),
    "Stimulation": (6, 15, 30),
    "Hedonism": (10, 26, 37),
    "Achievement": (4, 13, 24, 32),
    "Power": (2, 17, 39),
    "Security": (5, 14, 21, 31, 35),
    "Conformity": (7, 16, 28, 36),
    "Tradition": (9, 20, 25, 38),
    "Benevolence": (12, 18, 27, 33),
    "Universalism": (3, 8, 19, 23, 29, 40),
}
SVS_KEY = {
    "Self-Direction": (5, 16, 31, 41, 53),
    "Stimulation": (9, 25, 37),
    "Hedonism": (4, 50, 57),
    "Achievement": (34, 39, 43, 55),
    "Power": (3, 12, 27, 46),
    "Security": (8, 13, 15, 22, 56),
    "Conformity": (11, 20, 40, 47),
    "Tradition": (18, 32, 36, 44, 51),
    "Benevolence": (33, 45, 49, 52, 54),
    "Universalism": (1, 17, 24, 26, 29, 30, 35, 38),
}


def _structured(
    seed: int, n: int, n_items: int, key: dict, lo: int, hi: int, signal: float = 1.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * np.arange(10) / 10
    phi = rng.uniform(0, 2 * np.pi, n)
    amp = rng.uniform(0.8, 1.6, n)
    level = rng.normal(0, 0.5, n)
    circ = amp[:, None] * np.cos(theta[None, :] - phi[:, None])
    latent = circ + 0.6 * rng.normal(size=(n, 10))  # value-specific part
    mid = (lo + hi) / 2
    spread = (hi - lo) / 4
    x = np.empty((n, n_items))
    item_value = {i: k for k, v in enumerate(VALUES) for i in key[v]}
    for i in range(1, n_items + 1):
        lam = rng.uniform(0.7, 1.1)
        base = signal * latent[:, item_value[i]] * lam if i in item_value else 0.0
        x[:, i - 1] = mid + spread * (base + level + 0.5 * rng.normal(size=n))
    x = np.clip(np.rint(x), lo, hi)
    return pd.DataFrame(x, columns=range(1, n_items + 1), index=[f"p{j}" for j in range(n)])


def pvq_structured(seed: int, n: int = 50, signal: float = 1.0) -> pd.DataFrame:
    return _structured(seed, n, 40, PVQ_KEY, 1, 6, signal)


def svs_structured(seed: int, n: int = 50) -> pd.DataFrame:
    return _structured(seed, n, 57, SVS_KEY, -1, 7)


def uniform(seed: int, n_items: int = 40, lo: int = 1, hi: int = 6, n: int = 50) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(lo, hi + 1, size=(n, n_items)).astype(float)
    return pd.DataFrame(x, columns=range(1, n_items + 1), index=[f"p{j}" for j in range(n)])


def pvq_with_constants(seed: int, n: int = 50) -> pd.DataFrame:
    x = pvq_structured(seed, n)
    x[1] = 6.0
    x[5] = 6.0
    x[7] = 3.0
    return x


def pvq_panel(seed: int, n: int = 150, n_contexts: int = 3, signal: float = 1.0,
              stability: float = 0.7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    theta = 2 * np.pi * np.arange(10) / 10
    phi = rng.uniform(0, 2 * np.pi, n)
    amp = rng.uniform(0.8, 1.6, n)
    level = rng.normal(0, 0.5, n)
    lasting = amp[:, None] * np.cos(theta[None, :] - phi[:, None]) + 0.6 * rng.normal(size=(n, 10))
    item_part = 0.35 * rng.normal(size=(n, 40))
    lam = rng.uniform(0.7, 1.1, 40)
    item_value = np.array([next(k for k, v in enumerate(VALUES) if i in PVQ_KEY[v])
                           for i in range(1, 41)])
    out = {}
    for t in range(n_contexts):
        latent = np.sqrt(stability) * lasting + np.sqrt(1 - stability) * rng.normal(size=(n, 10))
        base = signal * (latent[:, item_value] * lam + level[:, None] + item_part)
        x = 3.5 + 1.25 * (base + 0.5 * rng.normal(size=(n, 40)))
        x = np.clip(np.rint(x), 1, 6)
        out[f"c{t}"] = pd.DataFrame(x, columns=range(1, 41), index=[f"p{j}" for j in range(n)])
    return out


#: name -> (builder, instrument name) for the MDS agreement tests.
MDS_DATASETS = {
    "pvq_structured": (lambda: pvq_structured(11), "pvq40"),
    "pvq_uniform": (lambda: uniform(12, 40, 1, 6), "pvq40"),
    "svs_uniform": (lambda: uniform(13, 57, -1, 7), "svs57"),
    "svs_structured": (lambda: svs_structured(14), "svs57"),
    "pvq_constants": (lambda: pvq_with_constants(15), "pvq40"),
}
