"""Filters: what a person asks for, validated, as RedisVL filter expressions (pure).

No server is needed here: `Filters.validate` checks every value and names the first
bad one; `filter_parts` turns validated filters into one RedisVL expression per
filter (values escaped by RedisVL); `search_args` renders the one filtered KNN query.
The open-at filter comes from `hours.open_query_tokens`, price and rating from
`pricetags.query` (one TAG term), and the radius from `geocells.cover`.

Two forms of the radius (docs/filtered-search.md):
- exact in Redis (`filter_parts`, the counts, `exact_search_args`): inner cells, or
  border cells with Redis's GEO check;
- loose (`search_args`, the serving path's first query, `plan`): every cell of a
  finer cover on a TAG alone, a superset of the circle, asking for `fetch` > k hits;
  the caller (`recommend._top_k`) keeps the hits whose haversine distance is within
  the radius and asks again with a larger `fetch` if fewer than k are left while more
  could exist. Top-k stays exact (FLAT): the hits of the circle keep their order
  within the superset's.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache, reduce
from typing import Any

import numpy as np
from redisvl.query import VectorQuery
from redisvl.query.filter import FilterExpression, Geo, GeoRadius, Num, Tag

from recsys import limits
from recsys.config import EMBEDDING_DIM
from recsys.data import hours
from recsys.errors import RecsysError
from recsys.serving import geocells, pricetags

MAX_K = 100
MAX_RADIUS_M = 50_000.0
# Redis indexes points only up to this latitude (EPSG:900913); beyond it nothing matches.
MAX_LAT = 85.05112878
# Only what a result shows; the id comes from the key and lat/lon from "location".
RETURN_FIELDS = ["name", "address", "location", "$.cuisines", "price", "rating"]
RETURN_FIELDS_HOURS = [*RETURN_FIELDS, "$.intervals"]
# Order of the per-filter counts shown when fewer than k restaurants pass.
FILTER_NAMES = ("location", "open_at", "price", "rating", "cuisines", "not_visited")
# The loose radius over-fetches at most this many hits; beyond, Redis checks the radius.
MAX_FETCH = 400
FETCH_GROWTH = 4  # a retry of the loose radius asks for this many times more hits
# The first loose query asks for FETCH_MARGIN * k / (share of the cover inside) + 4:
# the scores depend on location, so the best places of a cover are not spread like its
# places (at 100,000 bench places, 1.5 left fewer than k inside for 8 of 40 users).
FETCH_MARGIN = 2.0


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
    """One exact RedisVL expression per filter given (validated `filters`), by
    `FILTER_NAMES` (the per-filter counts of the empty state use them one by one)."""
    parts: dict[str, FilterExpression] = {}
    if filters.radius_m is not None:
        parts["location"] = _radius(filters.lat, filters.lon, filters.radius_m)
    if filters.at is not None:
        parts["open_at"] = Tag("open") == list(hours.open_query_tokens(filters.at))
    if filters.min_price is not None or filters.max_price is not None:
        parts["price"] = _price_rating(filters.min_price, filters.max_price, None)
    if filters.min_rating is not None:
        parts["rating"] = _price_rating(None, None, filters.min_rating)
    if filters.cuisines:
        parts["cuisines"] = Tag("cuisines") == list(filters.cuisines)
    if filters.exclude_visited and visited:
        parts["not_visited"] = Tag("id") != list(visited)
    return parts


def _knn_parts(
    filters: Filters, visited: Sequence[str], *, loose: bool
) -> dict[str, FilterExpression]:
    """The parts of the KNN query: price and rating as one term; with `loose`, the
    radius as the finer cover's cells alone (the caller checks the hits' distances)."""
    parts = filter_parts(filters, visited)
    if "price" in parts or "rating" in parts:
        parts.pop("rating", None)
        parts["price"] = _price_rating(filters.min_price, filters.max_price, filters.min_rating)
    cells = _loose_cover(filters) if loose and "location" in parts else None
    if cells is not None:  # else (no cover near the poles) the exact part stays
        parts["location"] = Tag("cells") == [*cells[0], *cells[1]]
    return parts


def _loose_cover(filters: Filters) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    return geocells.cover(filters.lat, filters.lon, filters.radius_m, geocells.LOOSE_MAX_TERMS)


def _price_rating(
    min_price: int | None, max_price: int | None, min_rating: float | None
) -> FilterExpression:
    term, exact_rating = pricetags.query(min_price, max_price, min_rating)
    expression = Tag("pr") == term
    return expression if exact_rating is None else expression & (Num("rating") >= exact_rating)


def _radius(lat: float, lon: float, radius_m: float) -> FilterExpression:
    """Exactly Redis's GEO radius filter, checked only in the cells crossing the edge.

    Places in grid cells wholly inside the circle pass on a TAG match; places in cells
    crossing its edge also need the GEO check (`geocells.cover`).
    """
    exact = Geo("location") == GeoRadius(lon, lat, radius_m, unit="m")
    cover = geocells.cover(lat, lon, radius_m)
    if cover is None:
        return exact
    inner, border = cover
    pieces = [Tag("cells") == list(inner)] if inner else []
    if border:
        pieces.append((Tag("cells") == list(border)) & exact)
    return reduce(lambda a, b: a | b, pieces)


def hybrid_policy(filters: Filters) -> str | None:
    """The policy without knowing the catalogue: ADHOC_BF (distances of the passing
    places only) for selective filters, else Redis's choice: a radius or cuisines let
    through a small part of a large catalogue (see docs/filtered-search.md)."""
    return "ADHOC_BF" if filters.radius_m is not None or filters.cuisines else None


@dataclass(frozen=True)
class Plan:
    """How the KNN query is run: hits asked for (`fetch` > k leaves the radius loose,
    `plan_fetch`), the hybrid policy and its batch size (None: Redis's choice)."""

    fetch: int
    policy: str | None = None
    batch_size: int | None = None


# The cost model of `plan`, fitted to FT.SEARCH timings at 100,000 places on a 2-core
# machine (docs/filtered-search.md): ADHOC_BF costs about ADHOC_US per place passing
# the cells; BATCHES costs, with FLAT, about two scans of every vector (SCAN_US per
# vector: the scan, then the skips into the cells' posting lists and further batches),
# with HNSW about HNSW_US per place of the batch. The batch is BATCH_MARGIN times the
# one that would hold `fetch` passing places if scores did not depend on location;
# they do (the towers see coordinates), so one batch is often not enough.
ADHOC_US, SCAN_US, HNSW_US = 1.0, 0.16, 2.5
BATCH_MARGIN = 3.0


def plan(
    filters: Filters,
    *,
    restaurants: int | None = None,
    algorithm: str = "flat",
    cell_counts: Mapping[str, int] | None = None,
) -> Plan:
    """The plan of the serving path's first query for validated `filters`.

    With a loose radius and the live load's places per cell (`geocells.cell_counts`),
    the policy is chosen by estimated cost: ADHOC_BF over the places of the cover, or
    BATCHES with a batch size from the cover's share of the catalogue (only with TAG
    filters: with Redis's GEO check inside, each skip of BATCHES cost ~45 us).
    Otherwise `hybrid_policy`. Any plan gives the same exact top-k (FLAT).
    """
    fetch = plan_fetch(filters)
    default = Plan(fetch, hybrid_policy(filters))
    if filters.cuisines or not loose_radius(filters, fetch) or not cell_counts or not restaurants:
        return default
    inner, border = _loose_cover(filters)
    passing = max(1.0, geocells.estimate((*inner, *border), cell_counts))
    batch = math.ceil(BATCH_MARGIN * fetch * restaurants / passing)
    batches_us = restaurants * SCAN_US if algorithm == "flat" else batch * HNSW_US
    if passing * ADHOC_US <= batches_us or batch >= restaurants:
        return Plan(fetch, "ADHOC_BF")
    return Plan(fetch, "BATCHES", batch)


def combine(parts: dict[str, FilterExpression]) -> FilterExpression | None:
    """All parts AND-ed, or None when nothing filters."""
    return reduce(lambda a, b: a & b, parts.values()) if parts else None


def plan_fetch(filters: Filters) -> int:
    """How many hits the serving path's first query asks for: k, or more when the
    radius is left loose (then `> k`), from the share of the cover inside the circle."""
    if filters.radius_m is None:
        return filters.k
    share = geocells.inside_share(filters.lat, filters.lon, filters.radius_m)
    if share is None:
        return filters.k
    fetch = math.ceil(FETCH_MARGIN * filters.k / max(share, 1e-9)) + 4
    return fetch if fetch <= MAX_FETCH else filters.k


def loose_radius(filters: Filters, fetch: int) -> bool:
    """Whether a query asking for `fetch` hits leaves the radius to the caller."""
    return filters.radius_m is not None and fetch > filters.k and _loose_cover(filters) is not None


def build_query(
    vector: Sequence[float],
    filters: Filters,
    visited: Sequence[str] = (),
    how: Plan | None = None,
) -> VectorQuery:
    """The filtered KNN query for validated `filters`: exact (no plan, or `fetch` = k) or,
    with `fetch` > k and a radius, the loose radius (see the module docstring)."""
    how = how or Plan(filters.k, hybrid_policy(filters))
    fields = RETURN_FIELDS_HOURS if filters.at is not None else RETURN_FIELDS
    return VectorQuery(
        vector=list(vector),
        vector_field_name="embedding",
        return_fields=fields,
        filter_expression=_filter_string(filters, tuple(visited), loose_radius(filters, how.fetch)),
        num_results=how.fetch,
        hybrid_policy=how.policy,
        batch_size=how.batch_size,
    )


@lru_cache(maxsize=1024)
def _filter_string(filters: Filters, visited: tuple[str, ...], loose: bool) -> str | None:
    # Rendered by RedisVL once per distinct request: repeated queries (the UI, the
    # benchmark) skip rebuilding dozens of filter objects.
    expression = combine(_knn_parts(filters, visited, loose=loose))
    return None if expression is None else str(expression)


_NO_VECTOR = [0.0] * EMBEDDING_DIM


@lru_cache(maxsize=1024)
def search_args(
    filters: Filters, visited: tuple[str, ...] = (), how: Plan | None = None
) -> tuple[Any, ...]:
    """The FT.SEARCH arguments after the index name, without `PARAMS` (the vector).

    `how` None: the first query of `plan(filters)` (without the catalogue's density);
    a plan with `fetch` = k: the exact query (the radius checked in Redis); more than
    k: the loose radius with that many hits. Rendered by RedisVL once per distinct
    validated `filters`, visits and plan.
    """
    how = plan(filters) if how is None else how
    return tuple(build_query(_NO_VECTOR, filters, visited, how).get_args())


def exact_search_args(filters: Filters, visited: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """The one query whose k hits are the answer, the radius checked by Redis."""
    return search_args(filters, visited, Plan(filters.k, hybrid_policy(filters)))


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
