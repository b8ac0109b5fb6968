"""Evaluation: recall@k and NDCG@k of the model, the oracle and every baseline.

Every row ranks the whole catalogue for a user; restaurants the user visited in
training (or validation) are removed from the candidates, and the held-out visits
are the relevant items. Three segments:

- warm_users: users with training visits, their latest visits to warm restaurants;
- cold_users: users with no training visits at all (the model sees only the profile);
- cold_restaurants: warm users' visits to restaurants never seen in training.

recall@k = hits in the top k / min(k, number of held-out visits), so a perfect
ranking scores 1 even for users with more than k held-out visits; NDCG@10 uses
binary relevance.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.config import Settings
from recsys.errors import CheckpointError
from recsys.fileutil import atomic_write_json
from recsys.model import saved
from recsys.model.metrics import METRICS, ranking_metrics, relevant_by_user
from recsys.progress import Progress, TextProgress

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset
    from recsys.model.train import TrainedModel

SEGMENTS = ("warm_users", "cold_users", "cold_restaurants")
ROWS = (
    "two_tower", "two_tower_mlp", "oracle", "oracle_learnable", "random", "popularity",
    "content", "matrix_factorization", "article_recipe",
)  # fmt: skip
BASELINES_VERSION = 6  # bump when a baseline changes, so cached rows are recomputed
# (4: the MLP row trains with the full softmax; 5: an oracle_profile row; 6: oracle_learnable)


def _segments(dataset: Dataset) -> dict[str, tuple[dict, dict]]:
    split = dataset.split
    seen = relevant_by_user(dataset, pd.concat([split.train, split.val]))
    return {
        "warm_users": (relevant_by_user(dataset, split.test_warm), seen),
        "cold_users": (relevant_by_user(dataset, split.test_cold_users), {}),
        "cold_restaurants": (relevant_by_user(dataset, split.test_cold_restaurants), seen),
    }


def baseline_scores(dataset: Dataset, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Every row but the model's: (n_users, n_restaurants) scores; no oracle for real data."""
    from recsys.model import baselines

    rows = {} if dataset.oracle is None else {"oracle": dataset.oracle}
    if dataset.oracle is not None:
        rows["oracle_learnable"] = learnable_scores(dataset)
    rows["random"] = baselines.random_scores(dataset, seed)
    rows["popularity"] = baselines.popularity_scores(dataset)
    rows["content"] = baselines.content_scores(dataset)
    rows["matrix_factorization"] = baselines.matrix_factorization_scores(dataset, seed)
    rows["article_recipe"] = baselines.article_recipe_scores(dataset, seed)
    return rows


def learnable_scores(dataset: Dataset) -> np.ndarray:
    """The learnable oracle of simulated data: its world's affinity with what no model
    can learn from this split replaced by its expectation (`World.learnable_affinity`)."""
    from recsys.data.worlds import get_world

    # Who has visits a model learns from: training and validation (the refit uses both).
    learnt = pd.concat([dataset.split.train, dataset.split.val], ignore_index=True)
    return get_world(getattr(dataset, "world", None)).learnable_affinity(
        dataset.users,
        dataset.restaurants,
        dataset.seed,
        dataset.users["user_id"].isin(learnt["user_id"]).to_numpy(),
        dataset.restaurants["id"].isin(learnt["restaurant_id"]).to_numpy(),
    )


def mlp_scores(dataset: Dataset, *, seed: int = 0) -> np.ndarray:
    """The MLP-tower variant's scores: trained here, for comparison with the served model."""
    from recsys.model import train
    from recsys.model.configs import MLP_CONFIG

    return model_scores(train.train(dataset, config=MLP_CONFIG, seed=seed), dataset)


def model_scores(model: TrainedModel, dataset: Dataset) -> np.ndarray:
    """The model's cosine scores for every (user, restaurant) of `dataset`."""
    return model.embed_users(dataset.users) @ model.embed_restaurants(dataset.restaurants).T


def _rounded(values: dict[str, float]) -> dict[str, float | None]:
    return {k: (None if np.isnan(v) else round(v, 4)) for k, v in values.items()}


def _metric_rows(dataset: Dataset, rows: dict[str, np.ndarray]) -> dict[str, dict[str, dict]]:
    """{segment: {row: {metric: value or None}}}: None where a segment has no users."""
    out: dict[str, dict[str, dict]] = {}
    for segment, (relevant, seen) in _segments(dataset).items():
        out[segment] = {
            name: _rounded(ranking_metrics(scores, relevant, seen)) for name, scores in rows.items()
        }
    return out


