"""App feedback: "I went here" / "Not for me", stored in Redis, served at once.

Storage (key names: `keys.py`, docs/redis-layout.md). Feedback is not versioned, so a
retrain or reload never drops it:

- `{ns}:feedback:user:{user_id}`: restaurant id -> JSON `{label, time, source, seq}`;
  one field per place, so the latest label per (user, restaurant) wins;
- `{ns}:feedback:users`: user_id -> seq of the user's latest change (what the serving
  path compares with the seq its cached vector was computed under);
- `{ns}:feedback:seq`: a counter numbering every change. A retrain reads it first and
  trains on the records numbered up to it; anything numbered after is "not yet seen"
  by that model (and still applied online), so a write racing a retrain is never lost.

The served vector of a user with feedback is `recsys.data.online.online_vector` of
their trained vector (kept untouched in the versioned user document) and the vectors
of the places they marked, both read from the live load: never mixed across versions.
Places marked "Not for me" are excluded from their results.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from recsys.config import Settings
from recsys.data.online import online_vector
from recsys.errors import RecsysError
from recsys.serving import index, keys
from recsys.serving.server import client

WENT, NOT_FOR_ME = 1, -1
LABELS = {"went": WENT, "not_for_me": NOT_FOR_ME, WENT: WENT, NOT_FOR_ME: NOT_FOR_ME}
SOURCES = ("app", "cli", "test")
MAX_ID_LENGTH = 200

# Atomic: number the change, write the record (unless the label is unchanged), and
# bump the user's seq. KEYS: seq counter, user's hash, users hash.
# ARGV: restaurant id, label, time, source, user id.
_RECORD = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then
  local rec = cjson.decode(old)
  if tonumber(rec['label']) == tonumber(ARGV[2]) then return {0, rec['seq']} end
end
local seq = redis.call('INCR', KEYS[1])
local rec = cjson.encode({label=tonumber(ARGV[2]), time=ARGV[3], source=ARGV[4], seq=seq})
redis.call('HSET', KEYS[2], ARGV[1], rec)
redis.call('HSET', KEYS[3], ARGV[5], seq)
return {1, seq}
"""
# Forget a user's feedback; the bump tells every cache that their vector changed.
_RESET = """
local n = redis.call('HLEN', KEYS[2])
redis.call('DEL', KEYS[2])
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[3], ARGV[1], seq)
return n
"""


@dataclass(frozen=True)
class Feedback:
    """One stored mark: (user, restaurant) -> label 1 (went) or -1 (not for me)."""

    user_id: str
    restaurant_id: str
    label: int
    time: str
    source: str
    seq: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "restaurant_id": self.restaurant_id,
            "label": self.label,
            "time": self.time,
            "source": self.source,
            "seq": self.seq,
        }


def _check_id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise RecsysError(f"{what} {value!r} is not a {what}.")
    return value.strip()


def _label(label: Any) -> int:
    if isinstance(label, bool) or label not in LABELS:
        raise RecsysError(f"feedback label {label!r} is not 'went' or 'not_for_me'.")
    return LABELS[label]


def record(
    settings: Settings,
    user_id: str,
    restaurant_id: str,
    label: str | int,
    *,
    source: str = "app",
    at: datetime | None = None,
) -> Feedback:
    """Validate and store one mark (the latest label per user and place wins).

    Raises:
        RecsysError: a user or restaurant the live index does not serve, or a bad label.
    """
    user_id = _check_id("user id", user_id)
    restaurant_id = _check_id("restaurant id", restaurant_id)
    value = _label(label)
    if source not in SOURCES:
        raise RecsysError(f"feedback source {source!r} is not one of {', '.join(SOURCES)}.")
    live = index.require_live(settings)
    conn = client(settings)
    pipe = conn.pipeline(transaction=False)
    pipe.exists(keys.user(settings, live["version"], user_id))
    pipe.exists(keys.restaurant(settings, live["version"], restaurant_id))
    user_known, restaurant_known = pipe.execute()
    if not user_known:
        raise RecsysError(f"user {user_id!r} is not among the users of the live model.")
    if not restaurant_known:
        raise RecsysError(f"restaurant {restaurant_id!r} is not among the served restaurants.")
    when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    stamp = when.isoformat(timespec="seconds")
    conn.eval(
        _RECORD, 3, keys.feedback_seq(settings), keys.feedback(settings, user_id),
        keys.feedback_users(settings), restaurant_id, value, stamp, source, user_id,
    )  # fmt: skip
    return _for_user(settings, user_id)[restaurant_id]


