"""Recommend: validated filters -> one filtered KNN FT.SEARCH on the live index.

The serving path for a known user needs no PyTorch and, in steady state, one round
trip: the user's vector is cached per live load, and the filtered KNN FT.SEARCH runs
on the alias between two reads of the live stamp, so a swap is noticed and redone.
The query itself (filters, RedisVL expressions, arguments) is built in `filters.py`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
import redis
from redisvl.index import SearchIndex
from redisvl.query import CountQuery
from redisvl.query.filter import FilterExpression

from recsys import limits
from recsys.config import Settings
from recsys.data import hours
from recsys.errors import RecsysError
from recsys.serving import feedback, index, keys
from recsys.serving.filters import (
    FETCH_GROWTH,
    MAX_FETCH,
    Filters,
    Plan,
    combine,
    filter_parts,
    hybrid_policy,
    loose_radius,
    plan,
    search_args,
)
from recsys.serving.server import client, reset_client

# Redis's own Earth radius for GEO, so our distances agree with its radius filter.
EARTH_RADIUS_M = 6372797.560856


# --- the serving path --------------------------------------------------------------------
#
# Steady state is one round trip: the user's vector comes from a per-process cache keyed
# by the live load's stamp (versioned user documents never change within a load), and the
# FT.SEARCH on the alias is sent together with a read of the live stamp, after it. A swap
# changes the alias and the stamp in one MULTI and a stamp never comes back, so if the
# stamp read after the search still equals the one the vector was read under, the alias
# named that load when the search ran; otherwise the live load moved, and the user is
# fetched again for the new load and the query redone.
#
# App feedback (feedback.py) rides on the same round trip: the cached user carries the
# feedback seq its vector was computed under, and `HGET ns:feedback:users {id}` is sent
# after the search. A different seq drops the cached user; it is recomputed (online
# update on the live load's vectors) and the query redone, so a click shows on the next
# query and users without feedback still cost one round trip.

USER_CACHE_SIZE = 10_000
MAX_ATTEMPTS = 5


@dataclass
class Recommendation:
    """Results of one query, the live version that served it, and empty-state help."""

    results: list[dict[str, Any]]
    filters: Filters
    version: int
    model_version: str
    user_id: str | None = None
    # When fewer than k passed: how many restaurants pass each given filter alone.
    passing: dict[str, int] | None = None
    visited: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON Lines object (design contract)."""
        return {"user_id": self.user_id, "results": self.results}


