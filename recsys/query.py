"""Recommend: validated filters -> one RedisVL `VectorQuery` on the live index.

The serving path for a known user needs no PyTorch and, in steady state, one round
trip: the user's vector is cached per live load, and the filtered KNN FT.SEARCH runs
on the alias between two reads of the live stamp, so a swap is noticed and redone.
Filters are built only with RedisVL's filter classes (values escaped by RedisVL);
the open-at filter comes from `hours.open_conditions`, so it is exact to the minute
inside Redis and top-k is exact (FLAT).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache, reduce
from typing import Any

import numpy as np
import redis
from redisvl.index import SearchIndex
from redisvl.query import CountQuery, VectorQuery
from redisvl.query.filter import FilterExpression, Geo, GeoRadius, Num, Tag

from recsys import hours, limits, store
from recsys.config import EMBEDDING_DIM, Settings
from recsys.errors import RecsysError

MAX_K = 100
MAX_RADIUS_M = 50_000.0
# Redis indexes points only up to this latitude (EPSG:900913); beyond it nothing matches.
MAX_LAT = 85.05112878
# Redis's own Earth radius for GEO, so our distances agree with its radius filter.
EARTH_RADIUS_M = 6372797.560856
# Only what a result shows; the id comes from the key and lat/lon from "location".
RETURN_FIELDS = ["name", "address", "location", "$.cuisines", "price", "rating"]
RETURN_FIELDS_HOURS = [*RETURN_FIELDS, "$.intervals"]
# Order of the per-filter counts shown when fewer than k restaurants pass.
FILTER_NAMES = ("location", "open_at", "price", "rating", "cuisines", "not_visited")


@dataclass(frozen=True)
class Filters:
    """What the person asked for; `None`/empty means "do not filter on this"."""

    lat: float | None = None
    lon: float | None = None
    radius_m: float | None = None
    at: datetime | str | None = None  # SF local when naive; ISO 8601 text accepted
    min_price: int | None = None
    max_price: int | None = None
    min_rating: float | None = None
    cuisines: tuple[str, ...] = ()
    k: int = 10
    exclude_visited: bool = False

    def __post_init__(self) -> None:
        # Filters are cache keys on the serving path, so any iterable of names becomes
        # a tuple (a list from a UI widget or JSON would not be hashable).
        if isinstance(self.cuisines, str):
            object.__setattr__(self, "cuisines", (self.cuisines,))
        elif not isinstance(self.cuisines, tuple):
            object.__setattr__(self, "cuisines", tuple(self.cuisines or ()))

    def validate(self, known_cuisines: Iterable[str] | None = None) -> Filters:
        """Check every value; return a normalised copy (aware `at`, canonical cuisines).

        Args:
            known_cuisines: the cuisines present in the index; unknown names are errors.

        Raises:
            RecsysError: one sentence naming the first bad value.
        """
        _check_point(self.lat, self.lon, self.radius_m)
        _check_range("price", self.min_price, self.max_price, 1, 4, integer=True)
        _check_range("rating", self.min_rating, None, 0, 5, integer=False)
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise RecsysError(f"k {self.k!r} is not a whole number from 1 to {MAX_K}.")
        cuisines = _canonical_cuisines(self.cuisines, known_cuisines)
        return replace(self, at=parse_at(self.at), cuisines=cuisines)


def _finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise RecsysError(f"{name} {value!r} is not a number.")
    if not math.isfinite(value):
        raise RecsysError(f"{name} {value!r} is not a finite number.")
    return float(value)


def _check_point(lat: Any, lon: Any, radius_m: Any) -> None:
    if (lat is None) != (lon is None):
        raise RecsysError("give both a latitude and a longitude for the search centre, or neither.")
    if lat is not None:
        if not -MAX_LAT <= _finite("latitude", lat) <= MAX_LAT:
            raise RecsysError(f"latitude {lat!r} is outside -{MAX_LAT}..{MAX_LAT}.")
        if not -180 <= _finite("longitude", lon) <= 180:
            raise RecsysError(f"longitude {lon!r} is outside -180..180.")
    if radius_m is not None:
        if lat is None:
            raise RecsysError(
                f"radius {radius_m!r} m needs a search centre (latitude and longitude)."
            )
        if not 0 < _finite("radius", radius_m) <= MAX_RADIUS_M:
            raise RecsysError(
                f"radius {radius_m!r} m is not greater than 0 and at most {MAX_RADIUS_M:.0f} m."
            )


def _check_range(
    name: str, low: Any, high: Any, lowest: float, highest: float, *, integer: bool
) -> None:
    for label, value in ((f"minimum {name}", low), (f"maximum {name}", high)):
        if value is None:
            continue
        number = _finite(label, value)
        if (integer and not float(number).is_integer()) or not lowest <= number <= highest:
            kind = "a whole number" if integer else "a number"
            raise RecsysError(f"{label} {value!r} is not {kind} from {lowest:g} to {highest:g}.")
    if low is not None and high is not None and low > high:
        raise RecsysError(f"minimum {name} {low!r} is above maximum {name} {high!r}.")


def _canonical_cuisines(asked: Iterable[str], known: Iterable[str] | None) -> tuple[str, ...]:
    asked = tuple(asked or ())
    for name in asked:
        if not isinstance(name, str) or not name.strip():
            raise RecsysError(f"cuisine {limits.echo(name)} is not a cuisine name.")
    if known is None:
        return tuple(name.strip() for name in asked)
    by_lower = {k.lower(): k for k in known}
    unknown = [name for name in asked if name.strip().lower() not in by_lower]
    if unknown:
        sample = ", ".join(sorted(by_lower.values())[:40])
        raise RecsysError(
            f"cuisine {limits.echo(unknown[0])} is not in the index; known cuisines: {sample}."
        )
    return tuple(dict.fromkeys(by_lower[name.strip().lower()] for name in asked))


def parse_at(at: datetime | str | None) -> datetime | None:
    """An aware San Francisco datetime from a datetime or ISO 8601 text (no offset = SF)."""
    if at is None:
        return None
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError:
            raise RecsysError(
                f"time {limits.echo(at)} is not ISO 8601 "
                "(e.g. 2026-07-04T19:30 or 2026-07-04T19:30-07:00)."
            ) from None
    return hours.to_local(at)


# --- filters -> RedisVL expressions (no server needed) -----------------------------------


def filter_parts(filters: Filters, visited: Sequence[str] = ()) -> dict[str, FilterExpression]:
    """One RedisVL expression per filter given (validated `filters`), by `FILTER_NAMES`."""
    parts: dict[str, FilterExpression] = {}
    if filters.radius_m is not None:
        area = GeoRadius(filters.lon, filters.lat, filters.radius_m, unit="m")
        parts["location"] = Geo("location") == area
    if filters.at is not None:
        parts["open_at"] = reduce(
            lambda a, b: a | b,
            (
                (Num(o) <= minute) & (Num(c) > minute)
                for o, c, minute in hours.open_conditions(filters.at)
            ),
        )
    if filters.min_price is not None or filters.max_price is not None:
        low, high = filters.min_price or 1, filters.max_price or 4
        parts["price"] = Num("price").between(int(low), int(high))
    if filters.min_rating is not None:
        parts["rating"] = Num("rating") >= float(filters.min_rating)
    if filters.cuisines:
        parts["cuisines"] = Tag("cuisines") == list(filters.cuisines)
    if filters.exclude_visited and visited:
        parts["not_visited"] = Tag("id") != list(visited)
    return parts


def combine(parts: dict[str, FilterExpression]) -> FilterExpression | None:
    """All parts AND-ed, or None when nothing filters."""
    return reduce(lambda a, b: a & b, parts.values()) if parts else None


def build_query(
    vector: Sequence[float], filters: Filters, visited: Sequence[str] = ()
) -> VectorQuery:
    """The one filtered KNN query for validated `filters`."""
    fields = RETURN_FIELDS_HOURS if filters.at is not None else RETURN_FIELDS
    return VectorQuery(
        vector=list(vector),
        vector_field_name="embedding",
        return_fields=fields,
        filter_expression=_filter_string(filters, tuple(visited)),
        num_results=filters.k,
    )


@lru_cache(maxsize=1024)
def _filter_string(filters: Filters, visited: tuple[str, ...]) -> str | None:
    # Rendered by RedisVL once per distinct request: repeated queries (the UI, the
    # benchmark) skip rebuilding dozens of filter objects.
    expression = combine(filter_parts(filters, visited))
    return None if expression is None else str(expression)


# --- the serving path --------------------------------------------------------------------
#
# Steady state is one round trip: the user's vector comes from a per-process cache keyed
# by the live load's stamp (versioned user documents never change within a load), and the
# FT.SEARCH on the alias is sent together with a read of the live stamp, after it. A swap
# changes the alias and the stamp in one MULTI and a stamp never comes back, so if the
# stamp read after the search still equals the one the vector was read under, the alias
# named that load when the search ran; otherwise the live load moved, and the user is
# fetched again for the new load and the query redone.

USER_CACHE_SIZE = 10_000
MAX_ATTEMPTS = 5
# What identifies one load of the live index: version numbers restart when a namespace
# is wiped, the load id never repeats.
_STAMP_FIELDS = ("version", "load_id")


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


@dataclass(frozen=True)
class _User:
    vector: bytes  # float32, as FT.SEARCH takes it
    visited: tuple[str, ...]


_lives = _LRU(64)  # Settings -> _Live
_users = _LRU(USER_CACHE_SIZE)  # (Settings, stamp, user_id) -> _User


def _read_live(settings: Settings) -> _Live:
    raw = store.client(settings).hgetall(store.live_key(settings))
    while not raw:
        store.require_live(settings)  # raises the "run prepare first" message
        raw = store.client(settings).hgetall(store.live_key(settings))  # just published
    version = int(raw[b"version"])
    live = _Live(
        stamp=tuple(raw.get(name.encode()) for name in _STAMP_FIELDS),
        version=version,
        index=raw[b"index"].decode(),
        model_version=raw[b"model_version"].decode(),
        cuisines=tuple(json.loads(raw.get(b"cuisines") or b"[]")),
        key_prefix=(store.restaurant_prefix(settings, version) + ":").encode(),
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
    """The user's vector and visits in the live load (cached), or None if not there."""
    key = (settings, live.stamp, user_id)
    user = _users.get(key)
    if user is None:
        doc_key = f"{store.user_prefix(settings, live.version)}:{user_id}"
        doc = store.client(settings).json().get(doc_key, "$.embedding", "$.visited")
        if doc is None:
            return None
        vector = np.asarray(doc["$.embedding"][0], dtype=np.float32).tobytes()
        user = _User(vector=vector, visited=tuple(doc["$.visited"][0]))
        _users.put(key, user)
    return user


