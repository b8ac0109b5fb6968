"""Restaurants: the user's file → the cached download → the download → generated data.

Every source is in the article's schema (a JSON object with a `restaurants` list)
and goes through `normalise_records`, which validates each record and builds the
one restaurants table the rest of the project uses (docs/architecture.md,
"Restaurants table"). Quirks of the real file are accepted: `price` as a string,
missing keys (booleans → False, cuisine → [], hours → unknown, reviews → none),
missing days, several intervals a day, "23:59" closings, chains sharing a name.

Ids: the record's `id` if present (must be unique), else a slug of name + address;
two records with the same name and address get "-2", "-3", … in file order.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import math
import os
import re
import tempfile
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recsys import hours, limits
from recsys.config import Settings
from recsys.errors import RecsysError
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

BOOL_ATTRIBUTES = (
    "parking",
    "parking_valet",
    "parking_garage",
    "parking_street",
    "parking_lot",
    "parking_validated",
    "parking_free",
    "smoking",
    "accessible_wheelchair",
    "wifi",
    "meal_breakfast",
    "meal_deliver",
    "meal_dinner",
    "meal_lunch",
    "meal_takeout",
    "meal_cater",
    "options_healthy",
    "options_organic",
    "options_vegetarian",
    "options_vegan",
    "options_glutenfree",
    "options_lowfat",
)
REVIEW_STATS = ("review_rating_min", "review_rating_max", "review_rating_mean", "review_rating_std")
COLUMNS = (
    "id",
    "name",
    "address",
    "locality",
    "lat",
    "lon",
    "cuisines",
    "price",
    "rating",
    "hours_raw",
    "intervals",
    "review_count",
    *REVIEW_STATS,
    *BOOL_ATTRIBUTES,
)
_TRUE = {"true", "yes", "1", "t", "y"}
_FALSE = {"false", "no", "0", "f", "n", ""}


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


# ---------------------------------------------------------------- records


def _label(record: Mapping[str, Any], index: int | None) -> str:
    """How error messages name a record: "restaurant #12 ('Foo')" (1-based)."""
    name = record.get("name") if isinstance(record, Mapping) else None
    where = f"restaurant #{index + 1}" if index is not None else "restaurant"
    return f"{where} ({limits.echo(name)})" if isinstance(name, str) and name.strip() else where


def _number(value: Any) -> float | None:
    """A finite float from a number or numeric string, else None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def _text(record: Mapping[str, Any], key: str, label: str, *, required: bool = False) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise RecsysError(f"{label}: {key} is missing.")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RecsysError(f"{label}: {key} {limits.echo(value)} is not a non-empty text.")
    return limits.text(value, key, label)


def _coordinate(record: Mapping[str, Any], key: str, limit: float, label: str) -> float:
    value = record.get(key)
    number = _number(value)
    if number is None or not -limit <= number <= limit:
        raise RecsysError(f"{label}: {key} {value!r} is not a number between -{limit} and {limit}.")
    return number


def _price(record: Mapping[str, Any], label: str) -> int:
    value = record.get("price")
    number = _number(value)
    if number is None or number not in (1, 2, 3, 4):
        raise RecsysError(f"{label}: price {value!r} is not a number 1-4.")
    return int(number)


def _rating(record: Mapping[str, Any], label: str) -> float:
    value = record.get("rating")
    number = _number(value)
    if number is None or not 0 <= number <= 5:
        raise RecsysError(f"{label}: rating {value!r} is not a number 0-5.")
    return number


def _cuisines(record: Mapping[str, Any], label: str) -> list[str]:
    value = record.get("cuisine")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
        raise RecsysError(f"{label}: cuisine {limits.echo(value)} is not a list of names.")
    # Keep the source's spelling and order, drop repeats.
    names = list(dict.fromkeys(limits.cuisine(c, label) for c in value))
    if len(names) > limits.MAX_CUISINES:
        raise RecsysError(
            f"{label}: {len(names)} cuisines; at most {limits.MAX_CUISINES} are accepted."
        )
    return names


def _flag(record: Mapping[str, Any], key: str, label: str) -> bool:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RecsysError(f"{label}: {key} {value!r} is not true or false.")


def _review_stats(record: Mapping[str, Any], label: str) -> dict[str, float | int]:
    reviews = record.get("reviews")
    if reviews is None:
        reviews = []
    if not isinstance(reviews, list) or not all(isinstance(r, Mapping) for r in reviews):
        raise RecsysError(f"{label}: reviews is not a list of objects.")
    ratings = []
    for number, review in enumerate(reviews, start=1):
        value = review.get("review_rating")
        if value is None:
            continue  # a review without a rating still counts as a review
        rating = _number(value)
        if rating is None or not 0 <= rating <= 5:
            raise RecsysError(f"{label}: review #{number} review_rating {value!r} is not 0-5.")
        ratings.append(rating)
    series = pd.Series(ratings, dtype=float)
    stats = [series.min(), series.max(), series.mean(), series.std(ddof=0)] if ratings else []
    return {
        "review_count": len(reviews),
        **{key: float(v) for key, v in zip(REVIEW_STATS, stats or [0.0] * 4, strict=True)},
    }


