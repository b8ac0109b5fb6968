"""Planted worlds: different true tastes the simulation can plant, each with its oracle.

A model chosen on one simulator learns that simulator. Each world here is a
different affinity a(u, r) from which visits are sampled (see
`interactions.simulate`); the oracle of a world is its affinity. Select one with
`--world NAME` on `prepare`, `train` and `evaluate`.

- default: the project's world (`interactions.affinity`): likes meet cuisines
  through `users.LIKE_RULES`, a price fit per bracket, rating, popularity, late
  hours for the young; bilinear in the two towers' features.
- remapped: the same terms, but each like is satisfied by the restaurants of
  another like's rule (a fixed derangement of `LIKE_RULES`), so the shared
  `match:<like>` prior features point at the wrong restaurants.
- nonlinear: terms no dot product of the raw features represents: a preferred
  price level that moves smoothly with age (squared distance from it), likes that
  count only where the price is bearable, rating that matters only at the top price
  levels, and a strong popularity bias.
- collaborative: most of the signal is membership of hidden taste clusters drawn
  at random for users and restaurants (visible in no feature); only IDs learnt from
  visits can find them, so cold-start users and restaurants are hard by design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsys.data import interactions as inter
from recsys.data.users import LIKE_RULES, LIKES, LikeRule, like_matrix, likes_multi_hot, open_late
from recsys.errors import RecsysError

DEFAULT_WORLD = "default"


Affinity = Callable[[pd.DataFrame, pd.DataFrame, int], np.ndarray]
# (users, restaurants, seed, warm users mask, warm restaurants mask) -> a matrix
Unknowable = Callable[[pd.DataFrame, pd.DataFrame, int, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class World:
    name: str
    description: str
    affinity: Affinity
    weights: dict[str, float]  # recorded in the cache key: a change re-simulates
    # The part of the affinity no model can learn, minus its expectation: the per-pair
    # noise everywhere; in `collaborative` also the hidden cluster of a pair with a user or
    # restaurant without visits (a warm pair's clusters can be learnt from visits).
    unknowable: Unknowable

    def learnable_affinity(
        self,
        users: pd.DataFrame,
        restaurants: pd.DataFrame,
        seed: int,
        warm_users: np.ndarray,
        warm_restaurants: np.ndarray,
    ) -> np.ndarray:
        """The affinity with what no model can learn replaced by its expectation: the
        ranking by everything a model can learn, given which users and restaurants have
        visits to learn from (boolean masks over the rows of `users` and `restaurants`).

        Noise has mean 0; a hidden cluster is known (in principle) for a user and a
        restaurant that both have visits, and matches with chance 1 / CLUSTERS otherwise.
        """
        full = self.affinity(users, restaurants, seed).astype(np.float64)
        hidden = self.unknowable(users, restaurants, seed, warm_users, warm_restaurants)
        return (full - hidden).astype(np.float32)


def _noise(weights: dict[str, float]) -> Unknowable:
    """The per-pair noise term of `_terms` (and `interactions.affinity`) with its weight."""

    def unknowable(users, restaurants, seed, warm_users, warm_restaurants) -> np.ndarray:
        return weights["noise"] * inter.pair_noise(len(users), len(restaurants), seed)

    return unknowable


def _terms(users: pd.DataFrame, restaurants: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Shared pieces: bracket ideal price, price, z rating, z log reviews, young, late, noise."""
    rating = inter._z(restaurants["rating"].to_numpy())
    popularity = inter._z(np.log1p(restaurants["review_count"].to_numpy(dtype=np.float64)))
    return {
        "ideal": users["price_bracket"].map(inter.IDEAL_PRICE).to_numpy(dtype=np.float64),
        "price": restaurants["price"].to_numpy(dtype=np.float64),
        "rating": rating,
        "popularity": popularity,
        "age": inter.user_ages(users),
        "late": np.array([open_late(iv) for iv in restaurants["intervals"]], dtype=np.float64),
        "noise": inter.pair_noise(len(users), len(restaurants), seed),
    }


# --- remapped: likes satisfied by another like's rule --------------------------------

REMAPPED_WEIGHTS = dict(inter.WEIGHTS)


def remapped_rules(seed: int = 7) -> dict[str, LikeRule]:
    """Each like gets another like's rule (a derangement fixed by `seed`)."""
    rng = np.random.default_rng(seed)
    n = len(LIKES)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            break
    return {like: LIKE_RULES[LIKES[perm[j]]] for j, like in enumerate(LIKES)}


def _remapped(users: pd.DataFrame, restaurants: pd.DataFrame, seed: int) -> np.ndarray:
    t, w = _terms(users, restaurants, seed), REMAPPED_WEIGHTS
    likes = likes_multi_hot(users["likes"]) @ like_matrix(restaurants, remapped_rules()).T
    young = (t["age"] < inter.YOUNG_AGE).astype(np.float64)
    a = (
        w["likes"] * likes
        - w["price"] * np.abs(t["price"][None, :] - t["ideal"][:, None])
        + w["rating"] * t["rating"][None, :]
        + w["popularity"] * t["popularity"][None, :]
        + w["late"] * young[:, None] * t["late"][None, :]
        + w["noise"] * t["noise"]
    )
    return a.astype(np.float32)