_NO_VECTOR = [0.0] * EMBEDDING_DIM


@lru_cache(maxsize=1024)
def search_args(filters: Filters, visited: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """The FT.SEARCH arguments after the index name, without `PARAMS` (the vector).

    Rendered by RedisVL once per distinct validated `filters` and visits, then cached.
    """
    return tuple(build_query(_NO_VECTOR, filters, visited).get_args())


def _search(
    settings: Settings, live: _Live, args: tuple[Any, ...], vector: bytes
) -> list[tuple[bytes, dict[bytes, bytes]]] | None:
    """(key, fields) of each hit in one round trip; None if the live load moved."""
    search = ("FT.SEARCH", store.alias_name(settings), *args, "PARAMS", 2, "vector", vector)
    reply, stamp = _round_trip(
        store.client(settings), search, ("HMGET", store.live_key(settings), *_STAMP_FIELDS)
    )
    if tuple(stamp) != live.stamp:
        return None
    if isinstance(reply, Exception):
        raise reply
    hits = parse_search_reply(reply)
    if not all(key.startswith(live.key_prefix) for key, _ in hits):
        return None  # cannot happen while the stamp holds; never serve another version
    return hits


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
        given = _User(np.asarray(store.vector_list(vector), dtype=np.float32).tobytes(), ())
    try:
        return _serve(settings, filters, user_id, given)
    except redis.ConnectionError:
        # The cached client may name a Redis that restarted elsewhere: resolve it again.
        store.reset_client(settings)
        _lives.put(settings, None)
        return _serve(settings, filters, user_id, given)


def _serve(
    settings: Settings, filters: Filters, user_id: str | None, given: _User | None
) -> Recommendation:
    live = _live(settings)
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
        visited = user.visited if checked.exclude_visited else ()
        hits = _search(settings, live, search_args(checked, visited), user.vector)
        if hits is not None:
            return _recommendation(settings, live, checked, hits, user, user_id)
        live = _read_live(settings)  # swapped meanwhile: the user's vector of the new load
    raise RecsysError(
        f"the live index was replaced {MAX_ATTEMPTS} times during one query; try again."
    )


def _recommendation(
    settings: Settings,
    live: _Live,
    filters: Filters,
    hits: list[tuple[bytes, dict[bytes, bytes]]],
    user: _User,
    user_id: str | None,
) -> Recommendation:
    results = _results(hits, filters, len(live.key_prefix))
    passing = None
    if len(results) < filters.k:
        visited = user.visited if filters.exclude_visited else ()
        passing = _passing_counts(_index(settings, live.index), filter_parts(filters, visited))
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
def _index(settings: Settings, name: str) -> SearchIndex:
    # Built once per version: parsing the schema costs more than the query itself.
    version = name.rsplit(":v", 1)[1]
    return store.search_index(settings, version)


def _passing_counts(index: SearchIndex, parts: dict[str, FilterExpression]) -> dict[str, int]:
    counts = {"all": int(index.query(CountQuery(combine(parts) or FilterExpression("*"))))}
    for name, part in parts.items():
        counts[name] = int(index.query(CountQuery(part)))
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
def _static(key: bytes, prefix_len: int, *raw: bytes | None) -> tuple[Any, ...]:
    # Keyed by the returned bytes themselves, so it can never serve stale values: a place
    # shown again is not parsed again. (id, name, address, lat, lon, cuisines, price, rating)
    name, address, location, cuisines, price, rating = raw
    lon, lat = (float(v) for v in (location or b"nan,nan").split(b","))
    return (
        key[prefix_len:].decode(),
        (name or b"").decode(),
        (address or b"").decode(),
        lat,
        lon,
        tuple(json.loads(cuisines or b"[]")),
        int(float(price or 0)),
        float(rating or 0),
    )


def _results(
    hits: list[tuple[bytes, dict[bytes, bytes]]], filters: Filters, prefix_len: int
) -> list[dict[str, Any]]:
    """The contract's result dicts, reading only the returned fields."""
    static = [_static(key, prefix_len, *map(hit.get, _STATIC_FIELDS)) for key, hit in hits]
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


# --- command line ------------------------------------------------------------------------


def filters_from_args(args: argparse.Namespace) -> Filters:
    """The `recommend` flags as `Filters` (validated later, with the index's cuisines)."""
    return Filters(
        lat=args.lat,
        lon=args.lon,
        radius_m=args.radius_m,
        at=args.at,
        min_price=args.min_price,
        max_price=args.max_price,
        min_rating=args.min_rating,
        cuisines=tuple(args.cuisine or ()),
        k=args.k,
        exclude_visited=bool(args.exclude_visited),
    )


def new_user_vector(settings: Settings, profile_json: str) -> tuple[str, list[float]]:
    """Cold start: validate a new user's JSON profile and embed it with the user tower.

    Returns:
        (user_id, embedding). PyTorch is imported here only.

    Raises:
        RecsysError: bad JSON or profile, no checkpoint, or a checkpoint that is not the
            model serving the live index (its vectors would not be comparable).
    """
    import pandas as pd

    from recsys import train, users

    if len(profile_json) > limits.MAX_CHARS["new_user_json"]:
        raise RecsysError(
            f"--new-user {limits.echo(profile_json)} is longer than "
            f"{limits.MAX_CHARS['new_user_json']:,} characters."
        )
    try:
        raw = json.loads(profile_json)
    except ValueError as exc:
        raise RecsysError(f"--new-user is not valid JSON ({exc.msg} at char {exc.pos}).") from None
    except RecursionError:
        raise RecsysError(
            f"--new-user {limits.echo(profile_json)} is nested too deeply to be a profile."
        ) from None
    profile = users.validate_profile(raw)
    live = store.require_live(settings)
    model = train.load_checkpoint(train.default_checkpoint_path(settings))
    if str(model.version) != live["model_version"]:
        raise RecsysError(
            f"the saved model {model.version!r} is not the one serving "
            f"({live['model_version']!r}); run `python -m recsys prepare`."
        )
    vector = np.asarray(model.embed_users(pd.DataFrame([profile])))[0]
    return profile["user_id"], vector.astype(np.float32).tolist()


def recommend_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys recommend`: one JSON line per user; nothing printed on error."""
    filters = filters_from_args(args)
    lines = []
    if args.new_user is not None:
        filters.validate()  # bad flags fail before PyTorch is loaded
        user_id, vector = new_user_vector(settings, args.new_user)
        rec = recommend(settings, filters, vector=vector)
        rec.user_id = user_id
        lines.append(rec.to_json())
    else:
        for user_id in args.user_id:
            lines.append(recommend(settings, filters, user_id=user_id).to_json())
    # Everything computed before anything is written: an error leaves stdout empty.
    for line in lines:
        sys.stdout.write(json.dumps(line) + "\n")
    return 0
