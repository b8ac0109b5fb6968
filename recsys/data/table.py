"""The restaurants table: its columns and the validation of one source record.

This is the contract every restaurants source (the user's file, the article's
download, the generators) goes through: `normalise_records` validates each record
and builds the one table the rest of the project uses (docs/architecture.md,
"Restaurants table"). Quirks of the real file are accepted: `price` as a string,
missing keys (booleans -> False, cuisine -> [], hours -> unknown, reviews -> none),
missing days, several intervals a day, "23:59" closings, chains sharing a name.

Ids: the record's `id` if present (must be unique), else a slug of name + address;
two records with the same name and address get "-2", "-3", ... in file order.
A leaf module: no I/O, no PyTorch, no Redis.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from recsys import limits
from recsys.data import hours
from recsys.errors import RecsysError
from recsys.fileutil import parse_bool

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
    flag = parse_bool(value)
    if flag is not None:
        return flag
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
