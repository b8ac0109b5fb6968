"""Why this place: what a recommendation has for this user, and the score split by cause.

For each result: the user's likes it satisfies, how its price sits against the user's
bracket, its rating, distance and closing time (from the result), and the match score
split into contributions of the restaurant's feature groups (cuisine, likes matched,
price, rating and reviews, location, opening hours, amenities) plus the tower's bias
and, for hybrid towers, the place's learnt ID vector.

The split is **exact** for linear restaurant towers (plain, hybrid or residual hybrid,
whichever model selection chose), with or without cross layers. With them, x below is
the crossed input (`Tower.crossed`): its value j is feature j times (1 + its learnt
interactions), so a product of features j and k is credited to j through C[j, k] and
to k through C[k, j]. With raw = W x + b and r = raw / |raw| (hybrid:
r = (raw/|raw| + id) / |raw/|raw| + id|; residual hybrid: r = [raw/|raw|; id] /
sqrt(1 + |id|^2)), the score u . r is a sum over feature columns j of
u . W[:, j] x_j times one common factor, plus the bias and ID terms; grouping the
columns gives contributions that add up to the score. For MLP towers it is a
documented approximation: leave-one-group-out (the score minus the score with that
group's encoded features set to 0, i.e. the training average for numbers and "none"
for categories), which does not add up exactly (`exact` is False then).

The user's side is the vector that was served (from Redis, or a cold-start
profile's), so the split explains the served score. Needs the serving model (PyTorch):
an opt-in (`recommend --explain`, the UI's explanations), never the click path's
recommend itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.config import Settings
from recsys.data import users as users_mod
from recsys.data.interactions import IDEAL_PRICE
from recsys.errors import ModelMismatchError, NotLoadedError
from recsys.serving import index, keys
from recsys.serving.server import client

if TYPE_CHECKING:
    from recsys.model.train import TrainedModel

# Encoded restaurant feature -> the group a person reads (see `_group`).
GROUP_OF_COLUMN = {
    "lat": "location",
    "lon": "location",
    "price": "price",
    "rating": "rating and reviews",
    "log_review_count": "rating and reviews",
    "open_late": "opening hours",
    "hours_known": "opening hours",
}
GROUP_OF_PREFIX = {
    "cuisines": "cuisine",
    "match": "likes matched",
    "price_level": "price",
    "review_rating_min": "rating and reviews",
    "review_rating_max": "rating and reviews",
    "review_rating_mean": "rating and reviews",
    "review_rating_std": "rating and reviews",
}
BIAS, LEARNT = "baseline", "this place's learnt profile"
PRICE_SLACK = 0.75  # price levels around the bracket's ideal that still count as "in range"


def _group(name: str) -> str:
    if name in GROUP_OF_COLUMN:
        return GROUP_OF_COLUMN[name]
    head = name.split(":", 1)[0].split("=", 1)[0]
    return GROUP_OF_PREFIX.get(head, "amenities")


def price_fit(price: int, bracket: str | None) -> str:
    """How a price level sits against a price bracket, in words."""
    ideal = IDEAL_PRICE.get(str(bracket))
    if ideal is None:
        return "no price bracket given"
    if abs(price - ideal) <= PRICE_SLACK:
        return f"in your {bracket} price range"
    return "pricier than you usually go" if price > ideal else "cheaper than you usually go"


def likes_satisfied(frame: pd.DataFrame, likes: Sequence[str]) -> list[list[str]]:
    """For each restaurant row, which of `likes` it satisfies: by `LIKE_RULES` for the
    built-in likes, by a cuisine that names the like for any other."""
    matrix = users_mod.like_matrix(frame)
    column = {like: j for j, like in enumerate(users_mod.LIKES)}
    out = []
    for i, cuisines in enumerate(frame["cuisines"]):
        names = " ".join(str(c).lower() for c in (cuisines or ()))
        out.append(
            [
                like
                for like in likes
                if (like in column and matrix[i, column[like]] >= 1.0)
                or (like not in column and like.lower() in names)
            ]
        )
    return out


def _frame(settings: Settings, version: int, ids: Sequence[str]) -> pd.DataFrame:
    """The restaurants-table rows of `ids`, as stored in the live index's documents."""
    docs = client(settings).json().mget([keys.restaurant(settings, version, r) for r in ids], "$")
    rows = []
    for rid, doc in zip(ids, docs, strict=True):
        if not doc:
            raise NotLoadedError(f"restaurant {rid!r} is no longer in the live index.")
        row = dict(doc[0])
        raw = row.get("intervals")
        row["intervals"] = None if raw is None else tuple(tuple(iv) for iv in raw)
        rows.append(row)
    return pd.DataFrame(rows)


def contributions(
    model: TrainedModel, frame: pd.DataFrame, user_vector: np.ndarray
) -> tuple[list[dict[str, float]], bool]:
    """Per restaurant row, the score split by group (and whether the split is exact)."""
    import torch

    tower = model.net.restaurant_tower
    names = model.encoders.restaurant.feature_names()
    groups = [_group(n) for n in names]
    x = torch.as_tensor(model.encoders.encode_restaurants(frame), dtype=torch.float32)
    u = torch.as_tensor(np.array(user_vector, dtype=np.float32))  # a writable copy
    from recsys.model.train import id_tensor

    ids = id_tensor(frame["id"], model.id_vocab.get("restaurants"))
    linear = len(tower.net) == 1 and tower.skip is None
    tower.eval()
    with torch.no_grad():
        if linear:
            return _exact(tower, x, u, ids, groups), True
        return _leave_one_out(tower, x, u, ids, groups), False


