"""The bench's Bay Area part on a small catalogue: what it sends to a shared Redis.

It queries only its own throw-away namespaces, so it must never change the server's
TIMEOUT config (other clients would see it, and a kill would leave it changed); each of
its searches carries `TIMEOUT BENCH_TIMEOUT_MS` instead. Checked on the commands Redis
receives (MONITOR), not on what the code means to send.
"""

from __future__ import annotations

import re
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import redis

from recsys import bench
from recsys.config import EMBEDDING_DIM, Settings
from recsys.progress import no_progress
from recsys.serving import keys

DONE = "test-bench-monitor-done"


class _RandomTowers:
    """What `bench.bay_area` needs of a trained model: vectors for places and users."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(3)

    def embed_restaurants(self, frame: pd.DataFrame) -> np.ndarray:
        return self.rng.normal(size=(len(frame), EMBEDDING_DIM)).astype(np.float32)

    def embed_users(self, users: pd.DataFrame) -> np.ndarray:
        return self.rng.normal(size=(len(users), EMBEDDING_DIM)).astype(np.float32)


def _timeout_config(conn: redis.Redis) -> str:
    reply = conn.execute_command("FT.CONFIG", "GET", "TIMEOUT")
    return str(reply)


def _monitor(url: str, seen: list[str], started: threading.Event) -> None:
    with redis.Redis.from_url(url).monitor() as monitor:
        started.set()
        for event in monitor.listen():
            if DONE in event["command"]:
                return
            seen.append(event["command"])


def test_bench_sends_a_timeout_per_query_and_leaves_the_server_config(
    settings: Settings, redis_client: redis.Redis, monkeypatch
) -> None:
    for name, value in (("BAY_ITERATIONS", 10), ("THROUGHPUT_QUERIES", 16),
                        ("EF_RUNTIMES", (10, 400))):  # fmt: skip
        monkeypatch.setattr(bench, name, value)
    before = _timeout_config(redis_client)
    seen: list[str] = []
    started = threading.Event()
    watcher = threading.Thread(target=_monitor, args=(settings.redis_url, seen, started))
    watcher.start()
    assert started.wait(10)
    dataset = SimpleNamespace(users=pd.DataFrame({"user_id": [f"u{i}" for i in range(12)]}))
    try:
        out = bench.bay_area(settings, _RandomTowers(), dataset, no_progress, n=1000, profile=True)
    finally:
        redis_client.echo(DONE)
        watcher.join(30)
    assert _timeout_config(redis_client) == before
    assert out["flat"]["numpy_same_top_k"] and set(out["profile"]) == set(bench.PROFILE_FILTERS)

    assert not [c for c in seen if re.match(r"(?i)FT\.CONFIG SET", c)]
    spaces = [bench.bench_space(settings, a) for a in ("flat", "hnsw")]
    names = tuple(keys.alias(s) for s in spaces) + tuple(keys.index(s, "") for s in spaces)
    searches = [
        c
        for c in seen
        if re.match(r"(?i)FT\.(SEARCH|PROFILE) ", c) and c.split(" ")[1].startswith(names)
    ]
    kinds = {c.split(" ")[0].upper() for c in searches}
    assert kinds == {"FT.SEARCH", "FT.PROFILE"}, kinds
    timed = re.compile(rf" TIMEOUT {bench.BENCH_TIMEOUT_MS}( |$)")
    untimed = [c[:200] for c in searches if not timed.search(c)]
    assert not untimed, untimed
