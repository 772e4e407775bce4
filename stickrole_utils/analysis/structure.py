"""Value structure: item intercorrelations, non-metric MDS "Stress", circular rank distance.

Reproduces the leaderboard's Stress (``docs/method.md``, Circular structure (MDS Stress)) and the
rank distance (``docs/method.md``, Rank distance). The MDS itself (dissimilarities, SMACOF as
scikit-learn 1.6 computes it) is :mod:`stickrole_utils.analysis.mds`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..design.instruments import Instrument
from ..design.values import THEORETICAL_RANKS, VALUES, theoretical_coords
from .mds import mds_dissimilarities, smacof_nonmetric

__all__ = [
    "StructureResult",
    "item_intercorrelations",
    "structure_stress",
    "circular_rank_distance",
    "rank_distance",
    "value_structure",
    "MAX_RANK_DISTANCE",
]

log = logging.getLogger(__name__)

#: Largest circular rank distance reachable with the theoretical ranks (min over CW/CCW),
#: the normaliser the original uses for the rank distance (``docs/method.md``, Rank distance).
MAX_RANK_DISTANCE: float = 3.4

#: Fewest personas with which a structure is computed (Spearman needs >= 3 to be informative).
MIN_PERSONAS: int = 3


@dataclass
class StructureResult:
    """Outcome of :func:`value_structure` for one chunk.

    Attributes
    ----------
    stress : float
        Kruskal Stress-1 as sklearn <= 1.6 reports it (NaN when degenerate; see ``note``).
    n_iter : int
        SMACOF iterations run (0 when not run).
    coords : pandas.DataFrame
        One row per keyed item: ``item`` (int), ``value`` (str), ``x``, ``y`` (float).
    value_coords : pandas.DataFrame
        One row per value in circle order: ``value``, ``x``, ``y`` (centroid of its items).
    rank_distance : float
        Normalised circular rank distance to the theoretical order, in [0, 1].
    n_personas : int
        Personas used (after listwise deletion of rows with a missing keyed item).
    variant : str
        ``"original"`` or ``"dissimilarity"``.
    note : str
        Empty when all is well; otherwise the reason for NaN results.
    """

    stress: float
    n_iter: int
    coords: pd.DataFrame
    value_coords: pd.DataFrame
    rank_distance: float
    n_personas: int
    variant: str
    note: str = ""


def _keyed_matrix(items: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Keyed item columns sorted by number, rows with any NaN dropped (listwise deletion)."""
    keyed = list(instrument.keyed_items)
    missing = [i for i in keyed if i not in items.columns]
    if missing:
        # A missing column is data, not a user error here: treat as all-NaN (the column then
        # removes every persona in listwise deletion, which the caller sees as a note).
        items = items.reindex(columns=list(items.columns) + missing)
    return items[keyed].astype(float).dropna(axis=0, how="any")