# --- nonlinear: interactions of attributes, a smooth price preference, popularity bias -

NONLINEAR_WEIGHTS = {
    "likes": 2.4,  # counted only where |price - preferred price| < 1.25
    "price": 0.6,  # times -(price - preferred)^2; preferred moves with age and bracket
    "top_rating": 0.8,  # rating matters only at price levels 3 and 4
    "popularity": 1.0,  # a strong popularity bias
    "late": 0.6,  # under-35s and late hours, as in the default world
    "noise": 0.15,
}


def _nonlinear(users: pd.DataFrame, restaurants: pd.DataFrame, seed: int) -> np.ndarray:
    t, w = _terms(users, restaurants, seed), NONLINEAR_WEIGHTS
    # Preferred price: the bracket's ideal, shifted up to +1 level smoothly with age.
    preferred = t["ideal"] + 1.0 / (1.0 + np.exp(-(t["age"] - 45.0) / 6.0)) - 0.5
    gap = t["price"][None, :] - preferred[:, None]
    likes = likes_multi_hot(users["likes"]) @ like_matrix(restaurants).T
    bearable = (np.abs(gap) < 1.25).astype(np.float64)
    top = (t["price"] >= 3).astype(np.float64) * t["rating"]
    young = (t["age"] < inter.YOUNG_AGE).astype(np.float64)
    a = (
        w["likes"] * np.minimum(likes, 2.0) * bearable
        - w["price"] * gap**2
        + w["top_rating"] * top[None, :]
        + w["popularity"] * t["popularity"][None, :]
        + w["late"] * young[:, None] * t["late"][None, :]
        + w["noise"] * t["noise"]
    )
    return a.astype(np.float32)


# --- collaborative: hidden taste clusters ---------------------------------------------

COLLABORATIVE_WEIGHTS = {
    "cluster": 2.4,  # same hidden cluster; visible in no feature
    "likes": 1.0,
    "price": 0.6,
    "rating": 0.4,
    "popularity": 0.3,
    "noise": 0.15,
}
CLUSTERS = 8


def hidden_clusters(n: int, seed: int, salt: int) -> np.ndarray:
    """A hidden cluster per user (salt 0) or restaurant (salt 1), fixed by the seed."""
    return np.random.default_rng([seed, 11, salt]).integers(CLUSTERS, size=n)


def _same_cluster(users: pd.DataFrame, restaurants: pd.DataFrame, seed: int) -> np.ndarray:
    return (
        hidden_clusters(len(users), seed, 0)[:, None]
        == hidden_clusters(len(restaurants), seed, 1)[None, :]
    )


def _collaborative_unknowable(
    users: pd.DataFrame,
    restaurants: pd.DataFrame,
    seed: int,
    warm_users: np.ndarray,
    warm_restaurants: np.ndarray,
) -> np.ndarray:
    w = COLLABORATIVE_WEIGHTS
    same = _same_cluster(users, restaurants, seed)
    known = np.asarray(warm_users, bool)[:, None] & np.asarray(warm_restaurants, bool)[None, :]
    cluster = np.where(known, 0.0, same - 1.0 / CLUSTERS)
    noise = _noise(w)(users, restaurants, seed, warm_users, warm_restaurants)
    return w["cluster"] * cluster + noise


def _collaborative(users: pd.DataFrame, restaurants: pd.DataFrame, seed: int) -> np.ndarray:
    t, w = _terms(users, restaurants, seed), COLLABORATIVE_WEIGHTS
    same = _same_cluster(users, restaurants, seed)
    likes = likes_multi_hot(users["likes"]) @ like_matrix(restaurants).T
    a = (
        w["cluster"] * same
        + w["likes"] * likes
        - w["price"] * np.abs(t["price"][None, :] - t["ideal"][:, None])
        + w["rating"] * t["rating"][None, :]
        + w["popularity"] * t["popularity"][None, :]
        + w["noise"] * t["noise"]
    )
    return a.astype(np.float32)


WORLDS: dict[str, World] = {
    w.name: w
    for w in (
        World("default", "likes meet cuisines through LIKE_RULES; bilinear", inter.affinity,
              dict(inter.WEIGHTS), _noise(inter.WEIGHTS)),
        World("remapped", "likes meet other likes' cuisines: the match features mislead",
              _remapped, REMAPPED_WEIGHTS, _noise(REMAPPED_WEIGHTS)),
        World("nonlinear", "price preference by age, likes x price, rating x price, popularity",
              _nonlinear, NONLINEAR_WEIGHTS, _noise(NONLINEAR_WEIGHTS)),
        World("collaborative", f"{CLUSTERS} hidden taste clusters carry most of the signal",
              _collaborative, COLLABORATIVE_WEIGHTS, _collaborative_unknowable),
    )
}  # fmt: skip


def get_world(name: str | None) -> World:
    """The world called `name` (None = default); a one-line error for an unknown name."""
    key = (name or DEFAULT_WORLD).strip().lower()
    if key not in WORLDS:
        raise RecsysError(f"unknown world {name!r}; choose one of {', '.join(WORLDS)}.")
    return WORLDS[key]
