"""Reference Stress and MDS coordinates from scikit-learn 1.6.1 (the leaderboard's semantics).

Run in a side environment that has scikit-learn 1.6.1 (the project pins nothing that old):

    python3 -m venv /tmp/sk16 && /tmp/sk16/bin/pip install scikit-learn==1.6.1 scipy pandas
    /tmp/sk16/bin/python tests/reference/mds_sklearn16.py > tests/reference/mds_sklearn16.json

The intercorrelation matrix is computed independently of stickrole: pairwise
``scipy.stats.spearmanr`` per item pair, constant-input warnings turned into the overrides
(both constant -> 1, one constant -> 0), diagonal 1 (original-method.md §3, §3.3).
Variants: ``original`` = ``MDS(n_components=2, metric=False, normalized_stress=True)
.fit(R, init=init)`` (Euclidean distances between rows of R); ``dissimilarity`` = same with
``dissimilarity="precomputed"`` on 1 - R; ``original_long`` = ``original`` with eps=1e-7,
max_iter=200 (checks the iteration itself, far beyond the default early stop).
"""

from __future__ import annotations

import itertools
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import sklearn
from scipy.stats import ConstantInputWarning, spearmanr
from sklearn.manifold import MDS

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import MDS_DATASETS, PVQ_KEY, SVS_KEY  # noqa: E402

THEO = {
    "Self-Direction": (-0.34, 0.94),
    "Stimulation": (-0.87, 0.50),
    "Hedonism": (-0.98, -0.17),
    "Achievement": (-0.64, -0.77),
    "Power": (0, -1),
    "Security": (0.65, -0.77),
    "Conformity": (0.49, -0.09),
    "Tradition": (0.98, -0.17),
    "Benevolence": (0.87, 0.50),
    "Universalism": (0.34, 0.94),
}


def corr(a, b):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantInputWarning)
        try:
            return spearmanr(a, b)[0]
        except ConstantInputWarning:
            return 1.0 if len(set(a)) == 1 and len(set(b)) == 1 else 0.0


def main() -> None:
    assert sklearn.__version__ == "1.6.1", sklearn.__version__
    out = {"sklearn": sklearn.__version__}
    for name, (build, instr) in MDS_DATASETS.items():
        key = PVQ_KEY if instr == "pvq40" else SVS_KEY
        item_value = {i: v for v, its in key.items() for i in its}
        items = sorted(item_value)
        x = build()
        r = np.eye(len(items))
        for (a, i), (b, j) in itertools.combinations(enumerate(items), 2):
            r[a, b] = r[b, a] = corr(x[i].to_numpy(), x[j].to_numpy())
        init = np.array([THEO[item_value[i]] for i in items], dtype=float)
        res = {}
        for variant in ("original", "dissimilarity", "original_long"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if variant == "original":
                    mds = MDS(n_components=2, metric=False, normalized_stress=True)
                    mds.fit(r, init=init)
                elif variant == "original_long":
                    # many iterations: exercises the SMACOF loop beyond the default early stop
                    mds = MDS(
                        n_components=2, metric=False, normalized_stress=True, eps=1e-7, max_iter=200
                    )
                    mds.fit(r, init=init)
                else:
                    mds = MDS(
                        n_components=2,
                        metric=False,
                        normalized_stress=True,
                        dissimilarity="precomputed",
                    )
                    mds.fit(1 - r, init=init)
            res[variant] = {
                "stress": float(mds.stress_),
                "n_iter": int(mds.n_iter_),
                "embedding": np.round(mds.embedding_, 8).tolist(),
            }
        out[name] = res
    json.dump(out, sys.stdout, indent=None)


if __name__ == "__main__":
    main()
