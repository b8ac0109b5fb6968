"""Feature encoders: fitted once, JSON round-trip, unknown values ignored."""

import json

import numpy as np
import pytest
from tests_frames import restaurants

from recsys.data.users import generate_users
from recsys.model.features import FeatureEncoders, UnknownLikesWarning


def _fitted():
    users, rest = generate_users(40, seed=2), restaurants(30, seed=2)
    return FeatureEncoders.fit(users, rest), users, rest


def test_encoders_round_trip_through_json():
    encoders, users, rest = _fitted()
    state = json.loads(json.dumps(encoders.state()))
    again = FeatureEncoders.from_state(state)
    assert np.array_equal(again.encode_users(users), encoders.encode_users(users))
    assert np.array_equal(again.encode_restaurants(rest), encoders.encode_restaurants(rest))
    assert again.schema() == encoders.schema() and again.matches_code()


def test_shapes_scaling_and_vocabularies():
    encoders, users, rest = _fitted()
    xu, xr = encoders.encode_users(users), encoders.encode_restaurants(rest)
    assert xu.dtype == np.float32 and xu.shape == (40, len(encoders.user.feature_names()))
    assert xr.shape == (30, len(encoders.restaurant.feature_names()))
    assert abs(xr[:, 0].mean()) < 1e-5 and abs(xr[:, 0].std() - 1) < 1e-4  # scaled lat
    names = encoders.restaurant.feature_names()
    assert any(n.startswith("cuisines:") for n in names)  # the article dropped cuisines
    # The likes vocabulary is learnt from the training users, not a built-in list.
    seen = sorted({like for likes in users["likes"] for like in likes})
    assert [n for n in encoders.user.feature_names() if n.startswith("likes:")] == [
        f"likes:{like}" for like in seen
    ]


def test_likes_outside_the_builtin_list_are_learnt_and_unseen_ones_warned():
    users, rest = generate_users(40, seed=2), restaurants(30, seed=2)
    users.at[0, "likes"] = ["caviar", "pizza"]
    encoders = FeatureEncoders.fit(users, rest)
    assert "caviar" in encoders.likes
    names = encoders.user.feature_names()
    assert encoders.encode_users(users.head(1))[0][names.index("likes:caviar")] == 1.0
    stranger = users.head(1).copy()
    stranger.at[stranger.index[0], "likes"] = ["yachts", "pizza"]
    with pytest.warns(UnknownLikesWarning, match="yachts"):
        row = encoders.encode_users(stranger)[0]
    assert row[names.index("likes:pizza")] == 1.0 and np.isfinite(row).all()


def test_unknown_cuisine_and_category_are_ignored_not_errors():
    encoders, users, rest = _fitted()
    odd = rest.head(1).copy()
    odd.at[odd.index[0], "cuisines"] = ["Martian"]
    row = encoders.encode_restaurants(odd)[0]
    cuisine_cols = [
        i for i, n in enumerate(encoders.restaurant.feature_names()) if n.startswith("cuisines:")
    ]
    assert row[cuisine_cols].sum() == 0
    users = users.head(1).copy()
    users["profile_visibility"] = "secret"
    assert np.isfinite(encoders.encode_users(users)).all()


def test_changed_code_layout_is_detected():
    encoders, _, _ = _fitted()
    state = encoders.state()
    state["user"]["onehot"]["price_bracket"] = state["user"]["onehot"]["price_bracket"][:-1]
    assert not FeatureEncoders.from_state(state).matches_code()
