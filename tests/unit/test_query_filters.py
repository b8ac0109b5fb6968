"""Filters -> RedisVL query strings, and filter validation: tables, no server."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from recsys.config import TIMEZONE
from recsys.errors import RecsysError
from recsys.serving import geocells
from recsys.serving.filters import (
    FETCH_MARGIN,
    RETURN_FIELDS_HOURS,
    Filters,
    build_query,
    combine,
    exact_search_args,
    filter_parts,
    plan,
    search_args,
)
from recsys.serving.recommend import (
    _LRU,
    EARTH_RADIUS_M,
    check_complete,
    haversine_m,
    parse_search_reply,
    search_command,
)

# Saturday 2026-07-04 19:30 SF: week minute 5 * 1440 + 1170 = 8370, its hour and quarter.
SAT_1930 = "@open:{h139|q558|m8370}"

CASES = [
    (Filters(), [], "*"),
    (Filters(lat=37.78, lon=-122.41), [], "*"),  # a centre alone only sets distances
    (Filters(min_price=2), [], "@pr:{p24r0}"),
    (Filters(max_price=3), [], "@pr:{p13r0}"),
    (Filters(min_price=2, max_price=2), [], "@pr:{p22r0}"),
    (Filters(min_rating=4.5), [], "@pr:{p14r45}"),
    # Off the 0.5 grid: the term of the grid value below, then the exact numeric check.
    (Filters(min_rating=3.7), [], "(@pr:{p14r35} @rating:[3.7 +inf])"),
    (Filters(cuisines=("Thai",)), [], "@cuisines:{Thai}"),
    (Filters(cuisines=("Pub Food", "Thai")), [], r"@cuisines:{Pub\ Food|Thai}"),
    # Escaping: a value cannot close the tag clause or start a union.
    (Filters(cuisines=("x} | @price:[0 9",)), [], r"@cuisines:{x\}\ \|\ \@price\:\[0\ 9}"),
    (Filters(exclude_visited=True), [], "*"),
    (Filters(exclude_visited=True), ["r-1", "a b"], r"(-@id:{r\-1|a\ b})"),
    (Filters(exclude_visited=False), ["r-1"], "*"),
    (Filters(at="2026-07-04T19:30"), [], SAT_1930),
    (
        Filters(min_price=1, max_price=2, min_rating=3, cuisines=("Cafe",)),
        [],
        "((@pr:{p12r0} @pr:{p14r30}) @cuisines:{Cafe})",
    ),
]


@pytest.mark.parametrize(("filters", "visited", "expected"), CASES)
def test_filter_string(filters: Filters, visited: list[str], expected: str) -> None:
    parts = filter_parts(filters.validate(), visited)
    assert str(combine(parts) or "*") == expected


def test_open_at_after_midnight_is_monday_minute_75() -> None:
    # Monday 01:15: Sunday's overnight intervals carry Monday tokens (hours.open_tokens).
    text = str(filter_parts(Filters(at="2026-07-06T01:15").validate())["open_at"])
    assert text == "@open:{h1|q5|m75}"


def test_offset_time_is_converted_to_san_francisco() -> None:
    # DST ends 2026-11-01 at 09:00 UTC: 09:30 UTC is the second 01:30 (PST) of Sunday.
    at = Filters(at="2026-11-01T09:30:00+00:00").validate().at
    assert at == datetime(2026, 11, 1, 1, 30, tzinfo=TIMEZONE, fold=1)
    text = str(filter_parts(Filters(at=at).validate())["open_at"])
    assert text == f"@open:{{h{6 * 24 + 1}|q{(6 * 1440 + 90) // 15}|m{6 * 1440 + 90}}}"


@pytest.mark.parametrize("radius_m", [250.5, 1500, 20_000, 50_000])
def test_radius_is_inner_cells_or_border_cells_with_the_exact_geo_check(radius_m: float) -> None:
    text = str(
        filter_parts(Filters(lat=37.78, lon=-122.41, radius_m=radius_m).validate())["location"]
    )
    inner, border = geocells.cover(37.78, -122.41, radius_m)
    assert border and len(inner) + len(border) <= geocells.MAX_TERMS
    exact = f"@location:[-122.41 37.78 {radius_m:g} m]"
    assert f"(@cells:{{{'|'.join(border)}}} {exact})" in text
    assert text.count("@location") == 1
    if inner:
        assert text.startswith(f"(@cells:{{{'|'.join(inner)}}} | ")


def test_radius_near_the_antimeridian_is_the_plain_geo_filter() -> None:
    text = str(filter_parts(Filters(lat=10, lon=179.99, radius_m=5000).validate())["location"])
    assert text == "@location:[179.99 10 5000 m]"


def test_selective_filters_ask_for_adhoc_brute_force() -> None:
    near = build_query([0.0] * 128, Filters(lat=37.7, lon=-122.4, radius_m=900).validate())
    assert "HYBRID_POLICY ADHOC_BF" in str(near)
    assert "HYBRID_POLICY" not in str(build_query([0.0] * 128, Filters(min_price=2).validate()))


def test_query_has_knn_k_and_no_filter_when_none_given() -> None:
    query = build_query([0.0] * 128, Filters(k=7).validate())
    assert str(query).startswith("*=>[KNN 7 @embedding $vector AS vector_distance]")


BAD = [
    (Filters(lat=37.7), "both a latitude and a longitude"),
    (Filters(lon=-122.4), "both a latitude and a longitude"),
    (Filters(lat=math.nan, lon=-122.4), "latitude nan is not a finite number"),
    (Filters(lat=91.0, lon=-122.4), "latitude 91.0 is outside"),
    (Filters(lat=37.7, lon=-190.0), "longitude -190.0 is outside"),
    (Filters(lat=37.7, lon=-122.4, radius_m=0), "radius 0 m is not greater than 0"),
    (Filters(lat=37.7, lon=-122.4, radius_m=-5), "radius -5 m"),
    (Filters(lat=37.7, lon=-122.4, radius_m=50_001), "at most 50000 m"),
    (Filters(lat=37.7, lon=-122.4, radius_m=math.inf), "radius inf is not a finite number"),
    (Filters(radius_m=100), "needs a search centre"),
    (Filters(min_price=0), "minimum price 0 is not a whole number from 1 to 4"),
    (Filters(max_price=5), "maximum price 5"),
    (Filters(min_price=3, max_price=2), "minimum price 3 is above maximum price 2"),
    (Filters(min_rating=5.5), "minimum rating 5.5 is not a number from 0 to 5"),
    (Filters(min_rating=-1), "minimum rating -1"),
    (Filters(k=0), "k 0 is not a whole number from 1 to 100"),
    (Filters(k=101), "k 101"),
    (Filters(at="tomorrow at 7"), "time 'tomorrow at 7' is not ISO 8601"),
    (Filters(at="2026-13-01T10:00"), "is not ISO 8601"),
    (Filters(cuisines=("",)), "is not a cuisine name"),
]


@pytest.mark.parametrize(("filters", "message"), BAD)
def test_bad_filters_are_one_clear_sentence(filters: Filters, message: str) -> None:
    with pytest.raises(RecsysError) as caught:
        filters.validate()
    text = str(caught.value)
    assert message in text
    assert "\n" not in text and text.endswith(".")


def test_unknown_cuisine_is_reported_against_known_ones() -> None:
    with pytest.raises(RecsysError) as caught:
        Filters(cuisines=("Thai", "Klingon")).validate(["Thai", "Cafe"])
    assert str(caught.value).startswith("cuisine 'Klingon' is not in the index; known cuisines: ")
    assert "Cafe, Thai" in str(caught.value)


def test_cuisines_are_matched_case_insensitively_to_the_index_spelling() -> None:
    checked = Filters(cuisines=("pub food", " THAI ", "Thai")).validate(["Pub Food", "Thai"])
    assert checked.cuisines == ("Pub Food", "Thai")


def test_search_args_are_the_query_without_the_vector() -> None:
    checked = Filters(min_rating=4.0, k=3, at="2026-07-04T19:30").validate()
    args = search_args(checked)
    assert args[0] == build_query([0.0] * 128, checked).query_string()
    assert "PARAMS" not in args and args[args.index("LIMIT") + 1 :][:2] == (0, 3)
    fields = args[args.index("RETURN") + 2 :][: args[args.index("RETURN") + 1]]
    assert fields == (*RETURN_FIELDS_HOURS, "vector_distance")
    assert search_args(checked) is args  # rendered once per distinct request


def test_search_replies_parse_alike_in_resp3_and_resp2() -> None:
    resp3 = {
        b"total_results": 2,
        b"results": [
            {b"id": b"ns:restaurant:v1:a", b"extra_attributes": {b"name": b"A"}, b"values": []},
            {b"id": b"ns:restaurant:v1:b", b"extra_attributes": {b"name": b"B"}, b"values": []},
        ],
    }
    resp2 = [2, b"ns:restaurant:v1:a", [b"name", b"A"], b"ns:restaurant:v1:b", [b"name", b"B"]]
    expected = [(b"ns:restaurant:v1:a", {b"name": b"A"}), (b"ns:restaurant:v1:b", {b"name": b"B"})]
    assert parse_search_reply(resp3) == parse_search_reply(resp2) == expected


def test_haversine_is_vectorised_and_uses_redis_earth_radius() -> None:
    one_degree = EARTH_RADIUS_M * math.pi / 180
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(one_degree)
    many = haversine_m(0.0, 0.0, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert many.tolist() == pytest.approx([one_degree, one_degree])


def test_serving_cache_is_bounded_and_keeps_recently_used() -> None:
    cache = _LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == (1, None, 3, 2)


def test_filters_take_any_iterable_of_cuisines_and_stay_hashable() -> None:
    from recsys.serving.filters import Filters

    assert Filters(cuisines=["Thai", "Pizza"]).cuisines == ("Thai", "Pizza")
    assert Filters(cuisines="Thai").cuisines == ("Thai",)
    assert Filters(cuisines=None).cuisines == ()
    assert hash(Filters(cuisines=["Thai"])) == hash(Filters(cuisines=("Thai",)))


def test_a_timed_out_search_is_refused_not_served_as_partial_results() -> None:
    partial = {b"total_results": 3, b"results": [{}], b"warning": [b"Timeout limit was reached"]}
    with pytest.raises(RecsysError, match="longer than Redis allows"):
        check_complete(partial)
    check_complete({b"total_results": 0, b"results": [], b"warning": []})
    check_complete([0])  # RESP2 has no warnings


def test_a_per_query_timeout_only_where_settings_ask_for_one() -> None:
    # The app keeps the server's TIMEOUT config; the bench's namespaces set their own,
    # per query (never FT.CONFIG SET: that would change it for every client).
    from recsys import bench
    from recsys.config import Settings

    args = search_args(Filters(k=10).validate())
    served = Settings(data_dir=Path("/nonexistent"))
    assert "TIMEOUT" not in search_command(served, args, b"v")
    command = search_command(bench.bench_space(served, "flat"), args, b"v")
    at = command.index("TIMEOUT")
    assert command[at + 1] == bench.BENCH_TIMEOUT_MS
    assert command[:2] == ("FT.SEARCH", "recsys-bflat:restaurants")
    assert command[-4:] == ("PARAMS", 2, "vector", b"v")


def test_knn_query_joins_price_and_rating_into_one_term() -> None:
    checked = Filters(min_price=1, max_price=3, min_rating=3.0).validate()
    assert search_args(checked)[0].startswith("(@pr:{p13r30})=>[KNN 10 ")
    off_grid = Filters(max_price=2, min_rating=3.7).validate()
    assert search_args(off_grid)[0].startswith("((@pr:{p12r35} @rating:[3.7 +inf]))=>")


def test_first_query_leaves_the_radius_loose_and_over_fetches() -> None:
    checked = Filters(lat=37.78, lon=-122.41, radius_m=4000, k=10).validate()
    how = plan(checked)
    share = geocells.inside_share(37.78, -122.41, 4000)
    assert how.fetch == math.ceil(FETCH_MARGIN * 10 / share) + 4 > 10
    assert how.policy == "ADHOC_BF"  # without the catalogue's density
    query = search_args(checked)[0]
    inner, border = geocells.cover(37.78, -122.41, 4000, geocells.LOOSE_MAX_TERMS)
    assert len(inner) + len(border) > geocells.MAX_TERMS  # finer than the exact cover
    assert query.startswith(f"(@cells:{{{'|'.join((*inner, *border))}}})=>[KNN {how.fetch} ")
    assert "@location" not in query
    exact = exact_search_args(checked)[0]
    assert "@location:[-122.41 37.78 4000 m]" in exact and "[KNN 10 " in exact


def test_tiny_radius_or_no_cover_is_the_exact_query() -> None:
    tiny = Filters(lat=37.78, lon=-122.41, radius_m=60).validate()  # 550 m cells: share ~0.01
    assert plan(tiny).fetch == tiny.k
    assert "@location" in search_args(tiny)[0]
    pole = Filters(lat=84.0, lon=10.0, radius_m=5000).validate()
    assert plan(pole).fetch == pole.k


def test_plan_uses_batches_for_a_wide_circle_and_adhoc_for_a_sparse_one() -> None:
    rng = np.random.default_rng(3)
    lats, lons = rng.uniform(37.2, 38.0, 100_000), rng.uniform(-122.6, -121.8, 100_000)
    counts = geocells.cell_counts(zip(lats, lons, strict=True))
    wide = Filters(lat=37.6, lon=-122.2, radius_m=30_000).validate()
    for algorithm in ("flat", "hnsw"):
        how = plan(wide, restaurants=100_000, algorithm=algorithm, cell_counts=counts)
        assert how.policy == "BATCHES" and how.fetch > wide.k
        assert how.batch_size >= 2 * how.fetch
    narrow = Filters(lat=37.6, lon=-122.2, radius_m=1000).validate()
    for algorithm in ("flat", "hnsw"):
        how = plan(narrow, restaurants=100_000, algorithm=algorithm, cell_counts=counts)
        assert how.policy == "ADHOC_BF"
    cuisine = Filters(lat=37.6, lon=-122.2, radius_m=30_000, cuisines=("Thai",)).validate()
    assert plan(cuisine, restaurants=100_000, cell_counts=counts).policy == "ADHOC_BF"
    assert plan(wide).policy == "ADHOC_BF"  # no counts: the rule without the catalogue


def test_cell_counts_estimate_the_places_of_a_cover() -> None:
    rng = np.random.default_rng(4)
    lats, lons = rng.uniform(37.2, 38.0, 50_000), rng.uniform(-122.6, -121.8, 50_000)
    counts = geocells.cell_counts(zip(lats, lons, strict=True))
    inner, border = geocells.cover(37.6, -122.2, 15_000, geocells.LOOSE_MAX_TERMS)
    cells = set(inner) | set(border)
    actual = sum(
        bool(set(geocells.cell_tokens(a, b)) & cells) for a, b in zip(lats, lons, strict=True)
    )
    assert geocells.estimate(cells, counts) == pytest.approx(actual, rel=0.1)
