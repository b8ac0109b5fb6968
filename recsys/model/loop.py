"""The feedback loop, simulated: users with a known taste react to what they are shown.

Each round every simulated user is shown their top 10 (places they visited in
training, or already marked, are not candidates), marks the first `PER_ROUND` of them
the way their planted taste says ("I went here" if the place is among the top
`LIKE_FRACTION` of the catalogue for them by the oracle, else "Not for me"), and the
system updates. Recall@10 against the oracle: the overlap of the top 10 shown with
the oracle's top 10 of the same candidates (places not marked yet), divided by 10.

Three arms, each with its own users' marks:
- `none`: the trained vectors, marked places only removed from the candidates;
- `online`: `recsys.data.online.online_matrix` of the marks after every round (the
  same function the serving path applies, on the same trained vectors);
- `retrain`: no online update, but the model is retrained on base + marks every
  `RETRAIN_EVERY` rounds (`recsys.data.feedback.with_feedback`, as a retrain in the app).

In process on NumPy embeddings: no Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys.data import online
from recsys.data.feedback import with_feedback
from recsys.errors import RecsysError
from recsys.progress import Progress, ProgressFn, no_progress

if TYPE_CHECKING:
    from recsys.data.dataset import Dataset
    from recsys.model.train import TrainedModel

K = 10
PER_ROUND = 3  # marks per user per round: the first places shown
LIKE_FRACTION = 0.1  # a place is "for me" if it is in my oracle top 10 % of the catalogue
RETRAIN_EVERY = 3
MAX_WARM_USERS = 300
SEGMENTS = ("warm_users", "cold_users", "all")
MAX_ROUNDS = 50


def _users(dataset: Dataset, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the simulated warm users (a sample) and of every cold-start user."""
    cold = set(dataset.split.cold_users)
    ids = dataset.users["user_id"].to_numpy()
    cold_rows = np.array([i for i, u in enumerate(ids) if u in cold], dtype=np.int64)
    warm_rows = np.array([i for i, u in enumerate(ids) if u not in cold], dtype=np.int64)
    rng = np.random.default_rng([seed, 13])
    if len(warm_rows) > MAX_WARM_USERS:
        warm_rows = np.sort(rng.choice(warm_rows, MAX_WARM_USERS, replace=False))
    return warm_rows, cold_rows


