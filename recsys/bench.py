"""`python -m recsys bench`: serving latency next to bare Redis, at 220 and 100,000 places.

1. Default data (after an idempotent `prepare`): p50/p99 of `recommend` for a known
   user with every filter, of a bare redis-py FT.SEARCH of the very same query
   string + vector, and of PING, interleaved in one run so they share conditions.
2. A generated 100,000-restaurant Bay Area set embedded by the trained restaurant
   tower, indexed FLAT and HNSW in throw-away bench namespaces: load time, latency,
   and HNSW recall@10 against FLAT (exact). The namespaces are always removed.
3. The default model's training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from recsys import query, store
from recsys.config import DEFAULT_LAT, DEFAULT_LON, Settings
from recsys.progress import Progress, ProgressFn, TextProgress, no_progress

ITERATIONS = 500
BAY_N = 100_000
RECALL_QUERIES = 200
ALL_FILTERS = query.Filters(
    lat=DEFAULT_LAT,
    lon=DEFAULT_LON,
    radius_m=4000,
    at="2026-07-04T19:30",
    min_price=1,
    max_price=3,
    min_rating=3.0,
    k=10,
    exclude_visited=True,
)


def _stats(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples) * 1000
    return {
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
    }


def _interleaved(calls: dict[str, Callable[[], Any]], n: int) -> dict[str, dict[str, float]]:
    """Time each call n times, round-robin, after a warm-up."""
    for call in calls.values():
        for _ in range(20):
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {name: _stats(s) for name, s in samples.items()}


def _bare_search(settings: Settings, index: str, vq: Any) -> Callable[[], Any]:
    conn = store.client(settings)
    args = ["FT.SEARCH", index, *vq.get_args(), "PARAMS", 2, "vector", vq.params["vector"]]
    return lambda: conn.execute_command(*args)


def default_latency(settings: Settings, user_id: str, cuisines: tuple[str, ...]) -> dict:
    """recommend vs bare FT.SEARCH (same query string and vector) vs PING."""
    filters = replace(ALL_FILTERS, cuisines=cuisines)
    live = store.require_live(settings)
    user = store.get_user(settings, user_id)
    vq = query.build_query(user["embedding"], filters.validate(live["cuisines"]), user["visited"])
    conn = store.client(settings)
    result = _interleaved(
        {
            "recommend": lambda: query.recommend(settings, filters, user_id=user_id),
            "ft_search": _bare_search(settings, live["index"], vq),
            "ping": conn.ping,
        },
        ITERATIONS,
    )
    hits = len(query.recommend(settings, filters, user_id=user_id).results)
    return {"latency_ms": result, "results": hits, "query": str(vq).split("=>")[0]}


def _publish_bay(settings: Settings, frame, vectors, users, user_vectors, algorithm, report):
    start = time.perf_counter()
    store.publish(settings, frame, vectors, users, user_vectors, {}, "bench",
                  algorithm=algorithm, progress=report)  # fmt: skip
    return round(time.perf_counter() - start, 1)


def bay_area(settings: Settings, model: Any, dataset: Any, report: ProgressFn) -> dict:
    """FLAT vs HNSW at 100,000 restaurants: load time, latency, recall@10."""
    from recsys import server, synth

    frame = synth.generate_bay_area(BAY_N, seed=0)
    report(Progress("bench", 0, 4, f"embedding {len(frame)} generated restaurants"))
    vectors = model.embed_restaurants(frame)
    users = dataset.users.head(RECALL_QUERIES).reset_index(drop=True)
    user_vectors = model.embed_users(users)
    spaces = {
        a: replace(settings, namespace=f"{settings.namespace}-b{a}") for a in ("flat", "hnsw")
    }
    out: dict[str, Any] = {"restaurants": len(frame)}
    try:
        for algorithm, space in spaces.items():
            report(Progress("bench", 1, 4, f"loading {algorithm}"))
            load_s = _publish_bay(space, frame, vectors, users, user_vectors, algorithm, report)
            out[algorithm] = {"load_s": load_s, **_bay_latency(space, users)}
        out["hnsw_recall_at_10"] = _recall(spaces["flat"], spaces["hnsw"], user_vectors)
    finally:
        for space in spaces.values():
            server.drop_namespace(store.client(space), space.namespace)
    return out


def _bay_latency(settings: Settings, users) -> dict:
    user_id = str(users["user_id"].iloc[0])
    filters = replace(ALL_FILTERS, lat=37.60, lon=-122.20, radius_m=20_000, exclude_visited=False)
    unfiltered = query.Filters(k=10)
    return {
        "latency_ms": _interleaved(
            {
                "recommend_all_filters": lambda: query.recommend(
                    settings, filters, user_id=user_id
                ),
                "recommend_no_filter": lambda: query.recommend(
                    settings, unfiltered, user_id=user_id
                ),
            },
            ITERATIONS // 5,
        )
    }


def _recall(flat: Settings, hnsw: Settings, user_vectors: np.ndarray) -> float:
    """Mean overlap of HNSW's unfiltered top 10 with FLAT's exact top 10."""
    found = 0
    for vector in user_vectors:
        exact = query.recommend(flat, query.Filters(k=10), vector=vector).results
        approx = query.recommend(hnsw, query.Filters(k=10), vector=vector).results
        found += len({r["id"] for r in exact} & {r["id"] for r in approx})
    return round(found / (10 * len(user_vectors)), 4)


def run(settings: Settings, progress: ProgressFn | None = None) -> dict[str, Any]:
    """All figures as one dict (see the module docstring)."""
    from recsys import pipeline, train
    from recsys.dataset import build_dataset

    report = progress or no_progress
    pipeline.prepare(settings, progress=report)
    dataset = build_dataset(settings)
    model = train.load_checkpoint(train.default_checkpoint_path(settings))
    user_id = str(sorted(pipeline.visited_in_training(dataset))[0])
    popular = dataset.restaurants["cuisines"].explode().value_counts().index[:4]
    figures = default_latency(settings, user_id, tuple(str(c) for c in popular))
    figures["ratio_recommend_to_ft_search_p50"] = round(
        figures["latency_ms"]["recommend"]["p50"] / figures["latency_ms"]["ft_search"]["p50"], 3
    )
    figures["bay_area"] = bay_area(settings, model, dataset, report)
    report(Progress("bench", 3, 4, "training the default model"))
    start = time.perf_counter()
    trained = train.train(dataset)
    figures["training_s"] = round(time.perf_counter() - start, 1)
    figures["training_epochs"] = len(trained.history)
    report(Progress("bench", 4, 4, "done"))
    return figures


def _table(f: dict[str, Any]) -> str:
    lat = f["latency_ms"]
    lines = [
        f"Default data, all filters ({f['results']} results): latency ms",
        f"{'':24}{'p50':>9}{'p99':>9}",
    ]
    lines += [f"{name:24}{v['p50']:9.3f}{v['p99']:9.3f}" for name, v in lat.items()]
    lines.append(
        f"recommend / FT.SEARCH p50: {f['ratio_recommend_to_ft_search_p50']:.2f} (goal <= 1.3)"
    )
    bay = f["bay_area"]
    lines.append(f"\nBay Area, {bay['restaurants']:,} restaurants: latency ms (load s)")
    for algorithm in ("flat", "hnsw"):
        for name, v in bay[algorithm]["latency_ms"].items():
            lines.append(f"{algorithm + ' ' + name:34}{v['p50']:9.3f}{v['p99']:9.3f}")
        lines.append(f"{algorithm + ' load':34}{bay[algorithm]['load_s']:9.1f} s")
    lines.append(f"HNSW recall@10 vs FLAT: {bay['hnsw_recall_at_10']:.4f} (goal >= 0.95)")
    lines.append(
        f"\nTraining the default model: {f['training_s']:.1f} s ({f['training_epochs']} epochs)"
    )
    return "\n".join(lines)


def bench_cli(args: argparse.Namespace, settings: Settings) -> int:
    """Print a readable table, or one JSON object with `--json`."""
    figures = run(settings, progress=TextProgress())
    print(json.dumps(figures) if args.json else _table(figures), file=sys.stdout)
    return 0
