"""A full reload while another thread queries non-stop: every answer complete and valid."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from recsys import pipeline, server, store
from recsys.config import Settings
from recsys.dataset import build_dataset
from recsys.query import Filters, recommend
from recsys.train import train

pytestmark = pytest.mark.slow


def test_queries_during_reload_see_old_or_new_version_complete(redis_server, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, namespace="t" + uuid.uuid4().hex[:10],
                        redis_url=redis_server.url)  # fmt: skip
    try:
        dataset = build_dataset(settings)
        old, new = train(dataset, epochs=1, seed=0), train(dataset, epochs=2, seed=1)
        pipeline.publish_model(settings, dataset, old)
        user = str(dataset.users["user_id"].iloc[0])
        filters = Filters(min_price=1, max_price=4, k=10)
        expected = {old.version: _ids(settings, filters, user)}
        seen, errors = _hammer(
            settings, filters, user, lambda: pipeline.publish_model(settings, dataset, new)
        )
        expected[new.version] = _ids(settings, filters, user)
        assert not errors, errors[:3]
        assert expected[old.version] != expected[new.version]  # the models do differ
        assert {v for v, _ in seen} <= set(expected)
        assert len(seen) >= 20
        for version, ids in seen:
            assert ids == expected[version]  # complete, and from one consistent version
        assert store.live_info(settings)["model_version"] == new.version
        assert len(store.client(settings).execute_command("FT._LIST")) >= 1
        assert not [n for n in store.client(settings).execute_command("FT._LIST")
                    if n.decode().startswith(store.index_name(settings, 1))]  # fmt: skip
    finally:
        server.drop_namespace(redis.Redis.from_url(redis_server.url), settings.namespace)


def _ids(settings: Settings, filters: Filters, user: str) -> list[str]:
    return [r["id"] for r in recommend(settings, filters, user_id=user).results]


def _hammer(settings, filters, user, reload):
    """Query from a thread until `reload()` returns (and a little after)."""
    seen: list[tuple[str, list[str]]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                rec = recommend(settings, filters, user_id=user)
                seen.append((rec.model_version, [r["id"] for r in rec.results]))
            except BaseException as exc:  # collected: the test asserts there are none
                errors.append(exc)

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        reload()
        for _ in range(50):
            rec = recommend(settings, filters, user_id=user)
    finally:
        stop.set()
        worker.join()
    assert rec.results
    return seen, errors
