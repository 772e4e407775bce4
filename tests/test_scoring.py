import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from stickrole_utils.analysis.scoring import item_matrix, substitute_unparsed, value_scores
from stickrole_utils.datasets import synthetic_answers
from stickrole_utils.design.instruments import PVQ40, SVS57

from .conftest import pvq_rows


def test_hand_computed_raw_and_centered():
    # persona answers 1 on Security items, 6 on Power items, 3 elsewhere
    scores = [3] * 40
    for i in PVQ40.key["Security"]:
        scores[i - 1] = 1
    for i in PVQ40.key["Power"]:
        scores[i - 1] = 6
    s = value_scores(pvq_rows("m", "c", "p", scores)).set_index("value")
    pmean = (5 * 1 + 3 * 6 + 32 * 3) / 40
    assert s.loc["Security", "raw"] == 1
    assert s.loc["Power", "raw"] == 6
    assert np.isclose(s.loc["Power", "centered"], 6 - pmean)
    assert np.isclose(s.loc["Hedonism", "centered"], 3 - pmean)
    assert list(s.index) == list(PVQ40.key)  # circle order


def test_svs_centering_includes_unkeyed_items():
    df = synthetic_answers(["m"], chunks=["chunk_svs_no_conv"], n_personas=1)
    df.loc[df["item"].isin(SVS57.unkeyed_items), "score"] = 7.0
    s = value_scores(df).set_index("value")
    assert np.isclose(s.loc["Power", "centered"], s.loc["Power", "raw"] - df["score"].mean())


def test_downstream_not_centered():
    df = pd.DataFrame({"model": "m", "chunk": "c", "persona": "p", "gender": "M",
                       "questionnaire": "religion", "item": range(1, 6), "score": [1, 2, 3, 4, 5.0]})
    s = value_scores(df)
    assert s["raw"].tolist() == [3.0] and s["centered"].tolist() == [3.0]


def test_random_substitution_is_seeded_counted_and_order_free():
    df = synthetic_answers(["m"], chunks=["chunk_0", "chunk_svs_no_conv"], n_personas=4,
                           unparsed_rate=0.2, seed=3)
    n_nan = int(df["score"].isna().sum())
    a, n = substitute_unparsed(df, "random", seed=7)
    b, _ = substitute_unparsed(df.sample(frac=1, random_state=1), "random", seed=7)
    c, _ = substitute_unparsed(df, "random", seed=8)
    assert n == n_nan > 0
    assert a["score"].notna().all()
    pd.testing.assert_frame_equal(a, b.loc[a.index])
    assert not a["score"].equals(c["score"])
    svs = a[a.questionnaire == "svs57"]["score"]
    assert svs.between(-1, 7).all()
    dropped, n2 = substitute_unparsed(df, "drop")
    assert n2 == n_nan and len(dropped) == len(df) - n_nan


@settings(max_examples=25, deadline=None)
@given(shift=st.integers(-2, 2), seed=st.integers(0, 1000))
def test_centered_scores_invariant_to_a_constant_added_to_a_persona(shift, seed):
    df = synthetic_answers(["m"], chunks=["c"], n_personas=2, seed=seed)
    df["score"] = df["score"].clip(3, 4)  # room to shift within 1..6
    moved = df.copy()
    moved.loc[moved.persona == "p00", "score"] += shift
    a, b = value_scores(df), value_scores(moved)
    assert np.allclose(a["centered"], b["centered"])
    p0 = a.persona == "p00"
    assert np.allclose(b.loc[p0, "raw"], a.loc[p0, "raw"] + shift)


def test_item_matrix_is_persona_by_item():
    df = synthetic_answers(["m"], chunks=["c"], n_personas=3)
    w = item_matrix(df)
    assert w.shape == (3, 40) and list(w.columns) == list(range(1, 41))
