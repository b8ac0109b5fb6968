"""The Redis foundation against a real embedded Redis (Search + JSON)."""

from __future__ import annotations

import redis

from recsys import server
from recsys.config import Settings


def test_session_server_has_search_and_json(redis_client: redis.Redis) -> None:
    assert server.missing_modules(redis_client) == []
    assert redis_client.ping() is True


def test_settings_are_isolated_per_test(settings: Settings, redis_client: redis.Redis) -> None:
    redis_client.set(settings.key("probe"), "1")
    assert settings.namespace.startswith("t")
    assert settings.redis_url is not None
