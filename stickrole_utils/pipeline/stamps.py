"""Stage stamps: a stage whose inputs did not change since its last success is not re-run.

A stage's stamp (:meth:`~stickrole_utils.layout.RunLayout.stamp`) holds one hash of its inputs
-- its params section, its input files and the notebook source -- written after it succeeded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_write_text, sha256_file

__all__ = ["file_digest", "inputs_digest", "is_current", "write_stamp"]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or ``"missing"``."""
    return sha256_file(path) if Path(path).is_file() else "missing"


def inputs_digest(params: Mapping[str, Any], files: Sequence[Path]) -> str:
    """One hash of a stage's inputs: its params section (canonical JSON) and its input files."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for f in files:
        h.update(f"\0{Path(f).name}\0{file_digest(Path(f))}".encode())
    return h.hexdigest()


def is_current(stamp: Path, digest: str, outputs: Sequence[Path]) -> bool:
    """Whether the stage stamped ``stamp`` succeeded on inputs ``digest`` and its outputs exist."""
    if not stamp.is_file() or not all(Path(o).exists() for o in outputs):
        return False
    try:
        return json.loads(stamp.read_text()).get("inputs") == digest
    except (json.JSONDecodeError, OSError, UnicodeDecodeError, AttributeError):
        return False


def write_stamp(stamp: Path, digest: str, parameters: Mapping[str, Any], seconds: float) -> None:
    """Record a stage's success (atomically)."""
    atomic_write_text(stamp, json.dumps({"inputs": digest, "parameters": dict(parameters),
                                         "seconds": round(seconds, 3),
                                         "finished": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                        indent=1))
