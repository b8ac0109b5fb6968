"""Ranking metrics and the id -> row maps they need (a leaf: NumPy and pandas only).

recall@k = hits in the top k / min(k, number of held-out visits), so a perfect
ranking scores 1 even for users with more than k held-out visits; NDCG@10 uses
binary relevance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset

METRICS = ("recall@10", "recall@50", "ndcg@10")


def pair_rows(dataset: Dataset, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, restaurant rows) of `dataset` for each (user_id, restaurant_id) pair."""
    u = pairs["user_id"].map(dataset.user_index).to_numpy(dtype=np.int64)
    r = pairs["restaurant_id"].map(dataset.restaurant_index).to_numpy(dtype=np.int64)
    return u, r


def relevant_by_user(dataset: Dataset, pairs: pd.DataFrame) -> dict[int, list[int]]:
    """Map (user_id, restaurant_id) pairs to user row -> restaurant rows of `dataset`."""
    out: dict[int, list[int]] = {}
    for u, r in zip(*pair_rows(dataset, pairs), strict=True):
        out.setdefault(int(u), []).append(int(r))
    return out


def ranking_metrics(
    scores: np.ndarray, relevant: dict[int, list[int]], seen: dict[int, list[int]]
) -> dict[str, float]:
    """Mean recall@10, recall@50 and NDCG@10 over the users in `relevant`.

    Args:
        scores: (n_users, n_restaurants) higher = better, rows indexed like the keys.
        relevant: user row -> held-out restaurant columns.
        seen: user row -> columns to remove from the candidates (training visits).
    """
    users = sorted(relevant)
    if not users:
        return {m: float("nan") for m in METRICS}
    block = np.array(scores[users], dtype=np.float64)
    for i, u in enumerate(users):
        block[i, seen.get(u, [])] = -np.inf
    top = np.argsort(-block, axis=1, kind="stable")[:, :50]
    discounts = 1.0 / np.log2(np.arange(2, 12))
    recall10, recall50, ndcg10 = [], [], []
    for i, u in enumerate(users):
        rel = set(relevant[u])
        hits = np.isin(top[i], list(rel))
        recall10.append(hits[:10].sum() / min(10, len(rel)))
        recall50.append(hits[:50].sum() / min(50, len(rel)))
        ideal = discounts[: min(10, len(rel))].sum()
        ndcg10.append(float((hits[:10] * discounts[: len(hits[:10])]).sum() / ideal))
    return {
        "recall@10": float(np.mean(recall10)),
        "recall@50": float(np.mean(recall50)),
        "ndcg@10": float(np.mean(ndcg10)),
    }
