"""Training the two-tower model, early stopping, and safe checkpoints.

Read top to bottom: encode features once, iterate shuffled batches of positive
(user, restaurant) pairs with the in-batch softmax loss, measure validation
recall@10 after every epoch, keep the best weights, stop when they stop improving.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

from recsys.config import EMBEDDING_DIM, Settings
from recsys.data.dataset import Dataset
from recsys.errors import CheckpointError, RecsysError
from recsys.fileutil import atomic_write
from recsys.model import saved
from recsys.model.features import FEATURES_VERSION, FeatureEncoders
from recsys.model.metrics import pair_rows, ranking_metrics, relevant_by_user
from recsys.model.towers import ModelConfig, TwoTower, sampled_softmax_loss
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

    @torch.no_grad()
    def embed_users(self, users: pd.DataFrame) -> np.ndarray:
        """Unit-length float32 embeddings (n, D), in eval mode (no dropout): deterministic."""
        self.net.eval()
        x = _tensor(self.encoders.encode_users(users))
        return self.net.user_tower(x).numpy().astype(np.float32)

    @torch.no_grad()
    def embed_restaurants(self, restaurants: pd.DataFrame) -> np.ndarray:
        """Unit-length float32 embeddings (n, D), in eval mode (no dropout): deterministic."""
        self.net.eval()
        x = _tensor(self.encoders.encode_restaurants(restaurants))
        return self.net.restaurant_tower(x).numpy().astype(np.float32)


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


@torch.no_grad()
def validation_recall(net: TwoTower, xu: torch.Tensor, xr: torch.Tensor, dataset: Dataset) -> float:
    """Recall@10 on the validation visits, training visits removed from the candidates."""
    net.eval()
    scores = (net.user_tower(xu) @ net.restaurant_tower(xr).T).numpy()
    relevant = relevant_by_user(dataset, dataset.split.val)
    seen = relevant_by_user(dataset, dataset.split.train)
    return ranking_metrics(scores, relevant, seen)["recall@10"]


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


def _hard(u_idx: torch.Tensor, data: _Inputs) -> tuple[torch.Tensor, torch.Tensor] | None:
    """One explicit negative per batch row, drawn from its user's, and which rows have one."""
    if data.negatives is None:
        return None
    offsets, items = data.negatives
    start, count = offsets[u_idx], offsets[u_idx + 1] - offsets[u_idx]
    ok = count > 0
    draw = (torch.rand(len(u_idx), generator=data.generator) * count.clamp(min=1)).long()
    pick = items[(start + draw).clamp(max=max(len(items) - 1, 0))]
    return torch.where(ok, pick, torch.zeros_like(pick)), ok


def _run_epoch(net: TwoTower, data: _Inputs, optimizer, config: ModelConfig) -> float:
    net.train()
    total, batches = 0.0, 0
    for u_idx, r_idx in data.loader:
        cand = _candidates(r_idx, data, config)
        hard = _hard(u_idx, data)
        rows = cand if hard is None else torch.cat([cand, hard[0]])
        user_emb, row_emb = net(data.xu[u_idx], data.xr[rows])
        cand_emb = row_emb[: len(cand)]
        lq = data.log_q[cand] if data.log_q is not None else None
        hard_emb, hard_ok = (None, None) if hard is None else (row_emb[len(cand) :], hard[1])
        if hard_ok is not None:
            hard_ok = hard_ok & (hard[0] != r_idx)  # never the row's own positive
        loss = sampled_softmax_loss(
            user_emb, cand_emb, cand, config.temperature, lq, hard_emb, hard_ok
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, batches = total + loss.item(), batches + 1
    return total / max(1, batches)


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
    """Everything an epoch reads: encoded features, batches, negatives, logQ."""

    xu: torch.Tensor
    xr: torch.Tensor
    loader: DataLoader
    warm: torch.Tensor
    log_q: torch.Tensor | None
    generator: torch.Generator
    # Explicit negatives as CSR: user row u's are items[offsets[u]:offsets[u + 1]].
    negatives: tuple[torch.Tensor, torch.Tensor] | None = None


def _inputs(
    dataset: Dataset,
    encoders: FeatureEncoders,
    config: ModelConfig,
    seed: int,
    pairs: pd.DataFrame | None = None,
):
    """Encoded features and batches of `pairs` (default: the training visits)."""
    u, r = _pairs(dataset.split.train if pairs is None else pairs, dataset)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(_tensor(u), _tensor(r)),
        batch_size=config.batch_size,
        shuffle=True,
        generator=generator,
    )
    warm = _warm_restaurants(dataset)
    log_q = _log_q(r, warm, len(dataset.restaurants), config) if config.logq_correction else None
    xu = _tensor(encoders.encode_users(dataset.users))
    xr = _tensor(encoders.encode_restaurants(dataset.restaurants))
    return _Inputs(xu, xr, loader, warm, log_q, generator, _negatives(dataset))


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


