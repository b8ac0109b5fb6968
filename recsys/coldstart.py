"""Cold start: new users and restaurants embedded by the served model's towers, at once.

The only module that touches both PyTorch (the towers) and Redis (the live index):
- `serving_model`: the saved model that made the live index (or a clear error);
- `embed_profile`: a new user's profile -> its vector, nothing retrained;
- `add_restaurant` / `add_user`: validate, embed and serve a new record at once, and
  remember it so every later load embeds it again;
- `recommend_cli`: `python -m recsys recommend` for known users and for a new user.

PyTorch is imported lazily, so `recommend --user-id` never loads it.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys import limits
from recsys.config import Settings
from recsys.errors import ModelMismatchError, RecsysError
from recsys.serving import index, keys
from recsys.serving.filters import filters_from_args
from recsys.serving.recommend import recommend
from recsys.serving.server import client

if TYPE_CHECKING:
    from recsys.model.train import TrainedModel


def serving_model(settings: Settings) -> TrainedModel:
    """The saved model whose embeddings the live index serves.

    Raises:
        RecsysError: nothing is live, no usable checkpoint, or the saved model is not the
            one serving (its vectors would not be comparable with the index).
    """
    from recsys.model import train

    live = index.require_live(settings)
    model = train.load_saved(settings, live["model_version"])
    require_serving(live, model)
    return model


def require_serving(live: Mapping[str, Any], model: TrainedModel) -> None:
    """Raise ModelMismatchError unless `model` made the live index's embeddings."""
    if str(getattr(model, "version", "")) != live["model_version"]:
        raise ModelMismatchError(
            f"the model {getattr(model, 'version', '?')!r} is not the one serving "
            f"({live['model_version']!r}); run `python -m recsys prepare` or wait for the "
            "retrain to end."
        )


def embed_profile(
    settings: Settings, profile: Mapping[str, Any], model: TrainedModel | None = None
) -> tuple[dict[str, Any], list[float]]:
    """Validate a new user's profile and embed it with the serving model's user tower.

    Args:
        model: the serving model if the caller has it loaded (checked), else it is loaded.

    Returns:
        (validated profile row, embedding as a list of floats).
    """
    import pandas as pd

    from recsys.data import users

    row = users.validate_profile(dict(profile) if isinstance(profile, Mapping) else profile)
    if model is None:
        model = serving_model(settings)
    else:
        require_serving(index.require_live(settings), model)
    vector = np.asarray(model.embed_users(pd.DataFrame([row])))[0]
    return row, vector.astype(np.float32).tolist()


