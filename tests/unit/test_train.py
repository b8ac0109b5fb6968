"""Training learns, is deterministic, and checkpoints round-trip or are refused."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from tests_frames import small_dataset

from recsys.errors import RecsysError
from recsys.model.configs import ModelConfig
from recsys.model.metrics import ranking_metrics, relevant_by_user
from recsys.model.train import (
    _refit_epochs,
    best_epoch,
    load_checkpoint,
    save_checkpoint,
    train,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("train"), users=300, places=80, seed=5)


@pytest.fixture(scope="module")
def model(dataset):
    return train(dataset, epochs=8, seed=0)


def _warm_recall(dataset, scores):
    seen = relevant_by_user(dataset, dataset.split.train)
    return ranking_metrics(scores, relevant_by_user(dataset, dataset.split.test_warm), seen)


def test_short_training_beats_random_by_a_clear_margin(dataset, model):
    scores = model.embed_users(dataset.users) @ model.embed_restaurants(dataset.restaurants).T
    learned = _warm_recall(dataset, scores)["recall@10"]
    chance = _warm_recall(dataset, np.random.default_rng(0).random(scores.shape))["recall@10"]
    assert learned > 2 * chance and learned > chance + 0.15
    assert [h["epoch"] for h in model.history] == list(range(1, len(model.history) + 1))
    assert model.version.startswith("m-") and model.data_fingerprint == dataset.fingerprint


def test_training_and_embeddings_are_deterministic(dataset, model):
    again = train(dataset, epochs=8, seed=0)
    assert np.array_equal(again.embed_users(dataset.users), model.embed_users(dataset.users))
    first = model.embed_restaurants(dataset.restaurants)
    assert first.dtype == np.float32 and first.shape[0] == len(dataset.restaurants)
    assert np.array_equal(first, model.embed_restaurants(dataset.restaurants))
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)


def test_progress_reports_every_epoch(dataset):
    events = []
    train(dataset, epochs=2, progress=events.append)
    messages = [e.message for e in events if e.stage == "train"]
    assert messages[0].startswith("linear: epoch 1/2 loss ") and "val recall@10" in messages[0]
    # Every candidate of model selection reports its epochs, named.
    assert any(m.startswith("hybrid mlp: epoch 2/2") for m in messages)


def test_checkpoint_round_trip_gives_identical_embeddings(dataset, model, tmp_path):
    path = save_checkpoint(model, tmp_path / "model" / "checkpoint.pt")
    assert not list(path.parent.glob("*.tmp"))
    loaded = load_checkpoint(path, expect_fingerprint=dataset.fingerprint)
    assert loaded.version == model.version and loaded.history == model.history
    assert loaded.selection == model.selection and loaded.config == model.config
    assert np.array_equal(loaded.embed_users(dataset.users), model.embed_users(dataset.users))
    assert np.array_equal(
        loaded.embed_restaurants(dataset.restaurants), model.embed_restaurants(dataset.restaurants)
    )


def _tamper(path, change):
    payload = torch.load(path, weights_only=True)
    meta = json.loads(payload["meta"])
    change(meta, payload["state_dict"])
    payload["meta"] = json.dumps(meta)
    torch.save(payload, path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m, s: m.update(features_version=0), "feature version 0"),
        (lambda m, s: m["config"].update(embedding_dim=64), "embedding size 64"),
        (lambda m, s: m["encoders"]["user"]["boolean"].pop(), "feature schema differs"),
        (lambda m, s: s.pop(next(iter(s))), "weights do not fit"),
    ],
)
def test_incompatible_checkpoint_is_refused(model, tmp_path, change, message):
    path = save_checkpoint(model, tmp_path / "checkpoint.pt")
    _tamper(path, change)
    with pytest.raises(RecsysError, match=message):
        load_checkpoint(path)


def test_checkpoint_for_other_data_missing_or_garbage_is_refused(model, tmp_path):
    path = save_checkpoint(model, tmp_path / "checkpoint.pt")
    with pytest.raises(RecsysError, match="trained on different data"):
        load_checkpoint(path, expect_fingerprint="something-else")
    with pytest.raises(RecsysError, match="no trained model"):
        load_checkpoint(tmp_path / "missing.pt")
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RecsysError, match="not a readable recsys checkpoint"):
        load_checkpoint(path)


def test_bad_epochs_are_refused(dataset):
    with pytest.raises(RecsysError, match="epochs 0"):
        train(dataset, epochs=0)


def test_best_epoch_is_the_first_with_the_highest_validation_recall():
    history = [
        {"epoch": e, "val_recall@10": v} for e, v in [(1, 0.3), (2, 0.5), (3, 0.5), (4, 0.4)]
    ]
    assert best_epoch(history) == 2


def test_refit_trains_on_validation_visits_for_the_early_stopped_epochs(dataset, model):
    assert model.config.refit
    assert model.metrics["refit_epochs"] == _refit_epochs(model.config, model.history)
    fixed = dataclasses.replace(model.config, refit=False)  # the selected one, fixed
    plain = train(dataset, config=fixed, epochs=8, seed=0)
    # (Selection trains with users and restaurants held out, so its history differs.)
    assert plain.metrics["refit_epochs"] == 0
    # The refit model has learned the validation visits; the early-stopped one never saw them.
    val = relevant_by_user(dataset, dataset.split.val)
    seen = relevant_by_user(dataset, dataset.split.train)

    def val_recall(m):
        scores = m.embed_users(dataset.users) @ m.embed_restaurants(dataset.restaurants).T
        return ranking_metrics(scores, val, seen)["recall@10"]

    assert val_recall(model) > val_recall(plain) + 0.05


def test_model_selection_is_recorded_with_every_candidates_validation_recall(model):
    selection = model.selection
    names = [c["name"] for c in selection["candidates"]]
    assert names[:7] == [
        "linear", "mlp", "hybrid linear", "hybrid mlp", "residual linear", "cross",
        "residual cross",
    ]  # fmt: skip
    assert selection["winner"] in names and model.metrics["selected"] == selection["winner"]
    best = max(selection["candidates"], key=lambda c: c["score"])
    assert best["name"] == selection["winner"] and "highest" in selection["why"]
    for c in selection["candidates"]:
        assert 0 <= c["val_recall@10"] <= 1 and c["best_epoch"] >= 1
    # The refinements vary the architecture that won the first stage.
    first = selection["architecture"]
    assert first in names[:7]
    assert all(n.startswith(f"{first}, ") for n in names[7:]) and len(names) > 7


def test_hybrid_towers_embed_cold_entities_from_features_and_round_trip(dataset, tmp_path):
    config = ModelConfig(id_embeddings=True, user_hidden=(8,), restaurant_hidden=(8,))
    model = train(dataset, config=config, epochs=3, seed=0)
    assert model.selection == {} and model.id_vocab["users"]
    assert not set(model.id_vocab["users"]) & set(dataset.split.cold_users)
    assert not set(model.id_vocab["restaurants"]) & set(dataset.split.cold_restaurants)
    warm = dataset.users[dataset.users["user_id"].isin(model.id_vocab["users"])].head(3)
    renamed = warm.assign(user_id=["x1", "x2", "x3"])  # same features, no ID vector
    with torch.no_grad():
        features_only = model.net.user_tower(
            torch.tensor(model.encoders.encode_users(warm))
        ).numpy()
    assert np.allclose(model.embed_users(renamed), features_only, atol=1e-6)
    assert not np.allclose(model.embed_users(warm), features_only, atol=1e-3)
    path = save_checkpoint(model, tmp_path / "hybrid.pt")
    loaded = load_checkpoint(path)
    assert loaded.id_vocab == model.id_vocab
    assert np.array_equal(loaded.embed_users(dataset.users), model.embed_users(dataset.users))
    assert np.array_equal(
        loaded.embed_restaurants(dataset.restaurants), model.embed_restaurants(dataset.restaurants)
    )


def test_vectorised_validation_recall_equals_ranking_metrics(dataset):
    from recsys.model.train import _Validation

    scores = np.random.default_rng(1).random((len(dataset.users), len(dataset.restaurants)))
    val = relevant_by_user(dataset, dataset.split.val)
    seen = relevant_by_user(dataset, dataset.split.train)
    expected = ranking_metrics(scores, val, seen)["recall@10"]
    assert _Validation(dataset).recall(scores) == pytest.approx(expected, abs=1e-12)


def test_residual_hybrid_serves_cold_entities_from_its_frozen_feature_path(dataset, tmp_path):
    config = ModelConfig(id_embeddings=True, id_residual=True, id_lr_scale=1.0)
    model = train(dataset, config=config, epochs=3, seed=0)
    phases = [h["phase"] for h in model.history]
    assert phases[0] == 1 and phases[-1] == 2 and phases == sorted(phases)
    tower = model.net.user_tower
    warm = dataset.users[dataset.users["user_id"].isin(model.id_vocab["users"])].head(3)
    renamed = warm.assign(user_id=["x1", "x2", "x3"])  # same features, no ID vector
    with torch.no_grad():
        x = torch.tensor(model.encoders.encode_users(warm))
        features = torch.nn.functional.normalize(tower.net(x), dim=-1)
        prior = tower.ids.weight[1:].mean(dim=0).expand(len(x), -1)
        expected = torch.nn.functional.normalize(torch.cat([features, prior], dim=-1), dim=-1)
    # A cold user: the feature path's vector, and the mean of the learnt ID vectors.
    assert np.allclose(model.embed_users(renamed), expected.numpy(), atol=1e-6)
    assert not np.allclose(model.embed_users(warm), expected.numpy(), atol=1e-3)
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "residual.pt"))
    assert np.array_equal(loaded.embed_users(dataset.users), model.embed_users(dataset.users))


def test_selection_holds_out_users_and_restaurants_for_the_cold_start_scores(dataset):
    from recsys.model.train import _HeldOut

    held = _HeldOut(dataset, seed=0, share=0.1)
    users = set(dataset.users["user_id"].iloc[held.user_rows])
    rests = set(dataset.restaurants["id"].iloc[held.rest_rows])
    assert users and rests
    assert not users & set(held.train["user_id"]) and not rests & set(held.train["restaurant_id"])
    assert len(held.cold_users.users) and len(held.cold_restaurants.users)
    assert set(held.cold_users.users) == set(held.user_rows) & set(held.cold_users.users)
    assert held.cold_restaurants.relevant[:, held.rest_rows].any()


def test_selection_without_validation_visits_still_trains_on_every_user(dataset):
    """Selection trains without its held-out users and restaurants; with no validation
    visits there is no refit for validation's sake, but the winner is still trained
    again on every training visit, so no user or restaurant keeps an untrained vector."""
    empty = dataset.split.val.iloc[:0]
    no_val = dataclasses.replace(dataset, split=dataclasses.replace(dataset.split, val=empty))
    model = train(no_val, seed=0, epochs=3)
    assert model.metrics["selected"] and model.metrics["refit_epochs"] > 0


def test_cross_towers_learn_their_interactions_and_round_trip(dataset, tmp_path):
    model = train(dataset, config=ModelConfig(cross_layers=1), epochs=3, seed=0)
    for tower in (model.net.user_tower, model.net.restaurant_tower):
        assert len(tower.cross) == 1 and tower.cross[0].weight.abs().max() > 0  # trained
    loaded = load_checkpoint(save_checkpoint(model, tmp_path / "cross.pt"))
    assert loaded.config.cross_layers == 1
    assert np.array_equal(
        loaded.embed_restaurants(dataset.restaurants), model.embed_restaurants(dataset.restaurants)
    )