def _fit(net: TwoTower, data: _Inputs, dataset: Dataset, config: ModelConfig, progress):
    """Epochs until `max_epochs` or `patience` epochs without a better validation recall;
    leaves `net` with its best weights, in eval mode. Returns (history, best recall)."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(optimizer, config)
    history, best, best_state, waited = [], -1.0, copy.deepcopy(net.state_dict()), 0
    has_val = len(dataset.split.val) > 0
    for epoch in range(1, config.max_epochs + 1):
        loss = _run_epoch(net, data, optimizer, config)
        scheduler.step()
        val = validation_recall(net, data.xu, data.xr, dataset) if has_val else float("nan")
        history.append({"epoch": epoch, "loss": loss, "val_recall@10": val})
        message = f"epoch {epoch}/{config.max_epochs} loss {loss:.3f} val recall@10 {val:.3f}"
        progress(Progress("train", epoch, config.max_epochs, message, dict(history[-1])))
        if not has_val or val > best:
            best, best_state, waited = val, copy.deepcopy(net.state_dict()), 0
        else:
            waited += 1
            if waited >= config.patience:
                progress(Progress("train", config.max_epochs, config.max_epochs, "early stop"))
                break
    net.load_state_dict(best_state)
    net.eval()
    return history, best


def best_epoch(history: list[dict[str, float]]) -> int:
    """The first epoch with the highest validation recall@10: the one early stopping kept."""
    return int(max(history, key=lambda h: h["val_recall@10"])["epoch"])


def _refit(
    dataset: Dataset, encoders: FeatureEncoders, config: ModelConfig, seed: int, epochs: int
) -> TwoTower:
    """A fresh net trained on train + validation visits for `epochs` epochs.

    Validation visits are legitimate training data for the final model; the epoch
    count early stopping chose on them is the only thing carried over.
    """
    _seed_everything(seed)
    pairs = pd.concat([dataset.split.train, dataset.split.val], ignore_index=True)
    data = _inputs(dataset, encoders, config, seed, pairs)
    net = TwoTower(data.xu.shape[1], data.xr.shape[1], config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(optimizer, config)
    for _ in range(epochs):
        _run_epoch(net, data, optimizer, config)
        scheduler.step()
    net.eval()
    return net


def train(
    dataset: Dataset,
    *,
    config: ModelConfig | None = None,
    epochs: int | None = None,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> TrainedModel:
    """Train the two towers on the training split; early-stop on validation recall@10.

    With `config.refit` (the default), the returned net is then trained afresh on
    training + validation visits for the early-stopped number of epochs.
    """
    config = copy.deepcopy(config or ModelConfig())
    if epochs is not None:
        if not 1 <= epochs <= 10_000:
            raise RecsysError(f"epochs {epochs} must be between 1 and 10000.")
        config.max_epochs = epochs
    if len(dataset.split.train) == 0:
        raise RecsysError("there are no training interactions: nothing to learn from.")
    started = time.perf_counter()
    with single_thread():
        _seed_everything(seed)
        encoders = fit_encoders(dataset)
        data = _inputs(dataset, encoders, config, seed)
        net = TwoTower(data.xu.shape[1], data.xr.shape[1], config)
        progress = progress or no_progress
        history, best = _fit(net, data, dataset, config, progress)
        refit_epochs = 0
        if config.refit and len(dataset.split.val) > 0:
            refit_epochs = best_epoch(history)
            message = f"refit on training + validation visits for {refit_epochs} epochs"
            progress(Progress("train", config.max_epochs, config.max_epochs, message))
            net = _refit(dataset, encoders, config, seed, refit_epochs)
    created = datetime.now(timezone.utc)
    metrics = {
        "val_recall@10": best,  # of the early-stopped net; the refit one has seen validation
        "epochs": len(history),
        "refit_epochs": refit_epochs,
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    return TrainedModel(
        net=net,
        encoders=encoders,
        config=config,
        version=_version(dataset, config, seed, created),
        data_fingerprint=dataset.fingerprint,
        created=created.isoformat(timespec="seconds"),
        history=history,
        metrics=metrics,
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
    net = TwoTower(
        len(encoders.user.feature_names()), len(encoders.restaurant.feature_names()), config
    )
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
    )
