"""The two-tower model and its retrieval loss, kept apart (as in TF Recommenders).

Each tower maps encoded features (linearly by default, or through a residual MLP, either
optionally after DCN-v2 cross layers that multiply features together) to
an L2-normalised embedding of `config.EMBEDDING_DIM` values, so a dot product is a
cosine similarity: exactly what the Redis vector index (cosine distance) ranks by.
With `id_embeddings` (hybrid towers), a learnt vector per user / restaurant seen in
training is added before the normalisation; unseen ones (cold start) use index 0,
the zero vector, and so the features alone. Training drops the ID part at random
(`id_dropout`) so the feature path alone stays a good model for cold entities.
With `id_residual` as well, the ID vectors instead fill the last `id_dim` values of
the embedding and the feature path the others; the feature path is trained first,
alone, then frozen while the ID vectors learn (`train._fit_model`), and a cold entity
takes the mean of the learnt ID vectors. Which configuration serves is chosen by
validation (`train.ARCHITECTURES`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recsys.model.configs import ModelConfig

ID_INIT_STD = 0.05  # per coordinate: ID vectors start at ~0.6 x the feature part's length


class Tower(nn.Module):
    """features -> [Dropout] -> [cross layers] -> MLP (+ linear skip) -> L2 normalise.

    The cross layers (`crossed`, DCN-v2) multiply features by learnt combinations of the
    others; without hidden layers the rest is one linear map. The MLP is
    [Linear -> GELU -> Dropout]* -> Linear; with `residual` and hidden layers, a
    bias-free linear map of the (dropped-out, crossed) input is added to its output.
    """

    def __init__(
        self,
        n_in: int,
        hidden: tuple[int, ...],
        n_out: int,
        *,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        residual: bool = False,
        n_ids: int = 0,
        id_dropout: float = 0.0,
        id_dim: int = 0,
        id_residual: bool = False,
        cross_layers: int = 0,
    ):
        super().__init__()
        # Residual IDs: the ID vector takes the last `id_dim` values of the output and
        # the feature path the others, so an entity without one (cold start) scores
        # exactly as the feature path alone does.
        self.id_residual = bool(n_ids) and id_residual
        self.input_dropout = nn.Dropout(input_dropout)
        # Row 0 is every entity without a learnt vector (cold start): kept at zero.
        # ID vectors of `id_dim` values mapped into the output space: low rank, like a
        # matrix factorisation's factors, so they cannot memorise each entity's visits.
        id_dim = id_dim or n_out
        self.ids = nn.Embedding(n_ids + 1, id_dim, padding_idx=0) if n_ids else None
        self.id_proj = None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=ID_INIT_STD)
            with torch.no_grad():
                self.ids.weight[0].zero_()
            if id_dim != n_out and not self.id_residual:
                self.id_proj = nn.Linear(id_dim, n_out, bias=False)
                nn.init.normal_(self.id_proj.weight, std=1 / id_dim**0.5)
        self.id_dropout = id_dropout
        # DCN-v2 cross layers (`crossed`), zero at the start: the tower starts linear.
        self.cross = nn.ModuleList(nn.Linear(n_in, n_in) for _ in range(cross_layers))
        for layer in self.cross:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        layers: list[nn.Module] = []
        width = n_in
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        n_features_out = n_out - id_dim if self.id_residual else n_out
        layers.append(nn.Linear(width, n_features_out))
        self.net = nn.Sequential(*layers)
        self.skip = nn.Linear(n_in, n_features_out, bias=False) if residual and hidden else None

    def feature_parameters(self) -> list[nn.Parameter]:
        """The feature path's weights (everything but the ID vectors)."""
        return [p for name, p in self.named_parameters() if not name.startswith("ids.")]

    def residual_ids(self, ids: torch.Tensor | None, n: int) -> torch.Tensor:
        """A residual hybrid's ID part for `n` entities: each one's learnt vector, or for
        one without (id 0, or no ids at all: cold start) the mean of the learnt ones. The
        softmax fixes ID terms only up to a constant per entity of the other side, so a
        zero vector would rank cold entities at an arbitrary level; the mean puts them
        where an average known entity with the same features would be."""
        prior = self.ids.weight[1:].mean(dim=0)
        if ids is None:
            return prior.expand(n, -1)
        return torch.where((ids == 0)[:, None], prior[None, :], self.ids(ids))

    def crossed(self, x: torch.Tensor) -> torch.Tensor:
        """The input after the cross layers (itself without any): x_{k+1} = x_0 * (C_k x_k
        + b_k) + x_k, so value j is feature j times (1 + its learnt interactions)."""
        x0 = x
        for layer in self.cross:
            x = x0 * layer(x) + x
        return x

    def forward(self, x: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        x = self.crossed(self.input_dropout(x))
        out = self.net(x)
        if self.skip is not None:
            out = out + self.skip(x)
        if self.id_residual:
            out = F.normalize(out, dim=-1)
            vectors = self.residual_ids(ids, len(out))
            return F.normalize(torch.cat([out, vectors], dim=-1), dim=-1)
        if self.ids is not None and ids is not None:
            if self.training and self.id_dropout > 0:
                ids = ids.masked_fill(torch.rand(ids.shape) < self.id_dropout, 0)
            # The feature part at unit length first, so an ID vector's length says how
            # far it moves the entity from where its features put it.
            vectors = self.ids(ids)
            if self.id_proj is not None:
                vectors = self.id_proj(vectors)
            out = F.normalize(out, dim=-1) + vectors
        return F.normalize(out, dim=-1)


class TwoTower(nn.Module):
    """A user tower and a restaurant tower into one embedding space."""

    def __init__(
        self,
        n_user_features: int,
        n_restaurant_features: int,
        config: ModelConfig,
        n_users: int = 0,
        n_restaurants: int = 0,
    ):
        """`n_users` / `n_restaurants`: how many have an ID vector (hybrid towers only)."""
        super().__init__()
        self.config = config
        common = {"dropout": config.dropout, "residual": config.residual,
                  "id_dropout": config.id_dropout, "id_dim": config.id_dim,
                  "id_residual": config.id_residual,
                  "cross_layers": config.cross_layers}  # fmt: skip
        ids = config.id_embeddings
        self.user_tower = Tower(
            n_user_features, config.user_hidden, config.embedding_dim,
            input_dropout=config.user_input_dropout, n_ids=n_users if ids else 0, **common,
        )  # fmt: skip
        self.restaurant_tower = Tower(
            n_restaurant_features, config.restaurant_hidden, config.embedding_dim,
            input_dropout=config.restaurant_input_dropout,
            n_ids=n_restaurants if ids else 0, **common,
        )  # fmt: skip

    def forward(
        self,
        users: torch.Tensor,
        restaurants: torch.Tensor,
        user_ids: torch.Tensor | None = None,
        restaurant_ids: torch.Tensor | None = None,
    ):
        return self.user_tower(users, user_ids), self.restaurant_tower(restaurants, restaurant_ids)


def sampled_softmax_loss(
    user_emb: torch.Tensor,
    cand_emb: torch.Tensor,
    cand_ids: torch.Tensor,
    temperature: float,
    log_q: torch.Tensor | None = None,
    hard_emb: torch.Tensor | None = None,
    hard_ok: torch.Tensor | None = None,
) -> torch.Tensor:
    """Softmax of each user's positive against sampled candidates.

    Args:
        user_emb: (B, D) embeddings of the B users; user i's positive is candidate i.
        cand_emb: (C, D) candidate embeddings, C >= B: the B positives, then any extra
            negatives.
        cand_ids: (C,) restaurant index of each candidate; a copy of user i's positive
            elsewhere among the candidates is not a negative ("accidental hit"): masked.
        temperature: logits are cosine / temperature.
        log_q: optional (C,) log sampling probability of each candidate; subtracting
            it from the logits corrects the bias towards frequently sampled (popular)
            negatives, so the loss estimates the full softmax over the catalogue.
        hard_emb: optional (B, D): one explicit negative of user i (a "Not for me" mark
            or a label -1 interaction), an extra candidate for row i only (no logQ: it
            was not sampled); `hard_ok` (B,) says which rows have one.
    """
    batch = len(user_emb)
    logits = user_emb @ cand_emb.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    same = cand_ids[None, :] == cand_ids[:batch, None]
    positive = torch.zeros_like(same)
    positive[:, :batch] = torch.eye(batch, dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(same & ~positive, float("-inf"))
    if hard_emb is not None and hard_ok is not None:
        hard = (user_emb * hard_emb).sum(-1, keepdim=True) / temperature
        logits = torch.cat([logits, hard.masked_fill(~hard_ok[:, None], float("-inf"))], dim=1)
    labels = torch.arange(batch, device=logits.device)
    return F.cross_entropy(logits, labels)
