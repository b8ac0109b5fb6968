"""Every Redis key and index name, and the live pointer parsed into one object.

The one owner of the Redis layout (docs/redis-layout.md); no other module builds a
key by hand. Everything lives under the namespace `ns` (`RECSYS_NAMESPACE`):

| key | type | what |
|---|---|---|
| `ns:restaurants` | index alias | names the live restaurants index |
| `ns:restaurants:v{N}` | index | one RedisVL index per load, over the JSON keys below |
| `ns:restaurant:v{N}:{id}` | JSON | one restaurant: attributes, hours slots, `embedding` |
| `ns:user:v{N}:{user_id}` | JSON | one user: profile, `embedding`, `visited` (training ids) |
| `{ns}:live` | hash | the live pointer (see `LivePointer`) |
| `{ns}:version` | string | counter for N |
| `{ns}:lock` | string | who holds the load lock (JSON), with a TTL |
| `{ns}:added:restaurants`, `{ns}:added:users` | hash | id -> JSON record added in the app |
| `{ns}:feedback:user:{user_id}` | hash | restaurant id -> JSON {label, time, source, seq} |
| `{ns}:feedback:users` | hash | user_id -> seq of the user's latest feedback change |
| `{ns}:feedback:seq` | string | counter: one number per feedback change, never reused |

The control keys (`{ns}:...`) share one hash tag, so on a sharded Redis they live in
one slot and a MULTI over them is allowed; documents and indexes are spread over the
shards by their own names. No MULTI mixes a document with a control key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from recsys.config import Settings

KINDS = ("restaurants", "users")
# What identifies one load of the live index: version numbers restart when a namespace
# is wiped, the load id never repeats. Read together (HMGET) on the serving path.
STAMP_FIELDS = ("version", "load_id")


def alias(settings: Settings) -> str:
    """The alias that always names the live restaurants index."""
    return settings.key("restaurants")


def index(settings: Settings, version: int | str) -> str:
    """The restaurants index of load `version`."""
    return settings.key("restaurants", f"v{version}")


def index_version(settings: Settings, name: str) -> int | None:
    """The version of an index named by `index`, or None for any other name."""
    head = index(settings, "")
    tail = name[len(head) :] if name.startswith(head) else ""
    return int(tail) if tail.isdigit() else None


def restaurant_prefix(settings: Settings, version: int | str) -> str:
    """The key prefix of load `version`'s restaurant documents (without the last ':')."""
    return settings.key("restaurant", f"v{version}")


def user_prefix(settings: Settings, version: int | str) -> str:
    """The key prefix of load `version`'s user documents (without the last ':')."""
    return settings.key("user", f"v{version}")


def prefix(settings: Settings, kind: str, version: int | str) -> str:
    """`restaurant_prefix` or `user_prefix` by kind ("restaurants" or "users")."""
    return {"restaurants": restaurant_prefix, "users": user_prefix}[kind](settings, version)


def restaurant(settings: Settings, version: int | str, restaurant_id: str) -> str:
    return f"{restaurant_prefix(settings, version)}:{restaurant_id}"


def restaurant_id(settings: Settings, version: int | str, key: str | bytes) -> str:
    """The restaurant id in a document key of load `version` (the inverse of `restaurant`),
    as Redis replies give it: str or bytes.

    Raises:
        ValueError: `key` is not a restaurant document key of that load.
    """
    text = key.decode() if isinstance(key, bytes) else key
    head = restaurant(settings, version, "")
    if not text.startswith(head) or len(text) == len(head):
        raise ValueError(f"{text!r} is not a restaurant key of load {version}.")
    return text[len(head) :]


def user(settings: Settings, version: int | str, user_id: str) -> str:
    return f"{user_prefix(settings, version)}:{user_id}"


def document(settings: Settings, kind: str, version: int | str, item_id: str) -> str:
    """The key of one restaurant or user document of load `version`."""
    return f"{prefix(settings, kind, version)}:{item_id}"


