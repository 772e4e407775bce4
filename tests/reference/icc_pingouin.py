"""Reference ICC(2,1) and ICC(2,k) from pingouin for tests/experiment/test_reliability.py.

Run in a side environment with pingouin (the test reads the JSON this writes)::

    python3 -m venv /tmp/ref-venv && /tmp/ref-venv/bin/pip install pingouin
    /tmp/ref-venv/bin/python tests/reference/icc_pingouin.py

Full precision (``pingouin.options["round"]`` and ``["round.column.CI95%"]`` set to None); targets with a missing rating are left
out (``nan_policy="omit"``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pingouin as pg

sys.path.insert(0, str(Path(__file__).parent))
from icc_data import datasets  # noqa: E402


def main() -> None:
    pg.options["round"] = None
    pg.options["round.column.CI95%"] = None  # pingouin rounds intervals to 2 digits by default
    out = {"pingouin": pg.__version__, "datasets": {}}
    for name, data in datasets().items():
        res = pg.intraclass_corr(data=data, targets="persona", raters="seed", ratings="score",
                                 nan_policy="omit").set_index("Type")
        out["datasets"][name] = {
            t: {"ICC": float(res.at[t, "ICC"]), "ci_low": float(res.at[t, "CI95%"][0]),
                "ci_high": float(res.at[t, "CI95%"][1])}
            for t in ("ICC2", "ICC2k")}
    path = Path(__file__).with_name("icc_pingouin.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
