"""`prepare` (idempotent set-up) and `retrain` (train + publish under the load lock).

A retrain never damages what is served, and a crash at any line converges: the new
model is saved under its own version before its index goes live, the live pointer
names the version it serves, and whatever is not live is removed afterwards (or by
the next `prepare`). See `retrain` for the order.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recsys import failpoints, limits
from recsys.config import Settings
from recsys.errors import CheckpointError, RecsysError
from recsys.fileutil import atomic_write_json
from recsys.model import evaluate
from recsys.progress import Progress, ProgressFn, TextProgress, no_progress
from recsys.serving import index, server

if TYPE_CHECKING:
    import pandas as pd

    from recsys.data.dataset import Dataset
    from recsys.model.train import TrainedModel


def world_path(settings: Settings) -> Path:
    """Where `prepare`/`train --world NAME` record the world, so later retrains (the
    UI's button, a plain `train`) keep simulating it."""
    return settings.path("world.json")


def current_world(settings: Settings, world: str | None = None) -> str:
    """`world` validated, else the recorded one, else "default"."""
    from recsys.data.worlds import get_world

    if world is not None:
        return get_world(world).name
    try:
        return get_world(json.loads(world_path(settings).read_text())["world"]).name
    except (OSError, ValueError, KeyError, TypeError, RecsysError):
        return get_world(None).name


def _dataset(
    settings: Settings,
    restaurants: Path | None,
    users: Path | None,
    interactions: Path | None,
    progress: ProgressFn,
    world: str | None = None,
) -> Dataset:
    from recsys.data.dataset import build_dataset

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
        atomic_write_json(world_path(settings), {"world": chosen})
    return dataset


def visited_in_training(dataset: Dataset) -> dict[str, list[str]]:
    """user_id -> restaurant ids of the user's training interactions."""
    train = dataset.split.train
    return {
        str(user): sorted(map(str, group))
        for user, group in train.groupby("user_id")["restaurant_id"]
    }


def with_added(settings: Settings, dataset: Dataset) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dataset's restaurants and users plus those added at run time (cold start).

    Added records were never trained on; they are embedded by the towers like any
    cold-start item, so a retrain or reload keeps serving them.
    """
    import pandas as pd

    from recsys.data import table, users

    restaurants, people = dataset.restaurants, dataset.users
    added = index.added_records(settings, "restaurants")
    if added:
        extra = table.normalise_records(added)
        extra = extra[~extra["id"].isin(restaurants["id"])]
        restaurants = pd.concat([restaurants, extra], ignore_index=True)
    profiles = [
        users.validate_profile(p, where=f"added user {limits.echo(p.get('user_id'))}")
        for p in index.added_records(settings, "users")
    ]
    known = set(people["user_id"])
    profiles = [p for p in profiles if p["user_id"] not in known]
    if profiles:
        people = pd.concat([people, pd.DataFrame(profiles)], ignore_index=True)
    return restaurants, people


def publish_model(
    settings: Settings,
    dataset: Dataset,
    model: TrainedModel,
    *,
    algorithm: str | None = None,
    progress: ProgressFn | None = None,
) -> str:
    """Embed every restaurant and user with `model` and publish them as a new version.

    Takes the load lock. `algorithm` defaults to `settings.algorithm`
    (RECSYS_VECTOR_ALGORITHM).
    """
    with index.load_lock(settings, what="load"):
        return _publish_locked(settings, dataset, model, algorithm=algorithm, progress=progress)


def _publish_locked(
    settings: Settings,
    dataset: Dataset,
    model: TrainedModel,
    *,
    algorithm: str | None = None,
    progress: ProgressFn | None = None,
) -> str:
    """`publish_model` for a caller that already holds the load lock.

    The live pointer records which app feedback the model was trained on (the model's
    `metrics["feedback"]`: counts and the seq it read up to); a model without it has
    seen none, so every stored mark counts as new to it."""
    feedback_info = model.metrics.get("feedback")
    restaurants, people = with_added(settings, dataset)
    restaurant_vectors = model.embed_restaurants(restaurants)
    return index.publish_locked(
        settings,
        restaurants,
        restaurant_vectors,
        people,
        model.embed_users(people),
        visited_in_training(dataset),
        model.version,
        algorithm=algorithm or settings.algorithm,
        progress=progress,
        model_info={
            "created": model.created,
            "metrics": model.metrics,
            "restaurants_source": dataset.sources.get("restaurants", ""),
            "restaurants_description": dataset.description,
            "world": getattr(dataset, "world", "default"),
            "selection": selection_summary(getattr(model, "selection", {}) or {}),
            # The online update centres on it (recsys/data/online.py).
            "restaurant_mean": restaurant_vectors.mean(axis=0).astype(float).tolist(),
            **({"feedback": feedback_info} if feedback_info else {}),
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
    """Redis up, data, users, interactions; train only without a saved model for this
    data; load the index only when none is live, it was made by another model or another
    index schema, or it uses another vector algorithm than `settings.algorithm`. Clears
    what a killed load or retrain left behind.

    The model kept is the live one when it fits the data (a retrain killed after its
    swap stays live), else the newest saved model that fits.

    Returns:
        What was done: {"trained", "loaded", "model_version", "live", "sources"}.
    """
    report = progress or no_progress
    server.client(settings)  # Redis first: fail fast with the server's message
    dataset = _dataset(settings, restaurants, users, interactions, report, world)
    live = index.live_info(settings)
    model = _saved_model_for(settings, dataset, live)
    if model is None:
        return {**retrain(settings, dataset=dataset, progress=report), "trained": True}
    loaded = (
        live is None
        or live["model_version"] != model.version
        or live["algorithm"] != settings.algorithm
        or live["schema"] != index.schema_fingerprint(settings.algorithm)
    )
    if loaded or _leftovers(settings, live):
        with index.load_lock(settings, what="load", progress=report):
            if loaded:
                _publish_locked(settings, dataset, model, progress=report)
            clean_up(settings)
    return {
        "trained": False,
        "loaded": loaded,
        "model_version": model.version,
        "live": index.live_info(settings),
        "sources": dataset.sources,
        "description": dataset.description,
    }


def _saved_model_for(
    settings: Settings, dataset: Dataset, live: dict[str, Any] | None
) -> TrainedModel | None:
    """The live model if it is saved and fits `dataset`, else the newest saved that fits."""
    from recsys.model import train

    if live is not None:
        with suppress(CheckpointError):
            return train.load_saved(
                settings, live["model_version"], expect_fingerprint=dataset.fingerprint
            )
    try:
        return train.load_saved(settings, expect_fingerprint=dataset.fingerprint)
    except CheckpointError:
        return None


def _leftovers(settings: Settings, live: dict[str, Any] | None) -> bool:
    """Whether a killed load or retrain left anything that `clean_up` would remove."""
    from recsys.model import saved

    keep = live["model_version"] if live else None
    others = [v for v in saved.versions(settings) if v != keep]
    return bool(others) or index.stale_versions(settings, keep=live["version"] if live else None)


def clean_up(settings: Settings) -> None:
    """Drop every index version and saved model that is not live (load lock held)."""
    from recsys.model import saved

    live = index.live_info(settings)
    index.drop_stale_versions(settings, keep=live["version"] if live else None)
    failpoints.reached("cleanup")
    if live is not None:  # without a live index, nothing says which model to keep
        saved.remove_all_but(settings, live["model_version"])


def with_app_feedback(
    settings: Settings, dataset: Dataset, progress: ProgressFn | None = None
) -> tuple[Dataset, dict[str, Any]]:
    """The dataset plus the app feedback stored so far, and what was used.

    The feedback counter is read before the marks (`feedback.snapshot`): a mark written
    while this retrain runs is numbered after `seq`, left for the next retrain, counted
    as unseen by this model and applied online meanwhile, so it is never lost.
    """
    import pandas as pd

    from recsys.data.feedback import with_feedback
    from recsys.serving import feedback

    marks, seq = feedback.snapshot(settings)
    frame = pd.DataFrame(
        [(m.user_id, m.restaurant_id, m.label) for m in marks],
        columns=["user_id", "restaurant_id", "label"],
    )
    merged, counts = with_feedback(dataset, frame)
    counts["seq"] = seq
    (progress or no_progress)(
        Progress(
            "data", 1, 1,
            f"app feedback: {counts['went_used']} went, {counts['not_for_me_used']} not for me "
            f"used; {counts['unknown_skipped']} of unknown users or places skipped, "
            f"{counts['held_out_skipped']} held out for evaluation",
        )
    )  # fmt: skip
    return merged, counts


def _evaluation(
    settings: Settings, dataset: Dataset, model: TrainedModel, report: ProgressFn
) -> dict[str, Any]:
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
    dataset: Dataset | None = None,
    owner: str | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Train a new model and publish it, holding the load lock throughout.

    Order, so that a crash at any line leaves one consistent served model: train and
    evaluate (nothing changed yet); save the checkpoint and evaluation under the new
    model's version; publish the index (the live pointer now names that version);
    remove what is not live. Before the swap the old model serves with its own
    checkpoint, after it the new one does with its own.

    Raises:
        RecsysError: another load/retrain is running (the message names it), bad data,
            or a failed load; the served index and its saved model stay as they were.
    """
    report = progress or no_progress
    with index.load_lock(settings, what="retrain", owner=owner, progress=report):
        from recsys.model import saved, train  # PyTorch loads after the lock is taken

        if dataset is None:
            dataset = _dataset(settings, restaurants, users, interactions, report, world)
        base = dataset
        dataset, used = with_app_feedback(settings, dataset, report)
        model = train.train(dataset, epochs=epochs, seed=seed, progress=report)
        model.metrics["feedback"] = used
        failpoints.reached("trained")
        results = _evaluation(settings, base, model, report)
        results["feedback_used"] = used
        train.save(model, settings)
        evaluate.save_evaluation(results, settings)
        failpoints.reached("saved")
        try:
            version = _publish_locked(settings, dataset, model, progress=report)
        except BaseException:
            with suppress(Exception):  # never served: drop it (unless it went live)
                live = index.live_info(settings)
                if live is None or live["model_version"] != model.version:
                    saved.remove(settings, model.version)
            raise
        clean_up(settings)
    return {
        "trained": True,
        "loaded": True,
        "version": version,
        "model_version": model.version,
        "metrics": model.metrics,
        "live": index.live_info(settings),
        "sources": dataset.sources,
        "description": dataset.description,
    }


class _HoldDataLines:
    """Progress that holds the `data` stage's lines until every file has been read and
    validated: a bad file is then answered by its one `error:` line alone."""

    def __init__(self, inner: ProgressFn) -> None:
        self.inner = inner
        self.held: list[Progress] = []

    def __call__(self, event: Progress) -> None:
        if event.stage == "data" and event.fraction < 1.0:
            self.held.append(event)
            return
        held, self.held = self.held, []
        for earlier in held:
            self.inner(earlier)
        self.inner(event)


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
        progress=_HoldDataLines(TextProgress()),
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
        progress=_HoldDataLines(TextProgress()),
    )
    print(_summary(result), file=sys.stdout)
    return 0
