"""Training the two-tower model, early stopping, and safe checkpoints.

Read top to bottom: encode features once, iterate shuffled batches of positive
(user, restaurant) pairs with the in-batch softmax loss, measure validation
recall@10 after every epoch, keep the best weights, stop when they stop improving.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from recsys.config import EMBEDDING_DIM, Settings
from recsys.data.dataset import Dataset
from recsys.errors import CheckpointError, RecsysError
from recsys.fileutil import atomic_write
from recsys.model import saved
from recsys.model.configs import FULL_SOFTMAX_MAX, ModelConfig
from recsys.model.features import FEATURES_VERSION, FeatureEncoders
from recsys.model.metrics import pair_rows, relevant_by_user
from recsys.model.towers import TwoTower, sampled_softmax_loss
from recsys.progress import Progress, ProgressFn, no_progress

CHECKPOINT_FORMAT = 1


@dataclass
class TrainedModel:
    """A trained model with everything needed to embed users and restaurants again."""

    net: TwoTower
    encoders: FeatureEncoders
    config: ModelConfig
    version: str
    data_fingerprint: str
    created: str
    history: list[dict[str, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    # Hybrid towers: the user / restaurant ids with a learnt vector (row i + 1); empty
    # otherwise. Anyone else (cold start, added at run time) is embedded from features.
    id_vocab: dict[str, list[str]] = field(default_factory=dict)
    # Model selection: every candidate's validation recall and which one won (see
    # `select`); empty for a model trained with a fixed configuration.
    selection: dict[str, Any] = field(default_factory=dict)

    @torch.no_grad()
    def embed_users(self, users: pd.DataFrame) -> np.ndarray:
        """Unit-length float32 embeddings (n, D), in eval mode (no dropout): deterministic."""
        self.net.eval()
        x = _tensor(self.encoders.encode_users(users))
        ids = id_tensor(users["user_id"], self.id_vocab.get("users"))
        return self.net.user_tower(x, ids).numpy().astype(np.float32)

    @torch.no_grad()
    def embed_restaurants(self, restaurants: pd.DataFrame) -> np.ndarray:
        """Unit-length float32 embeddings (n, D), in eval mode (no dropout): deterministic."""
        self.net.eval()
        x = _tensor(self.encoders.encode_restaurants(restaurants))
        ids = id_tensor(restaurants["id"], self.id_vocab.get("restaurants"))
        return self.net.restaurant_tower(x, ids).numpy().astype(np.float32)


def id_tensor(keys: pd.Series, vocab: list[str] | None) -> torch.Tensor | None:
    """Row of each key in `vocab` + 1 (0 = no learnt vector), or None without a vocab."""
    if not vocab:
        return None
    index = {key: i + 1 for i, key in enumerate(vocab)}
    return torch.tensor([index.get(str(k), 0) for k in keys], dtype=torch.int64)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor owning a copy: pandas may hand out read-only arrays, which torch warns about."""
    return torch.tensor(np.asarray(array))


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    # CPU kernels are deterministic already; this makes any exception loud, not silent.
    torch.use_deterministic_algorithms(True, warn_only=True)


