"""Redis as feature store: versioned restaurant index + user documents, atomic swap, lock.

Layout under the namespace `ns` (see docs/architecture.md):

- `{ns}:restaurants:v{N}` – one RedisVL index per load, over JSON keys
  `{ns}:restaurant:v{N}:{id}`; the alias `{ns}:restaurants` names the live one.
- `{ns}:user:v{N}:{user_id}` – JSON: profile, `embedding`, `visited` (training ids).
- `{ns}:live` – hash: version, index, model_version, counts, cuisines, load_id, loaded_at.
- `{ns}:version` – counter for N; `{ns}:lock` – who is loading right now.
- `{ns}:added:restaurants`, `{ns}:added:users` – hashes id -> JSON record of what was
  added through the app (cold start); every later load embeds them again, so a
  retrain never loses them.

A load never touches the live version: it writes version N+1, verifies it, then
switches the alias and the live pointer in one MULTI, and only then drops N. This
module must not import PyTorch (the recommend path imports it).
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import redis
import yaml
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery
from redisvl.schema import IndexSchema

from recsys import hours, limits
from recsys.config import EMBEDDING_DIM, TIMEZONE, Settings
from recsys.errors import RecsysError
from recsys.progress import Progress, ProgressFn, no_progress

if TYPE_CHECKING:
    import pandas as pd

BATCH_SIZE = 500
LOCK_TTL_S = 60.0
INDEXING_TIMEOUT_S = 600.0
# Columns derived at load time (not copied from the restaurants table as they are).
_DERIVED = {"intervals", "hours_raw"}


# --- names -------------------------------------------------------------------------------


def alias_name(settings: Settings) -> str:
    """The alias that always names the live restaurants index."""
    return settings.key("restaurants")


def index_name(settings: Settings, version: int | str) -> str:
    return settings.key("restaurants", f"v{version}")


def restaurant_prefix(settings: Settings, version: int | str) -> str:
    return settings.key("restaurant", f"v{version}")


def user_prefix(settings: Settings, version: int | str) -> str:
    return settings.key("user", f"v{version}")


def live_key(settings: Settings) -> str:
    return settings.key("live")


# --- clients and schema ------------------------------------------------------------------

_clients: dict[str, redis.Redis] = {}
# Settings -> client: resolving the URL of the embedded server reads its files and pings
# it, which costs more than a query; the serving path must not pay that on every call.
_by_settings: dict[Settings, redis.Redis] = {}
_clients_lock = threading.Lock()


def client(settings: Settings) -> redis.Redis:
    """A cached, checked client for `settings` (connect once, not per query).

    After Redis restarted (the embedded one may come back on another port), call
    `reset_client` and then this again.
    """
    from recsys import server

    cached = _by_settings.get(settings)
    if cached is not None:
        return cached
    url = server.redis_url(settings)
    with _clients_lock:
        cached = _clients.get(url)
        if cached is None:
            cached = _clients[url] = server.connect(settings)
        _by_settings[settings] = cached
        return cached


def reset_client(settings: Settings) -> None:
    """Forget the cached client of `settings` (the next `client` call re-resolves Redis)."""
    with _clients_lock:
        cached = _by_settings.pop(settings, None)
        for url, known in list(_clients.items()):
            if known is cached:
                del _clients[url]


@lru_cache(maxsize=1)
def _schema_dict() -> dict[str, Any]:
    text = resources.files("recsys").joinpath("schema.yaml").read_text(encoding="utf-8")
    schema = yaml.safe_load(text)
    vector = next(f for f in schema["fields"] if f["type"] == "vector")
    if vector["attrs"]["dims"] != EMBEDDING_DIM:
        raise RecsysError(
            f"schema.yaml declares {vector['attrs']['dims']}-d embeddings but the model "
            f"makes {EMBEDDING_DIM}-d ones."
        )
    slots = [{"name": name, "type": "numeric"} for name in hours.slot_fields(None)]
    schema["fields"] = schema["fields"] + slots
    return schema


def schema_for(name: str, prefix: str, *, algorithm: str = "flat") -> IndexSchema:
    """The YAML schema with this index name, key prefix and vector algorithm.

    Args:
        name: the index name; prefix: the key prefix of its documents.
        algorithm: "flat" (exact, the default) or "hnsw" (approximate).
    """
    if algorithm not in ("flat", "hnsw"):
        raise RecsysError(f"vector algorithm {algorithm!r} is not 'flat' or 'hnsw'.")
    schema = json.loads(json.dumps(_schema_dict()))  # deep copy of plain data
    schema["index"].update(name=name, prefix=prefix)
    for field in schema["fields"]:
        if field["type"] == "vector":
            field["attrs"]["algorithm"] = algorithm
            if algorithm == "hnsw":
                # Generous build/search widths: recall matters more than build time here.
                # At 100k bench restaurants, recall@10 vs FLAT was 0.950 with ef_runtime
                # 100, 0.992 with 200 and 0.999 with 400 (python -m recsys bench).
                field["attrs"].update(m=16, ef_construction=200, ef_runtime=200)
    return IndexSchema.from_dict(schema)


def search_index(settings: Settings, version: int | str, *, algorithm: str = "flat") -> SearchIndex:
    """A RedisVL handle on one version's index (queries only need the name)."""
    schema = schema_for(
        index_name(settings, version), restaurant_prefix(settings, version), algorithm=algorithm
    )
    return SearchIndex(schema, redis_client=client(settings))


