"""Price range and minimum rating as one TAG term (the `pr` field), exact.

Redis's NUMERIC filters are unions of range-tree nodes: at 100,000 restaurants
`@price:[1 3] @rating:[3 +inf]` cost two unions of 3 and 5 children inside the
filtered KNN (docs/filtered-search.md). Price is a whole number 1-4 and the app's
rating slider moves in steps of 0.5, so each place carries one token for every
(price range, rating threshold) it satisfies:

    p{low}{high}r{10 * t}   for every 1 <= low <= price <= high <= 4
                            and every t on RATING_GRID (0, 0.5, ..., 5) with t <= rating

(about 40 tokens a place), and "price in [low, high] and rating >= t" is the single
term `p{low}{high}r{10t}`. A minimum rating off the grid (3.7 from the command line)
is the term of the grid value below it (3.5) AND-ed with the exact numeric check
`@rating:[3.7 +inf]`: the term lets through a superset, the numeric check cuts it to
the exact set. The table contract keeps price in 1-4 and rating in 0-5
(`data/table.py`); a value outside them gets no token, like a value the numeric
filter would not match.
"""

from __future__ import annotations

import math
from functools import lru_cache

PRICES = (1, 2, 3, 4)
RATING_STEPS = 10  # thresholds 0, 0.5, ..., 5.0
RATING_STEP = 0.5
SEPARATOR = ","


def _threshold(step: int) -> float:
    return step * RATING_STEP


def token(low: int, high: int, step: int) -> str:
    """The term of "price in [low, high] and rating >= step * RATING_STEP"."""
    return f"p{low}{high}r{round(10 * _threshold(step))}"


def tokens(price: int, rating: float) -> list[str]:
    """Every term a place of this price and rating matches (none if either is invalid)."""
    if price not in PRICES or not (math.isfinite(rating) and 0 <= rating <= 5):
        return []
    steps = [s for s in range(RATING_STEPS + 1) if _threshold(s) <= rating]
    return [
        token(low, high, step)
        for low in PRICES
        for high in PRICES
        if low <= price <= high
        for step in steps
    ]


@lru_cache(maxsize=1024)
def tag(price: int, rating: float) -> str:
    """`tokens` as one TAG string (what the document stores; cached: few distinct)."""
    return SEPARATOR.join(tokens(price, rating))


def query(
    min_price: int | None, max_price: int | None, min_rating: float | None
) -> tuple[str, float | None]:
    """(term, exact minimum rating still to check, or None) for validated bounds.

    The term alone is exact when the minimum rating is on the grid (or not given);
    otherwise the term is that of the grid value below it, and the caller adds the
    numeric check `rating >= returned value`.
    """
    low, high = min_price or PRICES[0], max_price or PRICES[-1]
    if min_rating is None:
        return token(low, high, 0), None
    step = min(RATING_STEPS, math.floor(min_rating / RATING_STEP))
    on_grid = _threshold(step) == min_rating
    return token(low, high, step), None if on_grid else float(min_rating)
