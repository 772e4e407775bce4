"""Write the seeded CFA reference data sets as CSVs for ``cfa_lavaan.R``.

Usage (numbers pasted into tests/test_cfa.py were produced this way, R 4.x + lavaan 0.6-14)::

    python tests/reference/make_cfa_fixtures.py /tmp/cfa_fixtures
    Rscript tests/reference/cfa_lavaan.R /tmp/cfa_fixtures > tests/reference/cfa_lavaan.csv

Each CSV has columns ``item1..itemN`` (raw answers, one row per persona), as the original's
``cfa.R`` reads them (original-method.md §3.5). The data sets are built by
``tests/reference/synthetic.py``; ``CFA_DATASETS`` below is also what the tests iterate over.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import pvq_structured, pvq_with_constants, svs_structured, uniform  # noqa: E402

#: name -> (builder, instrument name)
CFA_DATASETS = {
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


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, (build, instrument) in CFA_DATASETS.items():
        x = build()
        x.columns = [f"item{i}" for i in x.columns]
        x.to_csv(out / f"{name}__{instrument}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/cfa_fixtures")
