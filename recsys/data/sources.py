"""Restaurants: the user's file → the cached download → the download → generated data.

Every source is in the article's schema (a JSON object with a `restaurants` list)
and goes through `table.normalise_records` (the restaurants-table contract).
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.config import Settings
from recsys.data.table import normalise_records
from recsys.errors import RecsysError
from recsys.fileutil import atomic_path, atomic_write_json
from recsys.progress import Progress, ProgressFn, no_progress

FILE_NAME = "factual_tripadvisor_restaurant_data_all_100_reviews.json"
ARTICLE_URL = (
    "https://redis-ai-resources.s3.us-east-2.amazonaws.com/recommenders/datasets/two-towers/"
    + FILE_NAME
)
# Tests point this at a local server; "none" (or "off") skips the download entirely.
DATA_URL_ENV = "RECSYS_DATA_URL"
CONNECT_TIMEOUT_S = 5.0
GENERATED_COUNT = 220
GENERATED_SEED = 0


@dataclass(frozen=True)
class Restaurants:
    """The restaurants table and where it came from.

    Attributes:
        frame: one row per restaurant, columns `COLUMNS`.
        source: "file" (the user's), "download" (the article's) or "generated".
        path: the JSON file the table was read from.
        description: one plain sentence saying which source is in use and why.
    """

    frame: pd.DataFrame
    source: str
    path: Path
    description: str


# ---------------------------------------------------------------- files


def read_restaurants_file(path: Path) -> list[Any]:
    """The `restaurants` list of a JSON file in the article's schema.

    Raises:
        RecsysError: the file is missing, unreadable, not JSON, or has no `restaurants` list.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecsysError(f"restaurants file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise RecsysError(f"restaurants file {str(path)!r} is a directory, not a file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecsysError(f"restaurants file {str(path)!r} cannot be read ({exc}).") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecsysError(
            f"restaurants file {str(path)!r} is not valid JSON (line {exc.lineno}, "
            f"column {exc.colno}: {exc.msg})."
        ) from None
    except RecursionError:
        raise RecsysError(f"restaurants file {str(path)!r} is nested too deeply.") from None
    if not isinstance(document, dict) or not isinstance(document.get("restaurants"), list):
        raise RecsysError(
            f"restaurants file {str(path)!r} is not a JSON object with a 'restaurants' list."
        )
    return document["restaurants"]


def _load_file(path: Path) -> pd.DataFrame:
    try:
        return normalise_records(read_restaurants_file(path))
    except RecsysError as exc:
        message = str(exc)
        if str(path) in message:
            raise
        raise RecsysError(f"restaurants file {str(path)!r}: {message}") from None


# ---------------------------------------------------------------- download


class DownloadError(Exception):
    """Why the article's file could not be downloaded (becomes part of `.description`)."""


def data_url(env: Mapping[str, str] | None = None) -> str | None:
    """The download URL (env `RECSYS_DATA_URL` overrides; "none"/"off" disables it)."""
    env = os.environ if env is None else env
    url = (env.get(DATA_URL_ENV) or "").strip()
    if url.lower() in {"none", "off", "0", "false"}:
        return None
    return url or ARTICLE_URL


def _stream(url: str, out: Any, progress: ProgressFn) -> None:
    """Copy the response body to `out`, reporting bytes; check its Content-Length."""
    request = urllib.request.Request(url, headers={"User-Agent": "recsys/0.1"})
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0)
        done = 0
        try:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                done += len(chunk)
                progress(Progress("download", done, total, f"{done / 1e6:.1f} MB"))
        except http.client.IncompleteRead as exc:
            done += len(exc.partial)
            raise DownloadError(f"the download was cut short ({done} of {total} bytes)") from None
    if total and done != total:
        raise DownloadError(f"the download was cut short ({done} of {total} bytes)")
    progress(Progress("download", done, done or 1, f"{done / 1e6:.1f} MB"))


