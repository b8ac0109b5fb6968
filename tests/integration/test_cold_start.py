"""Cold start: a new user's results are the brute-force ranking of their embedding; an
added restaurant is served at once; hostile cuisine values are matched literally."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from recsys import coldstart, pipeline
from recsys.coldstart import new_user_vector
from recsys.config import Settings
from recsys.data.dataset import build_dataset
from recsys.data.table import validate_record
from recsys.errors import RecsysError
from recsys.model import train
from recsys.serving import index, keys, server
from recsys.serving.export import export_restaurants
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from tests.conftest import trained_namespace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[tuple[Settings, object]]:
    with trained_namespace(redis_server, tmp_path_factory, "cold") as (settings, model):
        yield settings, model


def test_new_user_matches_brute_force_ranking(served) -> None:
    settings, _ = served
    profile = {"likes": ["pizza", "breweries"], "price_bracket": "low", "user_id": "newbie"}
    user_id, vector = new_user_vector(settings, json.dumps(profile))
    assert user_id == "newbie"
    rec = recommend(settings, Filters(k=20), vector=vector)
    restaurants = export_restaurants(settings, with_embeddings=True)["restaurants"]
    matrix = np.array([r["embedding"] for r in restaurants], dtype=np.float64)
    u = np.asarray(vector, dtype=np.float64)
    scores = matrix @ u / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(u))
    order = np.argsort(-scores, kind="stable")[:20]
    assert [r["score"] for r in rec.results] == pytest.approx(scores[order].tolist(), abs=1e-5)
    assert [r["id"] for r in rec.results][:5] == [restaurants[i]["id"] for i in order[:5]]


def test_new_user_profile_errors_are_one_sentence(served) -> None:
    settings, _ = served
    for bad, message in [
        ("{not json", "--new-user is not valid JSON"),
        ('{"likes": ["pizza"]}', "price_bracket"),
        ('["a list"]', "expected a JSON object"),
    ]:
        with pytest.raises(RecsysError, match=message) as caught:
            new_user_vector(settings, bad)
        assert "\n" not in str(caught.value)


def _record(**extra) -> dict:
    record = {
        "name": "Zebra Ramen Lab",
        "address": "1 Test Alley",
        "latitude": 37.7601,
        "longitude": -122.4477,
        "cuisine": ["Ramen Test"],
        "price": "2",
        "rating": 4.5,
        "hours": {"monday": [["17:00", "2:00"]]},
    }
    return {**record, **extra}


def test_added_restaurant_is_returned_by_a_matching_query(served) -> None:
    settings, model = served
    before = index.live_info(settings)["restaurants"]
    doc = coldstart.add_restaurant(settings, _record(), model)
    assert index.live_info(settings)["restaurants"] == before + 1
    # Tuesday 01:30 is inside Monday's overnight interval; a 300 m circle around it.
    filters = Filters(lat=37.7601, lon=-122.4477, radius_m=300, at="2026-07-07T01:30",
                      cuisines=("ramen test",), min_price=2, max_price=2,
                      min_rating=4.5)  # fmt: skip
    user = index.iter_documents(settings, "users").__next__()["user_id"]
    rec = recommend(settings, filters, user_id=user)
    assert [r["id"] for r in rec.results] == [doc["id"]]
    assert rec.results[0]["open_at"] is True and rec.results[0]["closes_at"] == "02:00"
    prefix = keys.restaurant_prefix(settings, index.live_info(settings)["version"])
    served_vector = server.client(settings).json().get(f"{prefix}:{doc['id']}", "$.embedding")[0]
    expected = model.embed_restaurants(pd.DataFrame([validate_record(_record())]))[0]
    assert served_vector == pytest.approx(expected.tolist(), abs=1e-6)
    with pytest.raises(RecsysError, match="already served"):
        coldstart.add_restaurant(settings, _record(), model)
    with pytest.raises(RecsysError, match="price"):
        coldstart.add_restaurant(settings, _record(name="Other", price="cheap"), model)


def test_hostile_cuisine_value_is_matched_literally(served) -> None:
    settings, model = served
    hostile = "x} | @price:[0 9] | {y"
    doc = coldstart.add_restaurant(settings, _record(name="Hostile", cuisine=[hostile]), model)
    user = next(index.iter_documents(settings, "users"))["user_id"]
    rec = recommend(settings, Filters(cuisines=(hostile,), k=100), user_id=user)
    assert [r["id"] for r in rec.results] == [doc["id"]]  # not every restaurant
    with pytest.raises(RecsysError, match="is not in the index"):
        recommend(settings, Filters(cuisines=("Thai} | *",)), user_id=user)
    with pytest.raises(RecsysError, match="is not among the users"):
        recommend(settings, Filters(), user_id="u0001' | *")


def test_added_user_is_served_by_id_and_refused_twice(served) -> None:
    settings, model = served
    profile = {"user_id": "guest-1", "likes": ["sushi"], "price_bracket": "high"}
    before = index.live_info(settings)["users"]
    doc = coldstart.add_user(settings, profile, model)
    assert doc["user_id"] == "guest-1" and doc["visited"] == []
    assert index.live_info(settings)["users"] == before + 1
    _, vector = new_user_vector(settings, json.dumps(profile))
    by_id = recommend(settings, Filters(k=10), user_id="guest-1")
    by_vector = recommend(settings, Filters(k=10), vector=vector)
    assert [r["id"] for r in by_id.results] == [r["id"] for r in by_vector.results]
    with pytest.raises(RecsysError, match="already served"):
        coldstart.add_user(settings, profile, model)
    with pytest.raises(RecsysError, match="likes"):  # likes are data, but not none at all
        coldstart.add_user(settings, {"user_id": "guest-2", "likes": [],
                                  "price_bracket": "low"}, model)  # fmt: skip


def test_added_records_survive_a_reload_with_another_model(served) -> None:
    settings, model = served
    coldstart.add_restaurant(settings, _record(name="Keeper Kitchen", cuisine=["Thai"]), model)
    coldstart.add_user(settings, {"user_id": "keeper", "likes": ["bbq"], "price_bracket": "low"},
                   model)  # fmt: skip
    dataset = build_dataset(settings)
    other = train.train(dataset, epochs=1, seed=1)
    pipeline.publish_model(settings, dataset, other)

    assert index.live_info(settings)["model_version"] == other.version
    added = {validate_record(r)["id"] for r in index.added_records(settings, "restaurants")}
    served_ids = {d["id"] for d in index.iter_documents(settings, "restaurants")}
    assert "keeper-kitchen-1-test-alley" in added and added <= served_ids
    keeper = index.get_user(settings, "keeper")
    assert keeper["visited"] == []
    # Re-embedded by the new model's user tower, not copied from the old version.
    profile = pd.DataFrame([{k: v for k, v in keeper.items() if k not in ("embedding", "visited")}])
    assert keeper["embedding"] == pytest.approx(other.embed_users(profile)[0].tolist(), abs=1e-5)


def test_prepare_reloads_with_the_configured_vector_algorithm(served) -> None:
    settings, _ = served
    hnsw = dataclasses.replace(settings, algorithm="hnsw")
    done = pipeline.prepare(hnsw)
    assert done["loaded"] and not done["trained"]
    assert index.live_info(settings)["algorithm"] == "hnsw"
    info = server.client(settings).ft(keys.alias(settings)).info()
    assert b"HNSW" in json.dumps(info, default=repr).encode().upper()
    assert len(recommend(settings, Filters(k=5), vector=np.ones(128)).results) == 5
    assert not pipeline.prepare(hnsw)["loaded"]  # idempotent
    assert pipeline.prepare(settings)["loaded"]  # back to FLAT
    assert index.live_info(settings)["algorithm"] == "flat"


def test_taste_scores_every_place_and_agrees_with_recommend(served) -> None:
    from recsys.serving import taste

    settings, _ = served
    live = index.live_info(settings)
    users = list(index.iter_documents(settings, "users"))
    user = next(u for u in users if len(u["visited"]) >= 3)
    places = taste.scores(settings, user["user_id"])
    assert len(places) == live["restaurants"]
    values = [p.score for p in places]
    assert values == sorted(values, reverse=True)
    top = recommend(settings, Filters(k=10), user_id=user["user_id"]).results
    assert [p.id for p in places[:10]] == [r["id"] for r in top]
    assert values[:10] == pytest.approx([r["score"] for r in top], abs=1e-5)
    # Another user's taste map is another ranking of the same places.
    other = next(u for u in users if u["likes"] != user["likes"] and u["visited"])
    theirs = taste.scores(settings, other["user_id"])
    assert {p.id for p in theirs} == {p.id for p in places}
    assert [p.id for p in theirs[:20]] != [p.id for p in places[:20]]
    visited = taste.visits(settings, user["user_id"])
    assert {p.id for p in visited} == set(user["visited"])
    with pytest.raises(RecsysError, match="limit"):
        taste.scores(settings, user["user_id"], limit=0)
    with pytest.raises(RecsysError, match="is not among"):
        taste.scores(settings, "nobody")


def test_the_taste_map_follows_feedback_as_recommendations_do(served) -> None:
    from recsys.serving import feedback, taste

    settings, _ = served
    users = list(index.iter_documents(settings, "users"))
    # A user without training visits: their served vector moves with their marks (one
    # with visits keeps the trained vector: see recsys/data/online.py).
    user = next(u for u in users if not u["visited"])
    before = taste.scores(settings, user["user_id"])
    went = next(p.id for p in reversed(before) if p.id not in user["visited"])
    rejected = before[0].id
    try:
        feedback.record(settings, user["user_id"], went, feedback.WENT)
        feedback.record(settings, user["user_id"], rejected, feedback.NOT_FOR_ME)
        after = taste.scores(settings, user["user_id"])
        # The served vector moved: the map shows the scores recommendations rank by.
        top = recommend(settings, Filters(k=10), user_id=user["user_id"]).results
        scores = {p.id: p.score for p in after}
        assert [r["score"] for r in top] == pytest.approx([scores[r["id"]] for r in top], abs=1e-5)
        assert [p.score for p in after] != pytest.approx([p.score for p in before], abs=1e-6)
        visited = {p.id for p in taste.visits(settings, user["user_id"])}
        assert visited == set(user["visited"]) | {went}
    finally:
        feedback.reset(settings, user["user_id"])


def _ef_runtime(settings: Settings) -> int:
    """The EF_RUNTIME the live HNSW index was created with (FT.INFO does not show it)."""
    name = index.live_info(settings)["index"]
    reply = server.client(settings).execute_command("FT.DEBUG", "VECSIM_INFO", name, "embedding")
    found = re.search(r"b'EF_RUNTIME', (\d+)", repr(reply))
    assert found, reply
    return int(found.group(1))


def test_prepare_rebuilds_an_hnsw_index_made_with_other_hnsw_attributes(
    served, monkeypatch
) -> None:
    # An index keeps the EF_RUNTIME (M, EF_CONSTRUCTION) it was created with: the HNSW
    # attributes are part of an HNSW index's fingerprint, so prepare serves the current
    # ones; a FLAT index does not depend on them.
    settings, _ = served
    hnsw = dataclasses.replace(settings, algorithm="hnsw")
    try:
        assert pipeline.prepare(hnsw)["loaded"]
        assert _ef_runtime(settings) == index.HNSW_ATTRS["ef_runtime"]
        assert not pipeline.prepare(hnsw)["loaded"]
        monkeypatch.setattr(index, "HNSW_ATTRS", {**index.HNSW_ATTRS, "ef_runtime": 123})
        assert pipeline.prepare(hnsw)["loaded"]
        assert _ef_runtime(settings) == 123
        assert index.live_info(settings)["schema"] == index.schema_fingerprint("hnsw")
        assert not pipeline.prepare(hnsw)["loaded"]
    finally:
        assert pipeline.prepare(settings)["loaded"]  # back to FLAT
    monkeypatch.setattr(index, "HNSW_ATTRS", {**index.HNSW_ATTRS, "ef_runtime": 77})
    assert not pipeline.prepare(settings)["loaded"]


def test_prepare_reloads_an_index_made_with_another_schema(served) -> None:
    # An index from before the filter encodings changed has no `open`/`cells` tags:
    # serving it this code's queries would match nothing, so prepare reloads it.
    settings, _ = served
    assert index.live_info(settings)["schema"] == index.schema_fingerprint()
    server.client(settings).hset(keys.live(settings), "schema", "older")
    assert pipeline.prepare(settings)["loaded"]
    assert index.live_info(settings)["schema"] == index.schema_fingerprint()
    assert not pipeline.prepare(settings)["loaded"]
