"""One call that gathers everything training and evaluation need.

Restaurants come from `recsys.data`; users from a file or generated (cached in
`users.jsonl`); interactions from a file or simulated from the planted affinity
(cached in `interactions.csv`, with the oracle recomputed from the same seed); then
the deterministic split. The same inputs and seed always give the same `Dataset`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.config import Settings
from recsys.data import interactions as inter
from recsys.data import users as users_mod
from recsys.fileutil import atomic_write_json
from recsys.progress import Progress, ProgressFn, no_progress

DEFAULT_USERS = 1000
SIMULATION_VERSION = 4  # bump when the simulation or the generated users change (4: SF addresses)


@dataclass
class Dataset:
    """Restaurants, users, interactions, the oracle (None for real data) and the split."""

    restaurants: pd.DataFrame
    users: pd.DataFrame
    interactions: pd.DataFrame
    oracle: np.ndarray | None
    split: inter.Split
    fingerprint: str
    sources: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    description: str = ""  # where the restaurants came from, in one plain sentence
    world: str = "default"  # the planted world of simulated visits (`worlds.py`)
    # Explicit negatives (user_id, restaurant_id) used as hard negatives in training:
    # None = the base interactions' label -1 rows (`recsys.data.feedback.with_feedback`
    # adds the app's "Not for me" marks).
    negatives: pd.DataFrame | None = None

    @cached_property
    def user_index(self) -> dict[str, int]:
        """user_id -> row of `users` (built once: the tables are not changed in place)."""
        return {u: i for i, u in enumerate(self.users["user_id"])}

    @cached_property
    def restaurant_index(self) -> dict[str, int]:
        """restaurant id -> row of `restaurants`."""
        return {r: i for i, r in enumerate(self.restaurants["id"])}


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def restaurants_fingerprint(restaurants: pd.DataFrame) -> str:
    """A short hash of what the simulation and the features read from restaurants."""
    cols = [c for c in restaurants.columns if c not in ("hours_raw", "name", "address")]
    return _digest(restaurants[cols].to_dict(orient="list"))


def _frame_digest(frame: pd.DataFrame) -> str:
    return _digest(pd.util.hash_pandas_object(frame.astype(str), index=False).tolist())


def seeded_stem(stem: str, seed: int) -> str:
    """A cache file's stem for data seed `seed`: the plain stem for seed 0 (the app's),
    a stem of its own for any other, so evaluating other seeds (`evaluate --data-seeds`)
    never rewrites the files the served data is read from."""
    return stem if seed == 0 else f"{stem}-seed{seed}"


def _generated_users(settings: Settings, seed: int) -> pd.DataFrame:
    stem = seeded_stem("users", seed)
    path, meta_path = settings.path(f"{stem}.jsonl"), settings.path(f"{stem}.meta.json")
    meta = {"seed": seed, "n": DEFAULT_USERS, "version": SIMULATION_VERSION}
    if path.is_file() and meta_path.is_file() and json.loads(meta_path.read_text()) == meta:
        return users_mod.load_users(path)
    users = users_mod.generate_users(DEFAULT_USERS, seed=seed)
    users_mod.save_users(users, path)
    atomic_write_json(meta_path, meta)
    return users


def _simulated(
    settings: Settings, users: pd.DataFrame, restaurants: pd.DataFrame, seed: int, world: Any
):
    # The default world keeps the original file names, so existing caches stay valid.
    stem = "interactions" if world.name == "default" else f"interactions-{world.name}"
    stem = seeded_stem(stem, seed)
    path, meta_path = settings.path(f"{stem}.csv"), settings.path(f"{stem}.meta.json")
    meta = {
        "seed": seed,
        "version": SIMULATION_VERSION,
        "weights": world.weights,
        "temperature": inter.TEMPERATURE,
        "users": _frame_digest(users[["user_id", "likes", "price_bracket", "birthdate"]]),
        "restaurants": restaurants_fingerprint(restaurants),
    }
    if path.is_file() and meta_path.is_file() and json.loads(meta_path.read_text()) == meta:
        return inter.load_interactions(path, users, restaurants), world.affinity(
            users, restaurants, seed
        )
    interactions, oracle = inter.simulate(users, restaurants, seed, world.affinity)
    inter.save_interactions(interactions, path)
    atomic_write_json(meta_path, meta)
    return interactions, oracle


def build_dataset(
    settings: Settings,
    *,
    restaurants: pd.DataFrame | Path | None = None,
    users_path: Path | None = None,
    interactions_path: Path | None = None,
    seed: int = 0,
    world: str | None = None,
    progress: ProgressFn | None = None,
) -> Dataset:
    """Load or generate every input and split it (deterministic for a given seed).

    Args:
        restaurants: a ready restaurants table, or a file for `data.load_restaurants`.
        users_path: a users file; default: 1,000 generated users.
        interactions_path: an interactions CSV; default: simulated visits (with oracle).
        world: which planted world simulates the visits (`worlds.WORLDS`; default
            "default"); ignored, like the oracle, for an interactions file.
    """
    from recsys.data.worlds import get_world

    planted = get_world(world)
    progress = progress or no_progress
    progress(Progress("data", 0, 3, "restaurants"))
    if isinstance(restaurants, pd.DataFrame):
        rest, rest_source = restaurants.reset_index(drop=True), "given"
        description = f"A given table of {len(rest)} restaurants."
    else:
        from recsys.data.sources import load_restaurants

        loaded = load_restaurants(settings, path=restaurants, progress=progress)
        rest, rest_source = loaded.frame.reset_index(drop=True), loaded.source
        description = loaded.description
    progress(Progress("data", 1, 3, "users"))
    if users_path is not None:
        users, user_source = users_mod.load_users(users_path), "file"
    else:
        users, user_source = _generated_users(settings, seed), "generated"
    progress(Progress("data", 2, 3, "interactions"))
    if interactions_path is not None:
        visits, oracle = inter.load_interactions(interactions_path, users, rest), None
        visit_source = "file"
    else:
        visits, oracle = _simulated(settings, users, rest, seed, planted)
        visit_source = "simulated"
    split = inter.split(visits, rest, seed=seed)
    fingerprint = _digest(
        restaurants_fingerprint(rest), _frame_digest(users), _frame_digest(visits), seed
    )
    progress(Progress("data", 3, 3, f"{len(users)} users, {len(visits)} interactions"))
    sources = {"restaurants": rest_source, "users": user_source, "interactions": visit_source}
    return Dataset(
        rest, users, visits, oracle, split, fingerprint, sources, seed, description, planted.name
    )