def _baselines_key(dataset: Dataset, seed: int) -> str:
    # The data fingerprint covers restaurants, users, interactions and the split's seed.
    return json.dumps([BASELINES_VERSION, dataset.fingerprint, seed])


def baseline_metrics(
    dataset: Dataset, *, seed: int = 0, settings: Settings | None = None
) -> dict[str, dict[str, dict]]:
    """The comparison rows' metrics per segment, cached under `settings` if given.

    Baselines, oracle and the MLP-tower variant ("two_tower_mlp") do not depend on the
    served model, and the article's recipe (200 epochs, ~12 s) and the MLP (~10 s)
    take a while, so a retrain on the same data reuses them.
    """
    world = getattr(dataset, "world", "default")
    from recsys.data.dataset import seeded_stem

    stem = "baselines" if world == "default" else f"baselines-{world}"
    name = f"{seeded_stem(stem, dataset.seed)}.json"  # per data seed, as the data's caches
    path = settings.path("model", name) if settings is not None else None
    key = _baselines_key(dataset, seed)
    if path is not None and path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached["segments"]
        except (OSError, ValueError, AttributeError):
            pass  # an unreadable cache is recomputed and rewritten
    from recsys.model.train import single_thread

    with single_thread():  # small matrices: a second thread only waits on a shared CPU
        rows = {
            "two_tower_mlp": mlp_scores(dataset, seed=seed),
            **baseline_scores(dataset, seed=seed),
        }
    segments = _metric_rows(dataset, rows)
    if path is not None:
        atomic_write_json(path, {"key": key, "segments": segments}, indent=2)
    return segments


def evaluate(
    dataset: Dataset,
    model: TrainedModel,
    *,
    seed: int = 0,
    settings: Settings | None = None,
    extra_models: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Recall@10/50 and NDCG@10 per segment and row, plus what was measured and how.

    Args:
        settings: where to cache the baselines' rows (keyed by the data's fingerprint).
        extra_models: more trained models to report as rows after "two_tower".

    Returns `{"segments": {segment: {row: {metric: value}}}, "train_seconds": s, ...}`;
    a metric is null where a segment has no users (e.g. tiny data).
    """
    models = {"two_tower": model, **(extra_models or {})}
    own = _metric_rows(dataset, {name: model_scores(m, dataset) for name, m in models.items()})
    base = baseline_metrics(dataset, seed=seed, settings=settings)
    segments = {}
    for segment in own:
        merged = {**own[segment], **base[segment]}
        segments[segment] = {row: merged[row] for row in ROWS if row in merged}
    results = {
        "segments": segments,
        "train_seconds": model.metrics.get("train_seconds"),
        "model_version": model.version,
        "world": getattr(dataset, "world", "default"),
        "selection": getattr(model, "selection", {}) or {},
        "epochs": model.metrics.get("epochs"),
        "users_evaluated": {seg: len(rel) for seg, (rel, _) in _segments(dataset).items()},
        "data": {**dataset.sources, "fingerprint": dataset.fingerprint},
        "notes": {
            "matrix_factorization": "cold-start users have no factors: popularity instead.",
            "two_tower_mlp": "the same model with MLP towers (model.MLP_CONFIG), for comparison.",
            "oracle": "the planted affinity itself (absent for your own interactions)."
            if dataset.oracle is not None
            else "absent: the interactions came from a file, so the true affinity is unknown.",
            "recall@k": "hits in the top k / min(k, held-out visits); training visits excluded.",
        },
    }
    if dataset.oracle is not None:
        results["notes"]["oracle_learnable"] = (
            "the planted affinity with what no model can learn from these visits and "
            "profiles replaced by its expectation (the per-pair noise; in `collaborative`, "
            "the hidden cluster of a user or restaurant without visits): a reference, the "
            "ranking by everything a model can learn. A segment that counts only some "
            "places can score above it (see the README)."
        )
    return results


# --- saved results and the command line ------------------------------------------------


def evaluation_path(settings: Settings, version: str) -> Path:
    """Where model `version`'s results live, next to its checkpoint, for the UI to draw."""
    return saved.evaluation_path(settings, version)


def save_evaluation(results: dict[str, Any], settings: Settings) -> Path:
    """Write results atomically under their model's version (the UI may be reading)."""
    path = evaluation_path(settings, results["model_version"])
    atomic_write_json(path, results, indent=2)
    return path


def load_evaluation(settings: Settings, version: str) -> dict[str, Any] | None:
    """Model `version`'s saved results, or None if it has none (or they are unreadable)."""
    try:
        return json.loads(evaluation_path(settings, version).read_text(encoding="utf-8"))
    except (OSError, ValueError, CheckpointError):
        return None


