"""Exactness: hundreds of random filter combinations vs a brute-force Python reference.

The reference is computed only from the exported data (source hours, attributes and
embeddings as served), with `hours.is_open` and numpy cosine similarity; the served
results must be the same ids in the same order (ties aside), every result passing
every filter, and nothing missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from recsys import pipeline
from recsys.config import EMBEDDING_DIM, TIMEZONE, Settings
from recsys.data import hours, synth
from recsys.data.dataset import build_dataset
from recsys.model.train import train
from recsys.serving import index
from recsys.serving.export import export_restaurants, export_users
from recsys.serving.filters import Filters
from recsys.serving.recommend import haversine_m, recommend
from tests.conftest import drop_own, own_settings

pytestmark = pytest.mark.slow
TIE = 1e-5  # float32 cosine in Redis vs float64 in numpy
EDGE_M = 1.0  # Redis geohash precision: skip points this close to the radius


@dataclass
class Served:
    settings: Settings
    restaurants: list[dict]
    users: list[dict]


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[Served]:
    settings = own_settings(redis_server, tmp_path_factory, "exact")
    dataset = build_dataset(settings)
    pipeline.publish_model(settings, dataset, train(dataset, epochs=2))
    yield Served(
        settings,
        export_restaurants(settings, with_embeddings=True)["restaurants"],
        export_users(settings, with_embeddings=True)["users"],
    )
    drop_own(settings)


def _random_at(rng: np.random.Generator) -> datetime | str:
    kind = rng.integers(5)
    if kind == 0:  # DST days: spring forward (incl. the missing hour) and fall back
        day = [datetime(2026, 3, 8), datetime(2026, 11, 1)][rng.integers(2)]
        return day + timedelta(minutes=int(rng.integers(0, 1440)))
    if kind == 1:  # after midnight, where yesterday's overnight intervals matter
        day = datetime(2026, 7, 6) + timedelta(days=int(rng.integers(7)))
        return (day + timedelta(minutes=int(rng.integers(0, 240)))).isoformat()
    if kind == 2:  # an aware time in UTC, converted to SF
        base = datetime(2026, 5, 4, tzinfo=timezone.utc)
        return base + timedelta(minutes=int(rng.integers(0, 7 * 1440)))
    return datetime(2026, 7, 6) + timedelta(minutes=int(rng.integers(0, 7 * 1440)))


SF_AREA = ((37.70, 37.81), (-122.52, -122.36), 10_000)
BAY_AREA = ((37.25, 38.0), (-122.55, -121.8), 40_000)


def _random_filters(
    rng: np.random.Generator, cuisines: list[str], area: tuple = SF_AREA
) -> Filters:
    (lat_low, lat_high), (lon_low, lon_high), max_radius = area
    f: dict = {"k": int(rng.choice([1, 5, 10, 25, 100]))}
    if rng.random() < 0.7:
        f.update(
            lat=float(rng.uniform(lat_low, lat_high)),
            lon=float(rng.uniform(lon_low, lon_high)),
            radius_m=float(rng.uniform(200, max_radius)) if rng.random() < 0.9 else None,
        )
    if rng.random() < 0.6:
        f["at"] = _random_at(rng)
    if rng.random() < 0.5:
        low = int(rng.integers(1, 5))
        f.update(min_price=low, max_price=int(rng.integers(low, 5)))
    if rng.random() < 0.5:
        f["min_rating"] = float(rng.choice([0, 2.5, 3, 3.5, 4, 4.5]))
    if rng.random() < 0.4:
        f["cuisines"] = tuple(rng.choice(cuisines, size=int(rng.integers(1, 4)), replace=False))
    f["exclude_visited"] = bool(rng.random() < 0.4)
    return Filters(**f)


def _passes(r: dict, f: Filters, visited: set[str]) -> bool | None:
    """Whether restaurant `r` passes every filter; None when on the radius edge."""
    if f.at is not None and not hours.is_open(hours.parse_hours(r["hours"]), f.at):
        return False
    if f.min_price is not None and not f.min_price <= r["price"] <= f.max_price:
        return False
    if f.min_rating is not None and r["rating"] < f.min_rating:
        return False
    if f.cuisines and not {c.lower() for c in f.cuisines} & {c.lower() for c in r["cuisines"]}:
        return False
    if f.exclude_visited and r["id"] in visited:
        return False
    if f.radius_m is not None:
        d = haversine_m(f.lat, f.lon, r["lat"], r["lon"])
        if abs(d - f.radius_m) < EDGE_M:
            return None
        return d <= f.radius_m
    return True


def _reference(served: Served, user: dict, f: Filters) -> list[tuple[str, float]] | None:
    u = np.asarray(user["embedding"], dtype=np.float64)
    visited = set(user["visited"])
    ranked = []
    for r in served.restaurants:
        ok = _passes(r, f, visited)
        if ok is None:
            return None
        if ok:
            v = np.asarray(r["embedding"], dtype=np.float64)
            ranked.append((r["id"], float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))))
    return sorted(ranked, key=lambda p: -p[1])


def _assert_same_ranking(got: list[dict], expected: list[tuple[str, float]], k: int) -> None:
    assert len(got) == min(k, len(expected))
    scores = dict(expected)
    for result, (exp_id, exp_score) in zip(got, expected, strict=False):
        assert result["score"] == pytest.approx(exp_score, abs=TIE)
        if result["id"] != exp_id:  # only a tie may swap places
            assert result["id"] in scores
            assert scores[result["id"]] == pytest.approx(exp_score, abs=TIE)
    assert len({r["id"] for r in got}) == len(got)


def test_random_filter_combinations_match_brute_force(served: Served) -> None:
    rng = np.random.default_rng(2026)
    cuisines = sorted({c for r in served.restaurants for c in r["cuisines"]})
    checked = fewer_than_k = 0
    for _ in range(400):
        user = served.users[int(rng.integers(len(served.users)))]
        f = _random_filters(rng, cuisines)
        expected = _reference(served, user, f.validate())
        if expected is None:
            continue  # a restaurant within a metre of the radius: geohash precision
        rec = recommend(served.settings, f, user_id=user["user_id"])
        _assert_same_ranking(rec.results, expected, f.k)
        _assert_result_fields(rec.results, f.validate())
        if len(expected) < f.k:
            fewer_than_k += 1
            assert rec.passing is not None and rec.passing["all"] == len(expected)
        checked += 1
    assert checked >= 380
    assert fewer_than_k >= 20  # the empty-state counts were exercised too


def _assert_result_fields(results: list[dict], f: Filters) -> None:
    for rank, r in enumerate(results, start=1):
        assert r["rank"] == rank
        if f.lat is None:
            assert r["distance_m"] is None
        else:
            assert r["distance_m"] == pytest.approx(
                haversine_m(f.lat, f.lon, r["lat"], r["lon"]), abs=0.1
            )
        if f.at is None:
            assert r["open_at"] is None and r["closes_at"] is None
        else:
            assert r["open_at"] is True and r["closes_at"] is not None


def test_single_filter_counts_match_reference(served: Served) -> None:
    user = served.users[0]
    f = Filters(lat=37.79, lon=-122.40, radius_m=600, at="2026-07-07T03:10", min_price=4,
                min_rating=4.5, cuisines=("Thai",), k=100)  # fmt: skip
    rec = recommend(served.settings, f, user_id=user["user_id"])
    checked = f.validate()
    assert rec.passing is not None
    for name, alone in {
        "location": Filters(lat=37.79, lon=-122.40, radius_m=600),
        "open_at": Filters(at=checked.at),
        "price": Filters(min_price=4, max_price=4),
        "rating": Filters(min_rating=4.5),
        "cuisines": Filters(cuisines=("Thai",)),
    }.items():
        expected = _reference(served, user, alone.validate())
        assert expected is not None
        assert rec.passing[name] == len(expected), name


def test_sf_time_is_used_not_the_machine_zone(served: Served) -> None:
    # 03:30 UTC on a Tuesday is 20:30 Monday in SF (PDT): the two spellings agree.
    user = served.users[1]["user_id"]
    naive = recommend(served.settings, Filters(at="2026-07-06T20:30", k=100), user_id=user)
    aware = recommend(served.settings, Filters(at="2026-07-07T03:30Z", k=100), user_id=user)
    assert [r["id"] for r in naive.results] == [r["id"] for r in aware.results]
    assert naive.filters.at.tzinfo is TIMEZONE or naive.filters.at.utcoffset() is not None
    assert not math.isnan(naive.results[0]["score"])


@pytest.fixture(scope="module")
def bay_sample(redis_server, tmp_path_factory) -> Iterator[Served]:
    """2,000 restaurants drawn from the 100,000 of the bench generator, random vectors."""
    settings = own_settings(redis_server, tmp_path_factory, "bay")
    rng = np.random.default_rng(5)
    frame = synth.generate_bay_area(100_000, seed=0)
    frame = frame.iloc[np.sort(rng.choice(len(frame), 2000, replace=False))].reset_index(drop=True)
    vectors = rng.normal(size=(len(frame), EMBEDDING_DIM)).astype(np.float32)
    users = pd.DataFrame({"user_id": [f"u{i}" for i in range(20)]})
    user_vectors = rng.normal(size=(len(users), EMBEDDING_DIM)).astype(np.float32)
    visited = {f"u{i}": list(rng.choice(frame["id"], 30, replace=False)) for i in range(20)}
    index.publish(settings, frame, vectors, users, user_vectors, visited, "bay-sample")
    yield Served(
        settings,
        export_restaurants(settings, with_embeddings=True)["restaurants"],
        export_users(settings, with_embeddings=True)["users"],
    )
    drop_own(settings)


def _bay_area_checks(sample: Served, *, seed: int, tries: int) -> int:
    """Random Bay Area filters for random users against the brute-force reference;
    returns how many had a reference to compare with (every one compared must match)."""
    rng = np.random.default_rng(seed)
    cuisines = sorted({c for r in sample.restaurants for c in r["cuisines"]})
    checked = 0
    for _ in range(tries):
        user = sample.users[int(rng.integers(len(sample.users)))]
        f = _random_filters(rng, cuisines, BAY_AREA)
        expected = _reference(sample, user, f.validate())
        if expected is None:
            continue
        rec = recommend(sample.settings, f, user_id=user["user_id"])
        _assert_same_ranking(rec.results, expected, f.k)
        _assert_result_fields(rec.results, f.validate())
        checked += 1
    return checked


def test_bay_area_sample_matches_brute_force(bay_sample: Served) -> None:
    # Radii up to 40 km over the bench generator's places and hours (shared templates,
    # late closes, unknown hours): the TAG cells/open-at encoding at bench scale.
    assert _bay_area_checks(bay_sample, seed=100, tries=100) >= 90


@pytest.mark.parametrize("policy", ["ADHOC_BF", "BATCHES"])
def test_loose_radius_retries_stay_exact(bay_sample: Served, monkeypatch, policy: str) -> None:
    # The first query asks for only k + 1 hits of the cover's cells, so hits outside the
    # circle often leave fewer than k: the retries (more hits, then Redis's exact radius
    # check) must still give the brute-force top k.
    from recsys.serving import filters as filters_module
    from recsys.serving import recommend as recommend_module

    def tight(f: Filters, **_: object) -> filters_module.Plan:
        if filters_module.loose_radius(f, f.k + 1):
            return filters_module.Plan(f.k + 1, policy, 50 if policy == "BATCHES" else None)
        return filters_module.Plan(f.k, filters_module.hybrid_policy(f))

    monkeypatch.setattr(recommend_module, "plan", tight)
    monkeypatch.setattr(recommend_module, "_plans", recommend_module._LRU(8))
    assert _bay_area_checks(bay_sample, seed=7, tries=60) >= 50