def _seen(dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    """(len(rows), n_restaurants) True where the user visited in training/validation."""
    seen = np.zeros((len(rows), len(dataset.restaurants)), dtype=bool)
    where = {int(r): i for i, r in enumerate(rows)}
    pairs = pd.concat([dataset.split.train, dataset.split.val])
    for u, r in zip(pairs["user_id"], pairs["restaurant_id"], strict=True):
        i = where.get(dataset.user_index[u])
        if i is not None:
            seen[i, dataset.restaurant_index[r]] = True
    return seen


def _train_visits(dataset: Dataset, rows: np.ndarray) -> np.ndarray:
    counts = dataset.split.train["user_id"].map(dataset.user_index).value_counts()
    return np.array([counts.get(int(r), 0) for r in rows], dtype=np.float64)


def _top(scores: np.ndarray, excluded: np.ndarray, k: int = K) -> np.ndarray:
    block = np.where(excluded, -np.inf, scores)
    return np.argsort(-block, axis=1, kind="stable")[:, :k]


class _Arm:
    """One arm's state: its marks, and how it turns them into user vectors."""

    def __init__(self, users: np.ndarray, restaurants: np.ndarray, visits: np.ndarray) -> None:
        self.users, self.restaurants, self.visits = users, restaurants, visits
        self.went = np.zeros((len(users), len(restaurants)), dtype=np.float64)
        self.rejected = np.zeros_like(self.went)

    def vectors(
        self, online_update: bool, steps: tuple[float, float], prior_visits: float
    ) -> np.ndarray:
        if not online_update:
            return self.users
        return online.online_matrix(
            self.users, self.restaurants, self.went, self.rejected, visits=self.visits,
            went_step=steps[0], not_for_me_step=steps[1], prior_visits=prior_visits,
        )  # fmt: skip


def simulate(
    dataset: Dataset,
    model: TrainedModel,
    rounds: int,
    *,
    retrain: Callable[[Dataset], TrainedModel] | None = None,
    steps: tuple[float, float] = (online.WENT_STEP, online.NOT_FOR_ME_STEP),
    arms: tuple[str, ...] = ("online", "none", "retrain"),
    seed: int = 0,
    prior_visits: float = online.PRIOR_VISITS,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Recall@10 against the oracle after 0..`rounds` rounds, per arm and segment.

    Args:
        retrain: trains a model on a dataset (default: `train.train` with `seed`).
        steps: (went, not for me) step sizes of the online update.
        seed: which warm users are sampled (and the retrain's seed).
        prior_visits: the online update's `PRIOR_VISITS`.

    Returns:
        {"rounds": [{"round": i, "online": r, "none": r, "retrain": r,
                     "by_segment": {segment: {arm: r}}}, ...], "settings": {...}}
        where the top-level values are all users (warm and cold mixed).
    """
    if dataset.oracle is None:
        raise RecsysError(
            "the feedback simulation needs the planted oracle; interactions from a file have none."
        )
    check_rounds(rounds)
    report = progress or no_progress
    if retrain is None:
        from recsys.model import train

        def retrain(data: Dataset) -> TrainedModel:
            return train.train(data, seed=seed)

    warm, cold = _users(dataset, seed)
    rows = np.concatenate([warm, cold])
    segment_of = {
        "warm_users": np.arange(len(warm)),
        "cold_users": len(warm) + np.arange(len(cold)),
    }
    segment_of["all"] = np.arange(len(rows))
    oracle = np.asarray(dataset.oracle, dtype=np.float64)[rows]
    n_like = max(1, round(LIKE_FRACTION * oracle.shape[1]))
    liked = oracle >= np.sort(oracle, axis=1)[:, -n_like][:, None]
    seen = _seen(dataset, rows)
    served_users = _as_signed_up(dataset)
    user_vectors = model.embed_users(served_users)[rows]
    rest_vectors = model.embed_restaurants(dataset.restaurants)
    visits = _train_visits(dataset, rows)  # what the served user document's `visited` holds
    state = {arm: _Arm(user_vectors, rest_vectors, visits) for arm in arms}
    user_ids = dataset.users["user_id"].to_numpy()[rows]
    rest_ids = dataset.restaurants["id"].to_numpy()
    out = []
    for i in range(rounds + 1):
        entry: dict[str, Any] = {"round": i, "by_segment": {s: {} for s in SEGMENTS}}
        for arm, st in state.items():
            excluded = seen | (st.went > 0) | (st.rejected > 0)
            scores = st.vectors(arm == "online", steps, prior_visits) @ st.restaurants.T
            shown = _top(scores, excluded)
            best = _top(oracle, excluded)
            recall = np.array([len(set(a) & set(b)) / K for a, b in zip(shown, best, strict=True)])
            for segment, idx in segment_of.items():
                value = float(recall[idx].mean()) if len(idx) else float("nan")
                entry["by_segment"][segment][arm] = round(value, 4)
            entry[arm] = entry["by_segment"]["all"][arm]
            if i == rounds:
                continue
            marked = shown[:, :PER_ROUND]
            for u in range(len(rows)):
                for r in marked[u]:
                    (st.went if liked[u, r] else st.rejected)[u, r] = 1.0
            if arm == "retrain" and (i + 1) % RETRAIN_EVERY == 0:
                report(Progress("feedback", i + 1, rounds, f"retraining after round {i + 1}"))
                marks = _marks(user_ids, rest_ids, st)
                fresh = retrain(with_feedback(dataset, marks)[0])
                st.users = fresh.embed_users(served_users)[rows]
                st.restaurants = fresh.embed_restaurants(dataset.restaurants)
        out.append(entry)
        report(Progress("feedback", i, rounds, f"round {i}: " + ", ".join(
            f"{arm} {entry[arm]:.3f}" for arm in arms)))  # fmt: skip
    return {
        "rounds": out,
        "settings": {
            "users": {"warm_users": len(warm), "cold_users": len(cold)},
            "per_round": PER_ROUND,
            "like_fraction": LIKE_FRACTION,
            "retrain_every": RETRAIN_EVERY,
            "went_step": steps[0],
            "not_for_me_step": steps[1],
            "prior_visits": prior_visits,
            "recall": "top 10 shown vs the oracle's top 10 of the places not marked yet "
            "(training visits excluded)",
        },
    }


def check_rounds(rounds: object) -> None:
    """RecsysError unless `rounds` is a whole number from 0 to MAX_ROUNDS."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 0 <= rounds <= MAX_ROUNDS:
        raise RecsysError(
            f"feedback rounds {rounds!r} is not a whole number from 0 to {MAX_ROUNDS}."
        )


def _as_signed_up(dataset: Dataset) -> pd.DataFrame:
    """The users as the app knows them: cold-start users have just signed up and given
    no likes yet (their taste, the oracle, still follows their real likes)."""
    users = dataset.users.copy()
    cold = users["user_id"].isin(dataset.split.cold_users).to_numpy()
    users["likes"] = [[] if c else list(v) for c, v in zip(cold, users["likes"], strict=True)]
    return users


def _marks(user_ids: np.ndarray, rest_ids: np.ndarray, arm: _Arm) -> pd.DataFrame:
    rows = []
    for label, matrix in ((1, arm.went), (-1, arm.rejected)):
        for u, r in zip(*np.nonzero(matrix), strict=True):
            rows.append((user_ids[u], rest_ids[r], label))
    return pd.DataFrame(rows, columns=["user_id", "restaurant_id", "label"])


def lift(result: dict[str, Any], segment: str, after: int = 3) -> float:
    """Relative change of online vs none recall@10 in `segment` after `after` rounds."""
    entry = result["rounds"][after]["by_segment"][segment]
    return entry["online"] / entry["none"] - 1.0


# Step sizes tried by `step_grid` (went, not for me).
STEP_GRID = ((0.1, 0.05), (0.2, 0.1), (0.4, 0.2), (0.6, 0.3), (0.8, 0.2), (0.8, 0.4), (1.2, 0.6))


def warm_changes(result: dict[str, Any]) -> list[float]:
    """Online minus none recall@10 of the warm users, per round."""
    return [
        e["by_segment"]["warm_users"]["online"] - e["by_segment"]["warm_users"]["none"]
        for e in result["rounds"]
    ]


def step_grid(dataset: Dataset, model: TrainedModel, rounds: int = 10) -> list[dict[str, Any]]:
    """For each step pair: the cold-start lift after 3 rounds and the worst warm change
    over all rounds (online vs none; 0 by construction while `PRIOR_VISITS` is 0)."""
    rows = []
    for steps in STEP_GRID:
        result = simulate(dataset, model, rounds, steps=steps, arms=("online", "none"))
        rows.append(
            {
                "world": getattr(dataset, "world", "default"),
                "went_step": steps[0],
                "not_for_me_step": steps[1],
                "cold_lift_after_3": round(lift(result, "cold_users", min(3, rounds)), 4),
                "worst_warm_change": round(min(warm_changes(result)), 4),
            }
        )
    return rows


def check(
    dataset: Dataset,
    model: TrainedModel,
    rounds: int = 10,
    *,
    sim_seeds: tuple[int, ...] = (0,),
    prior_visits: tuple[float, ...] = (online.PRIOR_VISITS,),
) -> list[dict[str, Any]]:
    """The goal, per warm-user sample (`sim_seeds`) and prior strength: cold-start lift
    after 3 rounds, and the warm users' worst and mean change (online vs none) over
    rounds 1..`rounds`, also as top-10 slots (of 10 per warm user)."""
    rows = []
    for prior in prior_visits:
        for seed in sim_seeds:
            result = simulate(
                dataset, model, rounds, arms=("online", "none"), seed=seed, prior_visits=prior
            )
            warm = warm_changes(result)[1:] or [0.0]
            slots = K * result["settings"]["users"]["warm_users"]
            rows.append(
                {
                    "world": getattr(dataset, "world", "default"),
                    "sim_seed": seed,
                    "prior_visits": prior,
                    "cold_lift_after_3": round(lift(result, "cold_users", min(3, rounds)), 4),
                    "warm_worst_change": round(min(warm), 4),
                    "warm_worst_slots": round(min(warm) * slots),
                    "warm_mean_change": round(float(np.mean(warm)), 5),
                    "warm_rounds_lower": sum(w < 0 for w in warm),
                    "warm_rounds_higher": sum(w > 0 for w in warm),
                }
            )
    return rows


def _numbers(text: str, kind: type) -> tuple[Any, ...]:
    return tuple(kind(x) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    """`python -m recsys.model.loop [--grid] [--check]`: JSON Lines on stdout.

    --grid: STEP_GRID; --check: the goal across warm-user samples and prior strengths.
    Both on every chosen planted world and data seed, with the saved model where it was
    trained on that data, else a model trained for it (not saved).
    """
    import argparse
    import json

    from recsys.config import Settings
    from recsys.data.dataset import build_dataset
    from recsys.data.worlds import WORLDS
    from recsys.errors import CheckpointError
    from recsys.model import train

    parser = argparse.ArgumentParser(prog="python -m recsys.model.loop")
    parser.add_argument("--grid", action="store_true", help="evaluate STEP_GRID")
    parser.add_argument("--check", action="store_true", help="the goal across worlds and seeds")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--world", default=None, help="a world name, 'all' or a comma list")
    parser.add_argument("--data-seeds", default="0", help="comma list")
    parser.add_argument("--sim-seeds", default="0,1,2", help="comma list (--check)")
    parser.add_argument("--prior-visits", default=str(online.PRIOR_VISITS), help="comma list")
    args = parser.parse_args(argv)
    if not (args.grid or args.check):
        parser.error("give --grid, --check or both")
    check_rounds(args.rounds)
    settings = Settings.from_env()
    if args.world is None:
        worlds: list[str | None] = [None]
    elif args.world == "all":
        worlds = list(WORLDS)
    else:
        worlds = [w.strip() for w in args.world.split(",") if w.strip()]
    data_seeds = _numbers(args.data_seeds, int)
    for world in worlds:
        for data_seed in data_seeds:
            dataset = build_dataset(
                settings, restaurants=settings.restaurants_file, world=world, seed=data_seed
            )
            try:
                model = train.load_saved(settings, expect_fingerprint=dataset.fingerprint)
            except CheckpointError:
                model = train.train(dataset, seed=data_seed)
            rows = step_grid(dataset, model, args.rounds) if args.grid else []
            if args.check:
                rows += check(
                    dataset,
                    model,
                    args.rounds,
                    sim_seeds=_numbers(args.sim_seeds, int),
                    prior_visits=_numbers(args.prior_visits, float),
                )
            for row in ({**r, "data_seed": data_seed} for r in rows):
                print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