# --- documents ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a table cell (numpy scalars, NaN, dates, tuples)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:  # pandas NA / NaT
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def restaurant_doc(row: Mapping[str, Any], vector: Iterable[float]) -> dict[str, Any]:
    """The JSON document of one restaurant: its attributes, source hours, slots, vector."""
    doc = {k: _plain(v) for k, v in row.items() if k not in _DERIVED}
    intervals = row.get("intervals")
    doc["id"] = str(row["id"])
    doc["hours"] = _plain(row.get("hours_raw"))
    doc["intervals"] = None if intervals is None else [list(map(int, iv)) for iv in intervals]
    doc["location"] = f"{float(row['lon'])},{float(row['lat'])}"
    doc.update(hours.slot_fields(None if intervals is None else tuple(map(tuple, intervals))))
    doc["embedding"] = vector_list(vector)
    return doc


def vector_list(vector: Iterable[float]) -> list[float]:
    """`vector` as a list of EMBEDDING_DIM finite floats (RecsysError otherwise)."""
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != EMBEDDING_DIM or not np.isfinite(array).all():
        raise RecsysError(
            f"an embedding has {array.shape[0]} values (finite: {bool(np.isfinite(array).all())}); "
            f"the index needs {EMBEDDING_DIM} finite values."
        )
    return array.tolist()


def user_doc(row: Mapping[str, Any], vector: Iterable[float], visited: Iterable[str]) -> dict:
    """The JSON document of one user: profile, embedding and training visits."""
    doc = {k: _plain(v) for k, v in row.items()}
    doc["user_id"] = str(row["user_id"])
    doc["embedding"] = vector_list(vector)
    doc["visited"] = sorted({str(v) for v in visited})
    return doc


# --- the lock ----------------------------------------------------------------------------


def lock_holder(settings: Settings) -> dict[str, Any] | None:
    """Who holds the load lock (owner, what, started), or None."""
    raw = client(settings).get(settings.key("lock"))
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"owner": raw.decode(errors="replace"), "what": "load", "started": ""}


def default_owner() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


@contextmanager
def load_lock(
    settings: Settings, *, what: str = "load", owner: str | None = None
) -> Iterator[None]:
    """Hold the namespace's load lock (renewed in the background) for a load or retrain.

    Raises:
        RecsysError: someone else holds it; the message says who and since when.
    """
    started = datetime.now(TIMEZONE)
    token = json.dumps(
        {
            "owner": owner or default_owner(),
            "what": what,
            "started": started.isoformat(timespec="seconds"),
            "nonce": uuid.uuid4().hex,
        }
    )
    lock = client(settings).lock(
        settings.key("lock"), timeout=LOCK_TTL_S, thread_local=False, blocking=False
    )
    if not lock.acquire(token=token):
        raise RecsysError(_busy_message(lock_holder(settings)))
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, stop), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        # It may have expired while we were stalled; then there is nothing to release.
        with suppress(redis.exceptions.LockError):
            lock.release()


def _renew(lock: redis.lock.Lock, stop: threading.Event) -> None:
    # Renew well before expiry so a long training never loses the lock while alive.
    while not stop.wait(LOCK_TTL_S / 3):
        try:
            lock.reacquire()
        except (redis.exceptions.LockError, redis.RedisError):
            return


