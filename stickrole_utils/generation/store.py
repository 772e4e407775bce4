"""Append-only, crash-safe results of one model run, and its manifest.

Layout of ``outputs/<run>/<model>/``::

    manifest.json          configuration, identity hash, backend info, versions, progress
    parts/<unit>.json      conversation record of a finished unit
    parts/<unit>.parquet   answer rows of a finished unit (written last: the commit marker)
    answers.parquet        all parts consolidated (answers-table contract + generation columns)
    conversations.jsonl    all conversation records, one per line

Every file is written to a temporary name in the same directory and ``os.replace``-d into place,
so a killed process leaves either a whole unit or none; a unit is finished exactly when its
parquet part exists, so resuming never duplicates or loses one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, DataError
from ..io import atomic_replace, atomic_write_text, read_json, read_jsonl
from ..layout import ModelFiles
from ..schema import ROW_KEY, UNIT_KEY
from .administer import ROW_COLUMNS
from .manifest import Manifest, parse_manifest

__all__ = [
    "RunStore",
    "identity_hash",
    "git_commit",
    "read_manifest",
    "read_run_answers",
]

_log = logging.getLogger(__name__)


def identity_hash(identity: dict[str, Any]) -> str:
    """sha256 of a JSON-serialised identity mapping (sorted keys)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def git_commit(path: Path | None = None) -> str:
    """The git commit of the stickrole checkout (``+dirty`` if modified), or ``unknown``."""
    where = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _diff(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if old == new else [f"{prefix}: {old!r} -> {new!r}"]


class RunStore:
    """Results of one (run, model) directory.

    Parameters
    ----------
    run_dir : path
        ``outputs/<run>/<model>``; created if needed.
    """

    def __init__(self, run_dir: str | Path):
        files = ModelFiles(run_dir)
        self.run_dir = files.dir
        self.parts = files.parts
        self.manifest_path = files.manifest
        self.answers_path = files.answers
        self.conversations_path = files.conversations

    # -- units -----------------------------------------------------------------------------

    @staticmethod
    def unit_id(key: Iterable[str]) -> str:
        """File stem of a unit: sha256 of its (model, chunk, persona, questionnaire) key."""
        return hashlib.sha256("\x1f".join(map(str, key)).encode()).hexdigest()[:24]

    def is_done(self, key: tuple[str, ...]) -> bool:
        """Whether the unit's answer part exists."""
        return (self.parts / f"{self.unit_id(key)}.parquet").exists()

    def write_unit(self, key: tuple[str, ...], rows: pd.DataFrame, conversation: dict) -> None:
        """Store one finished unit atomically (conversation first, answer rows last)."""
        if rows.empty:
            raise DataError(f"unit {key}: no rows to store")
        if len(key) != len(UNIT_KEY):
            raise DataError(f"unit key must be {UNIT_KEY}; got {key}")
        self.parts.mkdir(parents=True, exist_ok=True)
        uid = self.unit_id(key)
        atomic_write_text(self.parts / f"{uid}.json", json.dumps(conversation, ensure_ascii=False))
        atomic_replace(self.parts / f"{uid}.parquet", lambda tmp: rows.to_parquet(tmp, index=False))

    def part_files(self) -> list[Path]:
        """Finished units' answer parts (temporary files are ignored)."""
        if not self.parts.is_dir():
            return []
        return sorted(p for p in self.parts.glob("*.parquet") if not p.name.startswith("."))

    def has_results(self) -> bool:
        return bool(self.part_files()) or self.answers_path.exists()

    # -- consolidation ---------------------------------------------------------------------

    def read_parts(self) -> pd.DataFrame:
        """All finished units' rows, sorted by (chunk order, persona, questionnaire, item)."""
        files = self.part_files()
        if not files:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ROW_COLUMNS.items()})
        frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        dup = frame.duplicated(list(ROW_KEY))
        if dup.any():
            raise DataError(f"{self.parts}: {int(dup.sum())} duplicate rows across parts")
        order = self.read_manifest().get("chunk_order") or sorted(frame["chunk"].unique())
        rank = {c: i for i, c in enumerate(order)}
        frame["_c"] = frame["chunk"].map(lambda c: rank.get(c, len(rank)))
        frame = frame.sort_values(["_c", "persona_index", "questionnaire", "item"], kind="stable")
        return frame.drop(columns="_c").reset_index(drop=True)

    def consolidate(self) -> Path:
        """Write ``answers.parquet`` and ``conversations.jsonl`` from the parts (atomically)."""
        frame = self.read_parts()
        atomic_replace(self.answers_path, lambda tmp: frame.to_parquet(tmp, index=False))
        records = []
        for f in self.part_files():
            conv = f.with_suffix(".json")
            if conv.exists():
                records.append(json.loads(conv.read_text(encoding="utf-8")))
        order = self.read_manifest().get("chunk_order") or []
        rank = {c: i for i, c in enumerate(order)}
        records.sort(key=lambda r: (rank.get(r.get("chunk"), len(rank)), str(r.get("chunk")),
                                    r.get("persona_index", 0), str(r.get("questionnaire"))))
        lines = [json.dumps(r, ensure_ascii=False) for r in records]
        atomic_write_text(self.conversations_path, "\n".join(lines) + ("\n" if lines else ""))
        return self.answers_path

    def read_conversations(self) -> list[dict[str, Any]]:
        """The conversation records of ``conversations.jsonl`` (written by
        :meth:`consolidate`), in file order; [] before the first consolidation.

        Raises
        ------
        DataError
            A line that is not a JSON object (file and line named).
        """
        if not self.conversations_path.is_file():
            return []
        return read_jsonl(self.conversations_path, "conversations")

    # -- manifest --------------------------------------------------------------------------

    def read_manifest(self) -> dict[str, Any]:
        """:func:`read_manifest` of this directory, its errors ending with the way out."""
        try:
            return read_manifest(self.run_dir)
        except DataError as exc:
            raise DataError(f"{exc}; delete it or use --force") from None

    def write_manifest(self, manifest: Manifest) -> None:
        """Write ``manifest.json`` atomically, stamped ``updated`` now: its only writer."""
        manifest = Manifest.model_validate({**manifest.model_dump(exclude_unset=True),
                                            "updated": datetime.now(timezone.utc).isoformat()})
        atomic_write_text(self.manifest_path,
                          json.dumps(manifest.model_dump(exclude_unset=True), indent=2,
                                     default=str))

    def check_identity(self, identity: dict[str, Any], force: bool = False) -> None:
        """Refuse to mix results produced under another configuration.

        A directory with results and a manifest whose ``identity`` differs raises
        :class:`ConfigError` listing the differences, unless ``force``, which deletes the
        earlier results first.
        """
        old = self.read_manifest()
        if not self.has_results():
            return
        if force:
            _log.warning("%s: --force: deleting earlier results", self.run_dir)
            self.clear()
            return
        if not old:
            raise ConfigError(f"{self.run_dir}: holds results but no manifest.json; cannot tell "
                              "how they were produced; use --force to start over")
        if old.get("identity_sha256") != identity_hash(identity):
            diffs = _diff(old.get("identity", {}), identity)
            shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4
                                            else "")
            raise ConfigError(f"{self.run_dir}: earlier results were produced under a different "
                              f"configuration ({shown or 'identity differs'}); use --force to "
                              "start over, or another run name")

    def clear(self) -> None:
        """Delete this directory's generated files."""
        shutil.rmtree(self.parts, ignore_errors=True)
        for p in (self.answers_path, self.conversations_path, self.manifest_path):
            p.unlink(missing_ok=True)


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """``<model_dir>/manifest.json``, validated (:class:`Manifest`), as a dict; ``{}`` if absent
    (e.g. answers imported rather than generated). The one reader of a manifest.

    Raises
    ------
    DataError
        Unreadable, not a JSON object, or not a manifest (one line).
    """
    path = RunStore(model_dir).manifest_path
    if not path.exists():
        return {}
    return parse_manifest(read_json(path, "manifest"), str(path)).model_dump(exclude_unset=True)


def read_run_answers(run_dir: str | Path) -> pd.DataFrame:
    """Answers of a model run directory, consolidating newer parts first.

    Returns
    -------
    pandas.DataFrame
        :data:`administer.ROW_COLUMNS` (the seven contract columns first).
    """
    store = RunStore(run_dir)
    parts = store.part_files()
    if parts and (not store.answers_path.exists() or
                  max(p.stat().st_mtime for p in parts) > store.answers_path.stat().st_mtime):
        store.consolidate()
    if not store.answers_path.exists():
        raise DataError(f"{run_dir}: no answers yet (no answers.parquet, no finished units)")
    return pd.read_parquet(store.answers_path)