def _exact(tower: Any, x: Any, u: Any, ids: Any, groups: list[str]) -> list[dict[str, float]]:
    layer = tower.net[0]
    x = tower.crossed(x)  # cross towers: column j is feature j times its interactions
    raw = x @ layer.weight.T + layer.bias  # (n, D), or (n, D - id_dim) for a residual hybrid
    raw_norm = raw.norm(dim=-1, keepdim=True)
    scale = 1.0 / raw_norm
    id_part = None
    if tower.id_residual:
        # r = [raw / |raw|; id] / sqrt(1 + |id|^2): the ID vector has coordinates of its
        # own, so it meets only the user's last id_dim values.
        width = raw.shape[1]
        vectors = tower.residual_ids(ids, len(x))
        total = (1.0 + (vectors * vectors).sum(-1, keepdim=True)).sqrt()
        scale = scale / total
        id_part = (vectors @ u[width:]) / total[:, 0]
        u = u[:width]
    elif tower.ids is not None and ids is not None:
        vectors = tower.ids(ids)
        if tower.id_proj is not None:
            vectors = tower.id_proj(vectors)
        total = raw / raw_norm + vectors
        scale = scale / total.norm(dim=-1, keepdim=True)
        id_part = (vectors @ u) / total.norm(dim=-1)
    # u . W[:, j] x_j for every column j, times the common factor.
    per_column = (x * (layer.weight.T @ u)[None, :]) * scale
    bias = (layer.bias @ u) * scale[:, 0]
    out = []
    for i in range(len(x)):
        parts: dict[str, float] = {}
        for j, group in enumerate(groups):
            parts[group] = parts.get(group, 0.0) + float(per_column[i, j])
        parts[BIAS] = float(bias[i])
        if id_part is not None:
            parts[LEARNT] = float(id_part[i])
        out.append(parts)
    return out


def _leave_one_out(
    tower: Any, x: Any, u: Any, ids: Any, groups: list[str]
) -> list[dict[str, float]]:
    full = tower(x, ids) @ u
    out: list[dict[str, float]] = [{} for _ in range(len(x))]
    for group in dict.fromkeys(groups):
        mask = np.array([g == group for g in groups])
        without = x.clone()
        without[:, mask] = 0.0
        drop = full - tower(without, ids) @ u
        for i in range(len(x)):
            out[i][group] = float(drop[i])
    return out


def explain(
    settings: Settings,
    results: Sequence[Mapping[str, Any]],
    *,
    user_vector: Sequence[float],
    profile: Mapping[str, Any],
    model: TrainedModel,
) -> list[dict[str, Any]]:
    """One explanation per result (same order): likes satisfied, price fit, rating,
    distance, open until, and `parts` (group -> contribution, largest first).

    Args:
        results: `Recommendation.results` of the live index.
        user_vector: the vector that was served for the user; profile: their profile
            (likes, price_bracket).
        model: the model serving the live index (`coldstart.serving_model`).

    Raises:
        ModelMismatchError: `model` did not make the live index's vectors.
    """
    if not results:
        return []
    live = index.require_live(settings)
    if str(model.version) != live["model_version"]:
        raise ModelMismatchError(
            f"the model {model.version!r} is not the one serving ({live['model_version']!r})."
        )
    frame = _frame(settings, live["version"], [str(r["id"]) for r in results])
    parts, exact = contributions(model, frame, np.asarray(user_vector, dtype=np.float32))
    likes = [str(like) for like in (profile.get("likes") or [])]
    satisfied = likes_satisfied(frame, likes)
    out = []
    for result, split, liked in zip(results, parts, satisfied, strict=True):
        ordered = dict(sorted(split.items(), key=lambda kv: -abs(kv[1])))
        out.append(
            {
                "id": result["id"],
                "score": result.get("score"),
                "likes": liked,
                "price": price_fit(int(result.get("price") or 0), profile.get("price_bracket")),
                "rating": result.get("rating"),
                "distance_m": result.get("distance_m"),
                "closes_at": result.get("closes_at"),
                "parts": {k: round(v, 4) for k, v in ordered.items()},
                "exact": exact,
            }
        )
    return out


def summary(why: Mapping[str, Any], top: int = 2) -> str:
    """One line for a table cell or a popup: likes, price fit, the main contributions."""
    bits = []
    if why.get("likes"):
        bits.append("likes " + ", ".join(why["likes"]))
    bits.append(str(why.get("price", "")))
    strongest = [(k, v) for k, v in why.get("parts", {}).items() if k != BIAS][:top]
    if strongest:
        bits.append(" · ".join(f"{k} {v:+.2f}" for k, v in strongest))
    return " · ".join(b for b in bits if b)


def for_user(
    settings: Settings,
    results: Sequence[Mapping[str, Any]],
    user_id: str,
    model: TrainedModel,
) -> list[dict[str, Any]]:
    """`explain` for a known user: their profile and the vector served to them (the
    trained one moved by their app feedback, as `recommend` serves it)."""
    from recsys.serving import feedback

    live = index.require_live(settings)
    profile = index.get_user(settings, user_id)
    served = feedback.served_user(settings, live["version"], user_id)
    vector = (
        np.frombuffer(served.vector, dtype=np.float32)
        if served is not None
        else np.asarray(profile["embedding"], dtype=np.float32)
    )
    return explain(settings, results, user_vector=vector, profile=profile, model=model)
