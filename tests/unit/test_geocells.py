"""Grid cells of the radius filter: every place inside a circle is in its cover, and a
place in an inner cell is inside (so the TAG prefilter plus the border GEO check is
exactly Redis's radius filter)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recsys.serving import geocells
from recsys.serving import recommend as query


def test_earth_radius_is_redis_s_as_in_query() -> None:
    assert geocells.EARTH_RADIUS_M == query.EARTH_RADIUS_M


def test_cell_tokens_are_nested_levels() -> None:
    tokens = geocells.cell_tokens(37.7749, -122.4194)
    assert len(tokens) == geocells.LEVELS
    assert tokens[0] == "c0x89y199"  # floor(57.58 / 0.64), floor(127.77 / 0.64)
    for level, (coarse, fine) in enumerate(itertools.pairwise(tokens)):
        cx, cy = map(int, coarse[len(f"c{level}x") :].split("y"))
        fx, fy = map(int, fine[len(f"c{level + 1}x") :].split("y"))
        assert (fx // 2, fy // 2) == (cx, cy)
    assert geocells.cell_tag(37.7749, -122.4194) == ",".join(tokens)


@pytest.mark.parametrize("radius_m", [50.0, 300.0, 1500.0, 4000.0, 20_000.0, 50_000.0])
def test_cover_keeps_every_point_inside_and_inner_cells_only_hold_inside_points(
    radius_m: float,
) -> None:
    rng = np.random.default_rng(int(radius_m))
    for _ in range(12):
        lat, lon = float(rng.uniform(37.2, 38.0)), float(rng.uniform(-122.6, -121.8))
        inner, border = geocells.cover(lat, lon, radius_m)
        assert len(inner) + len(border) <= geocells.MAX_TERMS
        inner_set, border_set = set(inner), set(border)
        spread = 1.3 * radius_m / 111_000
        points = rng.uniform(-spread, spread, size=(400, 2)) + np.array([lat, lon])
        distances = query.haversine_m(lat, lon, points[:, 0], points[:, 1])
        for (p_lat, p_lon), distance in zip(points, distances, strict=True):
            tokens = set(geocells.cell_tokens(float(p_lat), float(p_lon)))
            in_inner, in_border = bool(tokens & inner_set), bool(tokens & border_set)
            assert not (in_inner and in_border)  # cells of a cover do not overlap
            if in_inner:
                assert distance <= radius_m - geocells.INNER_MARGIN_M + 1e-6
            if distance <= radius_m:
                assert in_inner or in_border


def test_no_cover_near_the_poles_or_the_antimeridian() -> None:
    assert geocells.cover(84.0, 10.0, 5000) is None
    assert geocells.cover(0.0, -179.99, 5000) is None
    assert geocells.cover(37.7, -122.4, 5000) is not None
