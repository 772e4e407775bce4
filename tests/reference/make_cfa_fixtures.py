"""Write the seeded CFA reference data sets as CSVs for ``cfa_lavaan.R``.

Usage (R 4.2.2 + lavaan 0.6-14)::

    python tests/reference/make_cfa_fixtures.py /tmp/cfa_fixtures
    sh tests/reference/cfa_lavaan_batches.sh /tmp/cfa_fixtures /tmp/cfa_parts   # hours
    python tests/reference/make_cfa_fixtures.py --join /tmp/cfa_parts/*.csv \
        > tests/reference/cfa_lavaan.csv

Each CSV has columns ``item1..itemN`` (raw answers, one row per persona), as the original's
``cfa.R`` reads them. The data sets are built by ``tests/reference/synthetic.py`` and the
builders below; every builder is seeded.

* ``CFA_DATASETS``: the ten small data sets whose lavaan numbers are pasted into
  ``tests/test_cfa.py``.
* ``REFERENCE_DATASETS``: the broad set behind ``tests/test_cfa_reference.py`` (>= 300 fits of
  the four models): structured, weak, near-random and uniform/skewed-noise answers, constant
  and near-constant items, 20 to 200 personas, PVQ-40 (1..6) and SVS-57 (-1..7).
* ``NOISE_CHUNKS``: nine chunks of uniform-random PVQ-40 answers from 50 personas (the
  leaderboard's nine-chunk protocol on pure noise).
* ``NOISE_SETS``: six more nine-chunk sets of uniform-random answers as the leaderboard's
  protocol has them (chunks 0-7 PVQ-40, chunk 8 SVS-57; 50 personas): the random baseline.
* ``NEAR_RANDOM_SETS``: answers with a trace of the value structure (signal 0.05): two nine-chunk
  sets like ``NOISE_SETS`` and four single data sets of 100 and 200 personas.

``REFERENCE_DATASETS`` contains all the others, so one R run covers everything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import (  # noqa: E402
    PVQ_KEY,
    SVS_KEY,
    _structured,
    pvq_structured,
    pvq_with_constants,
    svs_structured,
    uniform,
)

Builder = Callable[[], pd.DataFrame]

#: name -> (builder, instrument name)
CFA_DATASETS: dict[str, tuple[Builder, str]] = {
    "pvq_structured_a": (lambda: pvq_structured(101), "pvq40"),
    "pvq_structured_b": (lambda: pvq_structured(202), "pvq40"),
    "pvq_weak": (lambda: pvq_structured(707, signal=0.35), "pvq40"),
    "pvq_weak_b": (lambda: pvq_structured(708, signal=0.25), "pvq40"),
    "pvq_weak_c": (lambda: pvq_structured(709, signal=0.5), "pvq40"),
    "pvq_uniform": (lambda: uniform(303, 40, 1, 6), "pvq40"),
    "pvq_uniform_b": (lambda: uniform(304, 40, 1, 6), "pvq40"),
    "svs_structured": (lambda: svs_structured(404), "svs57"),
    "svs_uniform": (lambda: uniform(505, 57, -1, 7), "svs57"),
    "pvq_constants": (lambda: pvq_with_constants(606), "pvq40"),
}

_SCALE = {"pvq40": (40, 1, 6, PVQ_KEY), "svs57": (57, -1, 7, SVS_KEY)}


def structured(seed: int, instrument: str, n: int, signal: float) -> pd.DataFrame:
    """Schwartz-circle answers (``synthetic._structured``); ``signal`` 0.1 is near-random."""
    n_items, lo, hi, key = _SCALE[instrument]
    return _structured(seed, n, n_items, key, lo, hi, signal)


def skewed(seed: int, instrument: str, n: int) -> pd.DataFrame:
    """Independent answers from a lopsided distribution (a weak LLM's favourite options)."""
    n_items, lo, hi, _ = _SCALE[instrument]
    rng = np.random.default_rng(seed)
    options = np.arange(lo, hi + 1)
    w = rng.dirichlet(np.full(len(options), 0.7))
    x = rng.choice(options, size=(n, n_items), p=w).astype(float)
    return pd.DataFrame(x, columns=range(1, n_items + 1), index=[f"p{j}" for j in range(n)])


def near_constant(seed: int, instrument: str, n: int, items: tuple[int, ...]) -> pd.DataFrame:
    """Weak structure, with ``items`` answered identically by all personas but one or two."""
    x = structured(seed, instrument, n, 0.4)
    rng = np.random.default_rng(seed + 1)
    hi = _SCALE[instrument][2]
    for k, i in enumerate(items):
        x[i] = float(hi - 1)
        rows = rng.choice(n, size=1 + k % 2, replace=False)
        x.iloc[rows, i - 1] = float(hi)
    return x


def with_constant(seed: int, instrument: str, n: int, items: tuple[int, ...]) -> pd.DataFrame:
    """Weak structure with ``items`` constant (lavaan stops with an error for their models)."""
    x = structured(seed, instrument, n, 0.5)
    for i in items:
        x[i] = float(_SCALE[instrument][1] + 2)
    return x


def _uniform(seed: int, instrument: str, n: int) -> pd.DataFrame:
    n_items, lo, hi, _ = _SCALE[instrument]
    return uniform(seed, n_items, lo, hi, n)


#: chunk name -> (builder, instrument): uniform-random PVQ-40 answers, 50 personas, nine chunks.
NOISE_CHUNKS: dict[str, tuple[Builder, str]] = {
    f"noise_chunk{c}": ((lambda c=c: _uniform(9000 + c, "pvq40", 50)), "pvq40") for c in range(9)
}


def _nine_chunks(prefix: str, seed: int, build: Callable[[int, str], pd.DataFrame]
                 ) -> dict[str, tuple[Builder, str]]:
    """The leaderboard's nine chunks: 0-7 PVQ-40, 8 SVS-57 (``build(seed, instrument)``)."""
    out: dict[str, tuple[Builder, str]] = {}
    for c in range(9):
        instr = "svs57" if c == 8 else "pvq40"
        out[f"{prefix}_chunk{c}"] = ((lambda s=seed + c, i=instr: build(s, i)), instr)
    return out


#: ``noiseset<k>_chunk<c>``: six nine-chunk sets of uniform-random answers, 50 personas.
NOISE_SETS: dict[str, tuple[Builder, str]] = {
    name: spec
    for k in range(6)
    for name, spec in _nine_chunks(
        f"noiseset{k}", 9100 + 10 * k, lambda s, i: _uniform(s, i, 50)
    ).items()
}


def _near_random_sets() -> dict[str, tuple[Builder, str]]:
    out: dict[str, tuple[Builder, str]] = {}
    for k in range(2):
        out.update(_nine_chunks(f"nr5set{k}", 9300 + 10 * k,
                                lambda s, i: structured(s, i, 50, 0.05)))
    seed = 9400
    for instr, tag in (("pvq40", "pvq"), ("svs57", "svs")):
        for n in (100, 200):
            seed += 1
            out[f"{tag}_nearrandom5_n{n}"] = (
                (lambda s=seed, i=instr, n=n: structured(s, i, n, 0.05)), instr
            )
    return out


#: near-random answers (signal 0.05): ``nr5set<k>_chunk<c>`` and ``<pvq|svs>_nearrandom5_n<N>``.
NEAR_RANDOM_SETS: dict[str, tuple[Builder, str]] = _near_random_sets()


def _reference() -> dict[str, tuple[Builder, str]]:
    out: dict[str, tuple[Builder, str]] = dict(CFA_DATASETS)

    def add(name: str, build: Builder, instrument: str) -> None:
        assert name not in out, name
        out[name] = (build, instrument)

    seed = 2000
    for instr, tag in (("pvq40", "pvq"), ("svs57", "svs")):
        ns_struct = (20, 30, 100, 200) if tag == "pvq" else (30, 100, 200)
        for n in ns_struct:
            seed += 1
            add(f"{tag}_struct_n{n}", lambda s=seed, i=instr, n=n: structured(s, i, n, 1.0), instr)
        for signal in (0.3, 0.4):
            for n in (20, 50, 100, 200) if tag == "pvq" else (50, 100):
                seed += 1
                add(
                    f"{tag}_weak{int(signal * 10)}_n{n}",
                    lambda s=seed, i=instr, n=n, g=signal: structured(s, i, n, g),
                    instr,
                )
        for signal in (0.1, 0.15):
            for n in (30, 50, 100, 200) if tag == "pvq" else (50, 100):
                seed += 1
                add(
                    f"{tag}_nearrandom{int(signal * 100)}_n{n}",
                    lambda s=seed, i=instr, n=n, g=signal: structured(s, i, n, g),
                    instr,
                )
        ns_unif = (20, 30, 50, 50, 50, 50, 100, 200) if tag == "pvq" else (20, 30, 50, 50, 100, 200)
        for k, n in enumerate(ns_unif):
            seed += 1
            add(f"{tag}_uniform{k}_n{n}", lambda s=seed, i=instr, n=n: _uniform(s, i, n), instr)
        for k, n in enumerate((50, 50, 100) if tag == "pvq" else (50, 100)):
            seed += 1
            add(f"{tag}_skewed{k}_n{n}", lambda s=seed, i=instr, n=n: skewed(s, i, n), instr)
    # near-constant items: one per model (PVQ: SE, SD, BE, AC items; SVS: SE, SD, UN items)
    for k, (n, items) in enumerate(((30, (5, 1, 12, 4)), (50, (14, 6)), (100, (7, 33)))):
        seed += 1
        add(
            f"pvq_nearconst{k}_n{n}",
            lambda s=seed, n=n, it=items: near_constant(s, "pvq40", n, it),
            "pvq40",
        )
    for k, (n, items) in enumerate(((50, (8, 5, 1)), (100, (13, 34)))):
        seed += 1
        add(
            f"svs_nearconst{k}_n{n}",
            lambda s=seed, n=n, it=items: near_constant(s, "svs57", n, it),
            "svs57",
        )
    seed += 1
    add("pvq_const_n50", lambda s=seed: with_constant(s, "pvq40", 50, (10, 24)), "pvq40")
    seed += 1
    add("svs_const_n50", lambda s=seed: with_constant(s, "svs57", 50, (1, 11)), "svs57")
    out.update(NOISE_CHUNKS)
    for extra in (NOISE_SETS, NEAR_RANDOM_SETS):
        for name, spec in extra.items():
            add(name, *spec)
    return out


#: name -> (builder, instrument name): the broad reference set (includes the two dicts above).
REFERENCE_DATASETS: dict[str, tuple[Builder, str]] = _reference()


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (build, instrument) in REFERENCE_DATASETS.items():
        x = build()
        x.columns = [f"item{i}" for i in x.columns]
        x.to_csv(out / f"{name}__{instrument}.csv", index=False, float_format="%.17g")


def join(parts: list[str]) -> pd.DataFrame:
    """The per-batch outputs of ``cfa_lavaan.R`` as one table, in the order of
    ``REFERENCE_DATASETS`` and of the four models (a data set's row from a run with variants
    replaces one from a file-order-only run)."""
    table = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts])
    table = (table.assign(_v=table["variants_done"].astype(int))
             .sort_values("_v").drop_duplicates(["dataset", "group"], keep="last")
             .drop(columns="_v"))
    order = {name: k for k, name in enumerate(REFERENCE_DATASETS)}
    groups = {"conservation": 0, "openness_to_change": 1, "self_transcendence": 2,
              "self_enhancement": 3}
    key = table["dataset"].map(order) * 10 + table["group"].map(groups)
    table = table.assign(_k=key).sort_values("_k").drop(columns="_k")
    # a file-order fit without variants has no stability label
    table.loc[table["variants_done"] == "0", "stable"] = "NA"
    return table


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--join":
        # python make_cfa_fixtures.py --join PART.csv ... > tests/reference/cfa_lavaan.csv
        join(sys.argv[2:]).to_csv(sys.stdout, index=False)
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cfa_fixtures")
