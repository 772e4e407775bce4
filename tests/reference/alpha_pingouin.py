"""Reference Cronbach alphas from pingouin for tests/test_reliability.py.

Run in a side environment with pingouin (its numbers are pasted into the test)::

    /tmp/sk16/bin/pip install pingouin
    /tmp/sk16/bin/python tests/reference/alpha_pingouin.py

Centering as the original (original-method.md §2.3, §3.6): each item answer minus the persona's
mean over all the instrument's items (57 for SVS, unkeyed included), then
``pingouin.cronbach_alpha`` per value over personas.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pingouin as pg

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import PVQ_KEY, SVS_KEY, pvq_structured, svs_structured, uniform  # noqa: E402

DATASETS = {
    "pvq_structured": (lambda: pvq_structured(21), PVQ_KEY),
    "pvq_uniform": (lambda: uniform(22, 40, 1, 6), PVQ_KEY),
    "svs_structured": (lambda: svs_structured(23), SVS_KEY),
}


def main() -> None:
    print(f"# pingouin {pg.__version__}")
    for name, (build, key) in DATASETS.items():
        x = build()
        centered = x.sub(x.mean(axis=1), axis=0)
        alphas = {
            v: float(pg.cronbach_alpha(data=centered[list(its)])[0]) for v, its in key.items()
        }
        print(f'    "{name}": {{')
        for v, a in alphas.items():
            print(f'        "{v}": {a!r},')
        print("    },")


if __name__ == "__main__":
    main()
