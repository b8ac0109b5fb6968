"""Users: the likes vocabulary, how likes relate to restaurants, Faker users, users files.

The article gives users 13 likes that share no vocabulary with the restaurants'
cuisines. Generated users draw their likes from `LIKES`, and every one of those has
a documented rule (`LIKE_RULES`) saying which restaurants satisfy it, through their
cuisines and/or attributes. The rules are a prior, not a closed list: a users file
may name any likes (the model learns its likes vocabulary from the training users,
see `features.py`); the default simulated world plants its preference through the
rules, the content baseline ranks by them, and the model gets them as optional
restaurant features (`match:<like>`) that it may use or ignore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys import limits
from recsys.errors import RecsysError
from recsys.fileutil import atomic_path, parse_bool

# The article's 13 likes, then the ones the restaurants' cuisines need.
ARTICLE_LIKES = (
    "burgers", "shakes", "pizza", "italian", "mexican", "fine dining", "bbq",
    "cocktails", "breweries", "ethiopian", "pasta", "brunch", "fast food",
)  # fmt: skip
EXTRA_LIKES = (
    "sushi", "chinese", "indian", "thai", "vietnamese", "vegetarian", "seafood",
    "coffee", "mediterranean", "french", "dessert", "sandwiches",
)  # fmt: skip
LIKES = ARTICLE_LIKES + EXTRA_LIKES

PRICE_BRACKETS = ("low", "middle", "high")
MAX_LIKES = 50  # likes of one user: repeats allowed, floods not
VISIBILITIES = ("public", "private", "friends-only")
BOOL_FIELDS = ("newsletter", "notifications", "data_sharing")
USER_FIELDS = (
    "user_id", "name", "username", "email", "address", "phone_number", "birthdate",
    "likes", "account_created_on", "price_bracket", "newsletter", "notifications",
    "profile_visibility", "data_sharing",
)  # fmt: skip
# A fixed "today" keeps ages and account ages (features) reproducible.
REFERENCE_DATE = date(2025, 1, 1)
# Birthdates and account dates are accepted from this day up to today.
EARLIEST_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class LikeRule:
    """Which restaurants satisfy a like.

    A restaurant satisfies the like fully (1.0) when one of its cuisines, compared
    case-insensitively, is in `cuisines`, or when `prices` contains its price, or
    when one of the boolean `attributes` is true; `late` (open after 22:00 on some
    day) adds a half match, so a late bar suits "cocktails" better than an early one.
    """

    cuisines: frozenset[str] = frozenset()
    prices: frozenset[int] = frozenset()
    attributes: tuple[str, ...] = ()
    late: bool = False


def _rule(cuisines: str = "", prices: tuple[int, ...] = (), attributes=(), late=False):
    names = frozenset(c.strip().lower() for c in cuisines.split(",") if c.strip())
    return LikeRule(names, frozenset(prices), tuple(attributes), late)


# like -> rule. Cuisine names follow the article's data (Factual/TripAdvisor style).
LIKE_RULES: dict[str, LikeRule] = {
    "burgers": _rule("Burgers, American, Diner, Hamburgers"),
    "shakes": _rule("Ice Cream, Diner, Burgers, Desserts, Frozen Yogurt"),
    "pizza": _rule("Pizza"),
    "italian": _rule("Italian, Pizza"),
    "mexican": _rule("Mexican, Latin American, Tex-Mex, Tacos, Burritos"),
    "fine dining": _rule("French, Steakhouse, Steak, Fine Dining", prices=(4,)),
    "bbq": _rule("Barbecue, BBQ, Southern, Steakhouse"),
    "cocktails": _rule("Bar, Cocktails, Lounge, Wine Bar", late=True),
    "breweries": _rule("Pub Food, Pub, Brewery, Beer, Gastropub, Beer Garden", late=True),
    "ethiopian": _rule("Ethiopian, African"),
    "pasta": _rule("Italian, Pasta"),
    "brunch": _rule("Brunch, Breakfast, Cafe, Bakery", attributes=("meal_breakfast",)),
    "fast food": _rule("Fast Food, Hot Dogs, Burgers, Sandwiches", prices=(1,)),
    "sushi": _rule("Sushi, Japanese"),
    "chinese": _rule("Chinese, Dim Sum, Asian"),
    "indian": _rule("Indian, Pakistani, Nepalese"),
    "thai": _rule("Thai"),
    "vietnamese": _rule("Vietnamese, Pho"),
    "vegetarian": _rule("Vegetarian, Vegan, Healthy", attributes=("options_vegetarian",)),
    "seafood": _rule("Seafood, Sushi, Fish"),
    "coffee": _rule("Coffee, Cafe, Coffee & Tea, Tea", attributes=("meal_breakfast",)),
    "mediterranean": _rule("Mediterranean, Greek, Middle Eastern, Turkish"),
    "french": _rule("French, Crêperie, Creperie"),
    "dessert": _rule("Desserts, Dessert, Bakery, Ice Cream"),
    "sandwiches": _rule("Sandwiches, Deli, Delis"),
}
assert set(LIKE_RULES) == set(LIKES)
LATE_MINUTE = 22 * 60  # open past 22:00 counts as "late hours"


def open_late(intervals: Any) -> bool:
    """Whether any opening interval runs past 22:00 (hours.py's interval tuples)."""
    if not intervals:
        return False
    return any(close > LATE_MINUTE for _day, _open, close in intervals)


def like_matrix(restaurants: pd.DataFrame, rules: dict[str, LikeRule] | None = None) -> np.ndarray:
    """How well each restaurant satisfies each like: float32 (n_restaurants, len(LIKES)).

    1.0 for a cuisine, price or attribute match, +0.5 for late hours where the rule
    asks for them, capped at 1.0 (a late bar without the cuisine still scores 0.5).
    `rules` (default `LIKE_RULES`) maps every like of `LIKES` to its rule.
    """
    rules = LIKE_RULES if rules is None else rules
    out = np.zeros((len(restaurants), len(LIKES)), dtype=np.float32)
    for i, row in enumerate(restaurants.itertuples(index=False)):
        cuisines = {str(c).strip().lower() for c in (row.cuisines or [])}
        late = open_late(row.intervals)
        for j, like in enumerate(LIKES):
            rule = rules[like]
            hit = bool(cuisines & rule.cuisines) or int(row.price) in rule.prices
            hit = hit or any(bool(getattr(row, a, False)) for a in rule.attributes)
            out[i, j] = min(1.0, float(hit) + (0.5 if rule.late and late else 0.0))
    return out


def likes_multi_hot(likes: pd.Series) -> np.ndarray:
    """Multi-hot of each user's likes over `LIKES`: float32 (n_users, len(LIKES)).

    Likes outside `LIKES` (a users file may have any) have no rule: they are skipped.
    """
    index = {like: j for j, like in enumerate(LIKES)}
    out = np.zeros((len(likes), len(LIKES)), dtype=np.float32)
    for i, user_likes in enumerate(likes):
        for like in user_likes:
            if like in index:
                out[i, index[like]] = 1.0
    return out


# --- generated users ---------------------------------------------------------------


def generate_users(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Generate `n` users with the article's fields, identical for the same seed."""
    from faker import Faker  # imported here: only generation needs it

    if n < 1:
        raise RecsysError(f"number of users {n} must be at least 1.")
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    # Some likes are more common than others, as in life; a fixed permutation decides.
    like_weights = 1.0 / np.arange(1, len(LIKES) + 1) ** 0.6
    like_weights = like_weights[rng.permutation(len(LIKES))]
    like_weights /= like_weights.sum()
    from recsys.data.synth import sf_addresses

    addresses = sf_addresses(n, seed)
    rows = []
    for i in range(n):
        n_likes = int(rng.integers(1, 5))
        likes = rng.choice(len(LIKES), size=n_likes, replace=False, p=like_weights)
        name, username, email = fake.name(), fake.user_name(), fake.email()
        # Faker's address is drawn and discarded so every later Faker field stays as it
        # was (published figures depend on them); the address itself is in SF.
        fake.address()
        rows.append(
            {
                "user_id": f"u{i + 1:04d}",
                "name": name,
                "username": username,
                "email": email,
                "address": addresses[i],
                "phone_number": fake.phone_number(),
                # Ages 18-80 on REFERENCE_DATE, not today: the same seed gives the same
                # users on any day (Faker's date_of_birth counts from today).
                "birthdate": fake.date_between(
                    REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 80),
                    REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 18),
                ).isoformat(),
                "likes": [LIKES[j] for j in sorted(likes)],
                "account_created_on": fake.date_between(
                    date(2015, 1, 1), REFERENCE_DATE
                ).isoformat(),
                "price_bracket": str(rng.choice(PRICE_BRACKETS, p=[0.35, 0.45, 0.2])),
                "newsletter": bool(rng.random() < 0.4),
                "notifications": bool(rng.random() < 0.6),
                "profile_visibility": str(rng.choice(VISIBILITIES)),
                "data_sharing": bool(rng.random() < 0.5),
            }
        )
    return pd.DataFrame(rows, columns=list(USER_FIELDS))


