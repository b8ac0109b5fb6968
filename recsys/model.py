"""The two-tower model and its retrieval loss, kept apart (as in TF Recommenders).

Each tower is a small MLP from encoded features to an L2-normalised embedding of
`config.EMBEDDING_DIM` values, so a dot product is a cosine similarity: exactly
what the Redis vector index (cosine distance) ranks by.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recsys.config import EMBEDDING_DIM


@dataclass
class ModelConfig:
    embedding_dim: int = EMBEDDING_DIM  # output size of both towers = the index's vector size
    # Hidden layer sizes. Both default to none: the planted preferences are bilinear in
    # the two feature sets, and with 1,000 users MLP towers measured worse on held-out
    # users (warm recall@10 / oracle 0.85-0.87 vs 0.90); with 3x the users they catch up.
    user_hidden: tuple[int, ...] = ()
    # The restaurant tower sees a catalogue of ~200 restaurants: with hidden layers it can
    # give each one a free embedding (memorise it) and then fails on cold-start ones;
    # a linear map of the features cannot, and generalises to unseen restaurants.
    restaurant_hidden: tuple[int, ...] = ()
    dropout: float = 0.0  # after each hidden layer (none by default)
    input_dropout: float = 0.0  # drops whole input features: stops towers memorising ids
    temperature: float = 0.05  # cosines are in [-1, 1]: a low temperature lets them separate
    # In-batch negatives are drawn in proportion to popularity; without the correction the
    # model learns to push popular restaurants down (measured: warm recall@10 -30%).
    logq_correction: bool = True
    lr: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 512
    max_epochs: int = 40
    patience: int = 8  # epochs without a better validation recall@10 before stopping


class Tower(nn.Module):
    """features -> [Dropout] -> [Linear -> ReLU -> Dropout]* -> Linear -> L2 normalise."""

    def __init__(
        self, n_in: int, hidden: tuple[int, ...], n_out: int, dropout: float, input_dropout=0.0
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        for size in hidden:
            layers += [nn.Linear(n_in, size), nn.ReLU(), nn.Dropout(dropout)]
            n_in = size
        layers.append(nn.Linear(n_in, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


class TwoTower(nn.Module):
    """A user tower and a restaurant tower into one embedding space."""

    def __init__(self, n_user_features: int, n_restaurant_features: int, config: ModelConfig):
        super().__init__()
        self.config = config
        dims = (config.embedding_dim, config.dropout, config.input_dropout)
        self.user_tower = Tower(n_user_features, config.user_hidden, *dims)
        self.restaurant_tower = Tower(n_restaurant_features, config.restaurant_hidden, *dims)

    def forward(self, users: torch.Tensor, restaurants: torch.Tensor):
        return self.user_tower(users), self.restaurant_tower(restaurants)


def in_batch_softmax_loss(
    user_emb: torch.Tensor,
    rest_emb: torch.Tensor,
    rest_ids: torch.Tensor,
    temperature: float,
    log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampled softmax over the batch: each user's positive vs the batch's other restaurants.

    Args:
        user_emb, rest_emb: (B, D) embeddings of the B positive pairs.
        rest_ids: (B,) restaurant index of each pair; where the same restaurant appears
            twice, the other copy is not a negative ("accidental hit") and is masked.
        temperature: logits are cosine / temperature.
        log_q: optional (B,) log sampling probability of each restaurant; subtracting
            it from the logits corrects the bias against popular restaurants, which
            in-batch sampling makes negatives more often than unpopular ones.
    """
    logits = user_emb @ rest_emb.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    same = rest_ids[:, None] == rest_ids[None, :]
    accidental = same & ~torch.eye(len(rest_ids), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(accidental, float("-inf"))
    labels = torch.arange(len(rest_ids), device=logits.device)
    return F.cross_entropy(logits, labels)
