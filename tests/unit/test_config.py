"""Settings.from_env: defaults, validation and the one-sentence messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.config import DEFAULT_NAMESPACE, Settings
from recsys.errors import RecsysError


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path("data").resolve()
    assert settings.namespace == DEFAULT_NAMESPACE
    assert settings.redis_url is None
    assert settings.restaurants_file is None


def test_values_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "RECSYS_DATA_DIR": str(tmp_path / "state"),
            "RECSYS_NAMESPACE": "demo_2-b",
            "REDIS_URL": "rediss://user:pw@example.com:6380/0",
            "RECSYS_RESTAURANTS": str(tmp_path / "r.json"),
        }
    )
    assert settings.data_dir == tmp_path / "state"
    assert settings.namespace == "demo_2-b"
    assert settings.redis_url == "rediss://user:pw@example.com:6380/0"
    assert settings.restaurants_file == tmp_path / "r.json"


def test_empty_values_mean_unset() -> None:
    settings = Settings.from_env(
        {"REDIS_URL": "", "RECSYS_NAMESPACE": "", "RECSYS_RESTAURANTS": ""}
    )
    assert settings.redis_url is None
    assert settings.namespace == DEFAULT_NAMESPACE
    assert settings.restaurants_file is None


@pytest.mark.parametrize("namespace", ["1abc", "has space", "a:b", "x" * 41, "ünï", "-lead"])
def test_bad_namespace_is_named_in_one_sentence(namespace: str) -> None:
    with pytest.raises(RecsysError) as caught:
        Settings.from_env({"RECSYS_NAMESPACE": namespace})
    message = str(caught.value)
    assert message.startswith(f"RECSYS_NAMESPACE {namespace!r} is not valid")
    assert "\n" not in message


@pytest.mark.parametrize("namespace", ["a", "t0123456789", "My_ns-2", "x" * 40])
def test_good_namespaces(namespace: str) -> None:
    assert Settings.from_env({"RECSYS_NAMESPACE": namespace}).namespace == namespace


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379", "redis:/x", "REDIS"])
def test_bad_redis_url_scheme_is_named_in_one_sentence(url: str) -> None:
    with pytest.raises(RecsysError) as caught:
        Settings.from_env({"REDIS_URL": url})
    assert str(caught.value) == (
        f"REDIS_URL {url!r} is not a Redis URL: it must start with redis://, rediss:// or unix://."
    )


@pytest.mark.parametrize(
    "url", ["redis://localhost:6379", "rediss://h:1", "unix:///var/run/redis.sock"]
)
def test_good_redis_urls(url: str) -> None:
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url


def test_key_and_path(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", namespace="ns")
    assert settings.key("restaurants", "42") == "ns:restaurants:42"
    assert settings.key() == "ns"
    assert settings.path("redis", "port") == tmp_path / "d" / "redis" / "port"
    assert (tmp_path / "d").is_dir()


def test_vector_algorithm_is_flat_by_default_and_validated() -> None:
    assert Settings.from_env({}).algorithm == "flat"
    assert Settings.from_env({"RECSYS_VECTOR_ALGORITHM": "HNSW"}).algorithm == "hnsw"
    message = r"RECSYS_VECTOR_ALGORITHM 'ivf' is not one of: flat, hnsw\."
    with pytest.raises(RecsysError, match=message):
        Settings.from_env({"RECSYS_VECTOR_ALGORITHM": "ivf"})


def test_data_dir_that_is_a_file_is_named(tmp_path: Path) -> None:
    a_file = tmp_path / "data"
    a_file.write_text("not a directory")
    with pytest.raises(RecsysError, match=r"RECSYS_DATA_DIR '.*data' is a file, not a directory\."):
        Settings.from_env({"RECSYS_DATA_DIR": str(a_file)})
    blocked = Settings(data_dir=a_file / "below")
    with pytest.raises(RecsysError, match="cannot be created"):
        blocked.path("model")
