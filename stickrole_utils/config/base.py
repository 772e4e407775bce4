"""The base of every settings model: unknown keys are errors, settings are frozen, and each
field's docstring is its description (``docs/params.md`` is generated from them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict"]


class Strict(BaseModel):
    """A settings section: ``extra="forbid"`` (an unknown key is an error, not a warning),
    frozen, field docstrings kept as descriptions."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
