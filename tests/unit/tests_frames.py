"""Small restaurants tables in the shape of recsys.data's contract, for unit tests.

The real table comes from recsys.data; unit tests of users, interactions, features
and training only need a few rows with every contract column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CUISINES = [
    "Pizza", "Italian", "Mexican", "Sushi", "Japanese", "Chinese", "Indian", "Thai",
    "Burgers", "American", "Bar", "Pub Food", "Cafe", "Coffee", "Seafood", "French",
    "Steakhouse", "Vegetarian", "Barbecue", "Ethiopian", "Mediterranean", "Bakery",
]  # fmt: skip
BOOLS = [
    "parking", "parking_free", "parking_garage", "parking_lot", "parking_street",
    "parking_valet", "parking_validated", "meal_breakfast", "meal_lunch", "meal_dinner",
    "meal_deliver", "meal_takeout", "meal_cater", "options_vegetarian", "options_vegan",
    "options_glutenfree", "options_organic", "options_healthy", "options_lowfat", "wifi",
    "smoking", "accessible_wheelchair",
]  # fmt: skip


def restaurants(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """`n` restaurants with every column of the restaurants-table contract."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = int(rng.integers(1, 3))
        late = rng.random() < 0.3
        intervals = tuple((d, 11 * 60, 23 * 60 if late else 21 * 60) for d in range(7))
        count = int(rng.integers(0, 100))
        row = {
            "id": f"r{i:03d}",
            "name": f"Place {i}",
            "address": f"{i} Market St",
            "locality": "San Francisco",
            "lat": 37.75 + rng.random() * 0.05,
            "lon": -122.45 + rng.random() * 0.05,
            "cuisines": list(rng.choice(CUISINES, size=k, replace=False)),
            "price": int(rng.integers(1, 5)),
            "rating": float(np.round(rng.uniform(2.5, 5.0), 1)),
            "hours_raw": None,
            "intervals": None if i % 17 == 5 else intervals,
            "review_count": count,
            "review_rating_min": 1.0 if count else 0.0,
            "review_rating_max": 5.0 if count else 0.0,
            "review_rating_mean": float(rng.uniform(3, 5)) if count else 0.0,
            "review_rating_std": float(rng.uniform(0.5, 1.5)) if count else 0.0,
        }
        row.update({b: bool(rng.random() < 0.4) for b in BOOLS})
        rows.append(row)
    return pd.DataFrame(rows)


def small_dataset(root, *, users: int, places: int, seed: int):
    """A `Dataset` of `users` generated users and `places` of `restaurants()` under
    `root` (users file and data dir), built as `prepare` builds it."""
    from recsys.config import Settings
    from recsys.data.dataset import build_dataset
    from recsys.data.users import generate_users, save_users

    save_users(generate_users(users, seed=seed), root / "users.jsonl")
    return build_dataset(
        Settings(data_dir=root / "data"),
        restaurants=restaurants(places, seed=seed),
        users_path=root / "users.jsonl",
        seed=seed,
    )
