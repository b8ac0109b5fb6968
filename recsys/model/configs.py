"""Model configurations without PyTorch: `ModelConfig` (one line of *why* per setting)
and the named variants, so the UI and the CLI can read defaults without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

from recsys.config import EMBEDDING_DIM


@dataclass
class ModelConfig:
    """One model configuration: one line of *why* per setting; what was measured to
    choose them is in docs/experiments.md. `train.train` without a config does not use
    these defaults alone: model selection (`train.select`) starts from them and tries
    the candidates of `train.ARCHITECTURES` and the refinements, by validation."""

    embedding_dim: int = EMBEDDING_DIM  # output size of both towers = the index's vector size
    # Hidden layer sizes; none: linear towers (a linear map represents a bilinear taste;
    # hidden layers add variance with ~1,000 users). Selection tries MLP towers too.
    user_hidden: tuple[int, ...] = ()
    restaurant_hidden: tuple[int, ...] = ()
    # out = W x + MLP(x) with hidden layers: the linear path carries the bilinear part;
    # without it the MLP memorises the ~200 restaurants and loses on cold-start ones.
    residual: bool = True
    dropout: float = 0.0  # after each hidden layer
    # DCN-v2 cross layers (Wang et al., 2021) on each tower's input: x <- x0 * (C x + b) + x
    # adds explicit products of features (a like x a price level, rating x price), which a
    # linear tower cannot represent and an MLP only approximates; they start at zero, so
    # training starts from the linear tower. Selection tries one layer.
    cross_layers: int = 0
    user_input_dropout: float = 0.0
    # Drops restaurant input features in training, so an MLP cannot key on one unique
    # feature combination per restaurant.
    restaurant_input_dropout: float = 0.0
    temperature: float = 0.05  # cosines are in [-1, 1]: a low temperature lets them separate
    # Sampled negatives come in proportion to popularity; without the correction the model
    # pushes popular restaurants down.
    logq_correction: bool = True
    # After early stopping picks the epoch count, train afresh on train + validation
    # visits for that many epochs (test stays untouched).
    refit: bool = True
    # Hybrid towers: a learnt ID vector per warm user and restaurant, added to the feature
    # path's output; dropped (replaced by the cold zero vector) with this probability per
    # training example, so cold-start users and restaurants still get a trained path.
    id_embeddings: bool = False
    id_dropout: float = 0.25
    id_weight_decay: float = 0.1
    # Each ID vector is updated only in batches holding its entity (~1 in 10 for a user),
    # so it learns with a larger step than the shared feature weights.
    id_lr_scale: float = 10.0
    id_dim: int = 8  # size of an ID vector before its map into the embedding space
    # Residual hybrid: the feature path (EMBEDDING_DIM - id_dim values) is trained first
    # as a features-only model, then frozen while the ID vectors (the other id_dim
    # values) learn what it leaves: cold users and restaurants get the features-only
    # model's vectors and the mean ID vector (no ID dropout).
    id_residual: bool = False
    # "full": softmax over every training restaurant (exact, no sampling bias);
    # "sampled": in-batch (+ uniform) negatives with logQ correction, for catalogues too
    # large to embed every batch; "auto": full up to FULL_SOFTMAX_MAX restaurants.
    loss: str = "auto"
    # Restaurants drawn uniformly from the training catalogue per batch, as negatives
    # besides the in-batch ones (mixed negative sampling); logQ uses the mixture.
    uniform_negatives: int = 0
    lr: float = 3e-3
    weight_decay: float = 1e-5
    lr_schedule: str = "constant"  # or "cosine": decays to 0 over max_epochs
    batch_size: int = 512
    max_epochs: int = 40
    # Epochs without a better validation score before stopping (selection trains 9-10
    # candidates; the best epoch moved by at most a few epochs with 8).
    patience: int = 5

    @property
    def residual_hybrid(self) -> bool:
        """Trained in two phases: the feature path, then the ID vectors (`id_residual`)."""
        return self.id_embeddings and self.id_residual


FULL_SOFTMAX_MAX = 20_000  # restaurants: batch x catalogue logits stay ~40 MB

# The best MLP variant measured (see ModelConfig): a GELU hidden layer of 64 with a linear
# skip and dropout 0.1 on both towers.
MLP_CONFIG = ModelConfig(user_hidden=(64,), restaurant_hidden=(64,), residual=True, dropout=0.1)
