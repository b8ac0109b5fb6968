"""The two-tower model and its retrieval loss, kept apart (as in TF Recommenders).

Each tower maps encoded features (linearly by default, or through a residual MLP) to
an L2-normalised embedding of `config.EMBEDDING_DIM` values, so a dot product is a
cosine similarity: exactly what the Redis vector index (cosine distance) ranks by.
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
    # Hidden layer sizes; none by default: linear towers. Measured on the default data
    # (1,000 users, 220 restaurants, recall@10 / oracle, training seeds 0-3, data seed 0):
    #   linear            warm 0.901 0.903 0.904 0.903  cold users 0.93-0.95  cold rest. 0.87-0.92
    #   MLP_CONFIG        warm 0.898 0.899 0.886 0.892  cold users 0.92-0.93  cold rest. 0.87-0.90
    #   plain MLP (64)    warm 0.884 (no skip: worse on cold restaurants too, 0.85)
    # and on data seeds 1, 2: linear 0.899 / 0.915, MLP_CONFIG 0.902 / 0.911 warm. The planted
    # taste is bilinear in the two feature sets, so a linear map already represents it;
    # hidden layers only add variance with 1,000 users. Weight decay 0.05-0.3, cosine LR,
    # 256 uniform negatives, temperature 0.02-0.03 and restaurant input dropout 0.1 all
    # left the MLP at 0.89-0.90 warm. `evaluate` reports MLP_CONFIG as "two_tower_mlp".
    user_hidden: tuple[int, ...] = ()
    restaurant_hidden: tuple[int, ...] = ()
    # out = W x + MLP(x) when there are hidden layers: the linear path carries the bilinear
    # part of the taste, the MLP the rest (e.g. evening out restaurant norms, which the L2
    # normalisation would otherwise turn into a ranking bias). Without it the MLP memorises
    # the ~200 restaurants and loses on cold-start ones.
    residual: bool = True
    dropout: float = 0.0  # after each hidden layer
    user_input_dropout: float = 0.0
    # Drops restaurant input features during training: with ~200 restaurants, an MLP
    # can otherwise key on a unique feature combination per restaurant (memorise it).
    restaurant_input_dropout: float = 0.0
    temperature: float = 0.05  # cosines are in [-1, 1]: a low temperature lets them separate
    # In-batch negatives are drawn in proportion to popularity; without the correction the
    # model learns to push popular restaurants down (measured: warm recall@10 -30%).
    logq_correction: bool = True
    # After early stopping picks the epoch count, train afresh on train + validation
    # visits for that many epochs: the final model; test stays untouched. Measured
    # (warm recall@10 / oracle, training seed 0, data seeds 0, 1, 2): 0.902 0.907 0.906
    # without, 0.912 0.917 0.913 with; data seed 0, training seeds 1, 2: 0.908 0.899
    # without, 0.909 0.909 with. Cold users 0.93-0.95 either way; cold restaurants within
    # +-0.01 (0.888 vs 0.891 on data seed 0; 0.797 vs 0.807 on data seed 1, training seed 1).
    # Tried and dropped: masking as negatives every restaurant the user visited in
    # training (not only the positive's copies): warm 0.892 0.881 0.874, worse; a
    # learned (log-parameterised) temperature: 0.909 0.916 0.916, no gain; a fixed
    # temperature of 0.03 / 0.04 / 0.07 with refit: 0.902-0.922, no consistent gain.
    refit: bool = True
    # Restaurants drawn uniformly from the training catalogue per batch, as negatives
    # besides the in-batch ones (mixed negative sampling); logQ uses the mixture.
    uniform_negatives: int = 0
    lr: float = 3e-3
    weight_decay: float = 1e-5
    lr_schedule: str = "constant"  # or "cosine": decays to 0 over max_epochs
    batch_size: int = 512
    max_epochs: int = 40
    patience: int = 8  # epochs without a better validation recall@10 before stopping


# The best MLP variant measured (see ModelConfig): a GELU hidden layer of 64 with a linear
# skip and dropout 0.1 on both towers.
MLP_CONFIG = ModelConfig(user_hidden=(64,), restaurant_hidden=(64,), residual=True, dropout=0.1)


class Tower(nn.Module):
    """features -> [Dropout] -> MLP (+ linear skip) -> L2 normalise.

    The MLP is [Linear -> GELU -> Dropout]* -> Linear; with `residual` and hidden
    layers, a bias-free linear map of the (dropped-out) input is added to its output.
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
    ):
        super().__init__()
        self.input_dropout = nn.Dropout(input_dropout)
        layers: list[nn.Module] = []
        width = n_in
        for size in hidden:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_out))
        self.net = nn.Sequential(*layers)
        self.skip = nn.Linear(n_in, n_out, bias=False) if residual and hidden else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_dropout(x)
        out = self.net(x)
        if self.skip is not None:
            out = out + self.skip(x)
        return F.normalize(out, dim=-1)


class TwoTower(nn.Module):
    """A user tower and a restaurant tower into one embedding space."""

    def __init__(self, n_user_features: int, n_restaurant_features: int, config: ModelConfig):
        super().__init__()
        self.config = config
        common = {"dropout": config.dropout, "residual": config.residual}
        self.user_tower = Tower(
            n_user_features, config.user_hidden, config.embedding_dim,
            input_dropout=config.user_input_dropout, **common,
        )  # fmt: skip
        self.restaurant_tower = Tower(
            n_restaurant_features, config.restaurant_hidden, config.embedding_dim,
            input_dropout=config.restaurant_input_dropout, **common,
        )  # fmt: skip

    def forward(self, users: torch.Tensor, restaurants: torch.Tensor):
        return self.user_tower(users), self.restaurant_tower(restaurants)


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
