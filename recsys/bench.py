"""`python -m recsys bench`: serving latency next to bare Redis, at 220 and 100,000 places.

1. Default data (after an idempotent `prepare`): p50/p99 of `recommend` for a known
   user with every filter, of a bare redis-py FT.SEARCH of the very same query
   string + vector, and of PING, interleaved in one run so they share conditions.
2. A generated Bay Area set (`--restaurants N`, default 100,000) embedded by the
   trained restaurant tower, loaded (pipelined) and indexed FLAT and HNSW in throw-away
   bench namespaces: load throughput, Redis memory per restaurant (`INFO memory`, the
   documents and their index), latency with and without filters (a 20 km circle, and
   the app's default 2 km around its map centre, each with open-at, price and rating),
   the same filtered top-k brute-forced in NumPy in this process (the reference a user
   would compare against), throughput with 8 concurrent clients, and HNSW recall@10
   against FLAT (exact). `--profile` adds FT.PROFILE of each filter alone and all
   together (docs/filtered-search.md). Every query on the bench namespaces carries its
   own `TIMEOUT BENCH_TIMEOUT_MS` (the server's TIMEOUT config is never changed, so
   other clients keep theirs); the namespaces are always removed.
3. The default model's training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from recsys.config import DEFAULT_LAT, DEFAULT_LON, Settings
from recsys.data import hours
from recsys.errors import RecsysError
from recsys.progress import Progress, ProgressFn, TextProgress, no_progress
from recsys.serving import index, keys, server
from recsys.serving.filters import Filters, combine, filter_parts
from recsys.serving.recommend import (
    EARTH_RADIUS_M,
    first_query,
    parse_search_reply,
    recommend,
    search_command,
    timeout_args,
    top_k_of_reply,
)

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset
    from recsys.model.train import TrainedModel

ITERATIONS = 2000
WARM_UP = 200
BAY_N = 100_000
MIN_BAY_N, MAX_BAY_N = 1_000, 2_000_000
BAY_ITERATIONS = 200
RECALL_QUERIES = 200
CLIENTS = 8  # concurrent clients of the throughput figure
THROUGHPUT_QUERIES = 400  # in all, over the clients
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
    checked = filters.validate(live["cuisines"])
    args, how = first_query(settings, checked, tuple(user["visited"]))
    bare = _bare_search(settings, args, np.asarray(user["embedding"], np.float32).tobytes())
    served = recommend(settings, filters, user_id=user_id).results
    # Fair only if both answer the same question: same ids in the same order (the hits
    # of a loose radius inside the circle, as recommend keeps them).
    bare_hits = top_k_of_reply(checked, how, parse_search_reply(bare()))
    bare_ids = [keys.restaurant_id(settings, live["version"], key) for key, _ in bare_hits]
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
        "plan": {"fetch": how.fetch, "policy": how.policy, "batch_size": how.batch_size},
        "return_fields": list(args[args.index("RETURN") + 2 :][: args[args.index("RETURN") + 1]]),
    }


def restaurant_count(value: Any) -> int:
    """`--restaurants` checked: a whole number from MIN_BAY_N to MAX_BAY_N."""
    text = str(value).replace("_", "").replace(",", "")
    if not text.isdigit() or not MIN_BAY_N <= int(text) <= MAX_BAY_N:
        raise RecsysError(
            f"--restaurants {value!r} is not a whole number from {MIN_BAY_N:,} to {MAX_BAY_N:,}."
        )
    return int(text)


def _used_memory(settings: Settings) -> int:
    return int(server.client(settings).info("memory")["used_memory"])


def bay_area(
    settings: Settings,
    model: TrainedModel,
    dataset: Dataset,
    report: ProgressFn,
    *,
    n: int = BAY_N,
    profile: bool = False,
) -> dict:
    """FLAT vs HNSW at n restaurants: load, memory, latency, NumPy reference, throughput,
    recall@10 (and FT.PROFILE of the filters with `profile`)."""
    from recsys.data import synth

    frame = synth.generate_bay_area(n, seed=0)
    report(Progress("bench", 0, 4, f"embedding {len(frame):,} generated restaurants"))
    vectors = np.asarray(model.embed_restaurants(frame), dtype=np.float32)
    users = dataset.users.head(RECALL_QUERIES).reset_index(drop=True)
    user_vectors = model.embed_users(users)
    spaces = {a: bench_space(settings, a) for a in ("flat", "hnsw")}
    out: dict[str, Any] = {"restaurants": len(frame)}
    reference = _Reference(frame, vectors)
    top10: dict[str, list[set[str]]] = {}
    try:
        # One index at a time (the previous one is dropped first): at 1,000,000
        # restaurants one takes about 9 GB. Recall compares the top 10s of each.
        for algorithm, space in spaces.items():
            report(Progress("bench", 1, 4, f"loading {len(frame):,} restaurants, {algorithm}"))
            before = _used_memory(space)
            start = time.perf_counter()
            index.publish(space, frame, vectors, users, user_vectors, {}, "bench",
                          algorithm=algorithm, progress=report)  # fmt: skip
            load_s = time.perf_counter() - start
            report(Progress("bench", 2, 4, f"timing {algorithm}"))
            out[algorithm] = {
                "load_s": round(load_s, 1),
                "restaurants_per_s": round(len(frame) / load_s),
                "memory_bytes_per_restaurant": round((_used_memory(space) - before) / len(frame)),
                **_bay_latency(space, users, reference),
                "throughput_qps": _throughput(space, users),
            }
            top10[algorithm] = _top10(space, user_vectors)
            if algorithm == "hnsw":  # what a wider search buys, on the index just built
                out["hnsw_by_ef_runtime"] = {
                    str(ef): _top10_at_ef(space, user_vectors, ef, top10["flat"])
                    for ef in EF_RUNTIMES
                }
            if profile and algorithm == "flat":
                out["profile"] = profile_filters(space, users)
            # A 1,000,000 run takes about an hour: what is measured so far, in one line.
            print(f"bench: {algorithm} at {len(frame):,}: {json.dumps(out[algorithm])}",
                  file=sys.stderr, flush=True)  # fmt: skip
            server.drop_namespace(server.client(space), space.namespace)
        found = sum(len(a & b) for a, b in zip(top10["flat"], top10["hnsw"], strict=True))
        out["hnsw_recall_at_10"] = round(found / (10 * len(user_vectors)), 4)
    finally:
        for space in spaces.values():
            server.drop_namespace(server.client(space), space.namespace)
    return out


def bench_space(settings: Settings, algorithm: str) -> Settings:
    """The throw-away namespace of one algorithm's index: its queries (recommend, the
    bare FT.SEARCH, FT.PROFILE, the load's probe) each carry `TIMEOUT BENCH_TIMEOUT_MS`."""
    return replace(
        settings, namespace=f"{settings.namespace}-b{algorithm}", search_timeout_ms=BENCH_TIMEOUT_MS
    )


