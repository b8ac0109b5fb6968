"""Metrics by hand, the results' shape, and the command's outputs."""

import argparse
import dataclasses
import json
import math

import numpy as np
import pytest
from tests_frames import restaurants

import recsys.data.dataset as dataset_module
from recsys.config import Settings
from recsys.data.dataset import build_dataset
from recsys.data.interactions import save_interactions
from recsys.data.users import generate_users, save_users
from recsys.model.evaluate import ROWS, SEGMENTS, evaluate, evaluate_cli, evaluation_path
from recsys.model.metrics import METRICS, ranking_metrics
from recsys.model.train import train


def test_ranking_metrics_by_hand():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    # user 0: item 0 was seen (removed); relevant 2 ranks 2nd after item 1.
    out = ranking_metrics(scores, relevant={0: [2], 1: [3, 0]}, seen={0: [0]})
    ndcg_user1 = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert out["recall@10"] == pytest.approx(1.0)
    assert out["ndcg@10"] == pytest.approx((1 / math.log2(3) + ndcg_user1) / 2)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    save_users(generate_users(200, seed=7), root / "users.jsonl")
    settings = Settings(data_dir=root / "data")
    rest = restaurants(60, seed=7)
    dataset = build_dataset(settings, restaurants=rest, users_path=root / "users.jsonl", seed=7)
    return root, settings, rest, dataset, train(dataset, epochs=6)


def test_results_have_every_segment_row_and_metric(small):
    _, _, _, dataset, model = small
    results = evaluate(dataset, model)
    assert set(results["segments"]) == set(SEGMENTS)
    for rows in results["segments"].values():
        assert list(rows) == list(ROWS)
        assert all(set(v) == set(METRICS) for v in rows.values())
    warm = results["segments"]["warm_users"]
    assert warm["oracle"]["recall@10"] > warm["random"]["recall@10"]
    assert warm["oracle_learnable"]["recall@10"] > warm["random"]["recall@10"]
    assert warm["two_tower"]["recall@10"] > warm["random"]["recall@10"]
    assert results["segments"]["cold_restaurants"]["popularity"]["recall@10"] == 0
    assert "popularity" in results["notes"]["matrix_factorization"]
    assert results["train_seconds"] > 0


def test_cli_with_own_interactions_has_no_oracle_and_saves_results(small, capsys, monkeypatch):
    root, settings, rest, dataset, _ = small
    save_interactions(dataset.interactions, root / "visits.csv")
    args = argparse.Namespace(
        json=True, restaurants=None, users=root / "users.jsonl", interactions=root / "visits.csv"
    )
    # In real use restaurants come from recsys.data; here the small table is given.
    real = dataset_module.build_dataset
    monkeypatch.setattr(
        dataset_module,
        "build_dataset",
        lambda s, **kw: real(s, **{**kw, "restaurants": rest, "seed": 7}),
    )
    assert evaluate_cli(args, settings) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert "oracle" not in results["segments"]["warm_users"]
    assert "oracle_learnable" not in results["segments"]["warm_users"]
    assert "oracle_learnable" not in results["notes"]  # no row, no note
    assert results["data"]["interactions"] == "file"
    assert "Training a model" in captured.err
    saved = json.loads(evaluation_path(settings, results["model_version"]).read_text())
    assert saved["segments"] == results["segments"]


def test_baseline_rows_are_cached_per_data(small, monkeypatch):
    from recsys.model import baselines
    from recsys.model.evaluate import baseline_metrics

    root, _, _, dataset, model = small
    settings = Settings(data_dir=root / "cache-test")
    first = baseline_metrics(dataset, settings=settings)
    # Cached per world and data seed (this data set's seed is 7), as the data itself.
    assert (settings.data_dir / "model" / "baselines-seed7.json").is_file()

    def must_not_run(*args, **kwargs):
        raise AssertionError("the article recipe was retrained despite the cache")

    monkeypatch.setattr(baselines, "article_recipe_scores", must_not_run)
    assert baseline_metrics(dataset, settings=settings) == first
    results = evaluate(dataset, model, settings=settings)
    assert results["segments"]["warm_users"]["content"] == first["warm_users"]["content"]
    other = dataclasses.replace(dataset, fingerprint="other data")
    with pytest.raises(AssertionError, match="despite the cache"):
        baseline_metrics(other, settings=settings)