class _LRU:
    """A small thread-safe least-recently-used map (the serving path's caches)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class _Live:
    """The live load as last read: its stamp (as HMGET returns it) and what queries need."""

    stamp: tuple[bytes | None, ...]
    version: int
    index: str
    model_version: str
    cuisines: tuple[str, ...]
    key_prefix: bytes  # of its restaurant documents, "...:v{N}:"
    restaurant_mean: tuple[float, ...] | None = None  # for the online update (feedback.py)
    restaurants: int = 0  # how many places, their vector algorithm and places per grid
    algorithm: str = "flat"  # cell: what `filters.plan` chooses the query plan from
    cell_counts: Mapping[str, int] | None = None


@dataclass(frozen=True)
class _User:
    vector: bytes  # float32, as FT.SEARCH takes it
    visited: tuple[str, ...]
    rejected: tuple[str, ...] = ()  # marked "Not for me" in the app: never shown
    feedback_seq: bytes | None = None  # the user's feedback seq the vector was made under


_lives = _LRU(64)  # Settings -> _Live
_users = _LRU(USER_CACHE_SIZE)  # (Settings, stamp, user_id) -> _User


def _read_live(settings: Settings) -> _Live:
    pointer = keys.LivePointer.parse(client(settings).hgetall(keys.live(settings)))
    while pointer is None:
        index.require_live(settings)  # raises the "run prepare first" message
        pointer = keys.LivePointer.parse(client(settings).hgetall(keys.live(settings)))
    live = _Live(
        stamp=tuple(value.encode() for value in pointer.stamp),
        version=pointer.version,
        index=pointer.index,
        model_version=pointer.model_version,
        cuisines=pointer.cuisines,
        key_prefix=keys.restaurant(settings, pointer.version, "").encode(),
        restaurant_mean=tuple(pointer.model.get("restaurant_mean") or ()) or None,
        restaurants=pointer.restaurants,
        algorithm=pointer.algorithm,
        cell_counts=pointer.cell_counts,
    )
    _lives.put(settings, live)
    return live


def _live(settings: Settings) -> _Live:
    return _lives.get(settings) or _read_live(settings)


@lru_cache(maxsize=1024)
def _checked(filters: Filters, known_cuisines: tuple[str, ...] | None) -> Filters:
    # Validated once per distinct request (parsing `at` and the cuisines is not free).
    return filters.validate(known_cuisines)


def _validated(settings: Settings, filters: Filters, live: _Live) -> tuple[_Live, Filters]:
    """`filters` checked against the live cuisines (re-read once: a new restaurant may
    have brought a cuisine since they were cached)."""
    if not filters.cuisines:
        return live, _checked(filters, None)
    try:
        return live, _checked(filters, live.cuisines)
    except RecsysError:
        live = _read_live(settings)
        return live, _checked(filters, live.cuisines)


def _user(settings: Settings, live: _Live, user_id: str) -> _User | None:
    """The user's vector (moved by their app feedback) and visits in the live load
    (cached per load and feedback seq), or None if not there."""
    key = (settings, live.stamp, user_id)
    user = _users.get(key)
    if user is None:
        served = feedback.served_user(settings, live.version, user_id, live.restaurant_mean)
        if served is None:
            return None
        user = _User(served.vector, served.visited, served.rejected, served.seq)
        _users.put(key, user)
    return user


def _search(
    settings: Settings,
    live: _Live,
    args: tuple[Any, ...],
    vector: bytes,
    user_id: str | None = None,
    feedback_seq: bytes | None = None,
) -> list[tuple[bytes, dict[bytes, bytes]]] | None:
    """(key, fields) of each hit in one round trip; None if the live load moved, or the
    user's feedback changed since their vector was computed (it is then dropped)."""
    commands = [
        search_command(settings, args, vector),
        ("HMGET", keys.live(settings), *keys.STAMP_FIELDS),
    ]
    if user_id is not None:
        commands.append(("HGET", keys.feedback_users(settings), user_id))
    reply, stamp, *seq = _round_trip(client(settings), *commands)
    if tuple(stamp) != live.stamp:
        return None
    if seq and seq[0] != feedback_seq:
        _users.put((settings, live.stamp, user_id), None)  # recomputed on the next attempt
        return None
    if isinstance(reply, Exception):
        raise reply
    check_complete(reply)
    hits = parse_search_reply(reply)
    if not all(key.startswith(live.key_prefix) for key, _ in hits):
        return None  # cannot happen while the stamp holds; never serve another version
    return hits


def search_command(settings: Settings, args: tuple[Any, ...], vector: bytes) -> tuple[Any, ...]:
    """The raw FT.SEARCH command on the live alias for `search_args` and a float32 vector,
    with `TIMEOUT` when `settings.search_timeout_ms` is set (the bench's namespaces; the
    app leaves it to the server's TIMEOUT config)."""
    return ("FT.SEARCH", keys.alias(settings), *args, *timeout_args(settings),
            "PARAMS", 2, "vector", vector)  # fmt: skip


def timeout_args(settings: Settings) -> tuple[Any, ...]:
    """FT.SEARCH's per-query `TIMEOUT ms` for `settings.search_timeout_ms`, or nothing."""
    ms = settings.search_timeout_ms
    return () if ms is None else ("TIMEOUT", ms)