def _hours(record: Mapping[str, Any], label: str) -> tuple[hours.Interval, ...] | None:
    try:
        return hours.parse_hours(record.get("hours"))
    except RecsysError as exc:
        raise RecsysError(f"{label}: {exc}") from None


def slugify(text: str) -> str:
    """A stable URL-safe id: "21st Amendment Brewery & Restaurant 563 2nd St" ->
    "21st-amendment-brewery-restaurant-563-2nd-st" (a hash when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug or "restaurant-" + hashlib.sha1(text.encode()).hexdigest()[:10]


def _record_id(record: Mapping[str, Any], name: str, address: str, label: str) -> str:
    value = record.get("id")
    if value is None:
        return slugify(f"{name} {address}")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise RecsysError(f"{label}: id {limits.echo(value)} is not a non-empty text or number.")
    return limits.text(value, "id", label, limit="restaurant_id", numbers=True, single_line=True)


def validate_record(record: Any, index: int | None = None) -> dict[str, Any]:
    """Validate one source record and return its row of the restaurants table.

    Args:
        record: a restaurant in the article's schema.
        index: its 0-based position in the file, used to name it in errors.

    Raises:
        RecsysError: naming the record (1-based "#n" and name) and the bad field.
    """
    label = _label(record, index)
    if not isinstance(record, Mapping):
        raise RecsysError(f"{label} is not a JSON object.")
    limits.nesting(record, label)
    name = _text(record, "name", label, required=True)
    address = _text(record, "address", label)
    raw_hours = record.get("hours") or None
    row: dict[str, Any] = {
        "id": _record_id(record, name, address, label),
        "name": name,
        "address": address,
        "locality": _text(record, "locality", label),
        "lat": _coordinate(record, "latitude", 90, label),
        "lon": _coordinate(record, "longitude", 180, label),
        "cuisines": _cuisines(record, label),
        "price": _price(record, label),
        "rating": _rating(record, label),
        "hours_raw": raw_hours,
        "intervals": _hours(record, label),
    }
    row.update(_review_stats(record, label))
    row.update({key: _flag(record, key, label) for key in BOOL_ATTRIBUTES})
    return row


def _unique_ids(rows: list[dict[str, Any]], explicit: list[bool]) -> None:
    """Suffix repeated slugs ("-2", "-3" …); a repeated explicit id is the user's error."""
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        rid = row["id"]
        if rid in seen and explicit[i]:
            first = seen[rid]
            raise RecsysError(
                f"{_label(row, i)}: id {rid!r} is already used by {_label(rows[first], first)}."
            )
        candidate, n = rid, 1
        while candidate in seen:
            n += 1
            candidate = f"{rid}-{n}"
        row["id"] = candidate
        seen[candidate] = i


def normalise_records(records: Sequence[Any]) -> pd.DataFrame:
    """Validate source records and build the restaurants table (columns `COLUMNS`).

    Raises:
        RecsysError: there are no records, or one is malformed (named in the message).
    """
    if not isinstance(records, Sequence) or isinstance(records, str | bytes):
        raise RecsysError("restaurants is not a list of restaurant objects.")
    if not records:
        raise RecsysError("the restaurants list is empty.")
    rows = [validate_record(record, i) for i, record in enumerate(records)]
    _unique_ids(rows, [r.get("id") is not None for r in records])
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.astype({"lat": float, "lon": float, "price": int, "rating": float})
    return frame.astype({"review_count": int, **dict.fromkeys(BOOL_ATTRIBUTES, bool)})


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


def _write_json_atomic(document: Mapping[str, Any], dest: Path) -> None:
    """Write through a temporary file in the same directory, then rename (no half files)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


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
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, progress)
        frame = _load_file(tmp)
        os.replace(tmp, dest)
        return frame
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"{url} could not be reached: {exc.reason}") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DownloadError(f"the download from {url} failed: {exc!r}") from None
    except RecsysError as exc:
        raise DownloadError(f"the downloaded file is not usable: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


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
    from recsys import synth  # imported here: only needed when nothing else worked

    dest = generated_path(settings, n, seed)
    frame = _cached_generated(dest, synth.GENERATOR_VERSION)
    if frame is None:
        document = synth.generate_restaurants(n=n, seed=seed)
        frame = normalise_records(document["restaurants"])
        _write_json_atomic(document, dest)
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
