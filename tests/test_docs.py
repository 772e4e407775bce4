"""Generated and quoted documentation is current: docs/params.md is what the settings' docstrings
give, and the run-directory tree in docs/extending.md is layout.py's."""

from __future__ import annotations

import re
from pathlib import Path

from stickrole_utils import layout
from stickrole_utils.paramsdoc import render

ROOT = Path(__file__).resolve().parents[1]


def test_params_reference_is_generated_from_the_docstrings():
    current = (ROOT / "docs" / "params.md").read_text(encoding="utf-8")
    assert current == render(), ("docs/params.md is stale: python -m stickrole_utils.paramsdoc "
                                 "> docs/params.md")


def test_every_setting_is_documented():
    # a field without a docstring would give an empty description in params.md
    rows = [r for r in render().splitlines() if r.startswith("| `")]
    assert rows and all(not r.rstrip().endswith("|  |") for r in rows), \
        [r for r in rows if r.rstrip().endswith("|  |")]


def test_documented_run_tree_is_layouts():
    trees = re.findall(r"::\n\n((?:    .*\n|\n)+?)\n(?=\S)", layout.__doc__)
    doc = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    for tree in trees[:2]:
        lines = [line[4:] for line in tree.rstrip("\n").split("\n")]
        assert "\n".join(lines) in doc, "extending.md's run-directory tree differs from layout.py's"


def test_every_settings_model_has_a_section():
    """Every settings model reachable from a params file's top level is documented (a nested
    section added later must get its own table)."""
    import typing

    from pydantic import BaseModel

    from stickrole_utils.config import RunConfig

    seen, todo = set(), [RunConfig]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for field in model.model_fields.values():
            stack = [field.annotation]
            while stack:
                tp = stack.pop()
                if isinstance(tp, type) and issubclass(tp, BaseModel):
                    todo.append(tp)
                stack += list(typing.get_args(tp))
    from stickrole_utils.paramsdoc import _table

    text = render()
    skip = {RunConfig: ("source",)}
    missing = [m.__name__ for m in seen
               if "\n".join(_table(m, skip.get(m, ()))) not in text]
    assert not missing, missing
