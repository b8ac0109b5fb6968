"""Whose taste: a user's match score for every restaurant, and where they have been.

For the map's taste layer and past-visits layer. One KNN query over the live index
(RedisVL `VectorQuery`, the user's served vector: the trained one moved by their app
feedback, exactly what recommendations use) gives the scores, best first; one
JSON.MGET gives the visited places (training visits and "I went here" marks). Not on
the click path of recommendations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from redisvl.query import VectorQuery

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.serving import feedback, index, keys
from recsys.serving.server import client

MAX_POINTS = 2_000  # a taste map beyond this would be unreadable and slow to draw


@dataclass(frozen=True)
class Place:
    """A restaurant on the map: where, what, and the user's match score (cosine)."""

    id: str
    name: str
    lat: float
    lon: float
    score: float | None = None


def _location(value: Any) -> tuple[float, float]:
    lon, lat = (float(v) for v in str(value).split(","))
    return lat, lon


def scores(settings: Settings, user_id: str, limit: int = MAX_POINTS) -> list[Place]:
    """The user's match score for the `limit` restaurants they match best, best first.

    Raises:
        RecsysError: nothing is live, or no such user.
    """
    if not 1 <= int(limit) <= MAX_POINTS:
        raise RecsysError(f"limit {limit!r} is not a whole number from 1 to {MAX_POINTS}.")
    live = index.require_live(settings)
    user = _served(settings, live, user_id)
    query = VectorQuery(
        vector=np.frombuffer(user.vector, dtype=np.float32).tolist(),
        vector_field_name="embedding",
        return_fields=["name", "location"],
        num_results=min(int(limit), live["restaurants"]),
    )
    hits = index.search_index(settings, live["version"]).query(query)
    places = []
    for hit in hits:
        lat, lon = _location(hit["location"])
        rid = keys.restaurant_id(settings, live["version"], hit["id"])
        score = 1.0 - float(hit["vector_distance"])
        places.append(Place(rid, str(hit.get("name", "")), lat, lon, score))
    return places


def _served(settings: Settings, live: dict[str, Any], user_id: str) -> feedback.ServedUser:
    user = feedback.served_user(settings, live["version"], user_id)
    if user is None:
        raise RecsysError(
            f"user {user_id!r} is not among the {live['users']} users of the live model."
        )
    return user


def visits(settings: Settings, user_id: str) -> list[Place]:
    """The restaurants of the user's past visits and "I went here" marks (those still in
    the live index)."""
    live = index.require_live(settings)
    user = _served(settings, live, user_id)
    visited = list(dict.fromkeys(str(v) for v in (*user.visited, *user.went)))
    if not visited:
        return []
    found = (
        client(settings)
        .json()
        .mget([keys.restaurant(settings, live["version"], rid) for rid in visited], "$")
    )
    places = []
    for rid, doc in zip(visited, found, strict=True):
        if doc:
            lat, lon = _location(doc[0]["location"])
            places.append(Place(rid, str(doc[0].get("name", "")), lat, lon))
    return places
