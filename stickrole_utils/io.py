"""Files: reading user files (one reader per file kind), checking output paths, atomic writes
and content hashes.

Every function here fails with a :class:`~stickrole_utils.errors.StickroleError` whose message is
one line naming the file and what is wrong with it (not found, a directory, not UTF-8 with the
byte's line and column, malformed JSON/YAML with line and column), so that no user input ends
in a traceback. Readers of a particular format (answers tables, metrics, params) call these and
then check the content.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError, StickroleError

__all__ = [
    "read_text_utf8",
    "read_json",
    "read_jsonl",
    "read_yaml",
    "check_out_dir",
    "check_out_file",
    "atomic_replace",
    "atomic_write_text",
    "sha256_file",
]


def read_text_utf8(path: str | Path, what: str = "file",
                   error: type[StickroleError] = DataError) -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped).

    Parameters
    ----------
    path : path
    what : str
        What the file is, for the message (``params file``, ``metrics file``, ...).
    error : StickroleError subclass
        Raised on failure (``ConfigError`` for settings, ``DataError`` for data).

    Raises
    ------
    StickroleError
        Not found, a directory, unreadable, or not UTF-8 (naming the first bad byte, its line
        and column).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory; expected a {what}") from None
    except NotADirectoryError:
        raise error(f"{path}: {what} not found (a part of the path is a file, not a "
                    "directory)") from None
    except PermissionError:
        raise error(f"{path}: cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise error(f"{path}: the {what} is not UTF-8 text: byte 0x{data[start]:02x} at line "
                    f"{line}, column {column}; save it as UTF-8") from None


def read_json(path: str | Path, what: str = "JSON file",
              error: type[StickroleError] = DataError) -> Any:
    """Parse a UTF-8 JSON file (the ``NaN``/``Infinity`` tokens are accepted, as Python writes
    them).

    Raises
    ------
    StickroleError
        As :func:`read_text_utf8`, or ``"<path>: invalid JSON at line L column C: <problem>"``.
    """
    text = read_text_utf8(path, what, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                    f"{exc.msg}") from None
    except RecursionError:
        raise error(f"{path}: invalid JSON: nested too deeply") from None


def read_jsonl(path: str | Path, what: str = "JSON lines file",
               error: type[StickroleError] = DataError) -> list[dict[str, Any]]:
    """The JSON objects of a UTF-8 JSON-lines file, one per non-blank line, in file order.

    Raises
    ------
    StickroleError
        As :func:`read_text_utf8`, or ``"<path>:<line>: malformed JSON line (...)"`` /
        ``"<path>:<line>: expected a JSON object"`` on one line.
    """
    out = []
    for lineno, line in enumerate(read_text_utf8(path, what, error).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{lineno}: malformed JSON line ({exc.msg} at column "
                        f"{exc.colno})") from None
        if not isinstance(record, dict):
            raise error(f"{path}:{lineno}: expected a JSON object")
        out.append(record)
    return out


def read_yaml(path: str | Path, what: str = "YAML file",
              error: type[StickroleError] = ConfigError) -> Any:
    """Parse a UTF-8 YAML file with ``yaml.safe_load`` (an empty file gives ``None``).

    Raises
    ------
    StickroleError
        As :func:`read_text_utf8`, or
        ``"<path>: not valid YAML at line L, column C: <problem>"`` on one line.
    """
    import yaml

    text = read_text_utf8(path, what, error)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: not valid YAML{where}: {problem}") from None
    except (ValueError, OverflowError, RecursionError) as exc:  # e.g. a timestamp out of range
        raise error(f"{path}: not valid YAML: {exc}") from None


def _first_existing(path: Path) -> Path | None:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return None


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Check that ``path`` can be used as an output directory (it is created later).

    Raises
    ------
    ConfigError
        ``path`` is a file, lies under a file, or its first existing directory is not writable.
    """
    path = Path(path)
    found = _first_existing(path)
    if found == path and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file, not a directory; give a directory for "
                          "the outputs")
    _check_ancestor(path, found, option)
    return path


def check_out_file(path: str | Path, option: str = "--out") -> Path:
    """Check that ``path`` can be written as an output file (an existing file is replaced).

    Raises
    ------
    ConfigError
        ``path`` is a directory, lies under a file, or its directory is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory; give a file name, e.g. "
                          f"{path / 'answers.parquet'}")
    _check_ancestor(path, _first_existing(path.parent), option)
    return path


def _check_ancestor(path: Path, found: Path | None, option: str) -> None:
    if found is None:
        return
    if not found.is_dir():
        raise ConfigError(f"{option} {path}: {found} is a file, not a directory")
    if not os.access(found, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: cannot write into {found}: permission denied")


def atomic_replace(path: str | Path, write) -> Path:
    """Write ``path`` through ``write(tmp_path)`` into a temporary file beside it, then rename.

    A reader (or a run killed mid-write) sees the old file or the new one, never a part.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically (see :func:`atomic_replace`)."""
    return atomic_replace(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
