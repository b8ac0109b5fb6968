"""The Redis layout's one owner: key names, their parsing, and the live pointer."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from recsys.config import Settings
from recsys.serving import keys

S = Settings(data_dir=".", namespace="ns")


def test_every_name_is_under_the_namespace() -> None:
    assert keys.alias(S) == "ns:restaurants"
    assert keys.index(S, 7) == "ns:restaurants:v7"
    assert keys.restaurant(S, 7, "r1") == "ns:restaurant:v7:r1"
    assert keys.user(S, 7, "u1") == "ns:user:v7:u1"
    assert keys.document(S, "users", 7, "u1") == keys.user(S, 7, "u1")
    assert keys.live(S) == "{ns}:live" and keys.lock(S) == "{ns}:lock"
    assert keys.version_counter(S) == "{ns}:version"
    assert keys.added(S, "users") == "{ns}:added:users"
    assert keys.namespace_patterns("ns") == ("ns:*", "{ns}:*")
    with pytest.raises(ValueError):
        keys.added(S, "secrets")


@pytest.mark.parametrize(
    ("name", "version"),
    [("ns:restaurants:v12", 12), ("ns:restaurants", None), ("ns:restaurants:vx", None),
     ("other:restaurants:v3", None), ("ns:restaurants:v3:extra", None)],
)  # fmt: skip
def test_index_version_parses_only_our_index_names(name: str, version: int | None) -> None:
    assert keys.index_version(S, name) == version


def test_version_of_document() -> None:
    assert keys.version_of_document(S, "restaurants", "ns:restaurant:v4:a:b") == 4
    assert keys.version_of_document(S, "users", "ns:user:v9:u") == 9
    assert keys.version_of_document(S, "users", "ns:restaurant:v9:u") is None
    assert keys.version_of_document(S, "users", "ns:user:vx:u") is None


@pytest.mark.parametrize("rid", ["r1", "a:b", "café 7"])
def test_restaurant_id_inverts_restaurant_for_str_and_bytes_keys(rid: str) -> None:
    key = keys.restaurant(S, 7, rid)
    assert keys.restaurant_id(S, 7, key) == rid
    assert keys.restaurant_id(S, "7", key.encode()) == rid


@pytest.mark.parametrize(
    "key", ["ns:restaurant:v8:r1", "ns:user:v7:r1", "other:restaurant:v7:r1", "ns:restaurant:v7:",
            b"ns:restaurant:v71:r1"],
)  # fmt: skip
def test_restaurant_id_refuses_a_key_of_another_load_or_kind(key: str | bytes) -> None:
    with pytest.raises(ValueError, match="not a restaurant key of load 7"):
        keys.restaurant_id(S, 7, key)


def test_live_pointer_round_trips_through_str_and_bytes_replies() -> None:
    pointer = keys.LivePointer(
        version=3, index="ns:restaurants:v3", model_version="m-1", restaurants=220, users=1000,
        cuisines=("Thai", "Pub Food"), algorithm="hnsw", load_id="abc", loaded_at="t",
        model={"metrics": {"val_recall@10": 0.5}},
    )  # fmt: skip
    stored = {k: str(v) for k, v in pointer.to_hash().items()}
    assert keys.LivePointer.parse(stored) == pointer
    assert keys.LivePointer.parse({k.encode(): v.encode() for k, v in stored.items()}) == pointer
    assert pointer.stamp == ("3", "abc")
    assert keys.LivePointer.parse({}) is None
    assert pointer.as_dict()["cuisines"] == ["Thai", "Pub Food"]


def test_keys_written_in_one_transaction_hash_to_one_cluster_slot() -> None:
    # Every MULTI touches only control keys (index.publish's swap: the live pointer;
    # coldstart's additions: live pointer + added records), so on a sharded Redis each
    # transaction's keys are in one slot.
    groups = {
        "swap": [keys.live(S)],
        "add restaurant": [keys.live(S), keys.added(S, "restaurants")],
        "add user": [keys.live(S), keys.added(S, "users")],
        "all control keys": [keys.live(S), keys.lock(S), keys.version_counter(S),
                             keys.added(S, "restaurants"), keys.added(S, "users")],
    }  # fmt: skip
    for name, group in groups.items():
        assert len({key_slot(k.encode()) for k in group}) == 1, name


def test_documents_are_spread_over_slots_not_pinned_with_the_control_keys() -> None:
    slots = {key_slot(keys.restaurant(S, 1, f"r{i}").encode()) for i in range(200)}
    assert len(slots) > 150
