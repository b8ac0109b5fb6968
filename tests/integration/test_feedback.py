"""App feedback on a real embedded Redis: it changes what is served at once, survives a
reload and a retrain, a retrain trains on it, and a write racing a retrain is kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from recsys import pipeline
from recsys.config import Settings
from recsys.data.online import online_vector
from recsys.errors import RecsysError
from recsys.progress import Progress
from recsys.serving import feedback, index
from recsys.serving.filters import Filters
from recsys.serving.recommend import recommend
from tests.conftest import trained_namespace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[Settings]:
    with trained_namespace(redis_server, tmp_path_factory, "feedback") as (settings, _):
        yield settings


def _user(settings: Settings, n: int = 0, *, cold: bool | None = None) -> str:
    """The n-th user by id (only those without / with training visits if `cold` / not)."""
    docs = index.iter_documents(settings, "users")
    return sorted(d["user_id"] for d in docs if cold is None or cold != bool(d["visited"]))[n]


def test_not_for_me_removes_the_place_and_went_moves_the_vector(served: Settings) -> None:
    settings, user = served, _user(served, 3, cold=True)
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
    expected = online_vector(
        doc["embedding"],
        [vectors[far]],
        [vectors[first]],
        mean=feedback.catalogue_mean(settings, index.live_info(settings)["version"]),
        visits=len(doc["visited"]),
    )
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


def test_feedback_survives_a_retrain_which_trains_on_it(served: Settings) -> None:
    settings = served
    user, other = _user(settings, 5, cold=False), _user(settings, 6, cold=False)
    shown = [r["id"] for r in recommend(settings, Filters(k=10), user_id=user).results]
    feedback.record(settings, user, shown[0], "not_for_me")
    feedback.record(settings, user, shown[1], "went")
    for rid in shown[2:5]:
        feedback.record(settings, other, rid, "not_for_me")
    live = index.live_info(settings)
    assert feedback.unseen(settings, feedback.seen_seq(live)) >= 5
    result = pipeline.retrain(settings, epochs=2)
    used = result["live"]["model"]["feedback"]
    marks, seq = feedback.snapshot(settings)
    assert used["seq"] == seq and used["marks"] == len(marks)
    assert used["went_used"] + used["not_for_me_used"] + used["unknown_skipped"] + used[
        "held_out_skipped"
    ] == len(marks)
    assert used["not_for_me_used"] >= 1  # explicit negatives reach the loss
    assert feedback.unseen(settings, feedback.seen_seq(index.live_info(settings))) == 0
    # The marks are not versioned: still there, still served on the new version.
    assert {f.restaurant_id for f in feedback.for_user(settings, user)} == set(shown[:2])
    after = recommend(settings, Filters(k=10), user_id=user)
    assert after.version != live["version"] and shown[0] not in [r["id"] for r in after.results]
    feedback.reset(settings, user)
    feedback.reset(settings, other)


def test_a_mark_written_during_a_retrain_is_kept_and_left_for_the_next(served: Settings) -> None:
    settings, user = served, _user(served, 8)
    shown = [r["id"] for r in recommend(settings, Filters(k=10), user_id=user).results]
    written = []

    def progress(event: Progress) -> None:
        # Right after the retrain read the feedback, while it trains.
        if event.stage == "train" and not written:
            written.append(feedback.record(settings, user, shown[0], "not_for_me"))

    before = index.live_info(settings)
    pipeline.retrain(settings, epochs=2, progress=progress)
    live = index.live_info(settings)
    assert live["version"] != before["version"]
    (mark,) = written
    assert live["model"]["feedback"]["seq"] < mark.seq  # not in this model's training data
    assert feedback.unseen(settings, feedback.seen_seq(live)) == 1  # counted as new
    assert [f.seq for f in feedback.for_user(settings, user)] == [mark.seq]  # not lost
    # Applied to the new version, not the old one: excluded from what is served now.
    rec = recommend(settings, Filters(k=10), user_id=user)
    assert rec.version == live["version"] and shown[0] not in [r["id"] for r in rec.results]
    feedback.reset(settings, user)


def test_cli_feedback_records_lists_and_resets(served: Settings, tmp_path) -> None:
    settings, user = served, _user(served, 9)
    rid = recommend(settings, Filters(k=1), user_id=user).results[0]["id"]
    env = {
        **os.environ,
        "RECSYS_DATA_DIR": str(settings.data_dir),
        "RECSYS_NAMESPACE": settings.namespace,
        "REDIS_URL": settings.redis_url or "",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "recsys", "feedback", "--user-id", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

    done = run(user, "--restaurant-id", rid, "--not-for-me")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["label"] == -1
    listed = json.loads(run(user, "--list").stdout)
    assert [(m["restaurant_id"], m["label"], m["source"]) for m in listed] == [(rid, -1, "cli")]
    bad = run("nobody", "--restaurant-id", rid, "--went")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'nobody'" in bad.stderr
    bad = run(user, "--restaurant-id", "nowhere", "--went")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'nowhere'" in bad.stderr
    bad = run("nobody", "--list")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "'nobody'" in bad.stderr
    assert json.loads(run(user, "--reset").stdout) == {"user_id": user, "removed": 1}
    assert json.loads(run(user, "--list").stdout) == []
