"""Settings of the leaderboard stage (``leaderboard:`` section of a params file)."""

from __future__ import annotations

from typing import Literal

from .base import Strict

__all__ = ["LeaderboardSettings"]


class LeaderboardSettings(Strict):
    """How the models' metrics are combined into ``leaderboard.csv`` and ``ranking.json``.

    The defaults reproduce the public leaderboard (docs/method.md, "Leaderboard (Cardinal and
    Ordinal)"). The values used are written into ``ranking.json``.
    """

    ties: Literal["loss", "half"] = "loss"
    """Ordinal win rate: ``loss`` counts a tie as a loss for both models (the leaderboard's
    rule); ``half`` gives each half a win."""

    chunks: list[str] | None = None
    """Chunks whose columns enter the leaderboard, in order. ``None``: the chunks of the models'
    metrics, in the leaderboard's order for the nine known chunks, then the others
    alphabetically."""

    seed: int = 0
    """Seed of the ranking-sensitivity resampling (``ranking.json``; 0 is a valid seed)."""