def add_restaurant(
    settings: Settings, record: Mapping[str, Any], model: TrainedModel
) -> dict[str, Any]:
    """Validate a new restaurant, embed it with the restaurant tower, serve it at once.

    Args:
        record: one restaurant in the source schema (as in the restaurants file).
        model: a trained model with `embed_restaurants(frame) -> array` and `version`.

    Returns:
        The stored document (without its embedding).

    Raises:
        RecsysError: invalid record, an id already served, no live index, another load
            running, or a model other than the one the live index was built with.
    """
    import pandas as pd

    from recsys.data import table

    row = table.validate_record(dict(record))

    def build(live: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        doc = index.restaurant_doc(row, np.asarray(model.embed_restaurants(pd.DataFrame([row])))[0])
        cuisines = sorted(set(live["cuisines"]) | set(doc.get("cuisines") or ()))
        return doc, {"cuisines": json.dumps(cuisines)}

    return _add_live(settings, "restaurants", row["id"], dict(record), model, build)


def add_user(settings: Settings, profile: Mapping[str, Any], model: TrainedModel) -> dict[str, Any]:
    """Validate a new user's profile, embed it with the user tower and save it.

    The user is served at once (by id, like any known user) and kept across retrains.
    Without a `user_id` one is made up (`new-<8 hex>`).

    Returns:
        The stored document (without its embedding).

    Raises:
        RecsysError: invalid profile, an id already taken, no live index, another load
            running, or a model other than the one the live index was built with.
    """
    import pandas as pd

    from recsys.data import users

    given = dict(profile)
    given.setdefault("user_id", f"new-{uuid.uuid4().hex[:8]}")
    row = users.validate_profile(given, where=f"user {limits.echo(given['user_id'])}")

    def build(_: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        vector = np.asarray(model.embed_users(pd.DataFrame([row])))[0]
        return index.user_doc(row, vector, ()), {}

    return _add_live(settings, "users", row["user_id"], index.plain(row), model, build)


def _add_live(
    settings: Settings,
    kind: str,
    item_id: str,
    record: Mapping[str, Any],
    model: TrainedModel,
    build: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """Serve one new restaurant or user at once and remember its record for later loads.

    `build(live)` embeds it and returns (document, extra fields of the live pointer).
    """
    with index.load_lock(settings, what=f"{kind[:-1]} addition"):
        live = index.require_live(settings)
        require_serving(live, model)
        key = keys.document(settings, kind, live["version"], item_id)
        conn = client(settings)
        if conn.exists(key):
            raise RecsysError(f"{kind[:-1]} id {item_id!r} is already served.")
        doc, live_fields = build(live)
        # The document first (served from now on), then the control keys in one MULTI:
        # they share a hash tag, documents do not (cluster-safe; docs/redis-layout.md).
        conn.json().set(key, "$", doc)
        pipe = conn.pipeline(transaction=True)
        pipe.hincrby(keys.live(settings), kind, 1)
        if live_fields:
            pipe.hset(keys.live(settings), mapping=live_fields)
        pipe.hset(keys.added(settings, kind), item_id, json.dumps(dict(record)))
        pipe.execute()
    return {k: v for k, v in doc.items() if k != "embedding"}


def _attach(line: dict[str, Any], whys: list[dict[str, Any]]) -> None:
    """Each result of a JSON line gets its explanation under "why"."""
    for result, why in zip(line["results"], whys, strict=True):
        result["why"] = {k: v for k, v in why.items() if k not in ("id", "score")}


def new_user_vector(settings: Settings, profile_json: str) -> tuple[str, list[float]]:
    """`new_user_profile` as (user_id, embedding)."""
    profile, vector = new_user_profile(settings, profile_json)
    return profile["user_id"], vector


def new_user_profile(settings: Settings, profile_json: str) -> tuple[dict[str, Any], list[float]]:
    """Cold start: validate a new user's JSON profile and embed it with the user tower.

    Returns:
        (validated profile, embedding). PyTorch is imported here only.

    Raises:
        RecsysError: bad JSON or profile, no checkpoint, or a checkpoint that is not the
            model serving the live index (its vectors would not be comparable).
    """
    if len(profile_json) > limits.MAX_CHARS["new_user_json"]:
        raise RecsysError(
            f"--new-user {limits.echo(profile_json)} is longer than "
            f"{limits.MAX_CHARS['new_user_json']:,} characters."
        )
    try:
        raw = json.loads(profile_json)
    except ValueError as exc:
        raise RecsysError(f"--new-user is not valid JSON ({exc.msg} at char {exc.pos}).") from None
    except RecursionError:
        raise RecsysError(
            f"--new-user {limits.echo(profile_json)} is nested too deeply to be a profile."
        ) from None
    return embed_profile(settings, raw)


def recommend_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys recommend`: one JSON line per user; nothing printed on error."""
    filters = filters_from_args(args)
    lines = []
    wants_why = bool(getattr(args, "explain", False))
    model = None  # the serving model, loaded once if explanations are asked for
    if args.new_user is not None:
        filters.validate()  # bad flags fail before PyTorch is loaded
        profile, vector = new_user_profile(settings, args.new_user)
        rec = recommend(settings, filters, vector=vector)
        rec.user_id = profile["user_id"]
        line = rec.to_json()
        if wants_why:
            from recsys import explain

            whys = explain.explain(
                settings, rec.results, user_vector=vector, profile=profile,
                model=serving_model(settings),
            )  # fmt: skip
            _attach(line, whys)
        lines.append(line)
    else:
        for user_id in args.user_id:
            rec = recommend(settings, filters, user_id=user_id)
            line = rec.to_json()
            if wants_why:
                from recsys import explain

                model = model or serving_model(settings)
                _attach(line, explain.for_user(settings, rec.results, user_id, model))
            lines.append(line)
    # Everything computed before anything is written: an error leaves stdout empty.
    for line in lines:
        sys.stdout.write(json.dumps(line) + "\n")
    return 0
