"""Non-metric MDS as the leaderboard computes it: dissimilarities, tie groups, SMACOF.

``docs/method.md``, Circular structure (MDS Stress). Why our own SMACOF: the leaderboard's number
is ``MDS(n_components=2, metric=False, normalized_stress=True).fit(R, init=init).stress_`` under
scikit-learn <= 1.6. scikit-learn 1.7 changed the defaults (eps 1e-3 -> 1e-6) and the stopping
rule, and later releases changed the stress definition and renamed the parameters, so calling
whatever sklearn is installed does not give the leaderboard's number. :func:`smacof_nonmetric`
re-implements sklearn 1.6.1's ``_smacof_single`` step by step in numpy (including its quirks,
listed in its docstring) and is tested against numbers produced by sklearn 1.6.1 itself
(``tests/reference/mds_sklearn16.py``). Ties among dissimilarities are grouped with a tolerance
(:data:`TIE_TOLERANCE`) so that the result does not depend on the CPU's rounding.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

try:  # scipy >= 1.12: what scikit-learn's isotonic_regression itself calls (see _isotonic)
    from scipy.optimize import isotonic_regression as _scipy_isotonic
except ImportError:  # pragma: no cover - older scipy
    _scipy_isotonic = None

__all__ = ["TIE_TOLERANCE", "mds_dissimilarities", "smacof_nonmetric"]


#: Dissimilarities closer than this (relative to the largest) are one tie (see :func:`_tie_groups`).
TIE_TOLERANCE: float = 1e-12


def _euclidean_distances(x: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances computed as sklearn's ``euclidean_distances(X)`` does.

    sqrt(max(|a|^2 - 2 a.b + |b|^2, 0)) with an exact zero diagonal; the same floating-point
    route keeps ties (exactly equal dissimilarities) identical to sklearn's.
    """
    xx = np.einsum("ij,ij->i", x, x)[:, None]
    d = -2 * (x @ x.T)
    d += xx
    d += xx.T
    # Identical rows (e.g. constant items) give 0 in exact arithmetic but +-1e-15 after
    # rounding, which the square root lifts to ~3e-8 -- and SMACOF treats 0 as "missing", so
    # the pair would enter the fit on one CPU and not on another. Squared distances within
    # rounding of the row norms are taken as the exact 0 they are.
    d[d < TIE_TOLERANCE * max(float(xx.max()), 1.0)] = 0.0
    np.fill_diagonal(d, 0)
    return np.sqrt(d)


def mds_dissimilarities(
    r: np.ndarray, variant: Literal["original", "dissimilarity"] = "original"
) -> np.ndarray:
    """Dissimilarity matrix fed to SMACOF.

    Parameters
    ----------
    r : numpy.ndarray
        Item intercorrelation matrix (k x k).
    variant : {"original", "dissimilarity"}
        ``original``: :math:`\\delta_{ij} = \\lVert R_{i\\cdot} - R_{j\\cdot} \\rVert_2`, the
        Euclidean distance between *rows* of R used as feature vectors (what
        ``MDS(dissimilarity="euclidean").fit(R)`` does, the leaderboard's number). ``dissimilarity``: the
        textbook :math:`\\delta_{ij} = 1 - R_{ij}`.

    Returns
    -------
    numpy.ndarray
        Symmetric k x k matrix with a zero diagonal.
    """
    r = np.asarray(r, dtype=float)
    if variant == "original":
        return _euclidean_distances(r)
    if variant == "dissimilarity":
        d = 1.0 - r
        d = (d + d.T) / 2
        d[np.abs(d) < TIE_TOLERANCE] = 0.0  # r = 1 up to rounding: the exact 0 (see above)
        np.fill_diagonal(d, 0.0)
        return d
    raise ValueError(f"variant must be 'original' or 'dissimilarity', got {variant!r}")


