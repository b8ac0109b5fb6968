"""A throw-away namespace of generated Bay Area restaurants, for the measurement scripts.

`bay_area_space(n, algorithm, suffix)` embeds `n` generated restaurants
(`synth.generate_bay_area`) and the first users of the prepared data with the live
model's towers, publishes them into `<namespace>-<suffix>` with the bench's settings
(per-query TIMEOUT), yields that namespace's settings and the users' ids, and drops
the namespace afterwards, also when the measurement fails.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from recsys import bench, cli
from recsys.config import Settings
from recsys.data import synth
from recsys.data.dataset import build_dataset
from recsys.model import train
from recsys.serving import index, server


@contextmanager
def bay_area_space(
    n: int, algorithm: str, suffix: str, users: int = 8
) -> Iterator[tuple[Settings, list[str]]]:
    settings = Settings.from_env()
    dataset = build_dataset(settings)
    model = train.load_saved(settings, index.require_live(settings)["model_version"])
    frame = synth.generate_bay_area(n, seed=0)
    vectors = np.asarray(model.embed_restaurants(frame), dtype=np.float32)
    chosen = dataset.users.head(users).reset_index(drop=True)
    space = replace(
        bench.bench_space(settings, algorithm), namespace=f"{settings.namespace}-{suffix}"
    )
    conn = server.client(space)
    server.drop_namespace(conn, space.namespace)
    try:
        index.publish(space, frame, vectors, chosen, model.embed_users(chosen), {}, "bench",
                      algorithm=algorithm)  # fmt: skip
        yield space, list(chosen["user_id"].astype(str))
    finally:
        server.drop_namespace(conn, space.namespace)


def user_vector(space: Settings, user_id: str) -> bytes:
    """The indexed vector of `user_id` as the float32 bytes a KNN query takes."""
    return np.asarray(index.get_user(space, user_id)["embedding"], np.float32).tobytes()


def p50_ms(call: Callable[[], object], repeats: int = 15) -> float:
    """The median of `repeats` timed calls, in ms, after one untimed call."""
    call()
    took = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took)


def places_from_argv(prog: str, description: str | None) -> int:
    """The measurement scripts' one argument: how many generated places, checked like the
    CLI's numbers (one sentence naming a bad value, exit 2)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "n", nargs="?", default=100_000, type=cli._whole_number("restaurants", 1_000, 2_000_000),
        help="generated Bay Area restaurants, 1,000-2,000,000 (default 100,000)",
    )  # fmt: skip
    return parser.parse_args().n
