"""Baselines the two-tower model must beat, each a (n_users, n_restaurants) score matrix.

- random: uniform scores;
- popularity: training visits per restaurant (the same list for everyone);
- content: how many of the user's likes a restaurant satisfies (`users.LIKE_RULES`);
- matrix_factorization: truncated SVD of the training user x restaurant matrix; it
  knows nothing of users without training visits, who get popularity instead;
- article_recipe: the Redis article's two towers as published (see `article_recipe`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.sparse import csr_matrix
from sklearn.decomposition import TruncatedSVD
from torch import nn

from recsys.data.dataset import Dataset
from recsys.data.users import ARTICLE_LIKES, BOOL_FIELDS, like_matrix, likes_multi_hot
from recsys.model.metrics import pair_rows

MF_COMPONENTS = 24


def _train_indices(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return pair_rows(dataset, dataset.split.train)


def random_scores(dataset: Dataset, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((len(dataset.users), len(dataset.restaurants)))


def popularity_scores(dataset: Dataset) -> np.ndarray:
    _, r = _train_indices(dataset)
    counts = np.bincount(r, minlength=len(dataset.restaurants)).astype(np.float64)
    return np.tile(counts, (len(dataset.users), 1))


def content_scores(dataset: Dataset) -> np.ndarray:
    """Likes matched via LIKE_RULES; rating breaks ties (it needs no interactions either)."""
    matches = likes_multi_hot(dataset.users["likes"]) @ like_matrix(dataset.restaurants).T
    rating = dataset.restaurants["rating"].to_numpy(dtype=np.float64)
    return matches + 1e-3 * rating[None, :]


def matrix_factorization_scores(dataset: Dataset, seed: int = 0) -> np.ndarray:
    """SVD reconstruction of the visit matrix; rows of users without visits = popularity."""
    u, r = _train_indices(dataset)
    shape = (len(dataset.users), len(dataset.restaurants))
    visits = csr_matrix((np.ones(len(u)), (u, r)), shape=shape)
    k = max(1, min(MF_COMPONENTS, min(shape) - 1))
    svd = TruncatedSVD(n_components=k, random_state=seed).fit(visits)
    scores = svd.transform(visits) @ svd.components_
    no_history = np.asarray(visits.sum(axis=1)).ravel() == 0
    scores[no_history] = popularity_scores(dataset)[no_history]
    return scores


# --- the article's recipe, as published ---------------------------------------------

ARTICLE_NUMERIC = [
    "lat", "lon", "price", "rating", "review_rating_min", "review_rating_max",
    "review_rating_mean", "review_rating_std",
]  # fmt: skip


def article_restaurant_features(restaurants: pd.DataFrame) -> np.ndarray:
    """Numerics and 0/1 booleans, unscaled, no cuisines: what the article fed its tower."""
    from recsys.data.table import BOOL_ATTRIBUTES

    cols = [*ARTICLE_NUMERIC, *BOOL_ATTRIBUTES]
    return restaurants[cols].to_numpy(dtype=np.float32)


def article_user_features(users: pd.DataFrame) -> np.ndarray:
    """Multi-hot of the 13 article likes, one-hot bracket and visibility, booleans."""
    likes = [[x for x in ls if x in ARTICLE_LIKES] for ls in users["likes"]]
    multi_hot = np.array([[float(x in ls) for x in ARTICLE_LIKES] for ls in likes])
    onehots = [
        pd.get_dummies(pd.Categorical(users[c], categories=cats)).to_numpy(dtype=float)
        for c, cats in (
            ("price_bracket", ["low", "middle", "high"]),
            ("profile_visibility", ["public", "private", "friends-only"]),
        )
    ]
    bools = users[list(BOOL_FIELDS)].to_numpy(dtype=float)
    return np.hstack([multi_hot, *onehots, bools]).astype(np.float32)


class ArticleTower(nn.Module):
    """The article's tower: 2 x (Linear -> ReLU -> Dropout(0.5)) -> Linear(128, 128)."""

    def __init__(self, n_in: int, dim: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_in, dim), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(dim, dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


def article_recipe_scores(dataset: Dataset, seed: int = 0, epochs: int = 200) -> np.ndarray:
    """The article's model, faithfully: random +-1 labels, CosineEmbeddingLoss, dropout on.

    200 random (user, restaurant) pairs labelled +1 and 200 labelled -1 (among
    training users and restaurants), Adam lr 1e-3, batch 64, 200 epochs; embeddings
    computed without `model.eval()`, so dropout stays active, as published.
    """
    gen = torch.Generator().manual_seed(seed)
    xu = torch.from_numpy(article_user_features(dataset.users))
    xr = torch.from_numpy(article_restaurant_features(dataset.restaurants))
    warm_u = np.flatnonzero(~dataset.users["user_id"].isin(dataset.split.cold_users))
    warm_r = np.flatnonzero(~dataset.restaurants["id"].isin(dataset.split.cold_restaurants))
    pick_u = torch.from_numpy(warm_u)[torch.randint(len(warm_u), (400,), generator=gen)]
    pick_r = torch.from_numpy(warm_r)[torch.randint(len(warm_r), (400,), generator=gen)]
    labels = torch.cat([torch.ones(200), -torch.ones(200)])
    torch.manual_seed(seed)
    user_tower, rest_tower = ArticleTower(xu.shape[1]), ArticleTower(xr.shape[1])
    params = [*user_tower.parameters(), *rest_tower.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    loss_fn = nn.CosineEmbeddingLoss()
    for _ in range(epochs):
        for batch in torch.randperm(400, generator=gen).split(64):
            loss = loss_fn(
                user_tower(xu[pick_u[batch]]), rest_tower(xr[pick_r[batch]]), labels[batch]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():  # the article never calls .eval(): dropout is still on here
        return (user_tower(xu) @ rest_tower(xr).T).numpy()