def _parse(user_id: str, raw: Mapping[Any, Any]) -> dict[str, Feedback]:
    out = {}
    for rid, text in raw.items():
        rid = rid.decode() if isinstance(rid, bytes) else str(rid)
        rec = json.loads(text)
        out[rid] = Feedback(
            user_id, rid, int(rec["label"]), str(rec["time"]), str(rec["source"]), int(rec["seq"])
        )
    return out


def _for_user(settings: Settings, user_id: str) -> dict[str, Feedback]:
    return _parse(user_id, client(settings).hgetall(keys.feedback(settings, user_id)))


def for_user(settings: Settings, user_id: str) -> list[Feedback]:
    """A user's feedback, newest first."""
    user_id = _check_id("user id", user_id)
    return sorted(_for_user(settings, user_id).values(), key=lambda f: -f.seq)


def reset(settings: Settings, user_id: str) -> int:
    """Forget a user's feedback (their trained vector serves again); how many marks."""
    user_id = _check_id("user id", user_id)
    return int(
        client(settings).eval(
            _RESET,
            3,
            keys.feedback_seq(settings),
            keys.feedback(settings, user_id),
            keys.feedback_users(settings),
            user_id,
        )
    )


def snapshot(settings: Settings) -> tuple[list[Feedback], int]:
    """Every mark numbered up to the current seq, and that seq (what a retrain reads).

    The counter is read first: a mark written meanwhile has a larger number and is left
    for the next retrain (it is counted as unseen, and applied online meanwhile).
    """
    conn = client(settings)
    seq = int(conn.get(keys.feedback_seq(settings)) or 0)
    users = [u.decode() for u in conn.hkeys(keys.feedback_users(settings))]
    pipe = conn.pipeline(transaction=False)
    for user_id in users:
        pipe.hgetall(keys.feedback(settings, user_id))
    found = []
    for user_id, raw in zip(users, pipe.execute(), strict=True):
        found += [f for f in _parse(user_id, raw).values() if f.seq <= seq]
    return sorted(found, key=lambda f: f.seq), seq


def unseen(settings: Settings, seen_seq: int) -> int:
    """How many stored marks are numbered after `seen_seq` (not in the served model)."""
    conn = client(settings)
    latest = conn.hgetall(keys.feedback_users(settings))
    users = [u.decode() for u, s in latest.items() if int(s) > seen_seq]
    if not users:
        return 0
    pipe = conn.pipeline(transaction=False)
    for user_id in users:
        pipe.hgetall(keys.feedback(settings, user_id))
    return sum(
        sum(1 for f in _parse(u, raw).values() if f.seq > seen_seq)
        for u, raw in zip(users, pipe.execute(), strict=True)
    )


def seen_seq(live: Mapping[str, Any]) -> int:
    """The feedback seq the live model was trained up to (0 before any)."""
    return int(((live.get("model") or {}).get("feedback") or {}).get("seq") or 0)


# --- the serving path --------------------------------------------------------------------


@dataclass(frozen=True)
class ServedUser:
    """What recommend needs of a user: vector, training visits, places to exclude."""

    vector: bytes  # float32
    visited: tuple[str, ...]
    rejected: tuple[str, ...]
    went: tuple[str, ...]
    seq: bytes | None  # the user's feedback seq this was computed under, as HGET returns it


