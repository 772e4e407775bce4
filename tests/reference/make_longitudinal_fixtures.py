"""Writes tests/reference/longitudinal_fixture.csv: the same 150 personas answering PVQ-40 in
three contexts (``pvq_panel`` in tests/reference/synthetic.py), the input of
longitudinal_lavaan.R. Sets: ``stable``: loadings and intercepts equal across contexts;
``shifted``: the same generator, with item 2 (Power) answered a point higher and item 13
(Achievement) spread a third less in the third context (non-invariant intercept and loading);
``near_random``: the value structure at 0.15 of its strength (mostly noise).

    python tests/reference/make_longitudinal_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from synthetic import pvq_panel

SETS = {"stable": (40, 1.0), "shifted": (41, 1.0), "near_random": (42, 0.15)}


def main() -> None:
    parts = []
    for name, (seed, signal) in SETS.items():
        for chunk, x in pvq_panel(seed, n=150, n_contexts=3, signal=signal).items():
            x = x.copy()
            if name == "shifted" and chunk == "c2":
                x[2] = x[2] + 1.0
                x[13] = x[13].mean() + (x[13] - x[13].mean()) * 0.67
            x.columns = [f"item{c}" for c in x.columns]
            parts.append(x.rename_axis("persona").reset_index().assign(set=name, chunk=chunk))
    out = pd.concat(parts, ignore_index=True)
    out = out[["set", "chunk", "persona", *[f"item{i}" for i in range(1, 41)]]]
    path = Path(__file__).with_name("longitudinal_fixture.csv")
    out.to_csv(path, index=False, float_format="%.17g")
    print(f"wrote {path} ({len(out)} rows)")


if __name__ == "__main__":
    main()
