"""HNSW batch sizes per query (docs/filtered-search.md).

Usage: .venv/bin/python -m scripts.hnsw_batches [N]   (from the repository root)

Loads N generated Bay Area restaurants (default 100,000) into a throw-away HNSW namespace
with the live model's towers, then times, for the first 8 bench users, the first
FT.SEARCH `recommend` sends for the bench's 20 km query and the app's 2 km query: with
the plan's choice, ADHOC_BF and BATCHES of 400 / 1,600 / 3,200 / 6,400 (p50 of 15 each),
beside the unfiltered query and `recommend` itself. Prints one line per user and the
median over the users. Needs a prepared data directory (`python -m recsys prepare`).
"""

from __future__ import annotations

import json
import statistics
import sys

from recsys import bench
from recsys.serving import server
from recsys.serving.filters import Filters, Plan, search_args
from recsys.serving.recommend import first_query, recommend, search_command
from scripts.throwaway import bay_area_space, p50_ms, places_from_argv, user_vector

USERS = 8
BATCHES = (400, 1600, 3200, 6400)


def main(n: int) -> int:
    with bay_area_space(n, "hnsw", "hexp", USERS) as (space, user_ids):
        conn = server.client(space)
        rows = {}
        for user_id in user_ids:
            vector = user_vector(space, user_id)
            args, _ = first_query(space, Filters(k=10).validate())
            plain = search_command(space, args, vector)
            row = {"no filter": p50_ms(lambda c=plain: conn.execute_command(*c))}
            for name, filters in (("20 km", bench.BAY_FILTERS), ("2 km", bench.BAY_APP_FILTERS)):
                checked = filters.validate()
                args, how = first_query(space, checked)
                command = search_command(space, args, vector)
                row[f"{name} plan {how.policy} {how.batch_size}"] = p50_ms(
                    lambda c=command: conn.execute_command(*c)
                )
                for policy, size in [("ADHOC_BF", None)] + [("BATCHES", b) for b in BATCHES]:
                    forced = search_args(checked, (), Plan(how.fetch, policy, size))
                    command = search_command(space, forced, vector)
                    row[f"{name} {policy} {size or ''}".strip()] = p50_ms(
                        lambda c=command: conn.execute_command(*c)
                    )
                row[f"{name} recommend"] = p50_ms(
                    lambda f=checked, u=user_id: recommend(space, f, user_id=u)
                )
            rows[user_id] = row
            print(user_id, json.dumps({k: round(v, 2) for k, v in row.items()}), flush=True)
        print("median over the users (ms):")
        for name in next(iter(rows.values())):
            print(f"  {name:32s} {statistics.median(r[name] for r in rows.values()):7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(places_from_argv("python -m scripts.hnsw_batches", __doc__)))
