"""Settings and the facts the whole project shares (one source of truth each).

- `EMBEDDING_DIM`: the size of both towers' output and of the index's vector field.
- `TIMEZONE`: San Francisco wall-clock time, used by the hours rules and the UI.
- `Settings`: where state lives (`RECSYS_DATA_DIR`), the Redis key namespace
  (`RECSYS_NAMESPACE`), an external Redis (`REDIS_URL`), a restaurants file
  (`RECSYS_RESTAURANTS`) and the vector index algorithm (`RECSYS_VECTOR_ALGORITHM`:
  `flat`, exact, the default; or `hnsw`, approximate), all read from the
  environment and validated once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from recsys.errors import RecsysError

EMBEDDING_DIM = 128
TIMEZONE_NAME = "America/Los_Angeles"
TIMEZONE = ZoneInfo(TIMEZONE_NAME)

# The article's default map centre (Western Addition) and San Francisco's bounds.
DEFAULT_LAT, DEFAULT_LON = 37.779, -122.439
DEFAULT_NAMESPACE = "recsys"
VECTOR_ALGORITHMS = ("flat", "hnsw")
_NAMESPACE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Settings:
    """Where the app keeps its state and which Redis it talks to."""

    data_dir: Path
    namespace: str = DEFAULT_NAMESPACE
    redis_url: str | None = None
    restaurants_file: Path | None = None
    algorithm: str = "flat"
    # A per-query TIMEOUT (ms) on this namespace's searches; None (always, for the app
    # and the CLI): the server's TIMEOUT config applies. Only the bench sets it, on its
    # throw-away namespaces (`bench.BENCH_TIMEOUT_MS`); it never changes the config.
    search_timeout_ms: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate settings from the environment (or a given mapping)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("RECSYS_DATA_DIR") or "data").expanduser().resolve()
        if data_dir.exists() and not data_dir.is_dir():
            raise RecsysError(f"RECSYS_DATA_DIR {str(data_dir)!r} is a file, not a directory.")
        namespace = env.get("RECSYS_NAMESPACE") or DEFAULT_NAMESPACE
        if not _NAMESPACE_RE.match(namespace):
            raise RecsysError(
                f"RECSYS_NAMESPACE {namespace!r} is not valid: use a letter followed by up "
                "to 39 letters, digits, '-' or '_'."
            )
        redis_url = env.get("REDIS_URL") or None
        if redis_url:
            check_redis_url(redis_url)
        restaurants = env.get("RECSYS_RESTAURANTS") or None
        algorithm = (env.get("RECSYS_VECTOR_ALGORITHM") or "flat").lower()
        if algorithm not in VECTOR_ALGORITHMS:
            raise RecsysError(
                f"RECSYS_VECTOR_ALGORITHM {algorithm!r} is not one of: "
                f"{', '.join(VECTOR_ALGORITHMS)}."
            )
        return cls(
            data_dir=data_dir,
            namespace=namespace,
            redis_url=redis_url,
            restaurants_file=Path(restaurants).expanduser() if restaurants else None,
            algorithm=algorithm,
        )

    def path(self, *parts: str) -> Path:
        """A path under the data directory (the directory is created on demand, 0700)."""
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise RecsysError(
                f"the data directory {str(self.data_dir)!r} cannot be created ({exc.strerror})."
            ) from None
        return self.data_dir.joinpath(*parts)

    def key(self, *parts: str) -> str:
        """A Redis key or index name under this namespace, e.g. `recsys:lock`."""
        return ":".join((self.namespace, *parts))


def redact_url(url: str) -> str:
    """`url` with its password replaced by `****`, fit to print or log (even when the
    URL is malformed and cannot be parsed)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return re.sub(r"(://[^/@]*?:)[^/]*@", r"\1****@", url)
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def check_redis_url(url: str) -> None:
    """Refuse a REDIS_URL that redis-py could not use, naming it without its password.

    Raises:
        RecsysError: not redis://, rediss:// or unix://, or malformed (host, port).
    """
    if not re.match(r"^(redis|rediss|unix)://", url):
        raise RecsysError(
            f"REDIS_URL {redact_url(url)!r} is not a Redis URL: it must start with "
            "redis://, rediss:// or unix://."
        )
    from redis.connection import parse_url  # what redis-py itself will do with it

    try:
        parse_url(url)
    except ValueError as exc:
        why = " ".join(str(exc).split()).rstrip(".") or "malformed"
        raise RecsysError(f"REDIS_URL {redact_url(url)!r} is not valid ({why}).") from None
