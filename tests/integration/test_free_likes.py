"""Likes are data: a users file with likes outside the built-in vocabulary trains and
serves through the real Redis; a like never seen in training is ignored with a warning."""

from __future__ import annotations

import json

import pytest

from recsys import coldstart, pipeline
from recsys.coldstart import new_user_vector
from recsys.data.users import generate_users, save_users
from recsys.model.features import UnknownLikesWarning
from recsys.serving import index
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend

pytestmark = pytest.mark.slow

NEW_LIKES = ["natural wine", "omakase", "dim sum carts"]


def test_users_file_with_unseen_likes_trains_and_serves(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("RECSYS_DATA_URL", "none")
    people = generate_users(300, seed=5)
    for i in range(0, len(people), 3):  # a third of the users name likes with no rule
        people.at[i, "likes"] = [NEW_LIKES[i // 3 % len(NEW_LIKES)], *people.at[i, "likes"][:1]]
    path = tmp_path / "users.jsonl"
    save_users(people, path)

    result = pipeline.retrain(settings, users=path, epochs=3)
    assert result["sources"]["users"] == "file"
    model = coldstart.serving_model(settings)
    assert set(NEW_LIKES) <= set(model.encoders.likes)  # learnt from the data
    assert index.live_info(settings)["model_version"] == model.version

    someone = people.at[0, "user_id"]
    rec = recommend(settings, Filters(k=5), user_id=someone)
    assert len(rec.results) == 5

    profile = {"likes": ["omakase", "yacht club"], "price_bracket": "high", "user_id": "new"}
    with pytest.warns(UnknownLikesWarning, match="yacht club"):
        user_id, vector = new_user_vector(settings, json.dumps(profile))
    assert user_id == "new" and len(vector) == len(model.embed_users(people.head(1))[0])
    assert len(recommend(settings, Filters(k=5), vector=vector).results) == 5