def save_users(users: pd.DataFrame, path: Path) -> None:
    """Write users as JSON Lines (likes as a JSON list)."""
    with atomic_path(path) as tmp:
        users.to_json(tmp, orient="records", lines=True, force_ascii=False)


# --- validation: users files and new users -----------------------------------------


def _parse_likes(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        if len(value) > limits.MAX_CHARS["like"] * len(LIKES):
            raise RecsysError(f"{where}: likes {limits.echo(value)} is too long.")
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                raise RecsysError(
                    f"{where}: likes {limits.echo(value)} is not a JSON list."
                ) from None
        else:
            value = [part for part in text.split(";")]
    if not isinstance(value, (list, tuple)):
        raise RecsysError(
            f"{where}: likes {limits.echo(value)} must be a list or ';'-separated text."
        )
    if len(value) > MAX_LIKES:
        raise RecsysError(f"{where}: likes has {len(value)} entries; at most {MAX_LIKES}.")
    # Any like is accepted: likes are data (the model learns its vocabulary from the
    # training users); one it never saw is ignored, with a warning, when embedding.
    likes = [" ".join(limits.text(v, "like", where).split()).lower() for v in value]
    likes = [like for like in likes if like]
    if not likes:
        raise RecsysError(f"{where}: likes is empty; give at least one like, e.g. pizza.")
    return list(dict.fromkeys(likes))


def _parse_bool(value: Any, field: str, where: str) -> bool:
    flag = parse_bool(value)
    if flag is not None:
        return flag
    raise RecsysError(f"{where}: {field} {limits.echo(value)} is not true or false.")


def _parse_date(value: Any, field: str, where: str) -> str:
    if not isinstance(value, str | date) or len(str(value)) > 40:
        raise RecsysError(f"{where}: {field} {limits.echo(value)} is not a date YYYY-MM-DD.")
    try:
        day = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise RecsysError(
            f"{where}: {field} {limits.echo(value)} is not a date YYYY-MM-DD."
        ) from None
    if not EARLIEST_DATE <= day <= date.today():
        raise RecsysError(
            f"{where}: {field} {limits.echo(value)} is not between "
            f"{EARLIEST_DATE.isoformat()} and today."
        )
    return day.isoformat()


def _choice(value: Any, field: str, options: tuple[str, ...], where: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in options:
        raise RecsysError(
            f"{where}: {field} {limits.echo(value)} must be one of {', '.join(options)}."
        )
    return text


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


DEFAULTS: dict[str, Any] = {
    "name": "", "username": "", "email": "", "address": "", "phone_number": "",
    "birthdate": "1990-01-01", "account_created_on": REFERENCE_DATE.isoformat(),
    "newsletter": False, "notifications": False, "profile_visibility": "public",
    "data_sharing": False,
}  # fmt: skip


def validate_profile(profile: dict[str, Any], where: str = "new user") -> dict[str, Any]:
    """Validate one user (a users-file row or a new user's JSON) and fill defaults.

    Required: `likes` and `price_bracket`; every other field of `USER_FIELDS` gets a
    neutral default. Raises RecsysError naming `where` and the bad value.
    """
    if not isinstance(profile, dict):
        raise RecsysError(f"{where}: expected a JSON object, got {type(profile).__name__}.")
    limits.nesting(profile, where)
    for field in ("likes", "price_bracket"):
        if _is_missing(profile.get(field)):
            raise RecsysError(f"{where}: the required field {field!r} is missing.")
    out = {f: profile[f] if not _is_missing(profile.get(f)) else DEFAULTS.get(f) for f in DEFAULTS}
    user_id = profile.get("user_id")
    out["user_id"] = limits.text(
        "new-user" if _is_missing(user_id) else user_id,
        "user_id", where, required=True, numbers=True, single_line=True,
    )  # fmt: skip
    out["likes"] = _parse_likes(profile["likes"], where)
    out["price_bracket"] = _choice(profile["price_bracket"], "price_bracket", PRICE_BRACKETS, where)
    out["profile_visibility"] = _choice(
        out["profile_visibility"], "profile_visibility", VISIBILITIES, where
    )
    for field in BOOL_FIELDS:
        out[field] = _parse_bool(out[field], field, where)
    for field in ("birthdate", "account_created_on"):
        out[field] = _parse_date(out[field], field, where)
    for field in ("name", "username", "email", "address", "phone_number"):
        out[field] = limits.text(out[field], field, where, numbers=field == "phone_number")
    return {f: out[f] for f in USER_FIELDS}


def _read_table(path: Path) -> pd.DataFrame:
    if path.is_dir():
        raise RecsysError(f"users file {str(path)!r} is a directory, not a file.")
    if not path.is_file():
        raise RecsysError(f"users file {str(path)!r} does not exist.")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_json(path, lines=True, dtype=False)
    except RecursionError:
        raise RecsysError(f"users file {str(path)!r} is nested too deeply.") from None
    except (ValueError, pd.errors.ParserError) as exc:
        kind = "CSV" if path.suffix.lower() == ".csv" else "JSON Lines"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RecsysError(f"users file {str(path)!r} is not valid {kind}: {first}.") from None


def load_users(path: Path) -> pd.DataFrame:
    """Read and validate a users file (CSV or JSON Lines); errors name the row.

    Rows are numbered from 1 as a person counts them (the CSV header is not a row).
    """
    path = Path(path)
    table = _read_table(path)
    missing = [f for f in ("user_id", "likes", "price_bracket") if f not in table.columns]
    if missing:
        raise RecsysError(f"users file {str(path)!r} has no {', '.join(missing)} column.")
    rows, seen = [], set()
    for i, record in enumerate(table.to_dict(orient="records"), start=1):
        where = f"users file row {i}"
        raw_id = record.get("user_id")
        raw_id = None if _is_missing(raw_id) else raw_id
        user_id = limits.text(
            raw_id, "user_id", where, required=True, numbers=True, single_line=True
        )
        record["user_id"] = user_id
        if user_id in seen:
            raise RecsysError(f"{where}: user_id {user_id!r} appears twice.")
        seen.add(user_id)
        rows.append(validate_profile(record, where=f"{where} ({user_id!r})"))
    if not rows:
        raise RecsysError(f"users file {str(path)!r} has no users.")
    return pd.DataFrame(rows, columns=list(USER_FIELDS))
