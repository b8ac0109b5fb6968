"""A crash at any line converges: `train` killed (SIGKILL) at each stage of a retrain.

After each kill, without any repair: `recommend` for a known user, a cold start
(`recommend --new-user`) and Add user all work and agree on one model, the one the
live index names. The next `prepare` leaves no orphaned index version, document or
saved model behind. The kill points are `recsys.failpoints`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
import redis

from recsys import coldstart, failpoints
from recsys.config import Settings
from recsys.model import saved
from recsys.serving import index, server

pytestmark = pytest.mark.slow


def _run(env: dict[str, str], *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recsys", *args], env={**env, **extra},
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def prepared(redis_server, tmp_path_factory):
    namespace = "t" + uuid.uuid4().hex[:10]
    data_dir = tmp_path_factory.mktemp("crash")
    env = {**os.environ, "RECSYS_DATA_DIR": str(data_dir), "RECSYS_NAMESPACE": namespace,
           "REDIS_URL": redis_server.url}  # fmt: skip
    env.pop("RECSYS_RESTAURANTS", None)
    env.pop(failpoints.ENV, None)
    done = _run(env, "prepare")
    assert done.returncode == 0, done.stderr[-800:]
    settings = Settings(data_dir=data_dir, namespace=namespace, redis_url=redis_server.url)
    yield env, settings
    server.drop_namespace(redis.Redis.from_url(redis_server.url), namespace)


def _user_ids(env: dict[str, str]) -> list[str]:
    return [u["user_id"] for u in json.loads(_run(env, "export", "--users").stdout)["users"]]


def _assert_one_model_serves(env: dict[str, str], settings: Settings, tag: str) -> str:
    live = index.live_info(settings)
    assert live is not None
    # The saved model named by the live pointer is there and is the one cold start uses.
    model = coldstart.serving_model(settings)
    assert model.version == live["model_version"]
    known = _run(env, "recommend", "--user-id", _user_ids(env)[0], "-k", "5")
    assert known.returncode == 0, known.stderr
    assert len(json.loads(known.stdout)["results"]) == 5
    profile = {"likes": ["sushi", "cocktails"], "price_bracket": "middle"}
    cold = _run(env, "recommend", "--new-user", json.dumps(profile), "-k", "5")
    assert cold.returncode == 0, cold.stderr
    assert len(json.loads(cold.stdout)["results"]) == 5
    # Add user (the New user page's "Save this user"): served at once by the same model.
    added = coldstart.add_user(settings, {**profile, "user_id": f"crash-{tag}"}, model)
    assert added["user_id"] == f"crash-{tag}"
    assert index.get_user(settings, f"crash-{tag}")["embedding"]
    assert index.live_info(settings)["model_version"] == model.version
    return model.version


def _assert_nothing_orphaned(settings: Settings) -> None:
    live = index.live_info(settings)
    assert index.stale_versions(settings, keep=live["version"]) == set()
    assert saved.versions(settings) == [live["model_version"]]
    assert not [p for p in saved.root(settings).rglob("*") if p.name.endswith(".part")]
    assert index.lock_holder(settings) is None
    names = {n.decode() for n in server.client(settings).execute_command("FT._LIST")}
    assert {n for n in names if n.startswith(settings.namespace + ":")} == {live["index"]}


@pytest.mark.parametrize("point", failpoints.POINTS)
def test_train_killed_at_each_stage_converges(prepared, point: str) -> None:
    env, settings = prepared
    before = index.live_info(settings)
    killed = _run(env, "train", "--epochs", "2", "--seed", str(failpoints.POINTS.index(point) + 1),
                  **{failpoints.ENV: point})  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-800:])
    after = index.live_info(settings)
    swapped = point in ("swapped", "cleanup")
    assert (after["model_version"] != before["model_version"]) is swapped
    served = _assert_one_model_serves(env, settings, point)
    assert served == after["model_version"]
    again = _run(env, "prepare")
    assert again.returncode == 0, again.stderr[-800:]
    assert not json.loads(again.stdout)["trained"]  # the served model is kept, not retrained
    assert index.live_info(settings)["model_version"] == served
    _assert_nothing_orphaned(settings)
    # The user added after the crash survived the clean-up.
    assert index.get_user(settings, f"crash-{point}")["user_id"] == f"crash-{point}"
