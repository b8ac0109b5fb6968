"""Feature encoders for both towers, fitted once and saved as plain JSON-able state.

User tower input: standardised age and account age, multi-hot likes (over the likes
that appear among the training users: likes are data, not a closed list; one never
seen in training is ignored, with an `UnknownLikesWarning`), one-hot price bracket
and profile visibility, booleans. Restaurant tower input: standardised
lat/lon/price/rating/review statistics, multi-hot cuisines (the article dropped
them), the built-in likes each restaurant satisfies (`users.LIKE_RULES`: an optional
prior the towers may use or ignore, since nothing ties these columns to the user's
likes), one-hot price level, the boolean attributes, late hours.

State is lists and numbers only (no pickle), so a checkpoint can be loaded with
`torch.load(weights_only=True)` and inspected by eye.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.preprocessing import MultiLabelBinarizer, OneHotEncoder, StandardScaler

from recsys.data.interactions import user_ages
from recsys.data.users import (
    BOOL_FIELDS,
    LIKES,
    PRICE_BRACKETS,
    REFERENCE_DATE,
    VISIBILITIES,
    like_matrix,
    open_late,
)

FEATURES_VERSION = 2  # bump when the meaning of a feature changes (2: likes learnt from data)
# Age groups as well as scaled age: tastes change in steps, and a linear tower can use them.
AGE_GROUPS = {"18-24": 25, "25-34": 35, "35-49": 50, "50-64": 65, "65+": 200}
LIKE_MATCH = [f"match:{like}" for like in LIKES]


class UnknownLikesWarning(UserWarning):
    """A user names likes the model never saw in training: they are ignored."""


def _bool_attributes() -> tuple[str, ...]:
    from recsys.data.table import BOOL_ATTRIBUTES  # the restaurants table owns the list

    return tuple(BOOL_ATTRIBUTES)


@dataclass
class TableEncoder:
    """Turns a prepared table into a float32 matrix: numerics | multi-hots | one-hots | bools."""

    numeric: list[str]
    multilabel: dict[str, list[str]]  # column -> fixed vocabulary (unknown values ignored)
    onehot: dict[str, list[str]]  # column -> categories (unknown -> all zeros)
    boolean: list[str]
    mean: list[float] | None = None
    scale: list[float] | None = None

    def fit(self, table: pd.DataFrame) -> TableEncoder:
        scaler = StandardScaler().fit(table[self.numeric].to_numpy(dtype=np.float64))
        self.mean, self.scale = scaler.mean_.tolist(), scaler.scale_.tolist()
        return self

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        scaler = StandardScaler()
        scaler.mean_, scaler.scale_ = np.array(self.mean), np.array(self.scale)
        scaler.n_features_in_ = len(self.numeric)
        parts = [scaler.transform(table[self.numeric].to_numpy(dtype=np.float64))]
        with warnings.catch_warnings():  # an unseen cuisine is expected, not news
            warnings.simplefilter("ignore", UserWarning)
            for column, vocab in self.multilabel.items():
                mlb = MultiLabelBinarizer(classes=vocab).fit([])
                parts.append(mlb.transform(table[column]))
        for column, categories in self.onehot.items():
            ohe = OneHotEncoder(categories=[categories], handle_unknown="ignore")
            ohe.fit(pd.DataFrame({column: categories[:1]}))
            parts.append(ohe.transform(table[[column]].astype(str)).toarray())
        parts.append(table[self.boolean].to_numpy(dtype=np.float64))
        return np.hstack(parts).astype(np.float32)

    def feature_names(self) -> list[str]:
        names = list(self.numeric)
        names += [f"{c}:{v}" for c, vocab in self.multilabel.items() for v in vocab]
        names += [f"{c}={v}" for c, cats in self.onehot.items() for v in cats]
        return names + list(self.boolean)

    def state(self) -> dict[str, Any]:
        return dict(self.__dict__)


def prepare_users(users: pd.DataFrame) -> pd.DataFrame:
    """The user columns the encoder reads (derived ones computed at REFERENCE_DATE)."""
    created = pd.to_datetime(users["account_created_on"], errors="coerce")
    account_years = (pd.Timestamp(REFERENCE_DATE) - created).dt.days / 365.25
    ages = user_ages(users)
    # The last group takes any age beyond its bound (validation keeps ages sensible).
    oldest = list(AGE_GROUPS)[-1]
    groups = [next((g for g, upper in AGE_GROUPS.items() if age < upper), oldest) for age in ages]
    out = pd.DataFrame(
        {
            "age": ages,
            "age_group": groups,
            "account_years": account_years.fillna(0.0).to_numpy(),
            "likes": [list(x) for x in users["likes"]],
            "price_bracket": users["price_bracket"].astype(str).to_numpy(),
            "profile_visibility": users["profile_visibility"].astype(str).to_numpy(),
        }
    )
    for field in BOOL_FIELDS:
        out[field] = users[field].astype(bool).to_numpy()
    return out


RESTAURANT_NUMERIC = [
    "lat", "lon", "price", "rating", "log_review_count", "review_rating_min",
    "review_rating_max", "review_rating_mean", "review_rating_std",
]  # fmt: skip


def prepare_restaurants(restaurants: pd.DataFrame) -> pd.DataFrame:
    """The restaurant columns the encoder reads, cuisines lower-cased."""
    out = restaurants[[c for c in RESTAURANT_NUMERIC if c in restaurants.columns]].copy()
    out["log_review_count"] = np.log1p(restaurants["review_count"].astype(float))
    out["cuisines"] = [
        [str(c).strip().lower() for c in (cs or [])] for cs in restaurants["cuisines"]
    ]
    out["price_level"] = restaurants["price"].astype(int).astype(str)
    matches = like_matrix(restaurants)
    for j, name in enumerate(LIKE_MATCH):
        out[name] = matches[:, j]
    out["open_late"] = [open_late(iv) for iv in restaurants["intervals"]]
    out["hours_known"] = [iv is not None for iv in restaurants["intervals"]]
    for attr in _bool_attributes():
        out[attr] = restaurants[attr].astype(bool) if attr in restaurants else False
    return out


@dataclass
class FeatureEncoders:
    """Both towers' encoders; `state()`/`from_state()` round-trip through JSON."""

    user: TableEncoder
    restaurant: TableEncoder

    @classmethod
    def skeleton(cls, cuisines: list[str], likes: list[str] | None = None) -> FeatureEncoders:
        """Unfitted encoders: the feature layout the current code defines.

        `likes` is the likes vocabulary (default: the built-in `LIKES`).
        """
        user = TableEncoder(
            numeric=["age", "account_years"],
            multilabel={"likes": list(LIKES if likes is None else likes)},
            onehot={
                "price_bracket": list(PRICE_BRACKETS),
                "profile_visibility": list(VISIBILITIES),
                "age_group": list(AGE_GROUPS),
            },
            boolean=list(BOOL_FIELDS),
        )
        restaurant = TableEncoder(
            numeric=list(RESTAURANT_NUMERIC),
            multilabel={"cuisines": list(cuisines)},
            onehot={"price_level": ["1", "2", "3", "4"]},
            boolean=[*LIKE_MATCH, "open_late", "hours_known", *_bool_attributes()],
        )
        return cls(user, restaurant)

    @classmethod
    def fit(cls, users: pd.DataFrame, restaurants: pd.DataFrame) -> FeatureEncoders:
        """Fit scalers and the cuisine and likes vocabularies on the training users and
        restaurants."""
        prepared = prepare_restaurants(restaurants)
        likes = sorted({str(like) for ls in users["likes"] for like in ls})
        encoders = cls.skeleton(sorted({c for cs in prepared["cuisines"] for c in cs}), likes)
        encoders.user.fit(prepare_users(users))
        encoders.restaurant.fit(prepared)
        return encoders

    @property
    def likes(self) -> list[str]:
        """The likes vocabulary the user tower knows (learnt from the training users)."""
        return list(self.user.multilabel.get("likes", []))

    def unknown_likes(self, users: pd.DataFrame) -> list[str]:
        """Likes named in `users` that the model never saw (in first-seen order)."""
        known = set(self.likes)
        return list(dict.fromkeys(x for ls in users["likes"] for x in ls if x not in known))

    def encode_users(self, users: pd.DataFrame) -> np.ndarray:
        unknown = self.unknown_likes(users)
        if unknown:
            warnings.warn(
                f"likes the model never saw in training are ignored: {', '.join(unknown)}.",
                UnknownLikesWarning,
                stacklevel=2,
            )
        return self.user.transform(prepare_users(users))

    def encode_restaurants(self, restaurants: pd.DataFrame) -> np.ndarray:
        return self.restaurant.transform(prepare_restaurants(restaurants))

    def state(self) -> dict[str, Any]:
        return {
            "version": FEATURES_VERSION,
            "user": self.user.state(),
            "restaurant": self.restaurant.state(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FeatureEncoders:
        return cls(TableEncoder(**state["user"]), TableEncoder(**state["restaurant"]))

    def schema(self) -> dict[str, Any]:
        """What the towers' inputs mean; two models are compatible iff schemas are equal."""
        return {
            "version": FEATURES_VERSION,
            "user": self.user.feature_names(),
            "restaurant": self.restaurant.feature_names(),
        }

    def matches_code(self) -> bool:
        """Whether this layout (the data's cuisine vocabulary aside) is the current code's."""
        current = self.skeleton(self.restaurant.multilabel.get("cuisines", []), self.likes)
        return current.schema() == self.schema()

    def schema_hash(self) -> str:
        text = json.dumps(self.schema(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
