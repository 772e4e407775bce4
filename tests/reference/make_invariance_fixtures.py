"""Writes tests/reference/invariance_fixture.csv: PVQ-40 answers of personas in three
contexts (tests/reference/synthetic.py), the input of invariance_lavaan.R. Set ``invariant``:
three draws of the same structure; ``shifted``: the same, with item 2 (Power) answered a point
higher and item 13 (Achievement) loading a third less in the third context (non-invariant
intercept and loading).

    python tests/reference/make_invariance_fixtures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from synthetic import pvq_structured


def main() -> None:
    parts = []
    for name in ("invariant", "shifted"):
        for c in range(3):
            x = pvq_structured(30 + c, n=200).astype(float)
            if name == "shifted" and c == 2:
                x[2] = x[2] + 1.0
                x[13] = x[13].mean() + (x[13] - x[13].mean()) * 0.67
            parts.append(x.assign(set=name, chunk=f"c{c}"))
    out = pd.concat(parts, ignore_index=True)
    out.columns = [f"item{c}" if isinstance(c, (int, np.integer)) else c for c in out.columns]
    path = Path(__file__).with_name("invariance_fixture.csv")
    out.to_csv(path, index=False, float_format="%.17g")
    print(f"wrote {path} ({len(out)} rows)")


if __name__ == "__main__":
    main()