def served_user(
    settings: Settings, version: int, user_id: str, mean: Sequence[float] | None = None
) -> ServedUser | None:
    """The user of load `version`: trained vector moved by their feedback (None if absent).

    `mean` is the load's mean restaurant vector (`catalogue_mean` when not given).

    Reads the feedback seq before the records: a mark written in between makes the seq
    older than what was read, so the serving path's next check refetches (never stale).
    """
    conn = client(settings)
    pipe = conn.pipeline(transaction=False)
    pipe.hget(keys.feedback_users(settings), user_id)
    pipe.hgetall(keys.feedback(settings, user_id))
    pipe.json().get(keys.user(settings, version, user_id), "$.embedding", "$.visited")
    seq, raw, doc = pipe.execute()
    if doc is None:
        return None
    trained = np.asarray(doc["$.embedding"][0], dtype=np.float32)
    visited = tuple(doc["$.visited"][0])
    marks = _parse(user_id, raw)
    went = tuple(sorted(r for r, f in marks.items() if f.label == WENT))
    rejected = tuple(sorted(r for r, f in marks.items() if f.label == NOT_FOR_ME))
    vector = trained
    if marks:
        vectors = restaurant_vectors(settings, version, [*went, *rejected])
        vector = online_vector(
            trained,
            [vectors[r] for r in went if r in vectors],
            [vectors[r] for r in rejected if r in vectors],
            mean=catalogue_mean(settings, version) if mean is None else mean,
            visits=len(visited),
        )
    return ServedUser(vector.astype(np.float32).tobytes(), visited, rejected, went, seq)


_means: dict[tuple[Settings, int], np.ndarray] = {}


def catalogue_mean(settings: Settings, version: int) -> np.ndarray | None:
    """The mean restaurant vector of load `version` (what `publish` records in the live
    pointer's model info as `restaurant_mean`; read from the documents for older loads)."""
    live = index.live_info(settings) or {}
    recorded = (live.get("model") or {}).get("restaurant_mean")
    if recorded and live.get("version") == version:
        return np.asarray(recorded, dtype=np.float64)
    cached = _means.get((settings, version))
    if cached is None:
        conn = client(settings)
        found = sorted(conn.scan_iter(match=f"{keys.restaurant_prefix(settings, version)}:*"))
        vectors = [v[0] for v in conn.json().mget(found, "$.embedding") if v] if found else []
        cached = np.asarray(vectors, dtype=np.float64).mean(axis=0) if vectors else None
        if cached is None:
            return None
        _means[(settings, version)] = cached
    return cached


def restaurant_vectors(settings: Settings, version: int, ids: list[str]) -> dict[str, np.ndarray]:
    """id -> embedding of the given restaurants in load `version` (absent ones left out)."""
    if not ids:
        return {}
    found = (
        client(settings)
        .json()
        .mget([keys.restaurant(settings, version, r) for r in ids], "$.embedding")
    )
    return {r: np.asarray(v[0], dtype=np.float32) for r, v in zip(ids, found, strict=True) if v}


# --- the command line --------------------------------------------------------------------


def feedback_cli(args: argparse.Namespace, settings: Settings) -> int:
    """`python -m recsys feedback`: record, list or reset a user's feedback (JSON on stdout)."""
    if args.list or args.reset:
        if args.restaurant_id is not None:
            raise RecsysError("--list and --reset take no --restaurant-id.")
        live = index.require_live(settings)
        user_id = _check_id("user id", args.user_id)
        if not client(settings).exists(keys.user(settings, live["version"], user_id)):
            raise RecsysError(f"user {user_id!r} is not among the users of the live model.")
    if args.list:
        out: Any = [f.as_dict() for f in for_user(settings, args.user_id)]
    elif args.reset:
        out = {"user_id": args.user_id, "removed": reset(settings, args.user_id)}
    else:
        if args.restaurant_id is None or not (args.went or args.not_for_me):
            raise RecsysError(
                "feedback needs --restaurant-id R with --went or --not-for-me (or --list, --reset)."
            )
        label = "went" if args.went else "not_for_me"
        mark = record(settings, args.user_id, args.restaurant_id, label, source="cli")
        out = mark.as_dict()
    sys.stdout.write(json.dumps(out) + "\n")
    return 0
