"""Shared fixtures: one real embedded Redis per test session, one namespace per test.

- `redis_server` (session): a running embedded Redis (Search + JSON) in a temporary
  data directory on a free port; started only when a test asks for it.
- `settings`: `Settings` with a fresh data dir, a unique namespace and `redis_url`
  pointing at the session server; the namespace's keys and indexes are removed after.
- `own_settings` and `trained_namespace`: the same for module-scoped fixtures, the
  latter with a 2-epoch model trained, saved and published.
- `redis_client`: a `redis.Redis` (bytes replies) for `settings`.
- `cli_env`: environment variables for running `python -m recsys` as a subprocess
  with `settings`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from recsys.config import Settings
from recsys.serving import server

# Tests are hermetic: the restaurants are the deterministic generated set unless a test
# points RECSYS_DATA_URL at its own local server (tests/integration/test_download.py).
# Set here, before any test runs, so subprocesses (CLI, the app) inherit it too.
os.environ["RECSYS_DATA_URL"] = "none"
os.environ.pop("RECSYS_RESTAURANTS", None)


def pytest_configure(config: pytest.Config) -> None:
    # Nothing is skipped silently: always list skipped and xfailed tests with their reasons.
    chars = config.option.reportchars or ""
    config.option.reportchars = chars + "".join(c for c in "sx" if c not in chars)


@dataclass(frozen=True)
class RedisServer:
    """The session's embedded Redis: `url` includes the password."""

    url: str
    settings: Settings


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real Redis with Search + JSON for the whole session (never the demo's data/)."""
    own = Settings(data_dir=tmp_path_factory.mktemp("redis-server"))
    url = server.redis_url(own, start=True)
    server.connect(own)  # fail the first test that needs it, clearly, if a module is missing
    yield RedisServer(url=url, settings=own)
    server.stop_embedded(own)


def own_settings(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Settings:
    """Settings on the session Redis with a data dir (`label`...) and a namespace of
    their own; the caller removes the namespace (`drop_own`)."""
    return Settings(
        data_dir=tmp_path_factory.mktemp(label),
        namespace="t" + uuid.uuid4().hex[:10],
        redis_url=redis_server.url,
    )


def drop_own(settings: Settings) -> None:
    """Remove the keys and indexes of the namespace of `own_settings`."""
    client = redis.Redis.from_url(settings.redis_url)
    server.drop_namespace(client, settings.namespace)
    client.close()


@contextmanager
def trained_namespace(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[tuple[Settings, Any]]:
    """(settings, model): `own_settings` with a 2-epoch model of the default data
    trained, saved and published; the namespace is removed after."""
    from recsys import pipeline
    from recsys.data.dataset import build_dataset
    from recsys.model import train

    settings = own_settings(redis_server, tmp_path_factory, label)
    try:
        dataset = build_dataset(settings)
        model = train.train(dataset, epochs=2)
        train.save(model, settings)
        pipeline.publish_model(settings, dataset, model)
        yield settings, model
    finally:
        drop_own(settings)


@pytest.fixture
def settings(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings for one test: its own data dir and namespace, on the session Redis."""
    test_settings = own_settings(redis_server, tmp_path_factory, "data")
    yield test_settings
    drop_own(test_settings)


@pytest.fixture
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A client for the test's Redis (the session server)."""
    client = server.connect(settings)
    yield client
    client.close()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """os.environ plus RECSYS_DATA_DIR, RECSYS_NAMESPACE and REDIS_URL of `settings`."""
    env = dict(os.environ)
    env.pop("RECSYS_RESTAURANTS", None)
    env.update(
        RECSYS_DATA_DIR=str(settings.data_dir),
        RECSYS_NAMESPACE=settings.namespace,
        REDIS_URL=settings.redis_url or "",
    )
    return env