def format_table(results: dict[str, Any]) -> str:
    """A fixed-width table: one block per segment, one line per row."""
    lines = []
    for segment, rows in results["segments"].items():
        n = results.get("users_evaluated", {}).get(segment, "?")
        lines.append(f"{segment} ({n} users)")
        lines.append(f"  {'row':<22}" + "".join(f"{m:>11}" for m in METRICS))
        for row, values in rows.items():
            cells = "".join(
                f"{'-':>11}" if values[m] is None else f"{values[m]:>11.4f}" for m in METRICS
            )
            lines.append(f"  {row:<22}{cells}")
        lines.append("")
    lines.append(
        f"model {results.get('model_version')}, trained in {results.get('train_seconds')} s"
    )
    selection = results.get("selection") or {}
    if selection:
        lines.append(f"selected: {selection['winner']} ({selection['why']})")
        lines += [
            f"  candidate {c['name']:<32} val recall@10 {c['val_recall@10']:.4f}"
            f"  score {c['score']:.4f}"
            for c in selection["candidates"]
        ]
    lines += [f"note: {key}: {text}" for key, text in results.get("notes", {}).items()]
    return "\n".join(lines)


def model_for(
    dataset: Dataset, settings: Settings, progress: TextProgress | None = None
) -> tuple[TrainedModel, bool]:
    """The saved model if it was trained on this data, else a fresh one (not saved);
    and whether it is the saved one."""
    from recsys.model import train

    try:
        return train.load_saved(settings, expect_fingerprint=dataset.fingerprint), True
    except CheckpointError as exc:
        print(f"note: {exc} Training a model for this evaluation.", file=sys.stderr)
        return train.train(dataset, progress=progress or TextProgress(sys.stderr)), False


def _evaluate_world(
    args: Any,
    settings: Settings,
    world: str,
    progress: Any,
    *,
    save_any: bool = True,
    data_seed: int = 0,
) -> dict[str, Any]:
    """Evaluate on `world`'s data (simulated, and split, with `data_seed`); save the
    results for the UI unless `save_any` is off and the model is not the saved one."""
    from recsys.data.dataset import build_dataset

    rounds = getattr(args, "feedback_rounds", 0) or 0
    if rounds:
        from recsys.model import loop

        loop.check_rounds(rounds)  # before the slow part
    dataset = build_dataset(
        settings,
        restaurants=getattr(args, "restaurants", None) or settings.restaurants_file,
        users_path=getattr(args, "users", None),
        interactions_path=getattr(args, "interactions", None),
        world=world,
        seed=data_seed,
        progress=progress,
    )
    model, is_saved = model_for(dataset, settings, progress)
    started = time.perf_counter()
    results = evaluate(dataset, model, settings=settings)
    if rounds:
        results["feedback"] = loop.simulate(dataset, model, rounds, progress=progress)
    results["evaluate_seconds"] = round(time.perf_counter() - started, 3)
    if is_saved or save_any:
        save_evaluation(results, settings)
    return results


# The ratio lines under each world's table: the model, and what a model can aim for.
RATIO_ROWS = {"two_tower": "two-tower", "oracle_learnable": "learnable oracle"}


def _ratio(rows: dict[str, dict], row: str) -> float | None:
    value = (rows.get(row) or {}).get("recall@10")
    oracle = (rows.get("oracle") or {}).get("recall@10")
    return None if value is None or not oracle else value / oracle


def format_worlds(all_results: dict[str, dict[str, Any]]) -> str:
    """One block per world: its table, then the two-tower / oracle and the learnable
    oracle / oracle ratios per segment."""
    blocks = []
    for world, results in all_results.items():
        ratios: dict[str, list[str]] = {row: [] for row in RATIO_ROWS}
        for segment, rows in results["segments"].items():
            for row in ratios:
                value = _ratio(rows, row)
                if value is not None:
                    ratios[row].append(f"{segment} {value:.3f}")
        lines = [f"=== world: {world} ===", format_table(results)]
        lines += [
            f"{label} / oracle recall@10: {', '.join(ratios[row]) or '-'}"
            for row, label in RATIO_ROWS.items()
            if ratios[row] or row == "two_tower"
        ]
        blocks.append("\n".join([*lines, ""]))
    return "\n".join(blocks)


