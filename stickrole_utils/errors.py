"""Exceptions a user can cause, each with a message that says what, where, and how to fix it.

:func:`format_validation_error` is the one formatter of pydantic validation errors (params files,
analysis settings): one line naming the source, the key path, the problem and the value given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "StickroleError",
    "ConfigError",
    "DataError",
    "BackendError",
    "ParseError",
    "format_validation_error",
    "one_line",
    "shown",
]


class StickroleError(Exception):
    """Base class: a problem with the user's input or environment (not a bug in stickrole).

    The command line prints the message on one line and exits non-zero; no traceback.
    """


class ConfigError(StickroleError, ValueError):
    """A params file, setting or command-line option is invalid."""


class DataError(StickroleError, ValueError):
    """An input table or file (answers, metrics, results.json, personas, ...) is malformed."""


class BackendError(StickroleError, RuntimeError):
    """A model backend cannot be loaded or reached."""


class ParseError(StickroleError, ValueError):
    """A file could not be parsed (malformed JSON/JSONL/YAML)."""


def one_line(text: str) -> str:
    """``text`` with line breaks (and the spaces around them) replaced by single spaces.

    >>> one_line("while parsing\\n  in <unicode>, line 2")
    'while parsing in <unicode>, line 2'
    """
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def shown(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (for messages).

    >>> shown("x" * 100, limit=10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def format_validation_error(exc: Any, source: str, *, prefix: str = "",
                            allowed_keys: Callable[[tuple], list[str] | None] | None = None,
                            skip: tuple[str, ...] = (), key_label: str = "{key}") -> str:
    """One line from a pydantic ``ValidationError``: ``source: key: problem (given: value)``.

    Parameters
    ----------
    exc : pydantic.ValidationError
    source : str
        Where the values came from (a file path, or a command-line option).
    prefix : str
        Key path prepended to every location (e.g. ``analysis`` for a params file's section).
    allowed_keys : callable, optional
        ``loc -> allowed keys`` of the mapping at ``loc``, listed for an unknown key.
    skip : tuple of str
        Location parts left out (union branch names such as ``ChunkSpec``).
    key_label : str
        How a key path is shown (``"{key}"``; e.g. ``"analysis setting {key!r}"``).

    Returns
    -------
    str
        Each problem once, joined with ``"; "``.
    """
    parts = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if p not in skip)
        key = ".".join(str(p) for p in ((prefix,) if prefix else ()) + loc) or "<top level>"
        key = key_label.format(key=key)
        given = err.get("input")
        if err["type"] == "string_type" and isinstance(given, dict):
            continue  # the mapping branch of a `str | mapping` field reports the real problem
        if err["type"] == "extra_forbidden":
            allowed = (allowed_keys(loc[:-1]) if allowed_keys else None) or []
            hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
            parts.append(f"{key}: unknown key{hint}")
        elif err["type"] == "missing":
            parts.append(f"{key}: required key is missing")
        else:
            msg = one_line(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{key}: {msg} (given: {shown(given)})")
    return f"{source}: " + "; ".join(dict.fromkeys(parts))
