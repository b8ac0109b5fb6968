"""What one filtered FLAT KNN costs per place, by the shape of its filter
(docs/filtered-search.md, "The floor").

Usage: .venv/bin/python -m scripts.filter_costs [N]   (from the repository root)

Loads N generated Bay Area restaurants (default 100,000) into a throw-away FLAT
namespace with the live model's towers. For the first 4 bench users it times a
KNN 10 with `HYBRID_POLICY ADHOC_BF` (Redis scores only the places passing the
filter) over filters of every shape the serving path uses: one TAG term of several
sizes (grid cells around the bench's centre, price × rating terms, one open hour),
unions of 3 to 256 terms (the open-at query, covers of the bench's 20 km circle),
and intersections of two and three of them; beside the unfiltered KNN and the
serving path's own first query. Each line: places passing, p50 ms (median over the
users of 15 calls each), µs per passing place and the ratio to the unfiltered query.
Needs a prepared data directory (`python -m recsys prepare`).
"""

from __future__ import annotations

import statistics
import sys

from recsys import bench
from recsys.data import hours
from recsys.serving import geocells, keys, pricetags, server
from recsys.serving.recommend import first_query
from scripts.throwaway import bay_area_space, p50_ms, places_from_argv, user_vector

USERS = 4


def shapes() -> dict[str, str]:
    """Filter strings by name, from the bench's 20 km query (centre, time, price, rating)."""
    f = bench.BAY_FILTERS.validate()
    cell = geocells.cell_tokens(f.lat, f.lon)
    pr, _ = pricetags.query(f.min_price, f.max_price, f.min_rating)
    top_price, _ = pricetags.query(4, 4, None)
    cheap, _ = pricetags.query(1, 1, None)
    opens = hours.open_query_tokens(f.at)
    out = {f"one term: cell level {level}": f"@cells:{{{cell[level]}}}" for level in range(3)}
    out |= {
        f"one term: price x rating {pr}": f"@pr:{{{pr}}}",
        f"one term: price x rating {cheap}": f"@pr:{{{cheap}}}",
        f"one term: price x rating {top_price}": f"@pr:{{{top_price}}}",
        f"one term: open hour {opens[0]}": f"@open:{{{opens[0]}}}",
        f"union of {len(opens)}: open at {'|'.join(opens)}": f"@open:{{{'|'.join(opens)}}}",
    }
    for most in (4, 16, 64, 256):
        inner, border = geocells.cover(f.lat, f.lon, f.radius_m, most)
        cells = [*inner, *border]
        out[f"union of {len(cells)}: 20 km cover"] = f"@cells:{{{'|'.join(cells)}}}"
    out |= {
        "2 terms: cell level 1 & price x rating": f"@cells:{{{cell[1]}}} @pr:{{{pr}}}",
        "2 terms: cell level 2 & price x rating": f"@cells:{{{cell[2]}}} @pr:{{{pr}}}",
        "3 terms: cell level 1 & price x rating & open hour": (
            f"@cells:{{{cell[1]}}} @pr:{{{pr}}} @open:{{{opens[0]}}}"
        ),
    }
    return out


def knn(space, query: str, vector: bytes, k: int = 10) -> tuple:
    """FT.SEARCH of a full query string, returning the keys only (in KNN order)."""
    return ("FT.SEARCH", keys.alias(space), query, "NOCONTENT", "LIMIT", 0, k, "DIALECT", 2,
            "TIMEOUT", bench.BENCH_TIMEOUT_MS, "PARAMS", 2, "vector", vector)  # fmt: skip


def main(n: int) -> int:
    with bay_area_space(n, "flat", "fexp", USERS) as (space, user_ids):
        conn = server.client(space)
        plan_args, how = first_query(space, bench.BAY_FILTERS.validate())
        queries = {"no filter": "*=>[KNN 10 @embedding $vector AS score]"}
        queries |= {
            name: f"({text})=>[KNN 10 @embedding $vector HYBRID_POLICY ADHOC_BF AS score]"
            for name, text in shapes().items()
        }
        plan_name = f"the serving path's first query ({how.policy} {how.batch_size or ''})"
        queries[plan_name.replace(" )", ")")] = plan_args[0]
        passing = {}
        for name, query in queries.items():
            where = query.split("=>")[0]
            reply = conn.execute_command(
                "FT.SEARCH", keys.alias(space), where, "LIMIT", 0, 0, "DIALECT", 2,
                "TIMEOUT", bench.BENCH_TIMEOUT_MS,
            )  # fmt: skip
            passing[name] = bench._total(reply)
        ms = {name: [] for name in queries}
        for user_id in user_ids:
            vector = user_vector(space, user_id)
            for name, query in queries.items():
                command = knn(space, query, vector, how.fetch if query is plan_args[0] else 10)
                ms[name].append(p50_ms(lambda c=command: conn.execute_command(*c)))
        none = statistics.median(ms["no filter"])
        print(f"{n:,} places, FLAT; unfiltered scan {1000 * none / n:.3f} us per place")
        head = ("filter (ADHOC_BF)", "passing", "p50 ms", "us/place", "x none")
        print("{:58s} {:>8s} {:>7s} {:>8s} {:>6s}".format(*head))
        for name in queries:
            p50 = statistics.median(ms[name])
            per = 1000 * p50 / max(passing[name], 1)
            print(f"{name:58s} {passing[name]:8,d} {p50:7.2f} {per:8.3f} {p50 / none:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(places_from_argv("python -m scripts.filter_costs", __doc__)))
