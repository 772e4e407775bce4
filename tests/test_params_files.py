"""Every params file we ship runs what it says: configured = planned = executed = recorded.

Each file under ``params/`` (and ``params/paper/``) is run at a tiny size (2 personas, the
dummy baseline, every grid point) through the code ``stickrole run`` uses: the grid points'
``params.json`` are written and read back by :func:`~stickrole_utils.pipeline.write_grid_points`,
each point is generated from its ``params.json`` as the generate notebook does
(:func:`~stickrole_utils.generation.generate_from_params`), and ``stickrole plan``'s counts come
from :func:`~stickrole_utils.generation.cost.plan_run` on the same point. Then, per point:

* round trip: the specification written reads back identical;
* the point's chunks and generation settings are the base file's but for the grid keys;
* executed = configured: per chunk, the questionnaire, topic, permutation seed, items and
  personas in ``answers.parquet``, and per unit in ``conversations.jsonl`` the opener (the
  corpus text of the persona, or the topic's), the number of simulated messages and who spoke
  them (persona and interlocutor in turn), the interlocutor;
* planned = executed: the plan's units, items and conversation turns equal the manifest's;
* recorded: the manifest's ``chunk_contexts`` say the same.

A params file added later is picked up by the glob below: it gets these checks without a test
of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stickrole_utils.config import parse_run_config, run_spec
from stickrole_utils.design import TOPIC_OPENERS, derangement, read_corpus, read_persona_file
from stickrole_utils.design.instruments import get_instrument
from stickrole_utils.generation import generate_from_params, load_params
from stickrole_utils.generation.cost import plan_run
from stickrole_utils.generation.store import read_manifest, read_run_answers
from stickrole_utils.pipeline import write_grid_points

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted([*ROOT.glob("params/*.yaml"), *ROOT.glob("params/**/*.yaml")])
SHIPPED = list(dict.fromkeys(SHIPPED))
N = 2


def _tiny(path: Path, out: Path) -> Path:
    """The params file at a tiny size: the dummy baseline, 2 personas, outputs under ``out``;
    every other setting (chunks, grid, protocol) as shipped."""
    data = yaml.safe_load(path.read_text())
    if data.get("data_path"):
        data["data_path"] = str((path.parent / data["data_path"]).resolve())
        if not Path(data["data_path"]).is_dir():
            pytest.skip(f"{path.name} reads the original's data at {data['data_path']}, which is "
                        "not here (CI has ../shared beside the checkout)")
    data["models"] = [{"name": "dummy", "backend": "dummy"}]
    data["generation"]["n_personas"] = N
    data["output_dir"] = str(out)
    data.setdefault("execution", {})["engine"] = "local"
    tiny = out / path.name
    tiny.parent.mkdir(parents=True, exist_ok=True)
    tiny.write_text(yaml.safe_dump(data, sort_keys=False))
    return tiny


def test_every_params_file_is_checked():
    names = {p.name for p in SHIPPED}
    assert {"demo.yaml", "leaderboard.yaml", "fig6_7_conversation_length.yaml"} <= names
    assert len(SHIPPED) >= 9


def _expected_opener(chunk, persona_index: int) -> str | None:
    if chunk.context == "none":
        return None
    if chunk.context == "corpus":
        return read_corpus(chunk.corpus, chunk.corpus_field)[persona_index]
    return chunk.opener or TOPIC_OPENERS[chunk.topic]


def _expected_interlocutors(chunk, personas: list[str]) -> list[str]:
    if chunk.context == "none":
        return [""] * len(personas)
    if chunk.interlocutor == "human":
        return ["human"] * len(personas)
    if chunk.interlocutors_file:
        return [p.name for p in read_persona_file(chunk.interlocutors_file)[: len(personas)]]
    return [personas[j] for j in derangement(len(personas), chunk.interlocutor_seed)]


def _check_point(base, point: dict, cfg) -> None:
    # round trip, and nothing but the grid keys changed
    assert run_spec(parse_run_config(run_spec(cfg))) == run_spec(cfg)
    changed = {k for k, v in cfg.generation.model_dump().items()
               if v != base.generation.model_dump()[k]}
    assert changed <= {*point, "chunks"}, changed
    for a, b in zip(base.generation.chunks, cfg.generation.chunks, strict=True):
        keep = {"seed"} if "seed" in point else set()
        assert a.model_dump(exclude=keep) == b.model_dump(exclude=keep)
        if "seed" in point:
            assert b.permutation_seed.startswith(f"{point['seed']}_")

    gen = cfg.generation
    entry = cfg.models[0]
    plan = plan_run(cfg, [entry])[0]
    [model_dir] = generate_from_params(cfg.source, progress=False)
    answers = read_run_answers(model_dir)
    manifest = read_manifest(model_dir)
    conversations = [json.loads(line) for line in
                     (model_dir / "conversations.jsonl").read_text().splitlines() if line]

    personas = list(answers.sort_values("persona_index")["persona"].drop_duplicates())
    assert len(personas) == N
    for chunk in gen.chunks:
        rows = answers[answers["chunk"] == chunk.label]
        n_items = (len(gen.items[chunk.questionnaire]) if gen.items and chunk.questionnaire in
                   gen.items else get_instrument(chunk.questionnaire).n_items)
        assert len(rows) == N * n_items, chunk.label
        assert set(rows["questionnaire"]) == {chunk.questionnaire}
        assert set(rows["topic"]) == {chunk.topic or ""}
        assert set(rows["seed"]) == {chunk.permutation_seed}
        units = sorted((r for r in conversations if r["chunk"] == chunk.label),
                       key=lambda r: r["persona_index"])
        assert [u["persona"] for u in units] == personas
        talks = chunk.context != "none"
        who = _expected_interlocutors(chunk, personas)
        for u in units:
            turns = u["conversation"]
            assert u["interlocutor"] == who[u["persona_index"]], (chunk.label, u)
            if not talks:
                assert turns == [], chunk.label
                continue
            assert len(turns) == 1 + gen.n_messages, (chunk.label, len(turns))
            assert turns[0] == {"speaker": "context",
                                "content": _expected_opener(chunk, u["persona_index"])}
            assert [t["speaker"] for t in turns[1:]] == [
                "persona" if i % 2 == 0 else "interlocutor" for i in range(gen.n_messages)]
        recorded = manifest["chunk_contexts"][chunk.label]
        assert recorded["context"] == chunk.context
        assert recorded["n_messages"] == (gen.n_messages if talks else 0)
        assert recorded["questionnaire"] == chunk.questionnaire
        assert recorded["topic"] == (chunk.topic or "")

    # planned = executed
    stats = manifest["stats"]
    assert (plan.total.units, plan.total.items, plan.total.turns) == (
        stats["units"], stats["items"], stats["conversation_turns"])
    by_chunk = answers.groupby("chunk").size().to_dict()
    assert {c.chunk: c.items for c in plan.chunks} == by_chunk


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_params_run_what_they_say(path, tmp_path):
    tiny = _tiny(path, tmp_path)
    base = load_params(tiny)
    assert run_spec(parse_run_config(run_spec(base), base_dir="/")) == run_spec(base)
    if base.experiment is None:
        _check_point(base, {}, base)
        return
    points = write_grid_points(base)
    assert len(points) == len(pd.MultiIndex.from_product(list(base.experiment.grid.values())))
    for point, params, cfg in points:
        assert cfg.source == str(params)
        _check_point(base, point, cfg)