BAY_FILTERS = replace(ALL_FILTERS, lat=37.60, lon=-122.20, radius_m=20_000, exclude_visited=False)
# What the app asks by default: its map centre and 2 km radius (ui/widgets.radius_control),
# with the same time, price and rating.
BAY_APP_FILTERS = replace(BAY_FILTERS, lat=DEFAULT_LAT, lon=DEFAULT_LON, radius_m=2_000)
# The per-query TIMEOUT of every search on the bench namespaces (ms; the server's
# default is 500, and it is left as it is): at 1,000,000 places a 20 km circle holds
# ~180,000 of them.
BENCH_TIMEOUT_MS = 10_000


class _Reference:
    """The same filtered top-k by brute force in NumPy: vectors and filter columns in memory.

    Opening hours are evaluated once per distinct set of intervals with `hours.is_open`
    (the generator shares a few templates, as chains do), then looked up per row.
    """

    def __init__(self, frame: Any, vectors: np.ndarray) -> None:
        self.ids = frame["id"].to_numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
        self.lat = np.radians(frame["lat"].to_numpy(dtype=np.float64))
        self.lon = np.radians(frame["lon"].to_numpy(dtype=np.float64))
        self.cos_lat = np.cos(self.lat)
        self.price = frame["price"].to_numpy()
        self.rating = frame["rating"].to_numpy(dtype=np.float64)
        kinds: dict[Any, int] = {}
        self.hours_kind = np.array(
            [kinds.setdefault(iv, len(kinds)) for iv in frame["intervals"]], dtype=np.int32
        )
        self.kinds = list(kinds)

    def top_k(self, filters: Filters, vector: np.ndarray) -> list[str]:
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.radius_m is not None:
            lat0, lon0 = np.radians(filters.lat), np.radians(filters.lon)
            a = (
                np.sin((self.lat - lat0) / 2) ** 2
                + np.cos(lat0) * self.cos_lat * np.sin((self.lon - lon0) / 2) ** 2
            )
            mask &= 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(1, a))) <= (filters.radius_m)
        if filters.at is not None:
            open_kinds = np.array([bool(hours.is_open(iv, filters.at)) for iv in self.kinds])
            mask &= open_kinds[self.hours_kind]
        if filters.min_price is not None or filters.max_price is not None:
            low, high = filters.min_price or 1, filters.max_price or 4
            mask &= (self.price >= low) & (self.price <= high)
        if filters.min_rating is not None:
            mask &= self.rating >= filters.min_rating
        rows = np.flatnonzero(mask)
        scores = self.vectors[rows] @ (vector / np.linalg.norm(vector))
        k = min(filters.k, len(rows))
        best = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=int)
        return [str(self.ids[rows[i]]) for i in best[np.argsort(-scores[best])]]


