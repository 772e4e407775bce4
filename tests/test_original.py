"""`import-original` on result directories written in the original's results.json format (§7.1)."""

import json

import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis.model import analyze_model
from stickrole_utils.analysis.original import chunk_label, import_original
from stickrole_utils.cli import main
from stickrole_utils.config.analysis import AnalysisSettings
from stickrole_utils.errors import DataError

POP = [
    {"name": "Ada Lovelace", "description": "x", "gender": "F"},
    {"name": "Alan Turing", "description": "y", "gender": "M"},
    {"name": "Grace Hopper", "description": "z", "gender": "F"},
]


def write_result(dirpath, subject, n_items, seed, engine="phi-4", scale=(1, 6)):
    rng = np.random.default_rng(seed)
    answers, generations = [], []
    for _ in POP:
        scores = rng.integers(scale[0], scale[1] + 1, n_items).tolist()
        answers.append({subject: [["ABCDEFGHI"[s - scale[0]], s] for s in scores]})
        generations.append({subject: [f"Answer: ({'ABCDEFGHI'[s - scale[0]]})"
                                      for s in scores]})
    params = {"engine": engine, "permute_options_seed": "leaderboard_x", "data_dir": "data/d"}
    data = {"args": params, "params": params, "metrics": {}, "per_simulated_participant_metrics": [],
            "simulated_population": POP, "pop_metrics": {}, "answers": answers,
            "generations": generations, "lprobs": []}
    dirpath.mkdir(parents=True)
    (dirpath / "results.json").write_text(json.dumps(data))
    return data


@pytest.fixture
def model_dir(tmp_path):
    root = tmp_path / "stability_leaderboard" / "phi-4"
    write_result(root / "chunk_0_2025_03_01_10_00_00", "pvq_auto", 40, 0)
    write_result(root / "chunk_chess_0_2025_03_01_11_00_00", "pvq_auto", 40, 1)
    write_result(root / "chunk_svs_no_conv_2025_03_01_12_00_00", "svs", 57, 2, scale=(-1, 7))
    return root


def test_random_fills_of_unparsed_replies_are_imported_as_unparsed(tmp_path):
    # the original stores a uniformly random option as a normal answer when a reply does not
    # parse (no "Answer:", two of them, no "(X)" after it): those are imported unparsed
    d = tmp_path / "m" / "chunk_0_2025"
    data = write_result(d, "pvq_auto", 40, 3)
    replies = data["generations"][0]["pvq_auto"]
    replies[0] = "I would say (B) but I am not sure."          # no Answer: tag
    replies[1] = "Answer: (A). Final Answer: (C)"             # two tags
    replies[2] = "Answer: B"                                   # no (X) after it
    replies[3] = "Thinking... (F) no. Answer: (D) or maybe (A)"  # reads (A): first in order
    data["answers"][0]["pvq_auto"][3] = ["A", 1]
    (d / "results.json").write_text(json.dumps(data))
    table = import_original([d])
    first = table[table.persona == "Ada Lovelace"].sort_values("item").head(5)
    assert first["parsed"].tolist() == [False, False, False, True, True]
    assert first["parse_reason"].tolist()[:4] == ["no_answer_tag", "several_answer_tags",
                                                  "no_letter", "first_paren"]
    assert first["score"].isna().tolist() == [True, True, True, False, False]
    stored = [float(s) for _, s in data["answers"][0]["pvq_auto"][:3]]
    assert first["original_score"].tolist()[:3] == stored
    assert table["parsed"].sum() == len(table) - 3
    # direct replies are read whole
    assert import_original([d], mode="direct")["parsed"].sum() == len(table) - 1


def test_chunk_label_cuts_timestamp():
    assert chunk_label("chunk_grammar_1_2024_06_28_00_00_00") == "chunk_grammar_1"


def test_import_model_directory(model_dir):
    table = import_original([model_dir])
    assert set(table["chunk"]) == {"chunk_0", "chunk_chess_0", "chunk_svs_no_conv"}
    assert set(table["model"]) == {"phi-4"}
    assert len(table) == 3 * (40 + 40 + 57)
    svs = table[table.questionnaire == "svs57"]
    assert svs["score"].between(-1, 7).all() and svs["item"].max() == 57
    ada = table[(table.persona == "Ada Lovelace") & (table.chunk == "chunk_0")]
    assert ada["gender"].unique().tolist() == ["F"] and ada["item"].tolist() == list(range(1, 41))
    # letter and reply text are carried along
    assert ada["raw"].iloc[0] == f"Answer: ({ada['letter'].iloc[0]})"


