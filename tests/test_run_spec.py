"""The run specification: resolve -> write -> read -> resolve is the identity, for any params.

A property test over generated params (chunks named by preset, preset mappings with
overrides, custom chunks; grids over seed, n_messages and other scalar settings): the
specification of a validated config reads back unchanged, expanding chunks twice is expanding
them once, and every grid point is the base specification with only the grid keys changed
(``seed`` also changes the chunks' permutation seed strings, nothing else of them).
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from stickrole_utils.config import (
    CHUNK_PRESETS,
    ChunkSpec,
    expand_chunk,
    expand_grid,
    parse_run_config,
    run_spec,
)

PRESETS = sorted(CHUNK_PRESETS)
OVERRIDES = {
    "questionnaire": st.sampled_from(["pvq40", "svs57", "religion", "tolkien_donation"]),
    "interlocutor": st.sampled_from(["human", "persona"]),
    "interlocutor_seed": st.integers(0, 5),
    "seed": st.text("abc_0123", min_size=1, max_size=6),
    "topic": st.sampled_from(["chess", "joke", "grammar"]),
    "opener": st.text(min_size=1, max_size=20),
}


@st.composite
def chunks(draw):
    out = []
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["name", "preset", "custom"]))
        if kind == "name":
            name = draw(st.sampled_from(PRESETS))
            if name in out:
                continue
            out.append(name)
            continue
        keys = draw(st.lists(st.sampled_from(sorted(OVERRIDES)), unique=True, max_size=3))
        spec = {k: draw(OVERRIDES[k]) for k in keys}
        spec["label"] = f"c{i}"
        if kind == "preset":
            spec["preset"] = draw(st.sampled_from(PRESETS))
        else:
            spec.setdefault("context", draw(st.sampled_from(["none", "topic"])))
        out.append(spec)
    labels = [c if isinstance(c, str) else c["label"] for c in out]
    return [c for c, lab in zip(out, labels, strict=True) if labels.count(lab) == 1] or ["chunk_0"]


@st.composite
def params(draw):
    grid = {}
    if draw(st.booleans()):
        grid["seed"] = draw(st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True))
    if draw(st.booleans()):
        grid["n_messages"] = draw(st.lists(st.sampled_from([1, 3, 5]), min_size=1, unique=True))
    if draw(st.booleans()):
        grid["mode"] = draw(st.lists(st.sampled_from(["logprob", "direct"]), min_size=1,
                                     unique=True))
    data = {
        "version": 1, "run": "r", "output_dir": "/o",
        "models": [{"name": "d", "backend": "dummy"}],
        "generation": {"chunks": draw(chunks()), "n_messages": draw(st.sampled_from([1, 3])),
                       "seed": draw(st.integers(0, 3)),
                       "strip_replies": draw(st.booleans())},
    }
    if grid:
        data["experiment"] = {"grid": grid}
    return data


@settings(max_examples=60, deadline=None)
@given(params())
def test_spec_round_trip_and_grid_points(data):
    cfg = parse_run_config(data)
    spec = run_spec(cfg)
    # written as JSON and read back (from anywhere): the same specification
    again = parse_run_config(json.loads(json.dumps(spec)), base_dir="/elsewhere")
    assert run_spec(again) == spec
    # every chunk is complete: expanding it again changes nothing
    for chunk in cfg.generation.chunks:
        assert ChunkSpec.model_validate(expand_chunk(chunk)) == chunk
    base = spec["generation"]
    for point, point_cfg in expand_grid(cfg):
        pspec = run_spec(point_cfg)
        assert run_spec(parse_run_config(json.loads(json.dumps(pspec)))) == pspec
        gen = pspec["generation"]
        changed = {k for k in gen if gen[k] != base[k]}
        assert changed <= {*point, "chunks"}
        for a, b in zip(base["chunks"], gen["chunks"], strict=True):
            if "seed" in point:
                assert b["seed"].startswith(f"{point['seed']}_")
                a, b = {**a, "seed": None}, {**b, "seed": None}
            assert a == b


def test_a_preset_keeps_its_conversation_through_a_seed_grid():
    # the bug this file guards against: a seed grid point's params.json named the preset and
    # every default, and on reading back the defaults (context none) overrode the preset
    cfg = parse_run_config({"version": 1, "run": "r", "output_dir": "/o",
                            "models": [{"name": "d", "backend": "dummy"}],
                            "generation": {"chunks": ["chunk_grammar", "chunk_chess"]},
                            "experiment": {"grid": {"seed": [0]}}})
    [(_, point)] = expand_grid(cfg)
    back = parse_run_config(json.loads(json.dumps(run_spec(point))))
    assert [(c.context, c.topic, c.seed) for c in back.generation.chunks] == [
        ("topic", "grammar", "0_grammar"), ("topic", "chess", "0_chess")]