def _bay_latency(settings: Settings, users, reference: _Reference) -> dict:
    """recommend with all filters (20 km, and the app's 2 km), the same first FT.SEARCH,
    with no filter, and the NumPy reference of the filtered queries, interleaved."""
    user_id = str(users["user_id"].iloc[0])
    unfiltered = Filters(k=10)
    user_vector = np.asarray(index.get_user(settings, user_id)["embedding"], np.float32)
    vector = user_vector.tobytes()
    calls: dict[str, Callable[[], Any]] = {}
    same: dict[str, bool] = {}
    plans: dict[str, dict[str, Any]] = {}
    for name, filters in (("all_filters", BAY_FILTERS), ("app_filters", BAY_APP_FILTERS)):
        checked = filters.validate()
        served = [r["id"] for r in recommend(settings, checked, user_id=user_id).results]
        same[name] = served == reference.top_k(checked, user_vector)
        args, how = first_query(settings, checked)
        plans[name] = {"fetch": how.fetch, "policy": how.policy, "batch_size": how.batch_size}
        calls[f"recommend_{name}"] = lambda f=checked: recommend(settings, f, user_id=user_id)
        calls[f"ft_search_{name}"] = _bare_search(settings, args, vector)
        calls[f"numpy_{name}"] = lambda f=checked: reference.top_k(f, user_vector)
    calls["recommend_no_filter"] = lambda: recommend(settings, unfiltered, user_id=user_id)
    order = ["recommend_all_filters", "ft_search_all_filters", "recommend_no_filter",
             "numpy_all_filters", "recommend_app_filters", "ft_search_app_filters",
             "numpy_app_filters"]  # fmt: skip
    return {
        "latency_ms": _interleaved(
            {name: calls[name] for name in order}, _scaled(BAY_ITERATIONS, settings), warm_up=5
        ),
        "numpy_same_top_k": same["all_filters"],
        "numpy_same_top_k_app_filters": same["app_filters"],
        "plans": plans,
    }