def _busy_message(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another load was running a moment ago; try again."
    when = holder.get("started", "")
    with suppress(TypeError, ValueError):
        when = datetime.fromisoformat(when).astimezone(TIMEZONE).strftime("%H:%M")
    return (
        f"a {holder.get('what', 'load')} started by {holder.get('owner', 'someone')} at "
        f"{when} is running; try again when it has finished."
    )


# --- live pointer ------------------------------------------------------------------------


def live_info(settings: Settings) -> dict[str, Any] | None:
    """The live version (version, index, model_version, model, counts, cuisines, loaded_at).

    `model` is what `publish` was told about the model (created, metrics), or {}.
    """
    raw = client(settings).hgetall(live_key(settings))
    if not raw:
        return None
    info = {k.decode(): v.decode() for k, v in raw.items()}
    for field in ("version", "restaurants", "users"):
        info[field] = int(info[field])
    info["cuisines"] = json.loads(info.get("cuisines", "[]"))
    info["algorithm"] = info.get("algorithm", "flat")
    info["model"] = json.loads(info.get("model", "{}"))
    return info


def added_key(settings: Settings, kind: str) -> str:
    """The hash of records added at run time (`kind` = "restaurants" or "users")."""
    return settings.key("added", kind)


def added_records(settings: Settings, kind: str) -> list[dict[str, Any]]:
    """Records added through `add_restaurant` / `add_user`, in id order."""
    raw = client(settings).hgetall(added_key(settings, kind))
    return [json.loads(raw[k]) for k in sorted(raw)]


def require_live(settings: Settings) -> dict[str, Any]:
    info = live_info(settings)
    if info is None:
        raise RecsysError(
            f"no restaurants are loaded in namespace {settings.namespace!r}: "
            "run `python -m recsys prepare` first."
        )
    return info


# --- publishing a new version ------------------------------------------------------------


def publish(
    settings: Settings,
    restaurants: pd.DataFrame,
    restaurant_vectors: np.ndarray,
    users: pd.DataFrame,
    user_vectors: np.ndarray,
    visited: Mapping[str, Iterable[str]],
    model_version: str,
    *,
    algorithm: str = "flat",
    progress: ProgressFn | None = None,
    owner: str | None = None,
    locked: bool = False,
    model_info: Mapping[str, Any] | None = None,
) -> str:
    """Load a complete new version, verify it, switch the alias to it, drop the old one.

    Args:
        restaurants / restaurant_vectors: the restaurants table and its embeddings (row i).
        users / user_vectors: the users table and its embeddings (row i).
        visited: user_id -> restaurant ids the user visited in training.
        model_version: the checkpoint version that made the embeddings (kept in Redis).
        algorithm: "flat" (exact) or "hnsw".
        locked: the caller already holds `load_lock` (e.g. a retrain).
        model_info: what to show about the model (e.g. created, metrics), kept in the
            live pointer so status displays need neither the checkpoint nor PyTorch.

    Returns:
        The new version number, as a string.

    Raises:
        RecsysError: bad inputs, another load running, or a failed verification; the
            previous version keeps serving in every case.
    """
    if not locked:
        with load_lock(settings, what="load", owner=owner):
            return publish(
                settings, restaurants, restaurant_vectors, users, user_vectors, visited,
                model_version, algorithm=algorithm, progress=progress, locked=True,
                model_info=model_info,
            )  # fmt: skip
    _check_lengths(restaurants, restaurant_vectors, "restaurants")
    _check_lengths(users, user_vectors, "users")
    report = progress or no_progress
    previous = live_info(settings)
    drop_stale_versions(settings, keep=previous["version"] if previous else None)
    version = int(client(settings).incr(settings.key("version")))
    try:
        index = search_index(settings, version, algorithm=algorithm)
        index.create(overwrite=False)
        _load_restaurants(index, restaurants, restaurant_vectors, report)
        _load_users(settings, version, users, user_vectors, visited, report)
        _verify(index, len(restaurants), restaurant_vectors, report)
        _switch(settings, version, restaurants, len(users), model_version, algorithm,
                model_info or {})  # fmt: skip
    except BaseException:
        # Interrupted or failed: the previous version is untouched; remove our partial one.
        drop_version(settings, version)
        raise
    if previous:
        drop_version(settings, previous["version"])
    report(Progress("index", 1, 1, f"version {version} is live"))
    return str(version)


def _check_lengths(frame: pd.DataFrame, vectors: np.ndarray, what: str) -> None:
    shape = np.shape(vectors)
    if len(shape) != 2 or shape[0] != len(frame) or shape[1] != EMBEDDING_DIM:
        raise RecsysError(
            f"{what}: {len(frame)} rows but embeddings of shape {shape}; "
            f"expected ({len(frame)}, {EMBEDDING_DIM})."
        )
    if len(frame) == 0:
        raise RecsysError(f"{what}: nothing to load (the table is empty).")


def _load_restaurants(
    index: SearchIndex, frame: pd.DataFrame, vectors: np.ndarray, report: ProgressFn
) -> None:
    rows = frame.to_dict(orient="records")
    total = len(rows)
    for start in range(0, total, BATCH_SIZE):
        batch = [
            restaurant_doc(row, vectors[start + i])
            for i, row in enumerate(rows[start : start + BATCH_SIZE])
        ]
        index.load(batch, id_field="id", batch_size=BATCH_SIZE)
        done = min(start + BATCH_SIZE, total)
        report(Progress("index", done, total, f"restaurants {done}/{total}"))


def _load_users(
    settings: Settings,
    version: int,
    frame: pd.DataFrame,
    vectors: np.ndarray,
    visited: Mapping[str, Iterable[str]],
    report: ProgressFn,
) -> None:
    rows = frame.to_dict(orient="records")
    prefix = user_prefix(settings, version)
    total = len(rows)
    for start in range(0, total, BATCH_SIZE):
        pipe = client(settings).pipeline(transaction=False)
        for i, row in enumerate(rows[start : start + BATCH_SIZE]):
            doc = user_doc(row, vectors[start + i], visited.get(str(row["user_id"]), ()))
            pipe.json().set(f"{prefix}:{doc['user_id']}", "$", doc)
        pipe.execute()
        done = min(start + BATCH_SIZE, total)
        report(Progress("index", done, total, f"users {done}/{total}"))


def _verify(index: SearchIndex, expected: int, vectors: np.ndarray, report: ProgressFn) -> None:
    """Indexing finished, every document indexed, and a KNN probe finds its own vector."""
    deadline = time.monotonic() + INDEXING_TIMEOUT_S
    while True:
        info = index.info()
        if int(info["indexing"]) == 0 and float(info["percent_indexed"]) >= 1.0:
            break
        if time.monotonic() > deadline:
            raise RecsysError(f"index {index.name} did not finish indexing in time.")
        report(Progress("verify", float(info["percent_indexed"]), 1.0, "indexing"))
        time.sleep(0.05)
    count, failures = int(info["num_docs"]), int(info["hash_indexing_failures"])
    if count != expected or failures:
        raise RecsysError(
            f"index {index.name} holds {count} of {expected} restaurants "
            f"({failures} failed to index); the previous version keeps serving."
        )
    probe = VectorQuery(vectors[0].astype(np.float32).tolist(), "embedding", num_results=1)
    hits = index.query(probe)
    if not hits or 1.0 - float(hits[0]["vector_distance"]) < 0.999:
        raise RecsysError(f"index {index.name} failed its probe query; nothing was switched.")
    report(Progress("verify", 1, 1, f"{count} restaurants indexed"))


def _switch(
    settings: Settings,
    version: int,
    restaurants: pd.DataFrame,
    n_users: int,
    model_version: str,
    algorithm: str,
    model_info: Mapping[str, Any],
) -> None:
    """Point the alias and the live pointer at `version` in one transaction."""
    cuisines = sorted({str(c) for cs in restaurants["cuisines"] for c in (cs or ())})
    live = {
        "version": version,
        "index": index_name(settings, version),
        "model_version": str(model_version),
        "restaurants": len(restaurants),
        "users": n_users,
        "cuisines": json.dumps(cuisines),
        "algorithm": algorithm,
        "model": json.dumps(_plain(dict(model_info))),
        # Unique per load: version numbers restart when a namespace is wiped, so caches
        # of served data (query.py) key on this too.
        "load_id": uuid.uuid4().hex,
        "loaded_at": datetime.now(TIMEZONE).isoformat(timespec="seconds"),
    }
    pipe = client(settings).pipeline(transaction=True)
    pipe.execute_command("FT.ALIASUPDATE", alias_name(settings), live["index"])
    pipe.delete(live_key(settings))
    pipe.hset(live_key(settings), mapping=live)
    pipe.execute()


def drop_version(settings: Settings, version: int | str) -> None:
    """Drop one version's index and every key it owns (a no-op if already gone)."""
    conn = client(settings)
    with suppress(redis.ResponseError):  # never created, or already dropped
        conn.execute_command("FT.DROPINDEX", index_name(settings, version), "DD")
    for prefix in (restaurant_prefix(settings, version), user_prefix(settings, version)):
        _unlink_matching(conn, f"{prefix}:*")


def _unlink_matching(conn: redis.Redis, pattern: str) -> None:
    batch: list[bytes] = []
    for key in conn.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            conn.unlink(*batch)
            batch = []
    if batch:
        conn.unlink(*batch)


def drop_stale_versions(settings: Settings, *, keep: int | None) -> None:
    """Remove leftovers of loads killed before they could clean up (lock held)."""
    conn = client(settings)
    stale: set[int] = set()
    for name in conn.execute_command("FT._LIST"):
        name = name.decode() if isinstance(name, bytes) else name
        head = index_name(settings, "")
        if name.startswith(head) and name[len(head) :].isdigit():
            stale.add(int(name[len(head) :]))
    for prefix in (restaurant_prefix(settings, ""), user_prefix(settings, "")):
        for key in conn.scan_iter(match=f"{prefix}*", count=1000):
            number = key.decode()[len(prefix) :].split(":", 1)[0]
            if number.isdigit():
                stale.add(int(number))
    for version in stale - {keep}:
        drop_version(settings, version)


# --- reading and adding ------------------------------------------------------------------


def get_user(settings: Settings, user_id: str) -> dict[str, Any]:
    """The live user document (profile, `embedding`, `visited`).

    Raises:
        RecsysError: no live version, or no such user in it.
    """
    live = require_live(settings)
    doc = client(settings).json().get(f"{user_prefix(settings, live['version'])}:{user_id}")
    if doc is None:
        raise RecsysError(
            f"user {user_id!r} is not among the {live['users']} users of the live model."
        )
    return doc


def iter_documents(settings: Settings, kind: str) -> Iterator[dict[str, Any]]:
    """Every live restaurant or user document, as stored (sorted by key per batch)."""
    live = require_live(settings)
    prefix = {"restaurants": restaurant_prefix, "users": user_prefix}[kind]
    conn = client(settings)
    keys = sorted(conn.scan_iter(match=f"{prefix(settings, live['version'])}:*", count=1000))
    for start in range(0, len(keys), BATCH_SIZE):
        batch = keys[start : start + BATCH_SIZE]
        for doc in conn.json().mget(batch, "$"):
            if doc:  # deleted between the scan and the read
                yield doc[0]


def add_restaurant(settings: Settings, record: Mapping[str, Any], model: Any) -> dict[str, Any]:
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

    from recsys import data

    row = data.validate_record(dict(record))

    def build(live: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        doc = restaurant_doc(row, np.asarray(model.embed_restaurants(pd.DataFrame([row])))[0])
        cuisines = sorted(set(live["cuisines"]) | set(doc.get("cuisines") or ()))
        return doc, {"cuisines": json.dumps(cuisines)}

    return _add_live(settings, "restaurants", row["id"], dict(record), model, build)


def add_user(settings: Settings, profile: Mapping[str, Any], model: Any) -> dict[str, Any]:
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

    from recsys import users

    given = dict(profile)
    given.setdefault("user_id", f"new-{uuid.uuid4().hex[:8]}")
    row = users.validate_profile(given, where=f"user {limits.echo(given['user_id'])}")

    def build(_: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        vector = np.asarray(model.embed_users(pd.DataFrame([row])))[0]
        return user_doc(row, vector, ()), {}

    return _add_live(settings, "users", row["user_id"], _plain(row), model, build)


def _add_live(
    settings: Settings,
    kind: str,
    item_id: str,
    record: Mapping[str, Any],
    model: Any,
    build: Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """Serve one new restaurant or user at once and remember its record for later loads.

    `build(live)` embeds it and returns (document, extra fields of the live pointer).
    """
    prefix = {"restaurants": restaurant_prefix, "users": user_prefix}[kind]
    with load_lock(settings, what=f"{kind[:-1]} addition"):
        live = require_live(settings)
        _require_serving_model(live, model)
        key = f"{prefix(settings, live['version'])}:{item_id}"
        conn = client(settings)
        if conn.exists(key):
            raise RecsysError(f"{kind[:-1]} id {item_id!r} is already served.")
        doc, live_fields = build(live)
        pipe = conn.pipeline(transaction=True)
        pipe.json().set(key, "$", doc)
        pipe.hincrby(live_key(settings), kind, 1)
        if live_fields:
            pipe.hset(live_key(settings), mapping=live_fields)
        pipe.hset(added_key(settings, kind), item_id, json.dumps(dict(record)))
        pipe.execute()
    return {k: v for k, v in doc.items() if k != "embedding"}


def _require_serving_model(live: Mapping[str, Any], model: Any) -> None:
    if str(getattr(model, "version", "")) != live["model_version"]:
        raise RecsysError(
            f"the model {getattr(model, 'version', '?')!r} is not the one serving "
            f"({live['model_version']!r}); retrain or reload first."
        )
