"""App feedback on a real embedded Redis: it changes what is served at once, survives a
reload and a retrain, a retrain trains on it, and a write racing a retrain is kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from recsys import pipeline
from recsys.config import Settings
from recsys.data.dataset import build_dataset
from recsys.data.online import online_vector
from recsys.errors import RecsysError
from recsys.model import train
from recsys.serving import feedback, index, server
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[Settings]:
    namespace = "t" + uuid.uuid4().hex[:10]
    tmp = tmp_path_factory.mktemp("feedback")
    settings = Settings(data_dir=tmp, namespace=namespace, redis_url=redis_server.url)
    dataset = build_dataset(settings)
    model = train.train(dataset, epochs=2)
    train.save(model, settings)
    pipeline.publish_model(settings, dataset, model)
    yield settings
    server.drop_namespace(redis.Redis.from_url(redis_server.url), settings.namespace)


def _user(settings: Settings, n: int = 0) -> str:
    return sorted(d["user_id"] for d in index.iter_documents(settings, "users"))[n]


def test_not_for_me_removes_the_place_and_went_moves_the_vector(served: Settings) -> None:
    settings, user = served, _user(served, 3)
    before = recommend(settings, Filters(k=10), user_id=user)
    first = before.results[0]["id"]
    feedback.record(settings, user, first, "not_for_me")
    after = recommend(settings, Filters(k=10), user_id=user)
    assert first not in [r["id"] for r in after.results]
    assert [r["id"] for r in after.results] != [r["id"] for r in before.results]
    # "I went here" on a low-ranked place moves the served vector towards it.
    far = recommend(settings, Filters(k=50), user_id=user).results[-1]["id"]
    feedback.record(settings, user, far, "went")
    moved = recommend(settings, Filters(k=50), user_id=user)
    assert [r["id"] for r in moved.results].index(far) < 49
    # The served vector is exactly the online update of the trained one.
    doc = index.get_user(settings, user)
    vectors = feedback.restaurant_vectors(
        settings, index.live_info(settings)["version"], [far, first]
    )
    expected = online_vector(doc["embedding"], [vectors[far]], [vectors[first]])
    served_vec = np.frombuffer(
        feedback.served_user(settings, index.live_info(settings)["version"], user).vector,
        dtype=np.float32,
    )
    assert served_vec == pytest.approx(expected, abs=1e-6)
    # The latest label wins; a reset serves the trained vector again.
    feedback.record(settings, user, first, "went")
    assert {f.restaurant_id: f.label for f in feedback.for_user(settings, user)} == {
        first: 1, far: 1,
    }  # fmt: skip
    assert feedback.reset(settings, user) == 2
    assert recommend(settings, Filters(k=10), user_id=user).results == before.results


def test_feedback_is_validated(served: Settings) -> None:
    settings, user = served, _user(served)
    rid = recommend(settings, Filters(k=1), user_id=user).results[0]["id"]
    with pytest.raises(RecsysError, match="'nobody'"):
        feedback.record(settings, "nobody", rid, "went")
    with pytest.raises(RecsysError, match="'no-such-place'"):
        feedback.record(settings, user, "no-such-place", "went")
    with pytest.raises(RecsysError, match="'maybe'"):
        feedback.record(settings, user, rid, "maybe")
    assert feedback.for_user(settings, user) == []