def _isotonic(y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Increasing weighted isotonic regression of ``y``, as scikit-learn's
    ``isotonic_regression(y, sample_weight=weights, increasing=True)``.

    scikit-learn (>= 1.4, with scipy >= 1.12) computes it with ``scipy.optimize.isotonic_regression``
    after validating its arguments; the validation cost ~0.3 ms a call, 15 times the regression
    itself, and SMACOF calls it once per iteration. So: scipy's function directly where scipy has
    it (the same numbers, checked in ``tests/test_structure.py``), else scikit-learn's.
    """
    if _scipy_isotonic is not None:
        return np.asarray(_scipy_isotonic(y, weights=weights, increasing=True).x, dtype=float)
    from sklearn.isotonic import isotonic_regression

    return isotonic_regression(y, sample_weight=weights, increasing=True)


def _tie_groups(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order and group ids of ``x`` as sklearn's ``_make_unique`` forms them, with a window
    that survives rounding.

    As in sklearn, a new group starts when a value exceeds the group's *first* value by at least
    the window. sklearn's window is ``np.finfo(float).resolution`` (1e-15, absolute); here it is
    :data:`TIE_TOLERANCE` times the largest value. Why wider: dissimilarities that are equal in
    exact arithmetic (items with identical correlation rows, constant items) come out of the
    ``|a|^2 + |b|^2 - 2ab`` distance formula with rounding errors of several 1e-15, which the BLAS
    of another CPU distributes differently. With sklearn's window such ties split or not by
    machine, and since non-metric MDS uses only the *order* of the dissimilarities, a split tie
    moved Stress by up to 1e-3 (measured by perturbing the correlations at 1e-14). With the
    wider window they stay one tie everywhere; the reference numbers of scikit-learn 1.6.1 are
    still met (tests/test_structure.py).
    """
    order = np.argsort(x, kind="stable")
    xs = x[order]
    eps = TIE_TOLERANCE * max(float(np.abs(xs).max()) if len(xs) else 0.0, 1.0)
    if len(xs) < 2 or bool((np.diff(xs) >= eps).all()):
        # No two neighbours within the window (the usual case): every value starts a group, as
        # the loop below would find (its ``first`` is then always the previous value).
        groups = np.empty(len(xs), dtype=np.intp)
        groups[order] = np.arange(len(xs))
        return order, groups
    gid = np.empty(len(xs), dtype=np.intp)
    g, first = 0, xs[0]
    for j, v in enumerate(xs):
        if v - first >= eps:
            g += 1
            first = v
        gid[j] = g
    groups = np.empty(len(xs), dtype=np.intp)
    groups[order] = gid
    return order, groups


def smacof_nonmetric(
    dissimilarities: np.ndarray,
    init: np.ndarray,
    max_iter: int = 300,
    eps: float = 1e-3,
) -> tuple[np.ndarray, float, int]:
    """Non-metric SMACOF with normalised stress, as scikit-learn 1.6.1's ``_smacof_single``.

    Parameters
    ----------
    dissimilarities : numpy.ndarray
        Symmetric (n x n) dissimilarities; zeros in the upper triangle are treated as missing.
    init : numpy.ndarray
        Starting configuration (n x p); one run, no randomness.
    max_iter : int
        Maximum SMACOF iterations (sklearn <= 1.6 default 300).
    eps : float
        Stop when the decrease of ``stress / sum_i |X_i|`` is below ``eps`` (sklearn <= 1.6
        default 1e-3).

    Returns
    -------
    X : numpy.ndarray
        Final configuration (after the last Guttman update).
    stress : float
        Stress-1 computed at the last iteration *before* its Guttman update.
    n_iter : int
        Iterations run.

    Notes
    -----
    Each iteration, with :math:`d_{ij}` the distances of the current configuration:

    1. isotonic regression of :math:`d_{ij}` on :math:`\\delta_{ij}` over the upper-triangle
       pairs with :math:`\\delta_{ij} \\neq 0` (ties in :math:`\\delta` get one pooled value,
       sklearn's ``_make_unique``), giving disparities :math:`\\hat d_{ij}`; every other
       cell of the *full* matrix (lower triangle, diagonal, missing pairs) keeps
       :math:`\\hat d_{ij} = d_{ij}`;
    2. :math:`\\hat d \\leftarrow \\hat d \\sqrt{\\tfrac{n(n-1)/2}{\\sum_{\\text{all } i,j}
       \\hat d_{ij}^2}}` (sklearn's rescaling over the full matrix);
    3. :math:`\\text{Stress} = \\sqrt{\\sum_{i,j} (d_{ij} - \\hat d_{ij})^2 /
       \\sum_{i,j} \\hat d_{ij}^2}` over the full matrix (the halves cancel);
    4. Guttman transform :math:`X \\leftarrow n^{-1} B(X) X`, with
       :math:`B_{ij} = -\\hat d_{ij}/d_{ij}` (zero distances replaced by 1e-5),
       :math:`B_{ii} = -\\sum_{j \\ne i} B_{ij}`;
    5. stop when :math:`s_{t-1} - s_t < \\text{eps}` with
       :math:`s_t = \\text{Stress}_t / \\sum_i \\lVert X_i \\rVert` (X after the update).

    The full-matrix quirks of steps 1-3 are sklearn's, kept to reproduce its numbers.
    """
    delta = np.asarray(dissimilarities, dtype=float)
    n = delta.shape[0]
    sim_flat = ((1 - np.tri(n)) * delta).ravel()
    mask = sim_flat != 0
    sim_w = sim_flat[mask]
    if sim_w.size == 0:
        raise ValueError("all dissimilarities are zero")
    _, groups = _tie_groups(sim_w)
    n_groups = int(groups.max()) + 1
    weights = np.bincount(groups, minlength=n_groups).astype(float)

    x = np.array(init, dtype=float, copy=True)
    old_stress = None
    stress = np.nan
    it = 0
    for it in range(max_iter):  # noqa: B007 (it is returned)
        dis = _euclidean_distances(x)
        dis_flat = dis.ravel()
        group_mean = np.bincount(groups, weights=dis_flat[mask], minlength=n_groups) / weights
        fitted = _isotonic(group_mean, weights)
        disparities = dis_flat.copy()
        disparities[mask] = fitted[groups]
        disparities = disparities.reshape((n, n))
        disparities *= np.sqrt((n * (n - 1) / 2) / (disparities**2).sum())

        stress = ((dis.ravel() - disparities.ravel()) ** 2).sum() / 2
        stress = np.sqrt(stress / ((disparities.ravel() ** 2).sum() / 2))

        dis[dis == 0] = 1e-5
        ratio = disparities / dis
        b = -ratio
        b[np.arange(n), np.arange(n)] += ratio.sum(axis=1)
        x = 1.0 / n * np.dot(b, x)

        size = np.sqrt((x**2).sum(axis=1)).sum()
        if old_stress is not None and (old_stress - stress / size) < eps:
            break
        old_stress = stress / size
    return x, float(stress), it + 1
