"""File helpers every stage shares: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

__all__ = ["atomic_write_text", "atomic_write_bytes", "atomic_replace", "sha256_file"]


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


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes to ``path`` atomically (see :func:`atomic_replace`)."""
    return atomic_replace(path, lambda tmp: tmp.write_bytes(data))


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path, what: str = "JSON file"):
    """Parse a UTF-8 JSON file."""
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))
