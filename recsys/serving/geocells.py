"""Grid cells of the radius filter: a cheap TAG prefilter that keeps the radius exact.

Redis's GEO radius filter walks a union of geohash ranges and checks each place's
distance, about 1.5 us a place that passes it (see docs/filtered-search.md): at 100,000
restaurants a 20 km circle costs more than the whole unfiltered KNN. So each restaurant
also carries TAG tokens naming the grid cell it lies in at every level of a quadtree
over latitude/longitude (`cell_tokens`), and a circle is covered by cells
(`cover`) of two kinds:

- *inner* cells lie wholly inside the circle (every corner closer than the radius,
  less `INNER_MARGIN_M`): a place in one of them is inside, no distance check needed;
- *border* cells cross the circle's edge: a place in one of them passes only with
  Redis's own exact GEO radius check, which now runs on those places only.

Cells wholly outside (nearest point further than the radius plus `OUTER_MARGIN_M`)
are left out. The result is exactly the GEO radius filter, at the cost of a TAG union.
Distances are haversine with Redis's Earth radius. Near the poles or the antimeridian
`cover` gives up (returns None) and the caller uses the plain GEO filter.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

# Redis's own Earth radius for GEO (as `query.EARTH_RADIUS_M`).
EARTH_RADIUS_M = 6372797.560856
LEVELS = 8  # cell sides 0.64 deg … 0.005 deg (about 550 m north-south)
TOP_SIZE_DEG = 0.64
SEPARATOR = ","
# Inner cells: every corner this much inside the radius (Redis stores points as 52-bit
# geohashes, within about 0.6 m of the given coordinates).
INNER_MARGIN_M = 5.0
# Left-out cells: nearest point (clamped coordinates, exact to a few tens of metres for
# cells this small) this much outside the radius.
OUTER_MARGIN_M = 250.0
MAX_TERMS = 64  # cells in one cover (measured: 16 and 32 cost more, 128 no less)
# Cells in the cover of a loose radius (no GEO check in Redis; the caller checks the
# hits): finer border cells leave fewer places outside the circle to over-fetch past.
LOOSE_MAX_TERMS = 256
MAX_ABS_LAT = 80.0


def _size(level: int) -> float:
    return TOP_SIZE_DEG / (1 << level)


def _token(level: int, ix: int, iy: int) -> str:
    return f"c{level}x{ix}y{iy}"


def cell_tokens(lat: float, lon: float) -> list[str]:
    """The cell of (lat, lon) at every level, coarsest first."""
    tokens = []
    for level in range(LEVELS):
        size = _size(level)
        tokens.append(_token(level, math.floor((lon + 180) / size), math.floor((lat + 90) / size)))
    return tokens


def cell_tag(lat: float, lon: float) -> str:
    """`cell_tokens` as one TAG string (what the document stores)."""
    return SEPARATOR.join(cell_tokens(lat, lon))


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def _classify(lat: float, lon: float, radius_m: float, level: int, ix: int, iy: int) -> str:
    """Whether the cell is "inner", "border" or "outside" for the circle."""
    size = _size(level)
    lon0, lat0 = ix * size - 180, iy * size - 90
    lon1, lat1 = lon0 + size, lat0 + size
    # Along a parallel the distance grows with the longitude difference, along a meridian
    # it has one minimum: the furthest point of the cell is a corner.
    far = max(_haversine(lat, lon, a, b) for a in (lat0, lat1) for b in (lon0, lon1))
    if far <= radius_m - INNER_MARGIN_M:
        return "inner"
    near = _haversine(lat, lon, min(max(lat, lat0), lat1), min(max(lon, lon0), lon1))
    return "outside" if near > radius_m + OUTER_MARGIN_M else "border"


@lru_cache(maxsize=4096)
def cover(
    lat: float, lon: float, radius_m: float, max_terms: int = MAX_TERMS
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(inner, border) cell tokens of the circle, or None where cells are not used.

    Starts from the top-level cells around the circle and splits border cells,
    coarsest first, while the cover stays within `max_terms` cells.
    """
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01 + 0.001
    if abs(lat) + dlat > MAX_ABS_LAT:
        return None
    dlon = dlat / math.cos(math.radians(abs(lat) + dlat))
    if lon - dlon <= -180 or lon + dlon >= 180:
        return None
    size = _size(0)
    xs = range(math.floor((lon - dlon + 180) / size), math.floor((lon + dlon + 180) / size) + 1)
    ys = range(math.floor((lat - dlat + 90) / size), math.floor((lat + dlat + 90) / size) + 1)
    inner: list[tuple[int, int, int]] = []
    border: list[tuple[int, int, int]] = []

    def place(cells: list[tuple[int, int, int]]) -> None:
        for cell in cells:
            kind = _classify(lat, lon, radius_m, *cell)
            if kind != "outside":
                (inner if kind == "inner" else border).append(cell)

    place([(0, ix, iy) for ix in xs for iy in ys])
    while True:
        splittable = [c for c in border if c[0] < LEVELS - 1]
        if not splittable:
            break
        level, ix, iy = cell = min(splittable)  # the coarsest first
        children = [(level + 1, 2 * ix + dx, 2 * iy + dy) for dx in (0, 1) for dy in (0, 1)]
        kept = [c for c in children if _classify(lat, lon, radius_m, *c) != "outside"]
        if len(inner) + len(border) - 1 + len(kept) > max_terms:
            break
        border.remove(cell)
        place(kept)
    return (
        tuple(_token(*c) for c in sorted(inner)),
        tuple(_token(*c) for c in sorted(border)),
    )


