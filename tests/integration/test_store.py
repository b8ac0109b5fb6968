"""Versioned loads: verify + alias swap, the lock, failed and interrupted loads."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import numpy as np
import pandas as pd
import pytest

from recsys.data.sources import load_restaurants
from recsys.data.users import generate_users
from recsys.errors import BusyError, RecsysError
from recsys.progress import Progress
from recsys.serving import index, keys

DIM = 128


def _unit(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def tables(settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_restaurants(settings).frame, generate_users(30, seed=0)


def _publish(settings, tables, seed=0, model="m1", **kw) -> str:
    rest, users = tables
    return index.publish(settings, rest, _unit(len(rest), seed), users, _unit(len(users), seed + 1),
                         {users.user_id[0]: list(rest.id[:3])}, model, **kw)  # fmt: skip


def _index_names(settings, redis_client) -> set[str]:
    return {n.decode() for n in redis_client.execute_command("FT._LIST")
            if n.decode().startswith(settings.namespace + ":")}  # fmt: skip


def test_load_records_model_version_and_switches_alias(settings, tables, redis_client) -> None:
    events: list[Progress] = []
    assert _publish(settings, tables, progress=events.append) == "1"
    live = index.live_info(settings)
    assert live["model_version"] == "m1" and live["restaurants"] == len(tables[0])
    assert live["users"] == 30 and live["index"] == keys.index(settings, 1)
    info = redis_client.ft(keys.alias(settings)).info()
    assert info["index_name"] in (live["index"], live["index"].encode())
    assert any(e.stage == "index" and "restaurants" in e.message for e in events)
    assert _publish(settings, tables, seed=5, model="m2") == "2"
    assert _index_names(settings, redis_client) == {keys.index(settings, 2)}
    assert not list(redis_client.scan_iter(match=f"{keys.user_prefix(settings, 1)}:*"))
    user = index.get_user(settings, str(tables[1].user_id[0]))
    assert user["visited"] == sorted(tables[0].id[:3]) and len(user["embedding"]) == DIM


def test_second_loader_is_told_who_holds_the_lock(settings, tables) -> None:
    with (
        index.load_lock(settings, what="retrain", owner="UI session abc"),
        pytest.raises(RecsysError) as caught,
    ):
        _publish(settings, tables)
    message = str(caught.value)
    assert message.startswith("a retrain started by UI session abc at ")
    assert "is running" in message
    _publish(settings, tables)  # released afterwards


def test_failed_load_leaves_previous_version_serving(settings, tables, redis_client) -> None:
    _publish(settings, tables)
    rest, users = tables
    bad = _unit(len(rest), 3)
    bad[len(rest) // 2, 0] = np.nan
    with pytest.raises(RecsysError, match="finite"):
        index.publish(settings, rest, bad, users, _unit(len(users), 1), {}, "broken")
    assert index.live_info(settings)["model_version"] == "m1"
    assert _index_names(settings, redis_client) == {keys.index(settings, 1)}
    assert not list(redis_client.scan_iter(match=f"{keys.restaurant_prefix(settings, 2)}:*"))
    assert index.lock_holder(settings) is None


def test_interrupted_load_cleans_partial_keys(settings, tables, redis_client) -> None:
    _publish(settings, tables)

    def interrupt(event: Progress) -> None:
        if "users" in event.message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _publish(settings, tables, model="m2", progress=interrupt)
    assert index.live_info(settings)["version"] == 1
    for prefix in (keys.restaurant_prefix(settings, 2), keys.user_prefix(settings, 2)):
        assert not list(redis_client.scan_iter(match=f"{prefix}:*"))


def test_leftovers_of_a_killed_load_are_removed_by_the_next(settings, tables, redis_client) -> None:
    _publish(settings, tables)
    # What a `kill -9` mid-load leaves behind: an index and keys of a version never live.
    index.search_index(settings, 7).create()
    redis_client.json().set(f"{keys.user_prefix(settings, 7)}:x", "$", {"user_id": "x"})
    _publish(settings, tables)
    assert _index_names(settings, redis_client) == {keys.index(settings, 2)}
    assert not list(redis_client.scan_iter(match=f"{keys.user_prefix(settings, 7)}:*"))


def test_wrong_embedding_shape_is_refused_before_loading(settings, tables) -> None:
    rest, users = tables
    with pytest.raises(RecsysError, match=r"expected \(\d+, 128\)"):
        index.publish(settings, rest, _unit(len(rest), 0)[:, :64], users, _unit(30, 1), {}, "m")
    assert index.live_info(settings) is None


def test_schema_has_the_filter_tags_and_the_model_dimension() -> None:
    schema = index.schema_for("x", "y", algorithm="hnsw")
    names = set(schema.field_names)
    assert {"open", "cells", "location", "cuisines", "price", "rating"} <= names
    assert not [n for n in names if "_open_" in n or "_close_" in n]
    assert schema.fields["embedding"].attrs.dims == DIM
    assert schema.fields["embedding"].attrs.algorithm.value.lower() == "hnsw"
    with pytest.raises(RecsysError, match="'ivf' is not 'flat' or 'hnsw'"):
        index.schema_for("x", "y", algorithm="ivf")


def test_live_pointer_carries_what_the_caller_said_about_the_model(settings, tables) -> None:
    info = {"created": "2026-11-28T10:00:00+00:00", "metrics": {"val_recall@10": 0.61}}
    _publish(settings, tables, model_info=info)
    assert index.live_info(settings)["model"] == info
    _publish(settings, tables, seed=3, model="m2")
    assert index.live_info(settings)["model"] == {}  # never another model's numbers


def _hold_lock(redis_client, settings, host: str, pid: int) -> None:
    holder = {"owner": f"{host} pid {pid}", "what": "retrain", "started": "2026-01-01T10:00:00",
              "host": host, "pid": pid, "nonce": "x"}  # fmt: skip
    redis_client.set(keys.lock(settings), json.dumps(holder), px=60_000)


def test_a_lock_left_by_a_dead_process_of_this_host_is_taken_over(settings, redis_client) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process
    _hold_lock(redis_client, settings, socket.gethostname(), gone.pid)
    events: list[Progress] = []
    with index.load_lock(settings, what="load", progress=events.append):
        assert json.loads(redis_client.get(keys.lock(settings)))["pid"] == os.getpid()
    assert any("took over the lock of retrain" in e.message for e in events)
    assert index.lock_holder(settings) is None


@pytest.mark.parametrize("where", ["alive here", "another host"])
def test_a_lock_of_a_live_or_remote_holder_is_respected(settings, redis_client, where) -> None:
    alive = subprocess.Popen(["sleep", "30"])
    try:
        host = socket.gethostname() if where == "alive here" else "elsewhere.example"
        _hold_lock(redis_client, settings, host, alive.pid)
        busy = pytest.raises(BusyError, match=f"retrain started by {host} pid {alive.pid}")
        with busy, index.load_lock(settings):
            pass
        assert json.loads(redis_client.get(keys.lock(settings)))["pid"] == alive.pid
    finally:
        alive.kill()
        alive.wait()


def test_reading_some_fields_gives_those_of_every_document(settings, tables, redis_client):
    """`iter_documents(..., fields)` (a JSONPath union per batch) gives what the whole
    documents hold for those fields, also for a document that lacks one of them."""
    _publish(settings, tables)
    fields = ("id", "name", "lat", "locality", "cuisines")
    whole = list(index.iter_documents(settings, "restaurants"))
    some = list(index.iter_documents(settings, "restaurants", fields))
    assert some == [{f: d.get(f) for f in fields} for d in whole]
    assert len(some) == len(tables[0])
    key = keys.restaurant(settings, 1, whole[1]["id"])
    redis_client.json().delete(key, "$.locality")
    again = list(index.iter_documents(settings, "restaurants", fields))
    assert again[1] == {**some[1], "locality": None}
    assert again[0] == some[0] and again[2:] == some[2:]
    for bad in (("name", "x']"), (), "name"):
        with pytest.raises(ValueError, match="identifiers"):
            list(index.iter_documents(settings, "restaurants", bad))


def test_a_sample_of_documents_is_spread_over_the_key_order(settings, tables):
    _publish(settings, tables)
    every = [d["id"] for d in index.iter_documents(settings, "restaurants", ("id",))]
    sample = [d["id"] for d in index.iter_documents(settings, "restaurants", ("id",), most=5)]
    assert len(sample) == 5 and sample[0] == every[0] and sample[-1] == every[-1]
    assert sample == sorted(set(sample), key=every.index)  # distinct, in key order
    assert len(list(index.iter_documents(settings, "users", most=1000))) == 30
    with pytest.raises(ValueError, match="most"):
        list(index.iter_documents(settings, "users", most=0))