def _scaled(count: int, settings: Settings) -> int:
    """`count` at 100,000 restaurants, fewer (at least a tenth) for larger catalogues."""
    n = index.require_live(settings)["restaurants"]
    return max(count // 10, count * BAY_N // max(n, BAY_N))


def _throughput(settings: Settings, users) -> dict[str, float]:
    """Queries/s of recommend (all filters, and none) from CLIENTS threads, loopback."""
    ids = [str(u) for u in users["user_id"]]
    out = {}
    per_client = _scaled(THROUGHPUT_QUERIES, settings) // CLIENTS
    for name, filters in (("all_filters", BAY_FILTERS), ("no_filter", Filters(k=10))):
        for user_id in ids[:CLIENTS]:  # vectors cached before the clock starts
            recommend(settings, filters, user_id=user_id)

        def client(i: int, filters: Filters = filters) -> None:
            for _ in range(per_client):
                recommend(settings, filters, user_id=ids[i])

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out[name] = round(per_client * CLIENTS / (time.perf_counter() - start), 1)
    return out


def _top10(settings: Settings, user_vectors: np.ndarray) -> list[set[str]]:
    """The unfiltered top 10 ids for each vector (FLAT: exact; HNSW: approximate)."""
    return [
        {r["id"] for r in recommend(settings, Filters(k=10), vector=v).results}
        for v in user_vectors
    ]


# HNSW search widths compared against FLAT in one run (the index serves with
# index.HNSW_ATTRS["ef_runtime"], 400).
EF_RUNTIMES = (100, 200, 400, 800)


def _top10_at_ef(
    settings: Settings, user_vectors: np.ndarray, ef: int, exact: list[set[str]]
) -> dict[str, float]:
    """Recall@10 against `exact` and p50 ms of the unfiltered HNSW top 10 at `EF_RUNTIME`
    `ef` (a query parameter: the index is not rebuilt)."""
    from redisvl.query import VectorQuery

    version = index.require_live(settings)["version"]
    search = index.search_index(settings, version, algorithm="hnsw")
    found, took = 0, []
    for vector, truth in zip(user_vectors, exact, strict=True):
        query = VectorQuery(
            vector=np.asarray(vector, dtype=np.float32).tolist(),
            vector_field_name="embedding",
            return_fields=["id"],
            num_results=10,
            ef_runtime=ef,
        ).timeout(settings.search_timeout_ms)
        start = time.perf_counter()
        hits = search.query(query)
        took.append((time.perf_counter() - start) * 1000)
        found += len({keys.restaurant_id(settings, version, h["id"]) for h in hits} & truth)
    return {
        "recall_at_10": round(found / (10 * len(exact)), 4),
        "p50_ms": round(float(np.median(took)), 3),
    }


# --- FT.PROFILE ----------------------------------------------------------------------------

PROFILE_FILTERS = {
    "none": Filters(k=10),
    "location": Filters(lat=BAY_FILTERS.lat, lon=BAY_FILTERS.lon, radius_m=BAY_FILTERS.radius_m),
    "open_at": Filters(at=BAY_FILTERS.at),
    "price": Filters(min_price=BAY_FILTERS.min_price, max_price=BAY_FILTERS.max_price),
    "rating": Filters(min_rating=BAY_FILTERS.min_rating),
    "all": BAY_FILTERS,
    "all_app": BAY_APP_FILTERS,
}


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, dict):
        return {_text(k): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text(v) for v in value]
    return value


MAX_CHILDREN = 6  # of one iterator in the printed tree (a cover has up to 64 cells)


def _tree(node: dict | None, depth: int = 0, max_depth: int = 2) -> str:
    """One line per iterator down to `max_depth`: type, time, results, children."""
    if node is None:
        return "  " * depth + "(empty)"
    children = node.get("Child iterators") or (
        [node["Child iterator"]] if "Child iterator" in node else []
    )
    label = node["Type"] + (f"/{node['Query type']}" if node.get("Query type") else "")
    extra = f", {node['Batches number']} batches" if "Batches number" in node else ""
    extra += f", {len(children)} children" if len(children) > 1 else ""
    line = f"{'  ' * depth}{label} {node.get('Time')} ms, {node.get('Counter')} results{extra}"
    if depth >= max_depth:
        return line
    shown = [_tree(child, depth + 1, max_depth) for child in children[:MAX_CHILDREN]]
    if len(children) > MAX_CHILDREN:
        shown.append(f"{'  ' * (depth + 1)}… {len(children) - MAX_CHILDREN} more")
    return "\n".join([line, *shown])


def profile_filters(settings: Settings, users) -> dict[str, dict[str, Any]]:
    """FT.PROFILE of the Bay Area query with each filter alone and all together."""
    conn = server.client(settings)
    user = index.get_user(settings, str(users["user_id"].iloc[0]))
    vector = np.asarray(user["embedding"], np.float32).tobytes()
    out = {}
    for name, filters in PROFILE_FILTERS.items():
        args, how = first_query(settings, filters.validate())
        search = search_command(settings, args, vector)
        timings = []
        for _ in range(20):
            start = time.perf_counter()
            reply = conn.execute_command(*search)
            timings.append(time.perf_counter() - start)
        exact = combine(filter_parts(filters.validate()))
        count = conn.execute_command(
            "FT.SEARCH", keys.alias(settings), str(exact or "*"), "LIMIT", 0, 0, "DIALECT", 2,
            *timeout_args(settings),
        )  # fmt: skip
        # FT.PROFILE {index} SEARCH QUERY {the FT.SEARCH arguments after the index name}
        reply = _text(conn.execute_command("FT.PROFILE", search[1], "SEARCH", "QUERY", *search[2:]))
        prof = reply["profile"] if isinstance(reply, dict) else reply[1]
        if isinstance(prof, dict) and "Shards" in prof:
            prof = prof["Shards"][0]
        out[name] = {
            "passing": _total(count),
            "ms_p50": round(float(np.median(timings)) * 1000, 3),
            "profile_ms": float(prof["Total profile time"]),
            "iterators": _tree(prof["Iterators profile"][0]),
            "query": args[0],
            "plan": {"fetch": how.fetch, "policy": how.policy, "batch_size": how.batch_size},
        }
    return out


