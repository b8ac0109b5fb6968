"""`prepare` (idempotent set-up) and `retrain` (train + publish under the load lock).

A retrain never damages what is served: the new checkpoint is written beside the
old one, the index is published (verified, then swapped), and only then does the
new checkpoint replace the old and the new evaluation (measured before publishing)
replace the old one. Any failure before that leaves all three untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from recsys import evaluate, store
from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.progress import Progress, ProgressFn, TextProgress, no_progress


def world_path(settings: Settings) -> Path:
    """Where `prepare`/`train --world NAME` record the world, so later retrains (the
    UI's button, a plain `train`) keep simulating it."""
    return settings.path("world.json")


def current_world(settings: Settings, world: str | None = None) -> str:
    """`world` validated, else the recorded one, else "default"."""
    from recsys.worlds import get_world

    if world is not None:
        return get_world(world).name
    try:
        return get_world(json.loads(world_path(settings).read_text())["world"]).name
    except (OSError, ValueError, KeyError, TypeError, RecsysError):
        return get_world(None).name


def _dataset(settings: Settings, restaurants, users, interactions, progress, world=None) -> Any:
    from recsys.dataset import build_dataset

    if restaurants is None and settings.restaurants_file is not None:
        restaurants = settings.restaurants_file
    chosen = current_world(settings, world)
    dataset = build_dataset(
        settings,
        restaurants=restaurants,
        users_path=users,
        interactions_path=interactions,
        world=chosen,
        progress=progress,
    )
    if world is not None:
        evaluate._write_json_atomically(world_path(settings), {"world": chosen})
    return dataset


def visited_in_training(dataset: Any) -> dict[str, list[str]]:
    """user_id -> restaurant ids of the user's training interactions."""
    train = dataset.split.train
    return {
        str(user): sorted(map(str, group))
        for user, group in train.groupby("user_id")["restaurant_id"]
    }


def with_added(settings: Settings, dataset: Any) -> tuple[Any, Any]:
    """The dataset's restaurants and users plus those added at run time (cold start).

    Added records were never trained on; they are embedded by the towers like any
    cold-start item, so a retrain or reload keeps serving them.
    """
    import pandas as pd

    from recsys import data, users

    restaurants, people = dataset.restaurants, dataset.users
    added = store.added_records(settings, "restaurants")
    if added:
        extra = data.normalise_records(added)
        extra = extra[~extra["id"].isin(restaurants["id"])]
        restaurants = pd.concat([restaurants, extra], ignore_index=True)
    profiles = [users.validate_profile(p) for p in store.added_records(settings, "users")]
    known = set(people["user_id"])
    profiles = [p for p in profiles if p["user_id"] not in known]
    if profiles:
        people = pd.concat([people, pd.DataFrame(profiles)], ignore_index=True)
    return restaurants, people


def publish_model(
    settings: Settings,
    dataset: Any,
    model: Any,
    *,
    locked: bool = False,
    algorithm: str | None = None,
    progress: ProgressFn | None = None,
) -> str:
    """Embed every restaurant and user with `model` and publish them as a new version.

    `algorithm` defaults to `settings.algorithm` (RECSYS_VECTOR_ALGORITHM).
    """
    restaurants, people = with_added(settings, dataset)
    return store.publish(
        settings,
        restaurants,
        model.embed_restaurants(restaurants),
        people,
        model.embed_users(people),
        visited_in_training(dataset),
        model.version,
        algorithm=algorithm or settings.algorithm,
        progress=progress,
        locked=locked,
        model_info={
            "created": model.created,
            "metrics": model.metrics,
            "restaurants_source": dataset.sources.get("restaurants", ""),
            "restaurants_description": dataset.description,
            "world": getattr(dataset, "world", "default"),
            "selection": selection_summary(getattr(model, "selection", {}) or {}),
        },
    )


def selection_summary(selection: dict[str, Any]) -> dict[str, Any]:
    """What the UI shows of model selection: the winner, why, every candidate's scores."""
    if not selection:
        return {}
    keep = ("name", "val_recall@10", "val_recall@10_cold_users",
            "val_recall@10_cold_restaurants", "score")  # fmt: skip
    return {
        "winner": selection.get("winner"),
        "why": selection.get("why"),
        "candidates": [{k: c.get(k) for k in keep} for c in selection.get("candidates", [])],
    }


def prepare(
    settings: Settings,
    *,
    restaurants: Path | None = None,
    users: Path | None = None,
    interactions: Path | None = None,
    world: str | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Redis up, data, users, interactions; train only without a compatible checkpoint;
    load the index only when none is live, it was made by another model, or it uses
    another vector algorithm than `settings.algorithm`.

    Returns:
        What was done: {"trained", "loaded", "model_version", "live", "sources"}.
    """
    from recsys import train

    report = progress or no_progress
    store.client(settings)  # Redis first: fail fast with the server's message
    dataset = _dataset(settings, restaurants, users, interactions, report, world)
    path = train.default_checkpoint_path(settings)
    try:
        model = train.load_checkpoint(path, expect_fingerprint=dataset.fingerprint)
        trained = False
    except RecsysError:
        model = None
    if model is None:
        return {**retrain(settings, dataset=dataset, progress=report), "trained": True}
    live = store.live_info(settings)
    loaded = (
        live is None
        or live["model_version"] != model.version
        or live["algorithm"] != settings.algorithm
    )
    if loaded:
        publish_model(settings, dataset, model, progress=report)
    return {
        "trained": trained,
        "loaded": loaded,
        "model_version": model.version,
        "live": store.live_info(settings),
        "sources": dataset.sources,
        "description": dataset.description,
    }


def _evaluation(settings: Settings, dataset: Any, model: Any, report: ProgressFn) -> dict:
    """The model's evaluation; the baselines' rows come from the cache for the same data."""
    report(Progress("evaluate", 0, 1, "model and baselines"))
    started = time.perf_counter()
    results = evaluate.evaluate(dataset, model, settings=settings)
    results["evaluate_seconds"] = round(time.perf_counter() - started, 3)
    report(Progress("evaluate", 1, 1, f"done in {results['evaluate_seconds']:.1f} s"))
    return results


def retrain(
    settings: Settings,
    *,
    restaurants: Path | None = None,
    users: Path | None = None,
    interactions: Path | None = None,
    epochs: int | None = None,
    seed: int = 0,
    world: str | None = None,
    dataset: Any = None,
    owner: str | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Train a new model and publish it, holding the load lock throughout.

    Raises:
        RecsysError: another load/retrain is running (the message names it), bad data,
            or a failed load; the served index and the saved checkpoint stay as they were.
    """
    from recsys import train

    report = progress or no_progress
    with store.load_lock(settings, what="retrain", owner=owner):
        if dataset is None:
            dataset = _dataset(settings, restaurants, users, interactions, report, world)
        model = train.train(dataset, epochs=epochs, seed=seed, progress=report)
        # Measured before publishing (a failure here changes nothing), saved only once the
        # new index is live, so the UI's numbers are always those of the served model.
        results = _evaluation(settings, dataset, model, report)
        final = train.default_checkpoint_path(settings)
        pending = train.save_checkpoint(model, final.with_name(final.name + ".new"))
        try:
            version = publish_model(settings, dataset, model, locked=True, progress=report)
            os.replace(pending, final)
        finally:
            if pending.exists():
                pending.unlink()
        evaluate.save_evaluation(results, settings)
    return {
        "trained": True,
        "loaded": True,
        "version": version,
        "model_version": model.version,
        "metrics": model.metrics,
        "live": store.live_info(settings),
        "sources": dataset.sources,
        "description": dataset.description,
    }


def _summary(result: dict[str, Any]) -> str:
    if result.get("description"):
        print(f"restaurants: {result['description']}", file=sys.stderr)
    live = result["live"] or {}
    return json.dumps(
        {
            "trained": result["trained"],
            "loaded": result["loaded"],
            "model_version": result["model_version"],
            "version": live.get("version"),
            "restaurants": live.get("restaurants"),
            "users": live.get("users"),
            "sources": result.get("sources"),
        }
    )


def prepare_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys prepare`: progress on stderr, a one-line JSON summary on stdout."""
    current_world(settings, args.world)  # an unknown name fails before any work
    result = prepare(
        settings,
        restaurants=args.restaurants,
        users=args.users,
        interactions=args.interactions,
        world=args.world,
        progress=TextProgress(),
    )
    print(_summary(result), file=sys.stdout)
    return 0


def train_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys train`: retrain and swap the index (progress on stderr)."""
    current_world(settings, args.world)  # an unknown name fails before any work
    result = retrain(
        settings,
        restaurants=args.restaurants,
        users=args.users,
        interactions=args.interactions,
        epochs=args.epochs,
        seed=args.seed,
        world=args.world,
        progress=TextProgress(),
    )
    print(_summary(result), file=sys.stdout)
    return 0
