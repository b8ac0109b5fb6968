"""Recommend: validated filters -> one RedisVL `VectorQuery` on the live index.

The serving path for a known user needs no PyTorch: one Lua round trip reads the
live pointer and the user's vector + visits, one FT.SEARCH runs the filtered KNN.
Filters are built only with RedisVL's filter classes (values escaped by RedisVL);
the open-at filter comes from `hours.open_conditions`, so it is exact to the minute
inside Redis and top-k is exact (FLAT).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
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

from recsys import hours, store
from recsys.config import Settings
from recsys.errors import RecsysError

MAX_K = 100
MAX_RADIUS_M = 50_000.0
# Redis indexes points only up to this latitude (EPSG:900913); beyond it nothing matches.
MAX_LAT = 85.05112878
# Redis's own Earth radius for GEO, so our distances agree with its radius filter.
EARTH_RADIUS_M = 6372797.560856
RETURN_FIELDS = ["$.id", "name", "address", "$.lat", "$.lon", "$.cuisines", "price", "rating"]
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
            raise RecsysError(f"cuisine {name!r} is not a cuisine name.")
    if known is None:
        return tuple(name.strip() for name in asked)
    by_lower = {k.lower(): k for k in known}
    unknown = [name for name in asked if name.strip().lower() not in by_lower]
    if unknown:
        sample = ", ".join(sorted(by_lower.values())[:40])
        raise RecsysError(f"cuisine {unknown[0]!r} is not in the index; known cuisines: {sample}.")
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
                f"time {at!r} is not ISO 8601 (e.g. 2026-07-04T19:30 or 2026-07-04T19:30-07:00)."
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

# One round trip: the live version (+ cuisines when asked) and the user's vector + visits.
_FETCH_LUA = """
local live = redis.call('HMGET', KEYS[1], 'version', 'index', 'model_version')
local cuisines = false
if ARGV[3] == '1' then cuisines = redis.call('HGET', KEYS[1], 'cuisines') end
local user = false
if live[1] and ARGV[2] ~= '' then
  user = redis.call('JSON.GET', ARGV[1] .. live[1] .. ':' .. ARGV[2], '$.embedding', '$.visited')
end
return {live[1], live[2], live[3], cuisines, user}
"""


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


@dataclass(frozen=True)
class _Live:
    version: int
    index: str
    model_version: str
    cuisines: list[str] | None
    vector: list[float] | None
    visited: list[str]


@lru_cache(maxsize=64)
def _index(settings: Settings, name: str) -> SearchIndex:
    # Built once per version: parsing the schema costs more than the query itself.
    version = name.rsplit(":v", 1)[1]
    return store.search_index(settings, version)


@lru_cache(maxsize=8)
def _fetch_script(conn: redis.Redis) -> Any:
    return conn.register_script(_FETCH_LUA)


def _fetch(settings: Settings, user_id: str | None, want_cuisines: bool) -> _Live:
    conn = store.client(settings)
    args = [store.user_prefix(settings, ""), user_id or "", "1" if want_cuisines else "0"]
    version, index, model_version, cuisines, user = _fetch_script(conn)(
        keys=[store.live_key(settings)], args=args
    )
    if version is None:
        store.require_live(settings)  # raises the "run prepare first" message
    vector, visited = None, []
    if user_id is not None:
        if user is None:
            raise RecsysError(f"user {user_id!r} is not among the users of the live model.")
        doc = json.loads(user)
        vector, visited = doc["$.embedding"][0], doc["$.visited"][0]
    return _Live(
        version=int(version),
        index=index.decode(),
        model_version=model_version.decode(),
        cuisines=json.loads(cuisines) if cuisines else None,
        vector=vector,
        visited=visited,
    )


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
        raise RecsysError(f"user id {user_id!r} is not a user id.")
    filters.validate()  # fail on bad values before any round trip
    # A swap can drop the version we just read between the two round trips; re-read then.
    for attempt in range(3):
        live = _fetch(settings, user_id, want_cuisines=bool(filters.cuisines))
        checked = filters.validate(live.cuisines if filters.cuisines else None)
        query_vector = live.vector if vector is None else store._vector_list(vector)
        try:
            return _run(settings, live, checked, query_vector, user_id)
        except redis.ResponseError as exc:
            if "no such index" not in str(exc).lower() or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _run(
    settings: Settings,
    live: _Live,
    filters: Filters,
    vector: Sequence[float],
    user_id: str | None,
) -> Recommendation:
    index = _index(settings, live.index)
    visited = live.visited if filters.exclude_visited else []
    hits = index.query(build_query(vector, filters, visited))
    results = [_result(rank, hit, filters) for rank, hit in enumerate(hits, start=1)]
    passing = None
    if len(results) < filters.k:
        passing = _passing_counts(index, filter_parts(filters, visited))
    return Recommendation(
        results=results,
        filters=filters,
        version=live.version,
        model_version=live.model_version,
        user_id=user_id,
        passing=passing,
        visited=list(live.visited),
    )


def _passing_counts(index: SearchIndex, parts: dict[str, FilterExpression]) -> dict[str, int]:
    counts = {"all": int(index.query(CountQuery(combine(parts) or FilterExpression("*"))))}
    for name, part in parts.items():
        counts[name] = int(index.query(CountQuery(part)))
    return counts


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres, with Redis's Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def _result(rank: int, hit: dict[str, Any], filters: Filters) -> dict[str, Any]:
    lat, lon = float(hit["$.lat"]), float(hit["$.lon"])
    open_at = closes_at = None
    if filters.at is not None:
        raw = json.loads(hit.get("$.intervals") or "null")
        intervals = None if raw is None else tuple(tuple(iv) for iv in raw)
        open_at = hours.is_open(intervals, filters.at)
        closes_at = hours.closes_at(intervals, filters.at)
    distance = None
    if filters.lat is not None:
        distance = round(haversine_m(filters.lat, filters.lon, lat, lon), 1)
    return {
        "rank": rank,
        "id": hit["$.id"],
        "name": hit.get("name", ""),
        "address": hit.get("address", ""),
        "lat": lat,
        "lon": lon,
        "cuisine": json.loads(hit.get("$.cuisines") or "[]"),
        "price": int(float(hit["price"])),
        "rating": float(hit["rating"]),
        "distance_m": distance,
        "score": 1.0 - float(hit["vector_distance"]),
        "open_at": open_at,
        "closes_at": closes_at,
    }


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

    try:
        raw = json.loads(profile_json)
    except ValueError as exc:
        raise RecsysError(f"--new-user is not valid JSON ({exc.msg} at char {exc.pos}).") from None
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
