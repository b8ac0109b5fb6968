"""Shared resources (cached once per process) and the error guard every page uses.

Failures are never cached: a cached function that raises stores nothing, so the
next rerun tries again and the page recovers by itself when Redis is back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import redis
import streamlit as st

from recsys.config import Settings
from recsys.errors import RecsysError
from recsys.serving import server

if TYPE_CHECKING:
    from recsys.model.train import TrainedModel

NO_MODEL = (
    "There is no trained model yet: run `python -m recsys prepare` in a terminal, "
    "or press **Retrain model** in the sidebar."
)


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Show user-facing problems as a message with what to do, then stop the page."""
    try:
        yield
    except RecsysError as exc:
        st.error(str(exc), icon="⚠️")
        st.stop()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        st.error(
            f"Redis is not reachable ({exc.__class__.__name__}): start it with "
            "`python -m recsys redis start` or check REDIS_URL; this page retries on reload.",
            icon="🔌",
        )
        st.stop()


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """Settings from the environment (validated once per process)."""
    return Settings.from_env()


@st.cache_resource(show_spinner="Connecting to Redis…")
def _client() -> redis.Redis:
    return server.connect(settings())


def redis_client() -> redis.Redis:
    """A checked Redis client; raises RecsysError/ConnectionError while it is down."""
    client = _client()
    client.ping()  # a cached client must still answer, or the guard says so
    return client


# The sidebar shows the Redis status on every rerun, but it changes rarely and costs two
# new connections (a PING with a short timeout, MODULE LIST, INFO): a map click paid
# ~50 ms for it. A Redis that goes away shows at once in the page's own queries.
REDIS_STATUS_TTL_S = 10


@st.cache_data(ttl=REDIS_STATUS_TTL_S, show_spinner=False)
def redis_status() -> dict[str, Any]:
    """`server.status` of the Redis in use, looked at again after `REDIS_STATUS_TTL_S`."""
    return server.status(settings())


def source() -> tuple[str, str]:
    """(source, plain description) of the restaurants being served, as recorded in Redis
    when they were loaded (no file is read and no download is tried from the UI)."""
    served = live().get("model") or {}
    return (
        served.get("restaurants_source") or "unknown",
        served.get("restaurants_description") or "Reload with `python -m recsys prepare`.",
    )


# What the pages use of each live table (None: every field but the vector). A restaurant
# document holds much more (hours, the open-at, map-cell and price tokens): at 20,000
# places the whole table was 27 MB, and copying it out of a data cache cost ~1.5 s on
# every run and map click.
_TABLE_FIELDS: dict[str, tuple[str, ...] | None] = {
    "restaurants": (
        *("id", "name", "address", "locality", "lat", "lon"),
        *("cuisines", "price", "rating"),
    ),
    "users": None,
}


@st.cache_resource(show_spinner="Reading the live index…", max_entries=4)
def _live_table(kind: str, version: int, count: int) -> pd.DataFrame:
    """One live table, shared by every session and run: a resource cache hands out the
    same frame each time (no copy), so no caller may change it in place (`assign`,
    `sort_values`, `map` return new frames). Keyed by live version and count, so a
    retrain or an added restaurant elsewhere (another session, the CLI) shows up
    without clearing anything by hand."""
    from recsys.serving import index

    fields = _TABLE_FIELDS[kind]
    docs = index.iter_documents(settings(), kind, fields)
    if fields is None:
        frame = pd.DataFrame([{k: v for k, v in d.items() if k != "embedding"} for d in docs])
    else:
        frame = pd.DataFrame(list(docs), columns=list(fields))
    if kind == "users":  # the picker's order, sorted once per load
        frame = frame.sort_values("name", kind="stable", ignore_index=True)
    return frame


def live() -> dict[str, Any]:
    """What the live index serves (version, counts, cuisines); RecsysError before prepare."""
    from recsys.serving import index

    return index.require_live(settings())


def restaurants(info: dict[str, Any]) -> pd.DataFrame:
    """The restaurants served now (including ones added in the app), without vectors and
    index tokens (`_TABLE_FIELDS`). Shared: do not change it in place."""
    return _live_table("restaurants", info["version"], info["restaurants"])


def restaurant_names(info: dict[str, Any]) -> dict[str, str]:
    """Restaurant id -> name of the restaurants served now. Shared: do not change it."""
    return _names(info["version"], info["restaurants"])