def item_intercorrelations(items: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Spearman intercorrelation matrix of the keyed items, with the original's overrides.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers: one row per persona, columns = 1-based item numbers (int).
        Rows with a missing keyed item are dropped (listwise deletion).
    instrument : Instrument
        Supplies the keyed items (``instrument.keyed_items``, sorted ascending).

    Returns
    -------
    pandas.DataFrame
        Square matrix indexed and columned by keyed item number.

    Notes
    -----
    :math:`R_{ij} = \\operatorname{corr}(\\operatorname{rank}(x_i), \\operatorname{rank}(x_j))`
    (Spearman, average ranks for ties). Overrides (as the original): both items constant -> 1.0, exactly one
    constant -> 0.0, diagonal 1.0. Fewer than 2 personas: every off-diagonal entry follows
    the constant rules (a single answer is constant).

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> x = pd.DataFrame([[float(i % 6 + 1 + p) for i in range(40)] for p in range(3)],
    ...                  columns=range(1, 41))
    >>> r = item_intercorrelations(x, PVQ40)
    >>> r.shape, float(r.loc[1, 2])
    ((40, 40), 1.0)
    """
    x = _keyed_matrix(items, instrument).to_numpy()
    keyed = list(instrument.keyed_items)
    r = _intercorrelations(x)
    return pd.DataFrame(r, index=pd.Index(keyed, name="item"), columns=pd.Index(keyed, name="item"))


def _intercorrelations(x: np.ndarray) -> np.ndarray:
    """:func:`item_intercorrelations` of a complete (persona x keyed item) float matrix."""
    k = x.shape[1]
    if x.shape[0] == 0:
        const = np.ones(k, dtype=bool)
    else:
        const = np.all(x == x[:1], axis=0)
    r = np.zeros((k, k))
    if x.shape[0] >= 2:
        ranks = rankdata(x, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.corrcoef(ranks, rowvar=False)
        r = np.atleast_2d(c).copy()
    both = const[:, None] & const[None, :]
    one = const[:, None] ^ const[None, :]
    r[both] = 1.0
    r[one] = 0.0
    np.fill_diagonal(r, 1.0)
    # Rounding can make corrcoef exceed 1 by an ulp; Spearman is bounded.
    np.clip(r, -1.0, 1.0, out=r)
    return r


def circular_rank_distance(angles: np.ndarray, theoretical_ranks: np.ndarray) -> float:
    """Mean circular distance between the ranks of ``angles`` and theoretical ranks.

    Parameters
    ----------
    angles : numpy.ndarray
        One angle per value (radians, [0, 2pi)), in circle order.
    theoretical_ranks : numpy.ndarray
        Theoretical ranks, same order.

    Returns
    -------
    float
        :math:`\\frac{1}{V}\\sum_v \\min(|t_v - a_v|, |t_v - a_v + V|, |t_v - a_v - V|)` with
        :math:`a = \\operatorname{rankdata}(\\text{angles})`,
        :math:`t = \\operatorname{rankdata}(\\text{theoretical})`, V the number of values.

    Examples
    --------
    >>> circular_rank_distance(np.arange(10.0), np.arange(1, 11))
    0.0
    >>> circular_rank_distance(np.array([9.0, *range(9)]), np.arange(1, 11))  # rotated by one
    1.0
    """
    a = rankdata(angles)
    t = rankdata(theoretical_ranks)
    v = len(a)
    d = np.abs(np.stack([t - (a - v), t - a, t - (a + v)])).min(axis=0)
    return float(d.mean())


def _angles_from(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ang = np.angle(x + 1j * y)
    ang = ang - ang[0]
    return ang + (ang < 0) * 2 * np.pi


def rank_distance(value_coords: pd.DataFrame) -> float:
    """Normalised rank distance of value centroids to Schwartz's circle (``docs/method.md``, Rank distance).

    Parameters
    ----------
    value_coords : pandas.DataFrame
        Columns ``value``, ``x``, ``y``; one row per value of :data:`~stickrole_utils.design.values.VALUES`.

    Returns
    -------
    float
        :math:`\\min(D_{ccw}, D_{cw}) / 3.4`, where :math:`D` is
        :func:`circular_rank_distance` of the polar angles of :math:`x + iy` (CCW) or
        :math:`-x + iy` (CW), each re-zeroed at Self-Direction and wrapped to [0, 2pi), against
        :data:`~stickrole_utils.design.values.THEORETICAL_RANKS`. NaN if a centroid is missing.
    """
    vc = value_coords.set_index("value").reindex(list(VALUES))
    if vc[["x", "y"]].isna().to_numpy().any():
        return float("nan")
    x, y = vc["x"].to_numpy(float), vc["y"].to_numpy(float)
    theo = np.array([THEORETICAL_RANKS[v] for v in VALUES])
    ccw = circular_rank_distance(_angles_from(x, y), theo)
    cw = circular_rank_distance(_angles_from(-x, y), theo)
    return min(ccw, cw) / MAX_RANK_DISTANCE


def _empty_result(instrument: Instrument, n: int, variant: str, note: str) -> StructureResult:
    keyed = list(instrument.keyed_items)
    iv = instrument.item_value
    coords = pd.DataFrame(
        {"item": keyed, "value": [iv[i] for i in keyed], "x": np.nan, "y": np.nan}
    )
    vc = pd.DataFrame({"value": list(VALUES), "x": np.nan, "y": np.nan})
    return StructureResult(np.nan, 0, coords, vc, np.nan, n, variant, note)


def value_structure(
    items: pd.DataFrame,
    instrument: Instrument,
    variant: Literal["original", "dissimilarity"] = "original",
    max_iter: int = 300,
    eps: float = 1e-3,
) -> StructureResult:
    """Non-metric MDS of the keyed items started at the theoretical circle; Stress and rank distance.

    Parameters
    ----------
    items : pandas.DataFrame
        Wide raw answers (one row per persona, columns = 1-based item numbers, floats). Rows
        with a missing keyed item are dropped.
    instrument : Instrument
        PVQ40 or SVS57 (its key gives the keyed items and their values).
    variant : {"original", "dissimilarity"}
        Dissimilarities: Euclidean distances between rows of R (the leaderboard's) or 1 - R.
    max_iter, eps : int, float
        SMACOF stopping parameters (sklearn <= 1.6 defaults).

    Returns
    -------
    StructureResult
        ``stress`` (Stress-1), ``n_iter``, item ``coords``, value centroids ``value_coords``,
        ``rank_distance``, ``n_personas``, ``note`` (reason when NaN).

    Notes
    -----
    R = :func:`item_intercorrelations`; dissimilarities per :func:`mds_dissimilarities`; each
    item starts at its value's point in :data:`~stickrole_utils.design.values.THEORETICAL_COORDS`;
    :func:`smacof_nonmetric` gives
    :math:`\\text{Stress-1} = \\sqrt{\\sum (d - \\hat d)^2 / \\sum \\hat d^2}`.

    Examples
    --------
    >>> from stickrole_utils.design.instruments import PVQ40
    >>> rng = np.random.default_rng(0)
    >>> x = pd.DataFrame(rng.integers(1, 7, (30, 40)).astype(float), columns=range(1, 41))
    >>> res = value_structure(x, PVQ40)
    >>> 0 < res.stress < 1, len(res.coords)
    (True, 40)
    """
    if variant not in ("original", "dissimilarity"):
        raise ValueError(f"variant must be 'original' or 'dissimilarity', got {variant!r}")
    x = _keyed_matrix(items, instrument)
    n = len(x)
    if n < MIN_PERSONAS:
        return _empty_result(
            instrument,
            n,
            variant,
            f"{n} persona(s) with complete keyed answers; need {MIN_PERSONAS}",
        )
    keyed = list(instrument.keyed_items)
    iv = instrument.item_value
    labels = [iv[i] for i in keyed]
    try:
        emb, stress, n_iter = _smacof(x.to_numpy(), labels, variant, max_iter, eps)
    except ValueError as exc:
        return _empty_result(instrument, n, variant, f"MDS not computable: {exc}")
    coords = pd.DataFrame({"item": keyed, "value": labels, "x": emb[:, 0], "y": emb[:, 1]})
    vc = (
        coords.groupby("value", sort=False)[["x", "y"]]
        .mean()
        .reindex(list(VALUES))
        .rename_axis("value")
        .reset_index()
    )
    note = ""
    if not np.isfinite(stress):
        note = "MDS gave a non-finite stress"
    return StructureResult(
        stress=stress,
        n_iter=n_iter,
        coords=coords,
        value_coords=vc,
        rank_distance=rank_distance(vc),
        n_personas=n,
        variant=variant,
        note=note,
    )


def _smacof(x: np.ndarray, labels: list[str], variant: str, max_iter: int,
            eps: float) -> tuple[np.ndarray, float, int]:
    """SMACOF of a complete (persona x keyed item) matrix started at the theoretical circle;
    ValueError when not computable (all dissimilarities zero)."""
    delta = mds_dissimilarities(_intercorrelations(x), variant)  # type: ignore[arg-type]
    return smacof_nonmetric(delta, theoretical_coords(labels), max_iter=max_iter, eps=eps)


def structure_stress(
    x: np.ndarray,
    instrument: Instrument,
    variant: Literal["original", "dissimilarity"] = "original",
    max_iter: int = 300,
    eps: float = 1e-3,
) -> float:
    """:func:`value_structure`'s ``stress`` from a numpy matrix, without the tables.

    Parameters
    ----------
    x : numpy.ndarray
        Raw answers, one row per persona, one column per keyed item in
        ``instrument.keyed_items`` order (float; rows with a NaN are dropped).
    instrument, variant, max_iter, eps
        As in :func:`value_structure`.

    Returns
    -------
    float
        The same number as ``value_structure(items, instrument, variant).stress`` for the
        DataFrame holding ``x`` (same rows in the same order): the same computation, without
        the coordinates, centroids and rank distance (the Cardinal bootstrap's resamples need
        only Stress). NaN where :func:`value_structure` gives NaN.
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    if len(x) < MIN_PERSONAS:
        return float("nan")
    iv = instrument.item_value
    try:
        return _smacof(x, [iv[i] for i in instrument.keyed_items], variant, max_iter, eps)[1]
    except ValueError:
        return float("nan")
