"""Cuisines with hostile characters: every accepted one is matched literally by the
cuisine filter in Redis; the ones the filter could never match are refused on load."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.data import table, users
from recsys.errors import RecsysError
from recsys.serving import index
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend

DIM = 128
# Accepted: each must be found by the filter, and only it (no wildcard, no union).
HOSTILE = [
    'Tex "Mex"',
    "O'Brien's",
    "{Braces}",
    "Fish | Chips",
    "Pipe|Union",
    "Gluten-Free",
    "@price:[0 9]",
    "Dim Sum & Tea",
    "100% Vegan",
    "*",
    "Star*",
    "Why?",
    "a.b",
    "Semi;colon",
    "Colon: Yes",
    "(Parens)",
    "[Brackets]",
    "<b>Bold</b>",
    "Back\\slash",
    "Tilde~",
    "Hash #1",
    "Dollar $5",
    "${x}",
    "Plus+Minus-",
    "Equals=",
    "Slash/Cafe",
    "Caret^",
    "Exclaim!",
    "Crêperie",
    "日本料理",
    "Пельмени",
    "🍕 Pizza",
    "-Dash",
    "x" * 50,  # the longest accepted
]
REFUSED = {
    "Thai,Dessert": "a comma",
    "Tab\tCuisine": "a control character",
    "New\nLine": "a control character",
    "Back`tick": "a backtick",
    "x" * 51: "longer than 50",
}


def _record(i: int, cuisine: str) -> dict:
    return {
        "id": f"h{i:03d}",
        "name": f"Hostile {i}",
        "address": f"{i} Mission St",
        "latitude": 37.76 + i * 1e-4,
        "longitude": -122.42,
        "cuisine": [cuisine],
        "price": 2,
        "rating": 4.0,
    }


@pytest.mark.parametrize(("cuisine", "why"), REFUSED.items(), ids=list(range(len(REFUSED))))
def test_unfilterable_cuisines_are_refused_on_load(cuisine, why) -> None:
    with pytest.raises(RecsysError) as caught:
        table.normalise_records([_record(0, cuisine)])
    message = str(caught.value)
    assert "restaurant #1 ('Hostile 0')" in message and why in message, message
    assert "\n" not in message


def test_every_accepted_hostile_cuisine_is_matched_literally(settings) -> None:
    # Plus a plain place per cuisine-free neighbour, so a filter matching "everything"
    # (e.g. "*" taken as a wildcard) would be caught.
    records = [_record(i, c) for i, c in enumerate(HOSTILE)]
    records.append({**_record(len(HOSTILE), "Plain"), "id": "plain"})
    frame = table.normalise_records(records)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(frame), DIM)).astype(np.float32)
    people = users.generate_users(3, seed=0)
    user_vectors = rng.normal(size=(3, DIM)).astype(np.float32)
    index.publish(settings, frame, vectors, people, user_vectors, {}, "m-hostile")
    assert set(index.live_info(settings)["cuisines"]) == {*HOSTILE, "Plain"}

    for i, cuisine in enumerate(HOSTILE):
        rec = recommend(settings, Filters(cuisines=(cuisine,), k=100), vector=vectors[0])
        assert [r["id"] for r in rec.results] == [f"h{i:03d}"], cuisine
        assert rec.results[0]["cuisine"] == [cuisine]
    # Two at once: a union of exactly those two.
    rec = recommend(settings, Filters(cuisines=("Fish | Chips", "*"), k=100), vector=vectors[0])
    assert {r["id"] for r in rec.results} == {"h003", "h009"}