def _total(reply: Any) -> int:
    return int(reply[b"total_results"] if isinstance(reply, dict) else reply[0])


def run(
    settings: Settings,
    progress: ProgressFn | None = None,
    *,
    quick: bool = False,
    restaurants: int = BAY_N,
    profile: bool = False,
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
    figures["bay_area"] = bay_area(settings, model, dataset, report, n=restaurants, profile=profile)
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
    lines = [f"\nBay Area, {bay['restaurants']:,} restaurants"]
    for algorithm in ("flat", "hnsw"):
        a = bay[algorithm]
        lines.append(
            f"{algorithm} load {a['load_s']:.1f} s ({a['restaurants_per_s']:,} restaurants/s), "
            f"{a['memory_bytes_per_restaurant']:,} B of Redis memory per restaurant"
        )
    lines.append(f"{'latency ms':40}{'p50':>9}{'p99':>9}")
    for algorithm in ("flat", "hnsw"):
        for name, v in bay[algorithm]["latency_ms"].items():
            lines.append(f"{algorithm + ' ' + name:40}{v['p50']:9.3f}{v['p99']:9.3f}")
        lat = bay[algorithm]["latency_ms"]
        qps = bay[algorithm]["throughput_qps"]
        none = lat["recommend_no_filter"]["p50"]
        lines.append(
            f"{algorithm}: all filters / no filter p50 "
            f"{lat['recommend_all_filters']['p50'] / none:.2f}, "
            f"/ NumPy {lat['recommend_all_filters']['p50'] / lat['numpy_all_filters']['p50']:.2f}; "
            f"app filters (2 km) / no filter {lat['recommend_app_filters']['p50'] / none:.2f}, "
            f"/ NumPy {lat['recommend_app_filters']['p50'] / lat['numpy_app_filters']['p50']:.2f}; "
            f"same top-k as NumPy: {bay[algorithm]['numpy_same_top_k']} / "
            f"{bay[algorithm]['numpy_same_top_k_app_filters']}; "
            f"{CLIENTS} clients: {qps['all_filters']:,.0f} q/s all filters, "
            f"{qps['no_filter']:,.0f} q/s none"
        )
    lines.append(f"HNSW recall@10 vs FLAT: {bay['hnsw_recall_at_10']:.4f} (goal >= 0.95)")
    for ef, row in (bay.get("hnsw_by_ef_runtime") or {}).items():
        lines.append(
            f"  EF_RUNTIME {ef:>4}: recall@10 {row['recall_at_10']:.4f}, "
            f"unfiltered p50 {row['p50_ms']:.2f} ms"
        )
    if "profile" in bay:
        lines.append("\nFT.PROFILE (FLAT), each filter alone and all together:")
        for name, p in bay["profile"].items():
            lines.append(
                f"{name}: {p['passing']:,} pass, {p['ms_p50']:.2f} ms p50 "
                f"(profiled {p['profile_ms']:.0f} ms)\n{p['iterators']}"
            )
    return lines


def bench_cli(args: argparse.Namespace, settings: Settings) -> int:
    """Print a readable table, or one JSON object with `--json`; `--quick`: default data only."""
    restaurants = restaurant_count(getattr(args, "restaurants", None) or BAY_N)
    figures = run(
        settings,
        progress=TextProgress(),
        quick=bool(getattr(args, "quick", False)),
        restaurants=restaurants,
        profile=bool(getattr(args, "profile", False)),
    )
    print(json.dumps(figures) if args.json else _table(figures), file=sys.stdout)
    return 0