def _cell_area_m2(level: int, iy: int) -> float:
    size = _size(level)
    lat0 = math.radians(iy * size - 90)
    lat1 = math.radians((iy + 1) * size - 90)
    return EARTH_RADIUS_M**2 * math.radians(size) * abs(math.sin(lat1) - math.sin(lat0))


def _parse(token: str) -> tuple[int, int, int]:
    level, rest = token[1:].split("x")
    ix, iy = rest.split("y")
    return int(level), int(ix), int(iy)


@lru_cache(maxsize=4096)
def inside_share(
    lat: float, lon: float, radius_m: float, max_terms: int = LOOSE_MAX_TERMS
) -> float | None:
    """The circle's area over its cover's (inner + border cells), or None without a cover:
    about the share of the cover's places that are inside (an estimate, used only to
    size the loose query's over-fetch)."""
    cells = cover(lat, lon, radius_m, max_terms)
    if cells is None:
        return None
    total = sum(_cell_area_m2(level, iy) for level, _, iy in map(_parse, (*cells[0], *cells[1])))
    circle = 2 * math.pi * EARTH_RADIUS_M**2 * (1 - math.cos(radius_m / EARTH_RADIUS_M))
    return min(1.0, circle / total) if total > 0 else None


# --- density: how many places each coarse cell holds (to choose the query plan) ----------

DENSITY_LEVEL = 4  # counts kept for levels 0..4 (cells down to 0.04 deg, about 4.4 km)


def cell_counts(points: Iterable[tuple[float, float]]) -> dict[str, int]:
    """Places per cell of levels 0..DENSITY_LEVEL, for (lat, lon) points (kept per load)."""
    counts: Counter[str] = Counter()
    for lat, lon in points:
        counts.update(cell_tokens(float(lat), float(lon))[: DENSITY_LEVEL + 1])
    return dict(counts)


def estimate(tokens: Iterable[str], counts: Mapping[str, int]) -> float:
    """About how many places lie in these cells: a cell of level <= DENSITY_LEVEL is
    counted, a finer one gets its level-DENSITY_LEVEL ancestor's count over the number
    of its cells there (places assumed spread evenly inside it)."""
    total = 0.0
    for token in tokens:
        level, ix, iy = _parse(token)
        if level <= DENSITY_LEVEL:
            total += counts.get(token, 0)
        else:
            shift = level - DENSITY_LEVEL
            total += counts.get(_token(DENSITY_LEVEL, ix >> shift, iy >> shift), 0) / 4**shift
    return total