def test_import_scores_match_the_file(model_dir):
    data = json.loads((model_dir / "chunk_0_2025_03_01_10_00_00" / "results.json").read_text())
    table = import_original([model_dir / "chunk_0_2025_03_01_10_00_00"])
    turing = table[table.persona == "Alan Turing"].sort_values("item")
    assert turing["score"].tolist() == [float(s) for _, s in data["answers"][1]["pvq_auto"]]


def test_cli_import_writes_parquet(model_dir, tmp_path):
    out = tmp_path / "answers.parquet"
    assert main(["-q", "import-original", str(model_dir), "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 3 * 137


def test_errors_name_the_file(tmp_path, model_dir):
    with pytest.raises(DataError, match="no results.json"):
        import_original([tmp_path])
    bad = tmp_path / "chunk_1_2025"
    bad.mkdir()
    (bad / "results.json").write_text("{not json")
    with pytest.raises(DataError, match=r"chunk_1_2025/results.json: invalid JSON at line 1"):
        import_original([bad])
    (bad / "results.json").write_text(json.dumps({"answers": []}))
    with pytest.raises(DataError, match="missing key 'simulated_population'"):
        import_original([bad])
    short = tmp_path / "m" / "chunk_2_2025"
    write_result(short, "pvq_auto", 39, 0)
    with pytest.raises(DataError, match="has 39 items; pvq40 has 40"):
        import_original([short])
    dup = tmp_path / "dup"
    write_result(dup / "chunk_0_2025_01", "pvq_auto", 40, 0)
    write_result(dup / "chunk_0_2026_01", "pvq_auto", 40, 0)
    with pytest.raises(DataError, match="a second result for model 'phi-4', chunk 'chunk_0'"):
        import_original([dup])


def write_campaign(root, subject, n_items, theme_params=True, scale=(1, 6)):
    """The paper's layout: <campaign>/<model>/seed_<s>/theme_<topic>_<timestamp>/results.json;
    the directory name of the campaign does not say which questionnaire it holds."""
    for s in (0, 2):
        for k, topic in enumerate(("chess", "joke")):
            d = root / "phi-4" / f"seed_{s}" / f"theme_{topic}_2024_02_0{k + 1}_10_00_00"
            data = write_result(d, subject, n_items, 10 * s + k, scale=scale)
            data["params"]["permute_options_seed"] = f"{s}_{k}"
            if theme_params:
                data["params"]["simulated_conversation_theme"] = topic
            (d / "results.json").write_text(json.dumps(data))
    return root / "phi-4"


def test_import_campaign_layout_labels_by_questionnaire_seed_and_topic(tmp_path):
    don = write_campaign(tmp_path / "stability_default_params_x", "tolkien_donation", 100)
    pvq = write_campaign(tmp_path / "stability_default_params_y", "pvq_auto", 40,
                         theme_params=False)
    table = import_original([don, pvq])
    assert set(table["chunk"]) == {f"{q}_seed_{s}_{t}" for q in ("tolkien_donation", "pvq40")
                                   for s in (0, 2) for t in ("chess", "joke")}
    assert set(table["model"]) == {"phi-4"}
    per_chunk = table.groupby("chunk")[["questionnaire", "topic", "replicate"]].first()
    assert per_chunk.loc["tolkien_donation_seed_2_joke"].tolist() == [
        "tolkien_donation", "joke", "seed_2"]
    assert per_chunk.loc["pvq40_seed_0_chess"].tolist() == ["pvq40", "chess", "seed_0"]
    assert table[table.chunk == "tolkien_donation_seed_0_chess"]["seed"].iat[0] == "0_0"


def test_import_campaign_then_analyze_pairs_by_topic_and_seed(tmp_path):
    don = write_campaign(tmp_path / "a", "tolkien_donation", 100)
    pvq = write_campaign(tmp_path / "b", "pvq_auto", 40)
    m = analyze_model(import_original([don, pvq]), AnalysisSettings(bootstrap=0)).metrics
    assert m["value_behaviour_pairs"] == {
        f"tolkien_donation_seed_{s}_{t}": f"pvq40_seed_{s}_{t}"
        for s in (0, 2) for t in ("chess", "joke")}
    assert set(m["downstream_rank_order"]) == {"tolkien_donation"}
    assert set(m["value_behaviour_correlation"]["tolkien_donation"]) == {
        "Self-Direction", "Stimulation", "Hedonism", "Achievement", "Power", "Security",
        "Conformity", "Tradition", "Benevolence", "Universalism"}


def test_import_campaign_same_labels_twice_is_an_error(tmp_path):
    don = write_campaign(tmp_path / "a", "religion", 5, scale=(1, 5))
    again = write_campaign(tmp_path / "b", "religion", 5, scale=(1, 5))
    with pytest.raises(DataError, match="a second result for model 'phi-4', chunk 'religion_seed_0_chess'"):
        import_original([don, again])
