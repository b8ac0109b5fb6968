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
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys.config import DEFAULT_LAT, DEFAULT_LON, Settings
from recsys.errors import RecsysError
from recsys.progress import Progress, ProgressFn, TextProgress, no_progress
from recsys.serving import index, keys, server
from recsys.serving.filters import Filters, search_args
from recsys.serving.recommend import parse_search_reply, recommend, search_command

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset
    from recsys.model.train import TrainedModel

ITERATIONS = 2000
WARM_UP = 200
BAY_N = 100_000
BAY_ITERATIONS = 200
RECALL_QUERIES = 200
ALL_FILTERS = Filters(
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


def _interleaved(
    calls: dict[str, Callable[[], Any]], n: int, warm_up: int = WARM_UP
) -> dict[str, dict[str, float]]:
    """Time each call n times, alternating calls (order rotated every round), after a warm-up.

    Alternating means machine noise (other processes, CPU frequency) hits every call alike.
    """
    names = list(calls)
    for _ in range(warm_up):
        for call in calls.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    clock = time.perf_counter
    for i in range(n):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            call = calls[name]
            start = clock()
            call()
            samples[name].append(clock() - start)
    return {name: _stats(s) for name, s in samples.items()}


def _bare_search(settings: Settings, args: tuple[Any, ...], vector: bytes) -> Callable[[], Any]:
    """redis-py's raw FT.SEARCH on the alias: the same arguments and vector bytes."""
    conn = server.client(settings)
    command = search_command(settings, args, vector)
    return lambda: conn.execute_command(*command)


def default_latency(settings: Settings, user_id: str, cuisines: tuple[str, ...]) -> dict:
    """recommend vs a bare FT.SEARCH of the same query vs PING, interleaved in one run."""
    filters = replace(ALL_FILTERS, cuisines=cuisines)
    live = index.require_live(settings)
    user = index.get_user(settings, user_id)
    args = search_args(filters.validate(live["cuisines"]), tuple(user["visited"]))
    bare = _bare_search(settings, args, np.asarray(user["embedding"], np.float32).tobytes())
    served = recommend(settings, filters, user_id=user_id).results
    # Fair only if both answer the same question: same ids in the same order.
    prefix = len(keys.restaurant_prefix(settings, live["version"])) + 1
    bare_ids = [key[prefix:].decode() for key, _ in parse_search_reply(bare())]
    if bare_ids != [r["id"] for r in served]:
        raise RecsysError("bench: recommend and the bare FT.SEARCH disagree; not comparable.")
    conn = server.client(settings)
    latency = _interleaved(
        {
            "recommend": lambda: recommend(settings, filters, user_id=user_id),
            "ft_search": bare,
            "ping": conn.ping,
        },
        ITERATIONS,
    )
    ratio = latency["recommend"]["p50"] / latency["ft_search"]["p50"]
    return {
        "latency_ms": latency,
        "ratio_recommend_to_ft_search_p50": round(ratio, 3),
        "iterations": ITERATIONS,
        "results": len(served),
        "query": args[0].split("=>")[0],
        "return_fields": list(args[args.index("RETURN") + 2 :][: args[args.index("RETURN") + 1]]),
    }


def _publish_bay(settings: Settings, frame, vectors, users, user_vectors, algorithm, report):
    start = time.perf_counter()
    index.publish(settings, frame, vectors, users, user_vectors, {}, "bench",
                  algorithm=algorithm, progress=report)  # fmt: skip
    return round(time.perf_counter() - start, 1)


def bay_area(settings: Settings, model: TrainedModel, dataset: Dataset, report: ProgressFn) -> dict:
    """FLAT vs HNSW at 100,000 restaurants: load time, latency, recall@10."""
    from recsys.data import synth
    from recsys.serving import server

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
            server.drop_namespace(server.client(space), space.namespace)
    return out


def _bay_latency(settings: Settings, users) -> dict:
    """recommend with all filters (and the same bare FT.SEARCH) and with none, interleaved."""
    user_id = str(users["user_id"].iloc[0])
    filters = replace(ALL_FILTERS, lat=37.60, lon=-122.20, radius_m=20_000, exclude_visited=False)
    unfiltered = Filters(k=10)
    vector = np.asarray(index.get_user(settings, user_id)["embedding"], np.float32).tobytes()
    return {
        "latency_ms": _interleaved(
            {
                "recommend_all_filters": lambda: recommend(settings, filters, user_id=user_id),
                "ft_search_all_filters": _bare_search(
                    settings, search_args(filters.validate()), vector
                ),
                "recommend_no_filter": lambda: recommend(settings, unfiltered, user_id=user_id),
            },
            BAY_ITERATIONS,
            warm_up=5,
        )
    }


def _recall(flat: Settings, hnsw: Settings, user_vectors: np.ndarray) -> float:
    """Mean overlap of HNSW's unfiltered top 10 with FLAT's exact top 10."""
    found = 0
    for vector in user_vectors:
        exact = recommend(flat, Filters(k=10), vector=vector).results
        approx = recommend(hnsw, Filters(k=10), vector=vector).results
        found += len({r["id"] for r in exact} & {r["id"] for r in approx})
    return round(found / (10 * len(user_vectors)), 4)


def run(
    settings: Settings, progress: ProgressFn | None = None, *, quick: bool = False
) -> dict[str, Any]:
    """All figures as one dict (see the module docstring); `quick`: the default data only."""
    from recsys import pipeline
    from recsys.data.dataset import build_dataset
    from recsys.model import train

    report = progress or no_progress
    pipeline.prepare(settings, progress=report)
    dataset = build_dataset(settings)
    user_id = str(sorted(pipeline.visited_in_training(dataset))[0])
    popular = dataset.restaurants["cuisines"].explode().value_counts().index[:4]
    figures = default_latency(settings, user_id, tuple(str(c) for c in popular))
    if quick:
        return figures
    model = train.load_saved(settings, index.require_live(settings)["model_version"])
    figures["bay_area"] = bay_area(settings, model, dataset, report)
    report(Progress("bench", 3, 4, "training the default model"))
    start = time.perf_counter()
    trained = train.train(dataset)
    figures["training_s"] = round(time.perf_counter() - start, 1)
    figures["training_epochs"] = len(trained.history)
    report(Progress("bench", 4, 4, "done"))
    return figures


def bar(value: float, scale: float, width: int = 40) -> str:
    """A horizontal bar of `value` on a `scale` that fills `width` characters."""
    eighths = round(max(0.0, value) / scale * width * 8) if scale > 0 else 0
    full, rest = divmod(min(eighths, width * 8), 8)
    return "█" * full + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[rest]


def _table(f: dict[str, Any]) -> str:
    lat = f["latency_ms"]
    lines = [
        f"Default data, all filters ({f['results']} results, {f['iterations']} interleaved "
        "calls each): latency ms",
        f"{'':24}{'p50':>9}{'p99':>9}  p50",
    ]
    scale = max(v["p50"] for v in lat.values())
    lines += [
        f"{name:24}{v['p50']:9.3f}{v['p99']:9.3f}  {bar(v['p50'], scale)}"
        for name, v in lat.items()
    ]
    lines.append(
        f"recommend / FT.SEARCH p50: {f['ratio_recommend_to_ft_search_p50']:.2f} (goal <= 1.3)"
    )
    if "bay_area" in f:
        lines += _bay_table(f["bay_area"])
        lines.append(
            f"\nTraining the default model: {f['training_s']:.1f} s ({f['training_epochs']} epochs)"
        )
    return "\n".join(lines)


def _bay_table(bay: dict[str, Any]) -> list[str]:
    lines = [f"\nBay Area, {bay['restaurants']:,} restaurants: latency ms (load s)"]
    for algorithm in ("flat", "hnsw"):
        for name, v in bay[algorithm]["latency_ms"].items():
            lines.append(f"{algorithm + ' ' + name:40}{v['p50']:9.3f}{v['p99']:9.3f}")
        lines.append(f"{algorithm + ' load':40}{bay[algorithm]['load_s']:9.1f} s")
    lines.append(f"HNSW recall@10 vs FLAT: {bay['hnsw_recall_at_10']:.4f} (goal >= 0.95)")
    return lines


def bench_cli(args: argparse.Namespace, settings: Settings) -> int:
    """Print a readable table, or one JSON object with `--json`; `--quick`: default data only."""
    figures = run(settings, progress=TextProgress(), quick=bool(getattr(args, "quick", False)))
    print(json.dumps(figures) if args.json else _table(figures), file=sys.stdout)
    return 0
