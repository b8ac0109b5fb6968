"""Interactions: planted visits, validated files, a deterministic split."""

import pytest
from tests_frames import restaurants

from recsys.data.interactions import (
    VISITS_PER_USER,
    load_interactions,
    save_interactions,
    simulate,
    split,
)
from recsys.data.users import generate_users
from recsys.errors import RecsysError


@pytest.fixture(scope="module")
def data():
    users, rest = generate_users(120, seed=1), restaurants(100, seed=1)
    visits, oracle = simulate(users, rest, seed=1)
    return users, rest, visits, oracle


def test_simulation_is_deterministic_and_follows_the_affinity(data):
    users, rest, visits, oracle = data
    again, oracle2 = simulate(users, rest, seed=1)
    assert visits.equals(again) and (oracle == oracle2).all()
    assert oracle.shape == (120, 100)
    counts = visits.groupby("user_id").size()
    assert counts.between(*VISITS_PER_USER).all()
    assert not visits.duplicated(["user_id", "restaurant_id"]).any()
    # Visited restaurants have a clearly higher affinity than the average restaurant.
    rows = visits["user_id"].map({u: i for i, u in enumerate(users["user_id"])})
    cols = visits["restaurant_id"].map({r: i for i, r in enumerate(rest["id"])})
    assert oracle[rows, cols].mean() > oracle.mean() + 1.0


def test_split_is_deterministic_and_keeps_cold_items_out_of_training(data):
    _, rest, visits, _ = data
    s1, s2 = split(visits, rest, seed=0), split(visits, rest, seed=0)
    assert s1.train.equals(s2.train) and s1.cold_users == s2.cold_users
    assert len(s1.cold_users) == 12 and len(s1.cold_restaurants) == 10
    for frame in (s1.train, s1.val, s1.test_warm):
        assert not frame["user_id"].isin(s1.cold_users).any()
        assert not frame["restaurant_id"].isin(s1.cold_restaurants).any()
    assert s1.test_cold_users["user_id"].isin(s1.cold_users).all()
    assert s1.test_cold_restaurants["restaurant_id"].isin(s1.cold_restaurants).all()
    key = ["user_id", "restaurant_id"]
    merged = s1.train.merge(s1.test_warm, on=key)
    assert merged.empty and s1.train.merge(s1.val, on=key).empty
    assert len(s1.val) > 0 and len(s1.test_warm) > 0


def test_interactions_file_round_trip(tmp_path, data):
    users, rest, visits, _ = data
    path = tmp_path / "i.csv"
    save_interactions(visits, path)
    assert load_interactions(path, users, rest).equals(visits)


def test_interactions_file_defaults(tmp_path, data):
    users, rest, _, _ = data
    path = tmp_path / "i.csv"
    path.write_text(f"user_id,restaurant_id\nu0001,{rest['id'][0]}\nu0002,{rest['id'][1]}\n")
    loaded = load_interactions(path, users, rest)
    assert loaded["label"].tolist() == [1, 1]
    assert loaded["timestamp"].is_monotonic_increasing


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("user_id,label\nu0001,1\n", "no restaurant_id column"),
        ("user_id,restaurant_id\nu0001,r000\nnobody,r000\n", "row 2: unknown user_id 'nobody'"),
        ("user_id,restaurant_id\nu0001,r999\n", "row 1: unknown restaurant_id 'r999'"),
        ("user_id,restaurant_id,label\nu0001,r000,1\nu0001,r001,yes\n", "row 2: label 'yes'"),
        ("user_id,restaurant_id,label\nu0001,r000,0\n", "row 1: label '0' must be 1 or -1"),
        ("user_id,restaurant_id,timestamp\nu0001,r000,soon\n", "row 1: timestamp 'soon'"),
        ("user_id,restaurant_id\n", "has no rows"),
    ],
)
def test_bad_interactions_files_are_rejected_naming_the_row(tmp_path, data, body, message):
    users, rest, _, _ = data
    path = tmp_path / "i.csv"
    path.write_text(body)
    with pytest.raises(RecsysError, match=message):
        load_interactions(path, users, rest)


def test_explicit_negatives_are_not_training_positives(data):
    _, rest, visits, _ = data
    negative = visits.copy()
    negative["label"] = -1
    s = split(negative, rest)
    assert s.train.empty and s.test_warm.empty
