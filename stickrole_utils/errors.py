"""Exceptions a user can cause, each with a message that says what, where, and how to fix it."""

__all__ = [
    "StickroleError",
    "ConfigError",
    "DataError",
    "BackendError",
    "ParseError",
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