def _round_trip(conn: redis.Redis, *commands: tuple[Any, ...]) -> list[Any]:
    """Raw replies of `commands` sent together (an error reply is returned, not raised).

    redis-py's pipeline object costs ~40 us a call here; one pooled connection does not.
    """
    pool = conn.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(connection.read_response())
            except redis.ResponseError as exc:  # consumed: the next reply is still readable
                replies.append(exc)
        return replies
    except BaseException:
        connection.disconnect()  # replies may be pending: never reuse it
        raise
    finally:
        pool.release(connection)


def check_complete(reply: Any) -> None:
    """Refuse a reply cut short by the Query Engine's timeout (ON_TIMEOUT return gives
    partial results, which would not be the exact top-k). Seen at 1,000,000 restaurants
    with a 20 km radius on a busy machine (docs/filtered-search.md)."""
    warnings = reply.get(b"warning", []) if isinstance(reply, dict) else []
    if any(b"timeout" in bytes(w).lower() for w in warnings):
        raise RecsysError("the search took longer than Redis allows; narrow the filters.")


def parse_search_reply(reply: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """(key, fields) of each hit of a raw FT.SEARCH reply, RESP3 (a map) or RESP2 (a list)."""
    if isinstance(reply, dict):
        return [(hit[b"id"], hit[b"extra_attributes"]) for hit in reply[b"results"]]
    pairs = zip(reply[1::2], reply[2::2], strict=True)
    return [(key, dict(zip(fields[::2], fields[1::2], strict=True))) for key, fields in pairs]


def recommend(
    settings: Settings,
    filters: Filters,
    *,
    user_id: str | None = None,
    vector: Sequence[float] | None = None,
) -> Recommendation:
    """Top-k restaurants for a known user (`user_id`) or an embedding (`vector`).

    Raises:
        RecsysError: bad filters, unknown user or cuisine, or nothing loaded yet.
    """
    if (user_id is None) == (vector is None):
        raise RecsysError("give either a user id or an embedding to recommend for, not both.")
    if user_id is not None and (not isinstance(user_id, str) or not user_id.strip()):
        raise RecsysError(f"user id {limits.echo(user_id)} is not a user id.")
    if user_id is not None and len(user_id) > limits.MAX_CHARS["user_id"]:
        raise RecsysError(
            f"user id {limits.echo(user_id)} is longer than "
            f"{limits.MAX_CHARS['user_id']} characters."
        )
    _checked(filters, None)  # fail on bad values before any round trip
    given = None
    if vector is not None:
        given = _User(np.asarray(index.vector_list(vector), dtype=np.float32).tobytes(), ())
    try:
        return _serve(settings, filters, user_id, given)
    except redis.ConnectionError:
        # The cached client may name a Redis that restarted elsewhere: resolve it again.
        reset_client(settings)
        _lives.put(settings, None)
        return _serve(settings, filters, user_id, given)


def _serve(
    settings: Settings, filters: Filters, user_id: str | None, given: _User | None
) -> Recommendation:
    live = _live(settings)
    how: Plan | None = None
    for _ in range(MAX_ATTEMPTS):
        live, checked = _validated(settings, filters, live)
        user = given or _user(settings, live, user_id)
        if user is None:
            fresh = _read_live(settings)
            if fresh.stamp == live.stamp:
                raise RecsysError(
                    f"user {limits.echo(user_id)} is not among the users of the live model."
                )
            live = fresh  # the load we knew was dropped: look again in the new one
            continue
        hits, how = _top_k(settings, live, checked, user, None if given else user_id, how)
        if hits is not None:
            return _recommendation(settings, live, checked, hits, user, user_id)
        live = _read_live(settings)  # swapped meanwhile: the user's vector of the new load
    raise RecsysError(
        f"the live index or the user's feedback changed {MAX_ATTEMPTS} times during one "
        "query; try again."
    )


def _top_k(
    settings: Settings,
    live: _Live,
    filters: Filters,
    user: _User,
    user_id: str | None,
    how: Plan | None,
) -> tuple[list[tuple[bytes, dict[bytes, bytes]]] | None, Plan]:
    """The exact top-k hits (None if the live load or the user's feedback moved) and the
    plan to start from if asked again.

    With a radius, the first query usually leaves it loose (`filters.plan`): it asks
    for `fetch` > k hits of the cover's cells, and the hits outside the circle are
    dropped here. If fewer than k are left although the reply was full (more places
    could follow), the query is sent again with FETCH_GROWTH times more hits, and past
    MAX_FETCH as the exact query (Redis checks the radius). Dropping hits keeps the
    order of the rest, and every place of the circle is in the cover, so the first k
    kept are the circle's top k.
    """
    if how is None:
        how = _plan(filters, live)
    while True:
        args = _args(filters, user, how)
        hits = _search(settings, live, args, user.vector, user_id, user.feedback_seq)
        if hits is None or not loose_radius(filters, how.fetch):
            return hits, how
        kept = [hit for hit, inside in zip(hits, _inside(filters, hits), strict=True) if inside]
        if len(kept) >= filters.k or len(hits) < how.fetch:
            return kept[: filters.k], how
        fetch = how.fetch * FETCH_GROWTH
        if fetch > MAX_FETCH:
            how = Plan(filters.k, hybrid_policy(filters))  # the exact query
        else:
            batch = how.batch_size and how.batch_size * FETCH_GROWTH
            how = Plan(fetch, how.policy, batch)


def _plan(filters: Filters, live: _Live) -> Plan:
    # Cached per request and load (a stamp is unique to one load of one namespace).
    key = (filters, live.stamp)
    found = _plans.get(key)
    if found is None:
        found = plan(filters, restaurants=live.restaurants, algorithm=live.algorithm,
                     cell_counts=live.cell_counts)  # fmt: skip
        _plans.put(key, found)
    return found


_plans = _LRU(1024)


def first_query(
    settings: Settings, filters: Filters, visited: Sequence[str] = ()
) -> tuple[tuple[Any, ...], Plan]:
    """The FT.SEARCH arguments (see `search_args`) and plan of the first query `recommend`
    sends for validated `filters` on the live load (the benchmark's bare FT.SEARCH)."""
    how = _plan(filters, _live(settings))
    return search_args(filters, tuple(visited), how), how


def top_k_of_reply(filters: Filters, how: Plan, hits: list[tuple[bytes, dict[bytes, bytes]]]):
    """The answer within the hits of a query run with plan `how`: with a loose radius the
    hits inside it, k at most (the answer when k are left or the reply was not full)."""
    if not loose_radius(filters, how.fetch):
        return hits
    kept = [hit for hit, inside in zip(hits, _inside(filters, hits), strict=True) if inside]
    return kept[: filters.k]


def _inside(filters: Filters, hits: list[tuple[bytes, dict[bytes, bytes]]]) -> list[bool]:
    """Whether each hit lies within the radius: haversine with Redis's Earth radius on
    the stored coordinates (Redis's own check uses its 52-bit geohash of them, within
    about 0.6 m: the two can differ only for places that close to the edge)."""
    if not hits:
        return []
    points = np.array(
        [[float(v) for v in (hit.get(b"location") or b"nan,nan").split(b",")] for _, hit in hits]
    )
    metres = haversine_m(filters.lat, filters.lon, points[:, 1], points[:, 0])
    return (np.asarray(metres) <= filters.radius_m).tolist()


def _excluded(filters: Filters, user: _User) -> tuple[Filters, tuple[str, ...]]:
    """Filters and ids to exclude: visits when asked, places marked "Not for me" always."""
    visited = user.visited if filters.exclude_visited else ()
    if not user.rejected:
        return filters, visited
    ids = tuple(dict.fromkeys((*visited, *user.rejected)))
    return replace(filters, exclude_visited=True), ids


def _args(filters: Filters, user: _User, how: Plan | None = None) -> tuple[Any, ...]:
    return search_args(*_excluded(filters, user), how)


def _recommendation(
    settings: Settings,
    live: _Live,
    filters: Filters,
    hits: list[tuple[bytes, dict[bytes, bytes]]],
    user: _User,
    user_id: str | None,
) -> Recommendation:
    results = _results(hits, filters, settings, live.version)
    passing = None
    if len(results) < filters.k:
        passing = _passing_counts(
            _index(settings, live.version),
            filter_parts(*_excluded(filters, user)),
            settings.search_timeout_ms,
        )
    return Recommendation(
        results=results,
        filters=filters,
        version=live.version,
        model_version=live.model_version,
        user_id=user_id,
        passing=passing,
        visited=list(user.visited),
    )


@lru_cache(maxsize=64)
def _index(settings: Settings, version: int) -> SearchIndex:
    # Built once per version: parsing the schema costs more than the query itself.
    return index.search_index(settings, version)


def _passing_counts(
    search: SearchIndex, parts: dict[str, FilterExpression], timeout_ms: int | None = None
) -> dict[str, int]:
    def count(expression: FilterExpression) -> int:
        return int(search.query(CountQuery(expression).timeout(timeout_ms)))

    counts = {"all": count(combine(parts) or FilterExpression("*"))}
    for name, part in parts.items():
        counts[name] = count(part)
    return counts


def haversine_m(lat1: float | np.ndarray, lon1: float | np.ndarray, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in metres, with Redis's Earth radius (arrays broadcast)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.subtract(lon2, lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    distance = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    return float(distance) if np.ndim(distance) == 0 else distance


@lru_cache(maxsize=8192)
def _open_close(raw_intervals: bytes | None, at: datetime) -> tuple[bool | None, str | None]:
    # Keyed by the stored JSON text: the same place at the same minute is answered once.
    raw = json.loads(raw_intervals) if raw_intervals else None
    if raw is None:
        return None, None
    closes = hours.closes_at(tuple(tuple(iv) for iv in raw), at)
    return closes is not None, closes  # it closes at some time iff it is open now


_STATIC_FIELDS = (b"name", b"address", b"location", b"$.cuisines", b"price", b"rating")


@lru_cache(maxsize=10_000)
def _static(key: bytes, settings: Settings, version: int, *raw: bytes | None) -> tuple[Any, ...]:
    # Keyed by the returned bytes themselves, so it can never serve stale values: a place
    # shown again is not parsed again. (id, name, address, lat, lon, cuisines, price, rating)
    name, address, location, cuisines, price, rating = raw
    lon, lat = (float(v) for v in (location or b"nan,nan").split(b","))
    return (
        keys.restaurant_id(settings, version, key),
        (name or b"").decode(),
        (address or b"").decode(),
        lat,
        lon,
        tuple(json.loads(cuisines or b"[]")),
        int(float(price or 0)),
        float(rating or 0),
    )


def _results(
    hits: list[tuple[bytes, dict[bytes, bytes]]], filters: Filters, settings: Settings, version: int
) -> list[dict[str, Any]]:
    """The contract's result dicts (hits of load `version`), reading only the returned fields."""
    static = [_static(key, settings, version, *map(hit.get, _STATIC_FIELDS)) for key, hit in hits]
    distances: list[float | None] = [None] * len(hits)
    if filters.lat is not None and hits:
        lat_lon = np.array([(place[3], place[4]) for place in static])
        metres = haversine_m(filters.lat, filters.lon, lat_lon[:, 0], lat_lon[:, 1])
        distances = np.round(metres, 1).tolist()
    results = []
    rows = zip(hits, static, distances, strict=True)
    for rank, ((_, hit), place, distance) in enumerate(rows, start=1):
        open_at = closes_at = None
        if filters.at is not None:
            open_at, closes_at = _open_close(hit.get(b"$.intervals"), filters.at)
        rid, name, address, lat, lon, cuisines, price, rating = place
        results.append(
            {
                "rank": rank,
                "id": rid,
                "name": name,
                "address": address,
                "lat": lat,
                "lon": lon,
                "cuisine": list(cuisines),
                "price": price,
                "rating": rating,
                "distance_m": distance,
                "score": 1.0 - float(hit[b"vector_distance"]),
                "open_at": open_at,
                "closes_at": closes_at,
            }
        )
    return results