def mean_over_seeds(by_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Means over data seeds of one world's results: every metric of every row present
    for every seed, and (simulated data) the per-seed ratios to the oracle of the model
    and of the learnable oracle with their mean (the README's figures)."""
    results = list(by_seed.values())
    segments: dict[str, dict] = {}
    ratios: dict[str, dict] = {row: {} for row in RATIO_ROWS}
    for segment, rows in results[0]["segments"].items():
        segments[segment] = {}
        for row, values in rows.items():
            if not all(row in r["segments"][segment] for r in results):
                continue
            segments[segment][row] = {}
            for metric in values:
                seen = [r["segments"][segment][row][metric] for r in results]
                known = [v for v in seen if v is not None]
                segments[segment][row][metric] = (
                    round(float(np.mean(known)), 4) if len(known) == len(seen) else None
                )
        for row in RATIO_ROWS:
            per_seed = [_ratio(r["segments"][segment], row) for r in results]
            if all(v is not None for v in per_seed):
                ratios[row][segment] = {
                    "mean": round(float(np.mean(per_seed)), 4),
                    "per_seed": [round(v, 4) for v in per_seed],
                }
    selected = {str(seed): (r.get("selection") or {}).get("winner") for seed, r in by_seed.items()}
    return {"segments": segments, "ratios_to_oracle": ratios, "selected": selected}


def format_seeds(worlds: dict[str, dict[str, Any]], seeds: tuple[int, ...]) -> str:
    """One block per world: recall@10 per segment and row, mean and per data seed, then
    the ratios to the oracle (mean of the per-seed ratios) and each seed's winner."""
    blocks = []
    shown = ", ".join(map(str, seeds))
    for world, summary in worlds.items():
        lines = [f"=== world: {world}, data seeds {shown} ==="]
        mean = summary["mean"]
        for segment, rows in mean["segments"].items():
            lines.append(f"{segment}: recall@10, mean (per data seed)")
            for row, values in rows.items():
                per_seed = [
                    summary["seeds"][str(seed)]["segments"][segment][row]["recall@10"]
                    for seed in seeds
                ]
                cells = ", ".join("-" if v is None else f"{v:.3f}" for v in per_seed)
                value = values["recall@10"]
                lines.append(f"  {row:<22}{'-' if value is None else f'{value:.4f}':>8}  ({cells})")
        for row, label in RATIO_ROWS.items():
            parts = [
                f"{segment} {r['mean']:.3f} ({', '.join(f'{v:.2f}' for v in r['per_seed'])})"
                for segment, r in mean["ratios_to_oracle"][row].items()
            ]
            if parts or row == "two_tower":
                lines.append(f"{label} / oracle recall@10: {', '.join(parts) or '-'}")
        winners = "; ".join(f"data seed {s}: {w}" for s, w in mean["selected"].items())
        lines += [f"selected: {winners}", ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _evaluate_seeds(
    args: Any, settings: Settings, names: list[str], seeds: tuple[int, ...], progress: Any
) -> int:
    """`evaluate --data-seeds`: every chosen world on every data seed, and the means."""
    worlds: dict[str, dict[str, Any]] = {}
    total, done = len(names) * len(seeds), 0
    for name in names:
        by_seed = {}
        for seed in seeds:
            progress(Progress("evaluate", done, total, f"world {name}, data seed {seed}"))
            by_seed[seed] = _evaluate_world(
                args, settings, name, progress, save_any=False, data_seed=seed
            )
            done += 1
        worlds[name] = {
            "seeds": {str(seed): result for seed, result in by_seed.items()},
            "mean": mean_over_seeds(by_seed),
        }
    progress(Progress("evaluate", total, total, "done"))
    if args.json:
        print(json.dumps({"data_seeds": list(seeds), "worlds": worlds}))
    else:
        print(format_seeds(worlds, seeds))
    return 0


def evaluate_cli(args: Any, settings: Settings) -> int:
    """`python -m recsys evaluate [--world NAME|all] [--data-seeds S,S,...] [--json]`:
    every number on stdout, progress on stderr."""
    from recsys.data.worlds import WORLDS, get_world

    progress = TextProgress(sys.stderr)
    world = getattr(args, "world", None)
    every = world is not None and world.strip().lower() == "all"
    seeds = getattr(args, "data_seeds", None)
    if seeds:
        names = list(WORLDS) if every else [get_world(world).name]
        return _evaluate_seeds(args, settings, names, tuple(seeds), progress)
    if every:
        names = list(WORLDS)
        all_results = {}
        for i, name in enumerate(names):
            progress(Progress("worlds", i, len(names), f"world {name}"))
            # Only the served model's numbers replace what the UI shows.
            all_results[name] = _evaluate_world(args, settings, name, progress, save_any=False)
        progress(Progress("worlds", len(names), len(names), "done"))
        print(json.dumps({"worlds": all_results}) if args.json else format_worlds(all_results))
        return 0
    results = _evaluate_world(args, settings, get_world(world).name, progress)
    print(json.dumps(results) if args.json else format_table(results))
    return 0
