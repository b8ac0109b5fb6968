"""End to end on the real generated data: dataset, training, checkpoint, evaluate --json,
and retrain saving the served model's evaluation."""

import json
import subprocess
import sys

import numpy as np
import pytest

from recsys import pipeline
from recsys.data.dataset import build_dataset
from recsys.errors import RecsysError
from recsys.model import saved
from recsys.model.evaluate import evaluation_path
from recsys.model.train import load_saved, save, train
from recsys.serving import index

pytestmark = pytest.mark.slow


def test_dataset_is_cached_and_deterministic(settings, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_URL", "none")
    first = build_dataset(settings)
    assert first.sources == {
        "restaurants": "generated", "users": "generated", "interactions": "simulated"
    }  # fmt: skip
    assert settings.path("users.jsonl").is_file() and settings.path("interactions.csv").is_file()
    again = build_dataset(settings)  # now from the cached files
    assert again.fingerprint == first.fingerprint
    assert np.array_equal(again.oracle, first.oracle)
    assert len(first.users) == 1000 and first.split.cold_users


def test_evaluate_json_on_the_default_data(settings, cli_env, monkeypatch):
    monkeypatch.setenv("RECSYS_DATA_URL", "none")
    dataset = build_dataset(settings)
    model = train(dataset, epochs=10)
    save(model, settings)
    env = {**cli_env, "RECSYS_DATA_URL": "none"}
    done = subprocess.run(
        [sys.executable, "-m", "recsys", "evaluate", "--json"],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert results["model_version"] == model.version  # the saved model, not a new one
    for segment in ("warm_users", "cold_users", "cold_restaurants"):
        rows = results["segments"][segment]
        assert rows["two_tower"]["recall@10"] > 2 * rows["random"]["recall@10"]
        assert rows["two_tower"]["recall@10"] > rows["article_recipe"]["recall@10"]
        assert rows["oracle"]["recall@10"] < 1.0
    loaded = load_saved(settings, model.version)
    assert np.array_equal(loaded.embed_users(dataset.users), model.embed_users(dataset.users))


def test_retrain_saves_the_served_models_evaluation_and_a_failed_one_keeps_it(
    settings, monkeypatch
):
    monkeypatch.setenv("RECSYS_DATA_URL", "none")
    first = pipeline.retrain(settings, epochs=2)
    path = evaluation_path(settings, first["model_version"])
    evaluation = json.loads(path.read_text())
    assert evaluation["model_version"] == first["model_version"]
    assert index.live_info(settings)["model_version"] == first["model_version"]
    warm = evaluation["segments"]["warm_users"]
    assert warm["two_tower"]["recall@10"] > warm["random"]["recall@10"]
    before = path.read_bytes()

    def failing_publish(*args, **kwargs):  # the store refuses the load (e.g. Redis full)
        raise RecsysError("the new index could not be loaded.")

    monkeypatch.setattr(index, "publish_locked", failing_publish)
    with pytest.raises(RecsysError, match="could not be loaded"):
        pipeline.retrain(settings, epochs=2, seed=1)
    assert path.read_bytes() == before
    assert index.live_info(settings)["model_version"] == first["model_version"]
    assert load_saved(settings, first["model_version"]).version == first["model_version"]
    # The failed model's files are gone, and no temporary file is left anywhere.
    assert saved.versions(settings) == [first["model_version"]]
    assert not [p.name for p in saved.root(settings).rglob("*") if p.name.endswith(".part")]