def _pairs(frame: pd.DataFrame, dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return pair_rows(dataset, frame)


def fit_encoders(dataset: Dataset) -> FeatureEncoders:
    """Encoders fitted on training data only: warm users and warm restaurants."""
    split = dataset.split
    users = dataset.users[~dataset.users["user_id"].isin(split.cold_users)]
    rests = dataset.restaurants[~dataset.restaurants["id"].isin(split.cold_restaurants)]
    return FeatureEncoders.fit(users, rests)


class _Recall:
    """Recall@10 of given (user row -> relevant / seen restaurant rows) sets, as
    `ranking_metrics` computes it, vectorised (every epoch)."""

    def __init__(self, n_rest: int, relevant: dict[int, list[int]], seen: dict[int, list[int]]):
        self.users = np.array(sorted(relevant), dtype=np.int64)
        self.relevant = np.zeros((len(self.users), n_rest), dtype=bool)
        self.seen = np.zeros((len(self.users), n_rest), dtype=bool)
        for i, u in enumerate(self.users):
            self.relevant[i, relevant[u]] = True
            self.seen[i, seen.get(u, [])] = True
        self.denominator = np.minimum(10, self.relevant.sum(axis=1)).astype(np.float64)

    def recall(self, scores: np.ndarray) -> float:
        if not len(self.users):
            return float("nan")
        block = np.where(self.seen, -np.inf, scores[self.users])
        top = np.argpartition(-block, 10, axis=1)[:, :10] if block.shape[1] > 10 else None
        hits = (
            self.relevant.sum(axis=1)
            if top is None
            else np.take_along_axis(self.relevant, top, axis=1).sum(axis=1)
        )
        return float(np.mean(hits / self.denominator))


class _Validation(_Recall):
    """Validation recall@10: the validation visits, the training ones excluded."""

    def __init__(self, dataset: Dataset):
        super().__init__(
            len(dataset.restaurants),
            relevant_by_user(dataset, dataset.split.val),
            relevant_by_user(dataset, dataset.split.train),
        )


class _HeldOut:
    """Model selection's validation, with cold-start users and restaurants of its own.

    A share of the users and of the restaurants with training visits is held out of
    selection's training (all their visits, and the restaurants out of the catalogue
    it trains against), so the cold-start scores measure each candidate on users and
    restaurants it never saw: "cold_users" ranks the whole catalogue for the held-out
    users (relevant: their training and validation visits), "cold_restaurants" ranks
    it for the other users (relevant: their visits to the held-out restaurants, which
    compete with every other restaurant as new ones do). "warm" is validation recall
    on the rest. Scoring a hybrid's feature path on users and restaurants it trained
    on (the proxy before) flattered it: in the `collaborative` world it learnt
    per-entity information from their features, and its cold-start recall on test was
    below a features-only model's."""

    def __init__(self, dataset: Dataset, seed: int, share: float):
        split = dataset.split
        rng = np.random.default_rng([seed, 8])
        u, r = _pairs(split.train, dataset)
        users, rests = np.unique(u), np.unique(r)
        self.user_rows = rng.choice(users, size=max(1, round(share * len(users))), replace=False)
        self.rest_rows = rng.choice(rests, size=max(1, round(share * len(rests))), replace=False)
        held_u = dataset.users["user_id"].iloc[self.user_rows]
        held_r = dataset.restaurants["id"].iloc[self.rest_rows]

        def keep(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[~frame["user_id"].isin(held_u) & ~frame["restaurant_id"].isin(held_r)]

        self.train = keep(split.train)
        both = pd.concat([split.train, split.val], ignore_index=True)
        n_rest = len(dataset.restaurants)
        seen = relevant_by_user(dataset, self.train)
        self.warm = _Recall(n_rest, relevant_by_user(dataset, keep(split.val)), seen)
        cold_u = both[both["user_id"].isin(held_u) & ~both["restaurant_id"].isin(held_r)]
        self.cold_users = _Recall(n_rest, relevant_by_user(dataset, cold_u), {})
        cold_r = both[~both["user_id"].isin(held_u) & both["restaurant_id"].isin(held_r)]
        self.cold_restaurants = _Recall(n_rest, relevant_by_user(dataset, cold_r), seen)
        self.users = self.warm.users

    def inputs(self, data: _Inputs) -> _Inputs:
        """`data` with the held-out restaurants out of the catalogue and no ID vectors."""
        keep = ~np.isin(data.warm.numpy(), self.rest_rows)
        warm = data.warm[torch.from_numpy(keep)]
        warm_pos = torch.full_like(data.warm_pos, -1)
        warm_pos[warm] = torch.arange(len(warm))
        uid, rid = data.uid, data.rid
        if uid is not None:
            uid, rid = uid.clone(), rid.clone()
            uid[self.user_rows] = 0
            rid[self.rest_rows] = 0
        return dataclasses.replace(data, warm=warm, warm_pos=warm_pos, uid=uid, rid=rid)


@torch.no_grad()
def _validation_scores(
    net: TwoTower, data: _Inputs, val: _Validation | _HeldOut
) -> dict[str, float]:
    """Validation recall@10 of the served model ("warm") and stand-ins for the
    cold-start segments, which validation lacks: in model selection (`_HeldOut`), the
    users and restaurants held out of training; for a fixed hybrid configuration, its
    feature path alone on the user side ("cold_users") and the restaurant side
    ("cold_restaurants"). "score" (what early stopping maximises) is their mean;
    selection compares candidates segment by segment (`_normalise`)."""
    net.eval()
    users, rests = net.user_tower(data.xu, data.uid), net.restaurant_tower(data.xr, data.rid)
    if isinstance(val, _HeldOut):
        scores = (users @ rests.T).numpy()
        out = {"warm": val.warm.recall(scores)}
        for name in ("cold_users", "cold_restaurants"):
            value = getattr(val, name).recall(scores)
            out[name] = out["warm"] if np.isnan(value) else value  # tiny data: none held out
        out["score"] = float(np.mean(list(out.values())))
        return out
    out = {"warm": val.recall((users @ rests.T).numpy())}
    if data.uid is None:
        out["cold_users"] = out["cold_restaurants"] = out["warm"]
    else:
        users_cold, rests_cold = net.user_tower(data.xu), net.restaurant_tower(data.xr)
        out["cold_users"] = val.recall((users_cold @ rests.T).numpy())
        out["cold_restaurants"] = val.recall((users @ rests_cold.T).numpy())
    values = [out["warm"], out["cold_users"], out["cold_restaurants"]]
    out["score"] = float(np.mean(values))
    return out


def _warm_restaurants(dataset: Dataset) -> torch.Tensor:
    """Indices of training restaurants: cold ones must not appear, not even as negatives."""
    cold = dataset.restaurants["id"].isin(dataset.split.cold_restaurants).to_numpy()
    return torch.tensor(np.flatnonzero(~cold), dtype=torch.int64)


def _log_q(r: np.ndarray, warm: torch.Tensor, n_rest: int, config: ModelConfig) -> torch.Tensor:
    """Log probability that a restaurant is drawn as a candidate, per restaurant index.

    In-batch candidates are drawn in proportion to training visits (+1, so none is
    impossible), uniform ones evenly from the warm catalogue; the candidate pool is a
    mixture of the two, weighted by how many of each a batch holds.
    """
    visits = np.bincount(r, minlength=n_rest) + 1.0
    uniform = np.zeros(n_rest)
    uniform[warm.numpy()] = 1.0 / len(warm)
    b, m = config.batch_size, config.uniform_negatives
    q = (b * visits / visits.sum() + m * uniform) / (b + m)
    return _tensor(np.log(np.maximum(q, 1e-12)).astype(np.float32))


def _candidates(r_idx: torch.Tensor, data: _Inputs, config: ModelConfig) -> torch.Tensor:
    """The batch's restaurants, then `uniform_negatives` drawn evenly from the warm ones."""
    if not config.uniform_negatives:
        return r_idx
    draw = torch.randint(len(data.warm), (config.uniform_negatives,), generator=data.generator)
    return torch.cat([r_idx, data.warm[draw]])


def uses_full_softmax(config: ModelConfig, n_restaurants: int) -> bool:
    """Full softmax when asked, or ("auto") when the catalogue fits `FULL_SOFTMAX_MAX`."""
    if config.loss not in ("auto", "full", "sampled"):
        raise RecsysError(f"loss {config.loss!r} must be auto, full or sampled.")
    return config.loss == "full" or (config.loss == "auto" and n_restaurants <= FULL_SOFTMAX_MAX)


def _pick(ids: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if ids is None else ids[idx]


def _hard(
    u_idx: torch.Tensor, r_idx: torch.Tensor, data: _Inputs
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """One explicit negative per batch row, drawn from its user's, and which rows have
    one (never the row's own positive)."""
    if data.negatives is None:
        return None
    offsets, items = data.negatives
    start, count = offsets[u_idx], offsets[u_idx + 1] - offsets[u_idx]
    ok = count > 0
    draw = (torch.rand(len(u_idx), generator=data.generator) * count.clamp(min=1)).long()
    pick = items[(start + draw).clamp(max=max(len(items) - 1, 0))]
    pick = torch.where(ok, pick, torch.zeros_like(pick))
    # Never one out of the catalogue trained against (selection's held-out restaurants).
    return pick, ok & (pick != r_idx) & (data.warm_pos[pick] >= 0)


def _run_epoch(net: TwoTower, data: _Inputs, optimizer, config: ModelConfig) -> float:
    net.train()
    total, batches = 0.0, 0
    order = torch.randperm(len(data.u), generator=data.generator)
    for batch in order.split(config.batch_size):
        u_idx, r_idx = data.u[batch], data.r[batch]
        user_emb = net.user_tower(data.xu[u_idx], _pick(data.uid, u_idx))
        hard = _hard(u_idx, r_idx, data)
        if data.full:
            # Every training restaurant is a candidate: the exact softmax, no sampling bias.
            cand_emb = net.restaurant_tower(data.xr[data.warm], _pick(data.rid, data.warm))
            logits = user_emb @ cand_emb.T / config.temperature
            if hard is not None:
                # An explicit negative counts once more, for its user only: a "Not for me"
                # pushes harder than a place merely not visited.
                pos = data.warm_pos[hard[0]]  # -1: not in the training catalogue
                extra = (user_emb * cand_emb[pos.clamp(min=0)]).sum(-1) / config.temperature
                extra = extra.masked_fill(~(hard[1] & (pos >= 0)), float("-inf"))
                logits = torch.cat([logits, extra[:, None]], dim=1)
            loss = F.cross_entropy(logits, data.warm_pos[r_idx])
        else:
            cand = _candidates(r_idx, data, config)
            rows = cand if hard is None else torch.cat([cand, hard[0]])
            row_emb = net.restaurant_tower(data.xr[rows], _pick(data.rid, rows))
            cand_emb = row_emb[: len(cand)]
            lq = data.log_q[cand] if data.log_q is not None else None
            hard_emb, hard_ok = (None, None) if hard is None else (row_emb[len(cand) :], hard[1])
            loss = sampled_softmax_loss(
                user_emb, cand_emb, cand, config.temperature, lq, hard_emb, hard_ok
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, batches = total + loss.item(), batches + 1
    return total / max(1, batches)


def _optimizer(net: TwoTower, config: ModelConfig) -> torch.optim.Optimizer:
    """AdamW; ID vectors get their own (stronger) weight decay: they should only carry
    what the features cannot explain."""
    ids = [p for name, p in net.named_parameters() if name.endswith("ids.weight")]
    rest = [p for name, p in net.named_parameters() if not name.endswith("ids.weight")]
    groups = [{"params": rest, "weight_decay": config.weight_decay}]
    if ids:
        groups.append(
            {
                "params": ids,
                "weight_decay": config.id_weight_decay,
                "lr": config.lr * config.id_lr_scale,
            }
        )
    return torch.optim.AdamW(groups, lr=config.lr)


def _scheduler(optimizer: torch.optim.Optimizer, config: ModelConfig):
    """Per-epoch learning rate: constant, or cosine decay to 0 at `max_epochs`."""
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.max_epochs)
    if config.lr_schedule == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    raise RecsysError(f"learning-rate schedule {config.lr_schedule!r} must be constant or cosine.")


def _version(dataset: Dataset, config: ModelConfig, seed: int, created: datetime) -> str:
    text = json.dumps([dataset.fingerprint, asdict(config), seed], sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"m-{created.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, restoring the previous count after.

    The matrices here are small, and on a busy shared CPU two OpenMP threads mostly
    wait for each other: 20 epochs took 8 s on one thread and 76 s on two (2 cores,
    load ~3.5). One thread is never much slower on an idle machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class _Inputs:
    """Everything an epoch reads: encoded features, pairs, negatives, logQ, ID rows."""

    xu: torch.Tensor
    xr: torch.Tensor
    u: torch.Tensor  # the training pairs' user rows
    r: torch.Tensor  # and restaurant rows
    warm: torch.Tensor
    warm_pos: torch.Tensor  # restaurant row -> its position in `warm` (-1: cold)
    full: bool  # full softmax over `warm` (else sampled with logQ)
    log_q: torch.Tensor | None
    generator: torch.Generator
    uid: torch.Tensor | None  # per user row: its ID vector's row (0 = none); None: no IDs
    rid: torch.Tensor | None
    # Explicit negatives as CSR: user row u's are items[offsets[u]:offsets[u + 1]].
    negatives: tuple[torch.Tensor, torch.Tensor] | None = None


def id_vocab(dataset: Dataset) -> dict[str, list[str]]:
    """The users and restaurants with training or validation visits: the ones a hybrid
    tower learns a vector for (the same for selection and the refit, so one shape)."""
    pairs = pd.concat([dataset.split.train, dataset.split.val], ignore_index=True)
    return {
        "users": sorted(map(str, pairs["user_id"].unique())),
        "restaurants": sorted(map(str, pairs["restaurant_id"].unique())),
    }


def _inputs(
    dataset: Dataset,
    encoders: FeatureEncoders,
    config: ModelConfig,
    seed: int,
    pairs: pd.DataFrame | None = None,
    vocab: dict[str, list[str]] | None = None,
    encoded: tuple[torch.Tensor, torch.Tensor] | None = None,
):
    """Encoded features (or the given `encoded` user and restaurant features) and
    batches of `pairs` (default: the training visits)."""
    u, r = _pairs(dataset.split.train if pairs is None else pairs, dataset)
    generator = torch.Generator().manual_seed(seed)
    warm = _warm_restaurants(dataset)
    warm_pos = torch.full((len(dataset.restaurants),), -1, dtype=torch.int64)
    warm_pos[warm] = torch.arange(len(warm))
    full = uses_full_softmax(config, len(warm))
    log_q = None
    if config.logq_correction and not full:
        log_q = _log_q(r, warm, len(dataset.restaurants), config)
    if encoded is None:
        encoded = (
            _tensor(encoders.encode_users(dataset.users)),
            _tensor(encoders.encode_restaurants(dataset.restaurants)),
        )
    xu, xr = encoded
    uid = rid = None
    if config.id_embeddings:
        vocab = vocab or id_vocab(dataset)
        uid = id_tensor(dataset.users["user_id"], vocab["users"])
        rid = id_tensor(dataset.restaurants["id"], vocab["restaurants"])
    return _Inputs(
        xu, xr, _tensor(u), _tensor(r), warm, warm_pos, full, log_q, generator, uid, rid,
        _negatives(dataset),
    )  # fmt: skip


def _negatives(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Explicit negatives (label -1, "Not for me") of warm restaurants, by user row."""
    from recsys.data.feedback import base_negatives

    frame = dataset.negatives if dataset.negatives is not None else base_negatives(dataset)
    frame = frame[
        frame["user_id"].isin(dataset.user_index)
        & frame["restaurant_id"].isin(dataset.restaurant_index)
        & ~frame["restaurant_id"].isin(dataset.split.cold_restaurants)
    ]
    if frame.empty:
        return None
    u, r = _pairs(frame, dataset)
    order = np.argsort(u, kind="stable")
    counts = np.bincount(u, minlength=len(dataset.users))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return _tensor(offsets), _tensor(r[order].astype(np.int64))


def _net(data: _Inputs, config: ModelConfig, vocab: dict[str, list[str]]) -> TwoTower:
    return TwoTower(
        data.xu.shape[1], data.xr.shape[1], config,
        n_users=len(vocab["users"]), n_restaurants=len(vocab["restaurants"]),
    )  # fmt: skip


def _fit(
    net: TwoTower,
    data: _Inputs,
    val: _Validation | _HeldOut,
    config: ModelConfig,
    progress: ProgressFn,
    label: str = "",
    race: list[float] | None = None,
):
    """Epochs until `max_epochs` or `patience` epochs without a better validation score
    (or, given the leading candidate's best-so-far scores by epoch in `race`, until
    this one falls clearly behind: see `RACE_MARGIN`); leaves `net` with its best
    weights, in eval mode. Returns (history, best scores)."""
    optimizer = _optimizer(net, config)
    scheduler = _scheduler(optimizer, config)
    history, best, best_state, waited = [], None, copy.deepcopy(net.state_dict()), 0
    has_val = len(val.users) > 0
    prefix = f"{label}: " if label else ""
    for epoch in range(1, config.max_epochs + 1):
        loss = _run_epoch(net, data, optimizer, config)
        scheduler.step()
        if has_val:
            scores = _validation_scores(net, data, val)
        else:
            scores = dict.fromkeys(("warm", "cold_users", "cold_restaurants", "score"), np.nan)
        entry = {"epoch": epoch, "loss": loss, "val_recall@10": scores["warm"]}
        if data.uid is not None:  # hybrid: the feature path alone, for cold start
            entry["val_recall@10 cold users"] = scores["cold_users"]
            entry["val_recall@10 cold restaurants"] = scores["cold_restaurants"]
        entry["val_score"] = scores["score"]
        history.append(entry)
        message = (
            f"{prefix}epoch {epoch}/{config.max_epochs} loss {loss:.3f} "
            f"val recall@10 {scores['warm']:.3f}"
        )
        progress(Progress("train", epoch, config.max_epochs, message, dict(history[-1])))
        if not has_val or best is None or scores["score"] > best["score"]:
            best, best_state, waited = scores, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= config.patience:
                progress(Progress("train", config.max_epochs, config.max_epochs, "early stop"))
                break
        if race and has_val and epoch >= RACE_MIN_EPOCHS:
            leader = race[min(epoch, len(race)) - 1]
            if best["score"] < RACE_MARGIN * leader:
                message = f"{prefix}dropped: behind the leading candidate"
                progress(Progress("train", config.max_epochs, config.max_epochs, message))
                break
    net.load_state_dict(best_state)
    net.eval()
    return history, best


def _freeze_features(net: TwoTower) -> None:
    for tower in (net.user_tower, net.restaurant_tower):
        for parameter in tower.feature_parameters():
            parameter.requires_grad_(False)


def _fit_model(
    net: TwoTower,
    data: _Inputs,
    val: _Validation | _HeldOut,
    config: ModelConfig,
    progress: ProgressFn,
    label: str = "",
    race: list[float] | None = None,
):
    """`_fit`, in two phases for residual hybrid towers (`config.id_residual`): the
    feature path alone (a features-only model), then, with it frozen, the ID vectors.
    No racing for those: the first phase's scores are a features-only model's."""
    if not config.residual_hybrid or data.uid is None:
        return _fit(net, data, val, config, progress, label=label, race=race)
    prefix = f"{label}, " if label else ""
    features = dataclasses.replace(data, uid=None, rid=None)
    first, _ = _fit(net, features, val, config, progress, label=f"{prefix}feature path")
    _freeze_features(net)
    second, best = _fit(net, data, val, config, progress, label=f"{prefix}ID vectors")
    history = [{**h, "phase": 1} for h in first]
    history += [{**h, "epoch": len(first) + h["epoch"], "phase": 2} for h in second]
    return history, best


def _refit_epochs(config: ModelConfig, history: list[dict[str, float]]) -> int:
    """The early-stopped epoch count the refit trains for (both phases of a residual
    hybrid, each stopped at its own best)."""
    if config.residual_hybrid and any("phase" in h for h in history):
        return sum(_phase_epochs(history))
    return best_epoch(history)


def _phase_epochs(history: list[dict[str, float]]) -> tuple[int, int]:
    """A residual hybrid's early-stopped epoch counts: (feature path, ID vectors)."""
    first = [h for h in history if h.get("phase") == 1]
    second = [h for h in history if h.get("phase") == 2]
    return best_epoch(first), best_epoch(second) - len(first)


def best_epoch(history: list[dict[str, float]]) -> int:
    """The first epoch with the highest validation score (recall@10 for models trained
    before hybrid towers): the one early stopping kept."""
    return int(max(history, key=lambda h: h.get("val_score", h["val_recall@10"]))["epoch"])


def _refit(
    dataset: Dataset,
    encoders: FeatureEncoders,
    config: ModelConfig,
    seed: int,
    epochs: int,
    vocab: dict[str, list[str]],
    history: list[dict[str, float]] | None = None,
) -> TwoTower:
    """A fresh net trained on train + validation visits for `epochs` epochs.

    Validation visits are legitimate training data for the final model; the epoch
    count early stopping chose on them is the only thing carried over.
    """
    _seed_everything(seed)
    pairs = pd.concat([dataset.split.train, dataset.split.val], ignore_index=True)
    data = _inputs(dataset, encoders, config, seed, pairs, vocab)
    net = _net(data, config, vocab)
    phases = [(data, epochs)]
    if config.residual_hybrid and history:
        first, second = _phase_epochs(history)
        phases = [(dataclasses.replace(data, uid=None, rid=None), first), (data, second)]
    for i, (phase_data, phase_epochs) in enumerate(phases):
        if i:
            _freeze_features(net)
        optimizer = _optimizer(net, config)
        scheduler = _scheduler(optimizer, config)
        for _ in range(phase_epochs):
            _run_epoch(net, phase_data, optimizer, config)
            scheduler.step()
    net.eval()
    return net


# --- model selection ------------------------------------------------------------------

# What selection tries, each a set of ModelConfig changes, chosen by validation on the
# data given (never per world). The first stage picks the architecture: linear or MLP
# towers, features only or hybrid (features + ID vectors with dropout on the ID part).
# "residual linear": a features-only linear model, then ID vectors in their own
# coordinates learnt on top of it, frozen (`ModelConfig.id_residual`); their learning
# rate is the shared one: with the feature path frozen, 10x overshot (collaborative
# world, data seed 0: warm 0.856 vs 0.933 of the oracle). "cross" and "residual cross":
# the same with a DCN-v2 cross layer before the linear map (`ModelConfig.cross_layers`),
# for tastes that multiply attributes (a like counting only at a bearable price).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "linear": {},
    "mlp": {"user_hidden": (64,), "restaurant_hidden": (64,), "dropout": 0.1},
    "hybrid linear": {"id_embeddings": True},
    "hybrid mlp": {
        "user_hidden": (64,), "restaurant_hidden": (64,), "dropout": 0.1, "id_embeddings": True,
    },
    "residual linear": {"id_embeddings": True, "id_residual": True, "id_lr_scale": 1.0},
    "cross": {"cross_layers": 1},
    "residual cross": {
        "cross_layers": 1, "id_embeddings": True, "id_residual": True, "id_lr_scale": 1.0,
    },
}  # fmt: skip
# The second stage varies the winner's softmax temperature, and tries it with a third of
# the learning rate (and the patience a slower descent needs). A weight decay of 1e-3
# tried here before changed no score (AdamW decays by lr x decay per step: under 1% in a
# whole run); the slower rate wins on some data sets (docs/experiments.md).
REFINEMENTS: dict[str, dict[str, Any]] = {
    "temperature 0.1": {"temperature": 0.1},
    "temperature 0.1, learning rate 1e-3": {"temperature": 0.1, "lr": 1e-3, "patience": 8},
}
# and, for a hybrid winner, the size of its ID vectors (the served size stays EMBEDDING_DIM).
ID_REFINEMENTS: dict[str, dict[str, Any]] = {"ID size 32": {"id_dim": 32}}
# Racing: from epoch RACE_MIN_EPOCHS on, a candidate whose best validation score is
# below RACE_MARGIN x the leading candidate's best score at the same epoch is dropped
# (its best so far is still recorded). It saves the time of candidates far behind.
RACE_MIN_EPOCHS = 5
RACE_MARGIN = 0.9
# Share of the users and of the restaurants with training visits that selection holds
# out as its own cold-start users and restaurants (`_HeldOut`).
HOLDOUT_SHARE = 0.1
SELECTION_CRITERION = (
    "mean, over warm users, users held out of training (cold start) and warm users' "
    "visits to restaurants held out of training, of validation recall@10 relative to "
    "the best candidate's in that segment"
)


_SEGMENTS = ("val_recall@10", "val_recall@10_cold_users", "val_recall@10_cold_restaurants")


def _normalise(tried: list[dict[str, Any]]) -> None:
    """Each candidate's selection "score" (`SELECTION_CRITERION`): per segment, its
    recall over the best candidate's so far ("normalised", in `_SEGMENTS` order), then
    the mean of the three. Raw recalls differ in scale between segments (in
    `collaborative`, warm ~0.6 against ~0.2 for cold start), so a raw mean let a gain
    in the largest one outweigh a collapse in another."""
    best = {k: max((c[k] for c in tried if not np.isnan(c[k])), default=0.0) for k in _SEGMENTS}
    for c in tried:
        ratios = [c[k] / best[k] if best[k] > 0 else 1.0 for k in _SEGMENTS]
        ratios = [0.0 if np.isnan(r) else r for r in ratios]
        c["normalised"] = [round(r, 4) for r in ratios]
        c["score"] = float(np.mean(ratios))


def _candidate_config(base: ModelConfig, changes: dict[str, Any]) -> ModelConfig:
    config = copy.deepcopy(base)
    for key, value in changes.items():
        setattr(config, key, value)
    return config


def _plain_changes(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}


def select(
    dataset: Dataset,
    encoders: FeatureEncoders,
    base: ModelConfig,
    seed: int,
    progress: ProgressFn,
    vocab: dict[str, list[str]],
) -> tuple[TwoTower, ModelConfig, list[dict[str, float]], dict[str, Any], dict[str, Any]]:
    """Train every candidate on the training visits, early-stopped on validation; keep
    the best by `SELECTION_CRITERION`. Returns (net, config, history, best scores, record)."""
    val = _HeldOut(dataset, seed, HOLDOUT_SHARE)
    encoded = (
        _tensor(encoders.encode_users(dataset.users)),
        _tensor(encoders.encode_restaurants(dataset.restaurants)),
    )
    tried: list[dict[str, Any]] = []
    results: dict[str, tuple] = {}
    curves: dict[str, list[float]] = {}  # best-so-far score by epoch

    def run(name: str, changes: dict[str, Any]) -> None:
        config = _candidate_config(base, changes)
        started = time.perf_counter()
        _seed_everything(seed)
        data = val.inputs(_inputs(dataset, encoders, config, seed, val.train, vocab, encoded))
        net = _net(data, config, vocab)
        race = curves[leader()] if tried else None
        history, best = _fit_model(net, data, val, config, progress, label=name, race=race)
        results[name] = (net, config, history, best)
        curves[name] = list(np.maximum.accumulate([h["val_score"] for h in history]))
        tried.append(
            {
                "name": name,
                "changes": _plain_changes(changes),
                "val_recall@10": best["warm"],
                "val_recall@10_cold_users": best["cold_users"],
                "val_recall@10_cold_restaurants": best["cold_restaurants"],
                "mean": best["score"],
                "best_epoch": _refit_epochs(config, history),
                "epochs": len(history),
                "seconds": round(time.perf_counter() - started, 2),
            }
        )

    def leader() -> str:
        _normalise(tried)
        return max(tried, key=lambda c: c["score"])["name"]

    for name, changes in ARCHITECTURES.items():
        run(name, changes)
    architecture = leader()
    refinements = dict(REFINEMENTS)
    if ARCHITECTURES[architecture].get("id_embeddings"):
        refinements.update(ID_REFINEMENTS)
    for name, changes in refinements.items():
        run(f"{architecture}, {name}", {**ARCHITECTURES[architecture], **changes})
    winner = leader()  # the scores are relative: every candidate is rescored here
    net, config, history, best = results[winner]
    results.clear()  # the losers' nets
    runner_up = sorted(tried, key=lambda c: -c["score"])[1:2]
    won = next(c for c in tried if c["name"] == winner)
    why = f"highest {SELECTION_CRITERION}: {won['score']:.4f}"
    if runner_up:
        why += f" (next: {runner_up[0]['name']}, {runner_up[0]['score']:.4f})"
    record = {
        "winner": winner,
        "architecture": architecture,
        "criterion": SELECTION_CRITERION,
        "why": why,
        "full_softmax": uses_full_softmax(config, len(_warm_restaurants(dataset))),
        "candidates": tried,
    }
    return net, config, history, best, record


def train(
    dataset: Dataset,
    *,
    config: ModelConfig | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> TrainedModel:
    """Train the two towers on the training split; early-stop on validation.

    Without `config`, model selection (`select`) trains every candidate and keeps the
    best by validation; with one, exactly that configuration is trained. With
    `config.refit` (the default), the returned net is then trained afresh on training
    + validation visits for the early-stopped number of epochs.
    """
    base = copy.deepcopy(config or ModelConfig())
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**32 - 1:
        raise RecsysError(f"seed {seed!r} is not a whole number from 0 to {2**32 - 1}.")
    if epochs is not None:
        if not 1 <= epochs <= 10_000:
            raise RecsysError(f"epochs {epochs} must be between 1 and 10000.")
        base.max_epochs = epochs
    if len(dataset.split.train) == 0:
        raise RecsysError("there are no training interactions: nothing to learn from.")
    started = time.perf_counter()
    progress = progress or no_progress
    with single_thread():
        _seed_everything(seed)
        encoders = fit_encoders(dataset)
        vocab = id_vocab(dataset)
        if config is None:
            net, config, history, best, selection = select(
                dataset, encoders, base, seed, progress, vocab
            )
        else:
            config, selection = base, {}
            _seed_everything(seed)
            data = _inputs(dataset, encoders, config, seed, vocab=vocab)
            net = _net(data, config, vocab)
            history, best = _fit_model(net, data, _Validation(dataset), config, progress)
        refit_epochs = 0
        # Selection trains without its held-out users and restaurants, so its winner is
        # always trained again on every visit, even without validation visits.
        if (config.refit and len(dataset.split.val) > 0) or selection:
            refit_epochs = _refit_epochs(config, history)
            message = f"refit on training + validation visits for {refit_epochs} epochs"
            progress(Progress("train", config.max_epochs, config.max_epochs, message))
            net = _refit(dataset, encoders, config, seed, refit_epochs, vocab, history)
    created = datetime.now(timezone.utc)
    metrics = {
        # of the early-stopped net; the refit one has seen validation
        "val_recall@10": best["warm"],
        "epochs": len(history),
        "refit_epochs": refit_epochs,
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    if selection:
        metrics["selected"] = selection["winner"]
    return TrainedModel(
        net=net,
        encoders=encoders,
        config=config,
        version=_version(dataset, config, seed, created),
        data_fingerprint=dataset.fingerprint,
        created=created.isoformat(timespec="seconds"),
        history=history,
        metrics=metrics,
        id_vocab=vocab if config.id_embeddings else {},
        selection=selection,
    )


# --- checkpoints -------------------------------------------------------------------


def load_saved(
    settings: Settings, version: str | None = None, *, expect_fingerprint: str | None = None
) -> TrainedModel:
    """A saved model: `version`, or else the newest one that loads (and fits the data).

    Raises:
        CheckpointError: no such (or no usable) saved model.
    """
    if version is not None:
        return load_checkpoint(
            saved.checkpoint_path(settings, version), expect_fingerprint=expect_fingerprint
        )
    reasons = []
    for candidate in saved.versions(settings):
        try:
            return load_checkpoint(
                saved.checkpoint_path(settings, candidate), expect_fingerprint=expect_fingerprint
            )
        except CheckpointError as exc:
            reasons.append(str(exc))
    why = f" ({reasons[0]})" if reasons else ""
    raise CheckpointError(
        f"no usable trained model under {str(saved.root(settings))!r}{why}: "
        "run `python -m recsys train` first."
    )


def save(model: TrainedModel, settings: Settings) -> Path:
    """Save `model` under its own version directory (see `saved`); returns the path."""
    return save_checkpoint(model, saved.checkpoint_path(settings, model.version))


def _metadata(model: TrainedModel) -> dict[str, Any]:
    return {
        "format": CHECKPOINT_FORMAT,
        "version": model.version,
        "created": model.created,
        "data_fingerprint": model.data_fingerprint,
        "features_version": FEATURES_VERSION,
        "feature_schema": model.encoders.schema(),
        "encoders": model.encoders.state(),
        "config": asdict(model.config),
        "metrics": model.metrics,
        "history": model.history,
        "id_vocab": model.id_vocab,
        "selection": model.selection,
    }


def save_checkpoint(model: TrainedModel, path: Path) -> Path:
    """Write weights + encoders + metadata atomically: readers see the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"state_dict": model.net.state_dict(), "meta": json.dumps(_metadata(model))}
    return atomic_write(path, lambda out: torch.save(payload, out), binary=True)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise CheckpointError(
            f"no trained model at {str(path)!r}: run `python -m recsys train` first."
        )
    try:
        with warnings.catch_warnings():  # e.g. about a raw pickle: the error below says it all
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
        return payload["state_dict"], json.loads(payload["meta"])
    except Exception:  # any unreadable file is the same problem for the user
        raise CheckpointError(f"{str(path)!r} is not a readable recsys checkpoint.") from None


def _refuse(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {str(path)!r} is incompatible ({why}); retrain the model.")


def load_checkpoint(path: Path, *, expect_fingerprint: str | None = None) -> TrainedModel:
    """Load a checkpoint safely; refuse one made for other features, sizes or data."""
    path = Path(path)
    state_dict, meta = _read(path)
    if meta.get("features_version") != FEATURES_VERSION:
        raise _refuse(path, f"feature version {meta.get('features_version')}, "
                            f"the code uses {FEATURES_VERSION}")  # fmt: skip
    raw = meta["config"]
    unknown = sorted(set(raw) - {f.name for f in fields(ModelConfig)})
    if unknown:
        raise _refuse(path, f"model setting {unknown[0]!r} is not one the code knows")
    config = ModelConfig(
        **{**raw, "user_hidden": tuple(raw["user_hidden"]),
           "restaurant_hidden": tuple(raw["restaurant_hidden"])}
    )  # fmt: skip
    if config.embedding_dim != EMBEDDING_DIM:
        raise _refuse(path, f"embedding size {config.embedding_dim}, the code uses {EMBEDDING_DIM}")
    encoders = FeatureEncoders.from_state(meta["encoders"])
    if not encoders.matches_code() or encoders.schema() != meta["feature_schema"]:
        raise _refuse(path, "its feature schema differs from the current code's")
    if expect_fingerprint is not None and meta["data_fingerprint"] != expect_fingerprint:
        raise _refuse(path, "it was trained on different data")
    vocab = meta.get("id_vocab") or {}
    if config.id_embeddings and not vocab.get("users"):
        raise _refuse(path, "its hybrid towers have no ID vocabulary")
    net = TwoTower(
        len(encoders.user.feature_names()), len(encoders.restaurant.feature_names()), config,
        n_users=len(vocab.get("users", [])), n_restaurants=len(vocab.get("restaurants", [])),
    )  # fmt: skip
    try:
        net.load_state_dict(state_dict)
    except RuntimeError:
        raise _refuse(path, "its weights do not fit the feature schema") from None
    net.eval()
    return TrainedModel(
        net=net,
        encoders=encoders,
        config=config,
        version=meta["version"],
        data_fingerprint=meta["data_fingerprint"],
        created=meta["created"],
        history=meta.get("history", []),
        metrics=meta.get("metrics", {}),
        id_vocab=vocab if config.id_embeddings else {},
        selection=meta.get("selection", {}),
    )
