"""`python -m recsys export`: what Redis serves, read back from Redis, as JSON.

Restaurants: ids, attributes, hours exactly as in the source record and (with
`--with-embeddings`) the embeddings as served. Users: profiles, the ids visited
in training and (optionally) embeddings. The index's derived fields (open-at and
grid-cell tags, the "lon,lat" location string) are left out: they are encodings.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from recsys.config import Settings
from recsys.serving import index

_DERIVED = {"location", "intervals", "open", "cells", "pr"}


def export_restaurants(settings: Settings, *, with_embeddings: bool = False) -> dict[str, Any]:
    """The live restaurants (sorted by id) with the version that serves them."""
    live = index.require_live(settings)
    docs = [
        _strip(doc, with_embeddings, _DERIVED)
        for doc in index.iter_documents(settings, "restaurants")
    ]
    return {**_header(live), "restaurants": sorted(docs, key=lambda d: d["id"])}


def export_users(settings: Settings, *, with_embeddings: bool = False) -> dict[str, Any]:
    """The live users (sorted by id): profile, `visited` (training) and embeddings."""
    live = index.require_live(settings)
    docs = [_strip(doc, with_embeddings, set()) for doc in index.iter_documents(settings, "users")]
    return {**_header(live), "users": sorted(docs, key=lambda d: d["user_id"])}


def _header(live: dict[str, Any]) -> dict[str, Any]:
    return {"version": live["version"], "model_version": live["model_version"]}


def _strip(doc: dict[str, Any], with_embeddings: bool, drop: set[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in drop and (with_embeddings or k != "embedding")}


def export_cli(args: argparse.Namespace, settings: Settings) -> int:
    """Print the export as one JSON document on stdout."""
    if args.restaurants:
        document = export_restaurants(settings, with_embeddings=args.with_embeddings)
    else:
        document = export_users(settings, with_embeddings=args.with_embeddings)
    json.dump(document, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
