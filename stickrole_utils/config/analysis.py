"""Analysis settings: every choice where the original's behaviour and a corrected variant differ.

Defaults reproduce the public leaderboard's numbers (docs/method.md, "Faithful by default, corrected
on request"). The settings used are written into ``metrics.json`` under ``settings``. How models
are ranked against each other (win-rate ties) is the leaderboard stage's: ``config.leaderboard``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Strict

__all__ = ["AnalysisSettings"]


class AnalysisSettings(Strict):
    """Options of the analysis stage (``analysis:`` section of a params file)."""

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data):
        if isinstance(data, dict) and "ties" in data:
            raise ValueError("'ties' is a leaderboard setting since the leaderboard became its "
                             "own stage: move it to the leaderboard: section (or use --ties)")
        return data

    unparsed: Literal["random", "drop"] = "random"
    """Unparsed items (score NaN): ``random`` replaces each with a uniformly random option drawn
    from a generator seeded with ``seed`` (the leaderboard's behaviour, made reproducible);
    ``drop`` leaves them out of every mean and correlation. The count goes into metrics.json."""

    seed: int = 0
    """Seed for the unparsed-item substitution and the bootstrap (0 is a valid seed)."""

    stress: Literal["original", "dissimilarity"] = "original"
    """``original``: non-metric MDS on the rows of the item intercorrelation matrix treated as
    feature vectors (scikit-learn <= 1.6 semantics, the leaderboard's number); ``dissimilarity``:
    the textbook variant on the precomputed dissimilarity 1 - r."""

    cfa_failure: Literal["original", "nan"] = "original"
    """How a failed CFA fit enters the leaderboard columns: ``original`` scores it CFI = TLI = 0,
    SRMR = RMSEA = 1 (the leaderboard's rule); ``nan`` leaves it out of the means.
    metrics.json always stores the raw NaN with ``converged: false``."""

    cfa_crawls: Literal["follow", "judge"] = "follow"
    """On near-random answers a CFA fit often has no minimum and lavaan's optimizer crawls along
    a valley for up to 3 x 10,000 iterations before its verdict. ``follow`` runs every crawl to
    its end as lavaan does (lavaan's verdict wherever lavaan's is stable: 99.5-100 % of the
    reference fits; the random baseline's CFI within lavaan's spread; ~5 s for the 36 fits of
    a random-answer model, nothing extra on answers with structure); ``judge`` decides a crawl
    after at most 600 iterations from the level of its gradient (``CrawlRule``; ~0.4 s, 98.0 %).
    The Cardinal bootstrap's resamples always judge. See docs/performance.md, CFA."""

    chunks: list[str] | None = None
    """Chunk order for the stability matrix and leaderboard columns. ``None``: the leaderboard's
    order for the nine known chunks, then any other chunks alphabetically."""

    bootstrap: int = Field(default=1000, ge=0)
    """Bootstrap resamples over personas for the rank-order stability interval (0 disables
    all intervals)."""

    bootstrap_cardinal: int = Field(default=50, ge=0)
    """Bootstrap resamples for the Cardinal-score interval. Each resample recomputes every
    column of the score, the 4 CFA fits and the MDS of every chunk included, so it costs about
    0.3-2 s per resample for 9 chunks (see benchmarks/bench_analysis.py); 0 disables it."""

    ci_level: float = Field(default=0.95, gt=0, lt=1)
    """Level of the percentile bootstrap intervals."""

    downstream_pairs: dict[str, str] | None = None
    """Downstream chunk -> the PVQ-40/SVS-57 chunk of the same topic, for the value-behaviour
    correlation. ``None``: paired through the answers table's ``topic`` column (and
    ``replicate``) when it has one (docs/method.md, "Downstream behaviour")."""
