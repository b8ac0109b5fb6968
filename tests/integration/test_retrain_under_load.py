"""A full reload while another thread queries non-stop: every answer complete and valid."""

from __future__ import annotations

import threading
import uuid

import numpy as np
import pytest
import redis

from recsys import pipeline
from recsys.config import Settings
from recsys.data.dataset import build_dataset
from recsys.model.train import train
from recsys.serving import index, keys, server
from recsys.serving.export import export_restaurants
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend

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
        assert index.live_info(settings)["model_version"] == new.version
        assert len(server.client(settings).execute_command("FT._LIST")) >= 1
        assert not [n for n in server.client(settings).execute_command("FT._LIST")
                    if n.decode().startswith(keys.index(settings, 1))]  # fmt: skip
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


def test_steady_state_recommend_after_a_swap_uses_the_new_vector(settings) -> None:
    """The per-process user cache never sends an old load's vector to a new index.

    The first query caches the live load and the user's vector; after a swap (and after a
    wiped namespace reloaded from version 1 again) the next query must be scored with the
    user's vector of the load that answers it.
    """
    dataset = build_dataset(settings)
    old, new = train(dataset, epochs=1, seed=0), train(dataset, epochs=2, seed=1)
    user = str(dataset.users["user_id"].iloc[3])
    filters = Filters(k=10)
    pipeline.publish_model(settings, dataset, old)
    first = recommend(settings, filters, user_id=user)
    assert recommend(settings, filters, user_id=user).results == first.results  # cached
    pipeline.publish_model(settings, dataset, new)
    after = recommend(settings, filters, user_id=user)
    assert (after.model_version, after.version) == (new.version, first.version + 1)
    _assert_brute_force(settings, user, after)
    assert [r["id"] for r in after.results] != [r["id"] for r in first.results]
    # A wiped namespace restarts the version numbers: same version, another load.
    server.drop_namespace(server.client(settings), settings.namespace)
    pipeline.publish_model(settings, dataset, old)
    again = recommend(settings, filters, user_id=user)
    assert (again.model_version, again.version) == (old.version, 1)
    _assert_brute_force(settings, user, again)


def _assert_brute_force(settings: Settings, user: str, rec) -> None:
    """Ids and scores equal a ranking by the live user vector over the live restaurants."""
    vector = np.asarray(index.get_user(settings, user)["embedding"], dtype=np.float64)
    restaurants = export_restaurants(settings, with_embeddings=True)["restaurants"]
    matrix = np.array([r["embedding"] for r in restaurants], dtype=np.float64)
    scores = matrix @ vector / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector))
    order = np.argsort(-scores, kind="stable")[: len(rec.results)]
    assert [r["score"] for r in rec.results] == pytest.approx(scores[order].tolist(), abs=1e-5)
    assert [r["id"] for r in rec.results][:3] == [restaurants[i]["id"] for i in order[:3]]
