"""Names a package re-exports but imports on first use (PEP 562), so that importing the package
stays cheap: every stage notebook imports ``stickrole_utils.pipeline`` and
``stickrole_utils.report`` in a fresh kernel, and their heavy names (the runner, the figures,
the explorer) pull in scipy, matplotlib or ipywidgets.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, names: Mapping[str, str],
                 namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps each lazily exported name to the
    (relative) module that defines it; the first access imports it and caches it in the
    package's ``namespace`` (its ``globals()``).

    Examples
    --------
    >>> ns = {}
    >>> get = lazy_getattr("stickrole_utils", {"RunLayout": ".layout"}, ns)
    >>> get("RunLayout").__name__, "RunLayout" in ns
    ('RunLayout', True)
    """
    def __getattr__(name: str) -> Any:
        if name in names:
            value = getattr(importlib.import_module(names[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
