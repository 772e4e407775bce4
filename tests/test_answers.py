import numpy as np
import pandas as pd
import pytest

from stickrole_utils.analysis.answers import read_answers, validate_answers
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.errors import DataError
from stickrole_utils.schema import ANSWER_COLUMNS


@pytest.fixture
def table():
    return synthetic_answers(["m"], chunks=["chunk_0", "chunk_svs_no_conv"], n_personas=3)


def test_roundtrip_csv_and_parquet(tmp_path, table):
    table.loc[3, "score"] = np.nan
    for name in ("a.csv", "a.parquet"):
        p = tmp_path / name
        table.to_csv(p, index=False) if name.endswith("csv") else table.to_parquet(p)
        back = read_answers(p)
        assert list(back.columns[:7]) == list(ANSWER_COLUMNS)
        assert back["item"].dtype == np.int64
        assert np.isnan(back.loc[3, "score"])
        pd.testing.assert_series_equal(back["score"], table["score"], check_names=False)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_answers(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_answers(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text(",".join(ANSWER_COLUMNS) + "\n")
    with pytest.raises(DataError, match="header.csv: the answers table has no rows"):
        read_answers(tmp_path / "header.csv")


def test_missing_and_misnamed_columns(tmp_path, table):
    p = tmp_path / "t.csv"
    table.rename(columns={"score": "Score"}).drop(columns="gender").to_csv(p, index=False)
    with pytest.raises(DataError) as e:
        read_answers(p)
    msg = str(e.value)
    assert "t.csv" in msg and "'gender'" in msg and "'score'" in msg and "'Score' -> 'score'" in msg


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda t: t.assign(questionnaire="pvq99"), "unknown value(s) 'pvq99'"),
        (lambda t: t.assign(item=t["item"] + 0.5), "whole numbers"),
        (lambda t: t.assign(score="x"), "must be numeric"),
        (lambda t: t.assign(score=t["score"].where(t.index != 0, 9.0)), "1..6; 1 row"),
        (lambda t: t.assign(score=t["score"].where(t.index != 0, 2.5)), "whole numbers in 1..6"),
        (lambda t: pd.concat([t, t.iloc[[5]]]), "duplicate rows"),
        (lambda t: t.assign(persona=t["persona"].where(t.index != 2, None)), "'persona' is empty"),
    ],
)
def test_bad_values_name_column_and_value(table, change, expected):
    with pytest.raises(DataError, match="src.csv") as e:
        validate_answers(change(table), "src.csv")
    assert expected in str(e.value)


def test_svs_scale_accepts_minus_one_and_rejects_eight(table):
    svs = table[table.questionnaire == "svs57"].copy()
    svs.iloc[0, svs.columns.get_loc("score")] = -1.0
    validate_answers(svs)
    svs.iloc[0, svs.columns.get_loc("score")] = 8.0
    with pytest.raises(DataError, match="'svs57' answers are whole numbers in -1..7"):
        validate_answers(svs)


def test_unknown_item_number(table):
    t = table.copy()
    t.loc[t.questionnaire == "svs57", "item"] = t.loc[t.questionnaire == "svs57", "item"] + 3
    with pytest.raises(DataError, match="'svs57' has items 1..57; got 58, 59, 60"):
        validate_answers(t)