def version_of_document(settings: Settings, kind: str, key: str) -> int | None:
    """The load version in a document key of `kind`, or None if it is not one."""
    head = prefix(settings, kind, "")
    if not key.startswith(head):
        return None
    number = key[len(head) :].split(":", 1)[0]
    return int(number) if number.isdigit() else None


def control(settings: Settings, *parts: str) -> str:
    """A control key, `{ns}:...`: the braces are a hash tag, so on a sharded Redis every
    control key of a namespace hashes to one slot (transactions over them are allowed)."""
    return ":".join([f"{{{settings.namespace}}}", *parts])


def namespace_patterns(namespace: str) -> tuple[str, str]:
    """SCAN patterns of every key of a namespace: documents, then control keys (braces
    are literal in Redis glob patterns)."""
    return f"{namespace}:*", f"{{{namespace}}}:*"


def live(settings: Settings) -> str:
    return control(settings, "live")


def version_counter(settings: Settings) -> str:
    return control(settings, "version")


def lock(settings: Settings) -> str:
    return control(settings, "lock")


def added(settings: Settings, kind: str) -> str:
    """The hash of records added at run time (`kind` = "restaurants" or "users")."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    return control(settings, "added", kind)


def feedback(settings: Settings, user_id: str) -> str:
    """The hash of one user's app feedback (not versioned: a retrain never drops it).

    A control key: the feedback script touches it with the two below in one call."""
    return control(settings, "feedback", "user", user_id)


def feedback_users(settings: Settings) -> str:
    """The hash user_id -> seq of that user's latest feedback change."""
    return control(settings, "feedback", "users")


def feedback_seq(settings: Settings) -> str:
    """The counter that numbers every feedback change."""
    return control(settings, "feedback", "seq")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class LivePointer:
    """The live load, as the `live` hash says (one parser for str and bytes replies).

    Attributes:
        version: the load number N; index: its index name.
        model_version: the checkpoint version that made its embeddings.
        restaurants / users: document counts; cuisines: every cuisine in the index.
        algorithm: "flat" or "hnsw"; model: what `publish` was told about the model.
        load_id: unique per load; stamp: (version, load_id) as stored, for comparisons.
        cell_counts: places per coarse grid cell (`geocells.cell_counts`), which the
            serving path reads to choose its query plan; left out of `as_dict`.
    """

    version: int
    index: str
    model_version: str
    restaurants: int
    users: int
    cuisines: tuple[str, ...]
    algorithm: str
    load_id: str
    loaded_at: str
    schema: str = ""  # fingerprint of the index schema it was built with ("" if unknown)
    model: dict[str, Any] = field(default_factory=dict)
    cell_counts: dict[str, int] = field(default_factory=dict)

    @property
    def stamp(self) -> tuple[str, str]:
        return (str(self.version), self.load_id)

    @classmethod
    def parse(cls, raw: Mapping[Any, Any]) -> LivePointer | None:
        """From an HGETALL reply (bytes or str); None for an empty hash."""
        if not raw:
            return None
        info = {_text(k): _text(v) for k, v in raw.items()}
        return cls(
            version=int(info["version"]),
            index=info["index"],
            model_version=info["model_version"],
            restaurants=int(info["restaurants"]),
            users=int(info["users"]),
            cuisines=tuple(json.loads(info.get("cuisines") or "[]")),
            algorithm=info.get("algorithm", "flat"),
            load_id=info.get("load_id", ""),
            loaded_at=info.get("loaded_at", ""),
            schema=info.get("schema", ""),
            model=json.loads(info.get("model") or "{}"),
            cell_counts=json.loads(info.get("cell_counts") or "{}"),
        )

    def as_dict(self) -> dict[str, Any]:
        """A plain dict (what the UI and the CLI summaries print), without `cell_counts`."""
        plain = {**asdict(self), "cuisines": list(self.cuisines)}
        del plain["cell_counts"]
        return plain

    def to_hash(self) -> dict[str, str | int]:
        """The fields as HSET writes them (lists and dicts as JSON)."""
        plain = {**self.as_dict(), "cell_counts": self.cell_counts}
        return {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in plain.items()}
