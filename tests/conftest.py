"""Shared fixtures: the original's data path (skip if absent), tiny answers tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
ORIGINAL_DATA = REPO.parent / "shared" / "value_stability_data"


@pytest.fixture(scope="session")
def original_data() -> Path:
    """The original's data files (MIT), read at run time from ../shared beside the repo."""
    if not ORIGINAL_DATA.exists():
        pytest.skip(f"original data not found at {ORIGINAL_DATA}")
    return ORIGINAL_DATA


def pvq_rows(model: str, chunk: str, persona: str, scores, gender: str = "F") -> pd.DataFrame:
    """40 PVQ rows of one persona from a list of 40 scores."""
    return pd.DataFrame({
        "model": model, "chunk": chunk, "persona": persona, "gender": gender,
        "questionnaire": "pvq40", "item": range(1, 41), "score": [float(s) for s in scores],
    })