def download(url: str, dest: Path, progress: ProgressFn | None = None) -> pd.DataFrame:
    """Download the article's file to `dest`, keeping it only if it is valid.

    The body is streamed to a temporary file next to `dest`, checked (complete, JSON,
    a `restaurants` list whose records normalise), then renamed into place.

    Raises:
        DownloadError: with a short reason; nothing is left at `dest`.
    """
    progress = progress or no_progress
    try:
        with atomic_path(dest) as tmp:  # renamed onto dest only if it loads
            with open(tmp, "wb") as out:
                _stream(url, out, progress)
            frame = _load_file(tmp)
        return frame
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url} could not be reached: {exc.reason}") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"the download from {url} failed: {exc!r}") from None
    except RecsysError as exc:
        raise DownloadError(f"the downloaded file is not usable: {exc}") from None


# ---------------------------------------------------------------- sources


def load_restaurants(
    settings: Settings, path: Path | None = None, progress: ProgressFn | None = None
) -> Restaurants:
    """The restaurants table from the first source that works.

    Order: `path` or `settings.restaurants_file` (errors are raised, never skipped) →
    the cached download under the data dir → a fresh download (`data_url()`) → the
    generated San Francisco data set (cached under the data dir too).

    Raises:
        RecsysError: only for a user-given file that is missing or malformed.
    """
    explicit = path or settings.restaurants_file
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        frame = _load_file(explicit)
        return Restaurants(
            frame, "file", explicit, f"Your file {explicit} ({len(frame)} restaurants)."
        )
    cached = settings.path("restaurants", FILE_NAME)
    reason = _try_cached(cached)
    if isinstance(reason, pd.DataFrame):
        return _downloaded(reason, cached)
    url = data_url()
    if url is None:
        reasons = [f"downloads are disabled ({DATA_URL_ENV}=none)"]
    else:
        try:
            return _downloaded(download(url, cached, progress), cached)
        except DownloadError as exc:
            reasons = [str(exc)]
    if reason:
        reasons.insert(0, reason)
    return load_generated(settings, reason="; ".join(reasons))


def _try_cached(cached: Path) -> pd.DataFrame | str | None:
    """The cached download's table, or why it was dropped (None if there is none)."""
    if not cached.exists():
        return None
    try:
        return _load_file(cached)
    except RecsysError as exc:
        # Our own cache, so it is safe to drop; the download below replaces it.
        cached.unlink(missing_ok=True)
        return f"the cached download was unusable and was removed ({exc})"


def _downloaded(frame: pd.DataFrame, cached: Path) -> Restaurants:
    description = f"Downloaded article data set ({len(frame)} restaurants), cached at {cached}."
    return Restaurants(frame, "download", cached, description)


def generated_path(
    settings: Settings, n: int = GENERATED_COUNT, seed: int = GENERATED_SEED
) -> Path:
    """Where the generated data set for (n, seed) is cached (the directory is created)."""
    path = settings.path("restaurants", f"generated-sf-{n}-seed{seed}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def load_generated(
    settings: Settings, reason: str = "", n: int = GENERATED_COUNT, seed: int = GENERATED_SEED
) -> Restaurants:
    """The generated San Francisco data set, from its cache or freshly generated.

    The cache is tagged with the generator version and regenerated when it changes.
    """
    from recsys.data import synth  # imported here: only needed when nothing else worked

    dest = generated_path(settings, n, seed)
    frame = _cached_generated(dest, synth.GENERATOR_VERSION)
    if frame is None:
        document = synth.generate_restaurants(n=n, seed=seed)
        frame = normalise_records(document["restaurants"])
        atomic_write_json(dest, document)
    why = f": the article's file could not be downloaded ({reason})" if reason else ""
    description = (
        f"Generated San Francisco data set ({len(frame)} restaurants, seed {seed}), "
        f"saved at {dest}{why}."
    )
    return Restaurants(frame, "generated", dest, description)


def _cached_generated(dest: Path, version: int) -> pd.DataFrame | None:
    if not dest.exists():
        return None
    try:
        document = json.loads(dest.read_text(encoding="utf-8"))
        if document.get("generator_version") != version:
            return None
        return normalise_records(document["restaurants"])
    except (OSError, ValueError, KeyError, AttributeError, RecsysError):
        return None  # our own cache: regenerate rather than fail