def test_evaluate_all_worlds_prints_one_block_or_object_per_world(small, monkeypatch, capsys):
    import recsys.model.evaluate as evaluate_module
    from recsys.data.worlds import WORLDS

    root, _, _, dataset, model = small
    one = evaluate(dataset, model, settings=Settings(data_dir=root / "all-worlds"))
    seen = []

    def fake(args, settings, world, progress, *, save_any=True):
        seen.append((world, save_any))
        return {**one, "world": world}

    monkeypatch.setattr(evaluate_module, "_evaluate_world", fake)
    args = argparse.Namespace(json=True, world="all")
    assert evaluate_cli(args, Settings(data_dir=root / "all-worlds")) == 0
    out = capsys.readouterr()
    assert list(json.loads(out.out)["worlds"]) == list(WORLDS)
    assert seen == [(w, False) for w in WORLDS]  # only the served model's numbers are saved
    assert "worlds" in out.err  # the progress bar over worlds, on stderr
    args.json = False
    evaluate_cli(args, Settings(data_dir=root / "all-worlds"))
    table = capsys.readouterr().out
    for world in WORLDS:
        assert f"=== world: {world} ===" in table
    assert table.count("two-tower / oracle recall@10: warm_users ") == len(WORLDS)
    assert table.count("learnable oracle / oracle recall@10: warm_users ") == len(WORLDS)
    assert "selected: " in table and "candidate linear" in table


def test_data_seeds_print_means_and_per_seed_ratios(small, monkeypatch, capsys):
    import recsys.model.evaluate as evaluate_module

    root, _, _, dataset, model = small
    one = evaluate(dataset, model, settings=Settings(data_dir=root / "seeds"))
    seen = []

    def fake(args, settings, world, progress, *, save_any=True, data_seed=0):
        seen.append((world, data_seed, save_any))
        result = json.loads(json.dumps(one))  # a copy per seed, the model's row scaled
        for rows in result["segments"].values():
            rows["two_tower"]["recall@10"] *= 1 + data_seed / 10
        return result

    monkeypatch.setattr(evaluate_module, "_evaluate_world", fake)
    args = argparse.Namespace(json=True, world="nonlinear", data_seeds=(0, 1))
    assert evaluate_cli(args, Settings(data_dir=root / "seeds")) == 0
    out = json.loads(capsys.readouterr().out)
    assert seen == [("nonlinear", 0, False), ("nonlinear", 1, False)]
    assert out["data_seeds"] == [0, 1] and list(out["worlds"]) == ["nonlinear"]
    summary = out["worlds"]["nonlinear"]
    assert set(summary["seeds"]) == {"0", "1"}
    warm = one["segments"]["warm_users"]
    base, oracle = warm["two_tower"]["recall@10"], warm["oracle"]["recall@10"]
    mean = summary["mean"]
    assert mean["segments"]["warm_users"]["two_tower"]["recall@10"] == pytest.approx(
        base * 1.05, abs=1e-4
    )
    ratio = mean["ratios_to_oracle"]["two_tower"]["warm_users"]
    assert ratio["per_seed"] == pytest.approx([base / oracle, 1.1 * base / oracle], abs=1e-4)
    assert ratio["mean"] == pytest.approx(1.05 * base / oracle, abs=1e-4)
    assert "oracle_learnable" in mean["ratios_to_oracle"]
    args.json = False
    evaluate_cli(args, Settings(data_dir=root / "seeds"))
    table = capsys.readouterr().out
    assert "=== world: nonlinear, data seeds 0, 1 ===" in table
    assert (
        "two-tower / oracle recall@10: warm_users " in table and "selected: data seed 0: " in table
    )