@st.cache_resource(show_spinner=False, max_entries=4)
def _names(version: int, count: int) -> dict[str, str]:
    frame = _live_table("restaurants", version, count)
    return dict(zip(frame["id"].astype(str), frame["name"].astype(str), strict=True))


def users(info: dict[str, Any]) -> pd.DataFrame:
    """The users of the live model, sorted by name. Shared: do not change it in place."""
    return _live_table("users", info["version"], info["users"])


@st.cache_data(show_spinner=False, max_entries=64)
def taste(user_id: str, version: int, restaurants: int, marks: tuple = ()) -> list[Any]:
    """The user's match score for every place (cached per user, live version, count of
    places and the user's feedback marks, so an added restaurant or a mark shows up)."""
    from recsys.serving import taste as whose

    return whose.scores(settings(), user_id)


@st.cache_data(show_spinner=False, max_entries=64)
def visits(user_id: str, version: int, marks: tuple = ()) -> list[Any]:
    """The places the user visited or marked "I went here" (cached per user, live
    version and feedback marks)."""
    from recsys.serving import taste as whose

    return whose.visits(settings(), user_id)


def explained(user_id: str, rec: Any) -> list[dict[str, Any]]:
    """`rec.results`, each with a one-line "why" and the full explanation ("explanation")."""
    from recsys import explain

    whys = explain.for_user(settings(), rec.results, user_id, require_model())
    return [
        {**result, "why": explain.summary(why), "explanation": why}
        for result, why in zip(rec.results, whys, strict=True)
    ]


def user_profile(user_id: str) -> dict[str, Any]:
    """One user's live document: profile fields and `visited` (read fresh each time)."""
    from recsys.serving import index

    return index.get_user(settings(), user_id)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def _saved_model(version: str) -> TrainedModel | None:
    from recsys.model import saved, train

    path = saved.checkpoint_path(settings(), version)
    return train.load_checkpoint(path) if path.exists() else None


def model() -> TrainedModel | None:
    """The saved model serving the live index (`TrainedModel`), or None before the first.

    Keyed by the live model version, so a retrain in another session or the CLI is
    picked up without clearing anything by hand.
    """
    from recsys.serving import index

    live = index.live_info(settings())
    return None if live is None else _saved_model(live["model_version"])


def clear() -> None:
    """Forget everything derived from the model and data (after a retrain or a new record)."""
    _live_table.clear()
    _names.clear()
    _saved_model.clear()
    taste.clear()
    visits.clear()


def require_model() -> TrainedModel:
    """The current model, or an info box saying how to make one (and stop)."""
    trained = model()
    if trained is None:
        st.info(NO_MODEL, icon="🧠")
        st.stop()
    return trained


@st.cache_data(show_spinner=False)
def _evaluation(path: str, mtime: float) -> dict[str, Any]:
    import json

    return json.loads(Path(path).read_text())


def evaluation() -> dict[str, Any] | None:
    """The served model's evaluation ({"segments": ...}), or None before the first one."""
    from recsys.model import saved
    from recsys.serving import index

    live = index.live_info(settings())
    if live is None:
        return None
    path = saved.evaluation_path(settings(), live["model_version"])
    return _evaluation(str(path), path.stat().st_mtime) if path.exists() else None


@st.cache_data(show_spinner="Projecting embeddings…", max_entries=2)
def embedding_map(
    info: dict[str, Any], max_users: int = 400, max_restaurants: int = 3000
) -> pd.DataFrame:
    """2-D PCA of the live restaurant and user embeddings (x, y, kind, name, group): at
    most `max_restaurants` and `max_users` of them, spread evenly over the catalogue (a
    chart of 20,000 points says no more and is slow to read and to draw)."""
    import numpy as np
    from sklearn.decomposition import PCA

    from recsys.serving import index

    rows = []
    for kind, group, most in (
        ("restaurants", "cuisines", max_restaurants),
        ("users", "likes", max_users),
    ):
        docs = index.iter_documents(settings(), kind, ("name", group, "embedding"), most)
        for doc in docs:
            first = (doc.get(group) or ["(none)"])[0]
            rows.append((kind[:-1], doc.get("name") or "", first, doc["embedding"]))
    frame = pd.DataFrame(rows, columns=["kind", "name", "group", "embedding"])
    xy = PCA(n_components=2, random_state=0).fit_transform(np.stack(frame.pop("embedding")))
    return frame.assign(x=xy[:, 0], y=xy[:, 1])
