"""App feedback as training data: merged into a `Dataset` (tables only, no Redis).

`with_feedback(dataset, marks)` returns a copy of the dataset whose training split also
holds the app's "I went here" marks and whose `negatives` hold its "Not for me" marks
(with the base interactions' explicit negatives, label -1), plus counts of what was
used and what was skipped:

- `unknown`: a user or restaurant the dataset does not have (added in the app after
  the data was built, or since removed) — skipped;
- `held_out`: a cold-start user or restaurant of the evaluation split, or a pair held
  out for validation or test — skipped, so the evaluation stays honest;
- a "Not for me" on a place visited in training removes that visit (latest label wins).

The data fingerprint is unchanged: feedback does not make the base data another one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset

COLUMNS = ["user_id", "restaurant_id", "label"]


def base_negatives(dataset: Dataset) -> pd.DataFrame:
    """The explicit negatives (label -1) of the base interactions, latest label per pair."""
    frame = dataset.interactions.sort_values("timestamp", kind="stable")
    frame = frame.drop_duplicates(["user_id", "restaurant_id"], keep="last")
    neg = frame[frame["label"] == -1][["user_id", "restaurant_id"]]
    return neg.reset_index(drop=True)


def with_feedback(dataset: Dataset, marks: pd.DataFrame) -> tuple[Dataset, dict[str, Any]]:
    """The dataset plus app feedback `marks` (user_id, restaurant_id, label 1 / -1)."""
    marks = marks[COLUMNS] if len(marks) else pd.DataFrame(columns=COLUMNS)
    split = dataset.split
    known = marks["user_id"].isin(dataset.user_index) & marks["restaurant_id"].isin(
        dataset.restaurant_index
    )
    held_pairs = pd.concat([split.val, split.test_warm, split.test_cold_restaurants])
    held = set(zip(held_pairs["user_id"], held_pairs["restaurant_id"], strict=True))
    pairs = list(zip(marks["user_id"], marks["restaurant_id"], strict=True))
    is_held = (
        marks["user_id"].isin(split.cold_users)
        | marks["restaurant_id"].isin(split.cold_restaurants)
        | pd.Series([p in held for p in pairs], index=marks.index, dtype=bool)
    )
    usable = marks[known & ~is_held]
    went = usable[usable["label"] == 1][["user_id", "restaurant_id"]]
    rejected = usable[usable["label"] == -1][["user_id", "restaurant_id"]]
    rejected_pairs = set(zip(rejected["user_id"], rejected["restaurant_id"], strict=True))
    train = split.train[
        [
            p not in rejected_pairs
            for p in zip(split.train["user_id"], split.train["restaurant_id"], strict=True)
        ]
    ]
    train_pairs = set(zip(train["user_id"], train["restaurant_id"], strict=True))
    new_went = went[
        [p not in train_pairs for p in zip(went["user_id"], went["restaurant_id"], strict=True)]
    ]
    train = pd.concat([train, new_went], ignore_index=True)
    negatives = pd.concat([base_negatives(dataset), rejected], ignore_index=True)
    negatives = negatives.drop_duplicates(ignore_index=True)
    counts = {
        "marks": len(marks),
        "went_used": len(went),
        "not_for_me_used": len(rejected),
        "unknown_skipped": int((~known).sum()),
        "held_out_skipped": int((known & is_held).sum()),
        "training_visits_removed": int(len(split.train) - (len(train) - len(new_went))),
    }
    new_split = dataclasses.replace(split, train=train.reset_index(drop=True))
    merged = dataclasses.replace(dataset, split=new_split, negatives=negatives)
    return merged, counts
