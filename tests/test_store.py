"""Append-only store: atomic units, resume after a crash, manifest identity."""

import json

import pandas as pd
import pytest
import yaml

from stickrole_utils.config import SamplingConfig, load_run_config
from stickrole_utils.errors import ConfigError
from stickrole_utils.generation.backends import DummyBackend, ScriptedBackend
from stickrole_utils.generation.generate import generate_model
from stickrole_utils.generation.store import RunStore, read_run_answers

PARAMS = {
    "version": 1,
    "run": "r",
    "output_dir": "out",
    "models": [{"name": "dummy", "backend": "dummy"}],
    "generation": {"n_personas": 4, "mode": "direct",
                   "chunks": ["chunk_no_conv", "chunk_joke"], "items": {"pvq40": [1, 2, 3, 4]}},
}


class Crash(Exception):
    pass


def crashing_backend(entry, after):
    """Answers like the dummy, then dies (like a killed process) after ``after`` calls."""
    dummy = DummyBackend(entry)

    def reply(messages, seed):
        if len(backend.calls) > after:
            raise Crash("killed")
        return dummy.chat(messages, SamplingConfig(), seed)

    backend = ScriptedBackend(reply, info=dummy.info())
    return backend


def _cfg(tmp_path, **gen):
    data = {**PARAMS, "generation": {**PARAMS["generation"], **gen}}
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(data))
    return load_run_config(p)


def test_resume_after_crash_no_loss_no_duplicates(tmp_path):
    ref_cfg = _cfg(tmp_path)
    ref = read_run_answers(generate_model(ref_cfg, ref_cfg.models[0], progress=False))

    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    cfg = _cfg(crash_dir)
    entry = cfg.models[0]
    with pytest.raises(Crash):
        # 4 items per no_conv unit; dies in the middle of the 3rd unit
        generate_model(cfg, entry, progress=False, backend=crashing_backend(entry, after=10))
    store = RunStore(cfg.run_dir / "dummy")
    assert len(store.part_files()) == 2  # two whole units, no half unit
    # debris of a process killed while writing: a temp part and an orphan conversation
    (store.parts / ".tmp-deadbeef.parquet").write_bytes(b"half a parquet")
    (store.parts / "orphan.json").write_text("{}")
    out = generate_model(cfg, entry, progress=False)
    got = read_run_answers(out)
    assert len(got) == len(ref) == 4 * 2 * 4
    assert not got.duplicated(["chunk", "persona", "questionnaire", "item"]).any()
    cols = ["chunk", "persona", "item", "score", "letter", "option_order", "raw"]
    pd.testing.assert_frame_equal(got[cols], ref[cols])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["stats"]["items"] == 32
    convs = (out / "conversations.jsonl").read_text().splitlines()
    assert len(convs) == 8


def test_rerun_skips_finished_units(tmp_path):
    cfg = _cfg(tmp_path)
    entry = cfg.models[0]
    out = generate_model(cfg, entry, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in RunStore(out).part_files()}
    backend = crashing_backend(entry, after=0)  # any model call would raise
    generate_model(cfg, entry, progress=False, backend=backend)
    after = {p.name: p.stat().st_mtime_ns for p in RunStore(out).part_files()}
    assert before == after and backend.calls == []


def test_changed_configuration_is_refused_unless_forced(tmp_path):
    cfg = _cfg(tmp_path)
    generate_model(cfg, cfg.models[0], progress=False)
    changed = _cfg(tmp_path, mode="cot")
    with pytest.raises(ConfigError, match=r"different configuration \(generation.mode: 'direct' "
                                          r"-> 'cot'.*--force"):
        generate_model(changed, changed.models[0], progress=False)
    out = generate_model(changed, changed.models[0], progress=False, force=True)
    assert set(read_run_answers(out)["mode"]) == {"cot"}


def test_added_chunk_resumes(tmp_path):
    cfg = _cfg(tmp_path, chunks=["chunk_no_conv"])
    generate_model(cfg, cfg.models[0], progress=False)
    more = _cfg(tmp_path)
    out = generate_model(more, more.models[0], progress=False)
    assert list(read_run_answers(out)["chunk"].unique()) == ["chunk_no_conv", "chunk_joke"]


def test_write_unit_is_atomic_marker(tmp_path):
    store = RunStore(tmp_path / "m")
    key = ("m", "c", "p", "pvq40")
    assert not store.is_done(key)
    rows = pd.DataFrame({"model": ["m"], "chunk": ["c"], "persona": ["p"], "gender": [""],
                         "questionnaire": ["pvq40"], "item": [1], "score": [2.0]})
    store.write_unit(key, rows, {"x": 1})
    assert store.is_done(key)
    assert [p.name for p in store.parts.iterdir() if p.name.startswith(".")] == []


def test_manifest_schema_one_writer_one_reader(tmp_path):
    from stickrole_utils.errors import DataError
    from stickrole_utils.generation.manifest import Manifest
    from stickrole_utils.generation.store import read_manifest
    from stickrole_utils.report import read_manifest as report_read_manifest

    cfg = _cfg(tmp_path)
    out = generate_model(cfg, cfg.models[0], progress=False)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert list(on_disk) == [*Manifest.model_fields]  # every key, in schema order
    assert read_manifest(out) == report_read_manifest(out) == on_disk
    assert read_manifest(tmp_path / "nowhere") == {}
    (out / "manifest.json").write_text(json.dumps({**on_disk, "from_the_future": 1}))
    assert read_manifest(out)["from_the_future"] == 1  # extra keys kept
    (out / "manifest.json").write_text(json.dumps({**on_disk, "stats": {**on_disk["stats"], "items": "many"}}))
    with pytest.raises(DataError, match=r"manifest.json: stats.items: .*\(given: .many.\)$"):
        read_manifest(out)
