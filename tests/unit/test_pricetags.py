"""Price range x minimum rating as one TAG term: exact against the plain comparison."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recsys.serving import pricetags


def _matches(price: int, rating: float, low: int | None, high: int | None, min_rating) -> bool:
    """What the Redis filter does: the term, then the numeric check if one is returned."""
    term, exact_rating = pricetags.query(low, high, min_rating)
    if term not in pricetags.tokens(price, rating):
        return False
    return exact_rating is None or rating >= exact_rating


RATINGS = [0.0, 0.2, 0.5, 2.49, 2.5, 2.51, 3.0, 3.4999, 3.5, 3.7, 4.0, 4.5, 4.99, 5.0]
THRESHOLDS = [None, 0.0, 0.1, 0.5, 2.5, 3.0, 3.2, 3.5, 3.7, 4.5, 4.75, 5.0]
BOUNDS = [None, 1, 2, 3, 4]


def test_every_price_range_and_threshold_is_exact_on_and_off_the_grid() -> None:
    rng = np.random.default_rng(0)
    ratings = RATINGS + [float(r) for r in rng.uniform(0, 5, 40)]
    thresholds = THRESHOLDS + [float(t) for t in rng.uniform(0, 5, 20)]
    for price, rating in itertools.product(pricetags.PRICES, ratings):
        for low, high, min_rating in itertools.product(BOUNDS, BOUNDS, thresholds):
            if low is not None and high is not None and low > high:
                continue
            expected = (low or 1) <= price <= (high or 4) and (
                min_rating is None or rating >= min_rating
            )
            assert _matches(price, rating, low, high, min_rating) == expected, (
                price, rating, low, high, min_rating,
            )  # fmt: skip


def test_grid_thresholds_are_one_term_and_off_grid_ones_add_the_numeric_check() -> None:
    assert pricetags.query(1, 3, 3.0) == ("p13r30", None)
    assert pricetags.query(None, None, 4.5) == ("p14r45", None)
    assert pricetags.query(2, None, None) == ("p24r0", None)
    assert pricetags.query(None, 2, 3.7) == ("p12r35", 3.7)
    assert pricetags.query(None, None, 5.0) == ("p14r50", None)


@pytest.mark.parametrize(("price", "rating"), [(0, 3.0), (5, 3.0), (2, float("nan")), (2, 5.5)])
def test_values_outside_the_table_contract_get_no_token(price: int, rating: float) -> None:
    assert pricetags.tokens(price, rating) == []


def test_a_place_has_one_token_per_range_and_threshold_it_meets() -> None:
    tokens = pricetags.tokens(2, 3.5)
    assert len(tokens) == len(set(tokens)) == 6 * 8  # 6 ranges hold 2; thresholds 0..3.5
    assert pricetags.tag(2, 3.5) == ",".join(tokens)
