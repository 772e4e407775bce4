"""Writes tests/reference/decomposition_fixture.csv: seeded persona x context x seed scores
(stickrole's synthetic generator), the input of decomposition_lme4.R.

    PYTHONPATH=. python tests/reference/make_decomposition_fixture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stickrole_utils.experiment.synthetic import synthetic_cube, synthetic_scores

SETS = {
    # name: (seed, components, levels)
    "balanced": (11, {"persona": 0.5, "context": 0.1, "seed": 0.05, "persona:context": 0.2,
                      "persona:seed": 0.1, "context:seed": 0.05, "persona:context:seed": 0.3},
                 {"persona": 20, "context": 4, "seed": 3}),
    "noisy": (12, {"persona": 0.2, "context": 0.3, "seed": 0.02, "persona:context": 0.1,
                   "persona:seed": 0.2, "context:seed": 0.04, "persona:context:seed": 0.6},
              {"persona": 15, "context": 3, "seed": 4}),
}


def main() -> None:
    parts = []
    for name, (seed, comp, levels) in SETS.items():
        cube = synthetic_cube(comp, levels, n_values=1, rng=np.random.default_rng(seed))
        parts.append(synthetic_scores({name: cube}, levels, values=["v"]))
    import pandas as pd

    out = pd.concat(parts, ignore_index=True).rename(columns={"model": "set", "centered": "y"})
    path = Path(__file__).with_name("decomposition_fixture.csv")
    out[["set", "persona", "chunk", "seed", "y"]].to_csv(path, index=False, float_format="%.17g")
    print(f"wrote {path} ({len(out)} rows)")


if __name__ == "__main__":
    main()
