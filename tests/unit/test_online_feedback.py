"""App feedback without a server: the online update, feedback as training data, the
hard-negative term of the loss, the simulated loop, and the key names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from tests_frames import small_dataset

from recsys.config import EMBEDDING_DIM, Settings
from recsys.data import online
from recsys.data.feedback import with_feedback
from recsys.errors import RecsysError
from recsys.model import loop
from recsys.model.towers import sampled_softmax_loss
from recsys.serving import keys

RNG = np.random.default_rng(0)


def _unit(n: int) -> np.ndarray:
    x = RNG.standard_normal((n, EMBEDDING_DIM))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_feedback_keys_are_unversioned_and_under_the_namespace() -> None:
    s = Settings(data_dir=".", namespace="ns")
    assert keys.feedback(s, "u1") == "{ns}:feedback:user:u1"
    assert keys.feedback_users(s) == "{ns}:feedback:users"
    assert keys.feedback_seq(s) == "{ns}:feedback:seq"
    assert keys.version_of_document(s, "users", keys.feedback(s, "u1")) is None


def test_online_vector_without_feedback_is_the_trained_one() -> None:
    v = _unit(1)[0]
    assert online.online_vector(v) == pytest.approx(v.astype(np.float32), abs=1e-6)


def test_online_vector_moves_towards_went_and_away_from_not_for_me() -> None:
    v, places = _unit(1)[0], _unit(3)
    mean = places.mean(axis=0)
    # A rejection gives the marks a share of "Not for me", so the trained vector yields.
    moved = online.online_vector(v, [places[0]], [places[1]], mean=mean)
    assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-6)
    assert moved @ (places[0] - mean) > v @ (places[0] - mean)
    assert moved @ (places[1] - mean) < v @ (places[1] - mean)
    # Only confirmations: nothing to correct.
    assert online.online_vector(v, [places[0]], mean=mean) == pytest.approx(v, abs=1e-6)


def test_the_formula_of_the_update() -> None:
    v, places = _unit(1)[0], _unit(4)
    mean = places.mean(axis=0)
    went, rejected = places[:1], places[1:]  # share of "Not for me": 3/4
    step = online.WENT_STEP * (went - mean).sum(0) - online.NOT_FOR_ME_STEP * (rejected - mean).sum(
        0
    )
    for visits, prior_visits, prior in ((0, 0.0, 1.0), (0, 0.2, 1.0), (5, 0.2, 1 / 26)):
        expected = v + (3 / 4) ** 2 * prior * step
        got = online.online_vector(
            v, went, rejected, mean=mean, visits=visits, prior_visits=prior_visits
        )
        assert got == pytest.approx(expected / np.linalg.norm(expected), abs=1e-6)
    assert online.trust_scale(np.array([1.0]), np.array([3.0]), np.array([5.0]), 0.2) == (
        pytest.approx([(3 / 4) ** 2 / 26])
    )


def test_users_with_training_visits_keep_the_trained_vector() -> None:
    """The default prior (PRIOR_VISITS 0) is exact once a user has training visits:
    only users without any move; a finite prior moves them less than new users."""
    assert online.PRIOR_VISITS == 0.0
    v, places = _unit(1)[0], _unit(3)
    mean = places.mean(axis=0)
    new = online.online_vector(v, [places[0]], [places[1], places[2]], mean=mean)
    warm = online.online_vector(v, [places[0]], [places[1], places[2]], mean=mean, visits=1)
    assert np.linalg.norm(new - v) > 0.01
    assert warm == pytest.approx(v.astype(np.float32), abs=1e-7)
    finite = online.online_vector(
        v, [places[0]], [places[1], places[2]], mean=mean, visits=20, prior_visits=0.2
    )
    assert 0 < np.linalg.norm(finite - v) < np.linalg.norm(new - v)


@pytest.mark.parametrize("prior_visits", [online.PRIOR_VISITS, 0.2])
def test_online_matrix_rows_equal_online_vector(prior_visits: float) -> None:
    users, places = _unit(4), _unit(6)
    went = (RNG.random((4, 6)) < 0.3).astype(float)
    rejected = ((RNG.random((4, 6)) < 0.3) & (went == 0)).astype(float)
    rejected[0, 0], went[0, 0] = 1.0, 0.0  # at least one user without visits moves
    visits = np.array([0, 3, 10, 0])
    matrix = online.online_matrix(
        users, places, went, rejected, visits=visits, prior_visits=prior_visits
    )
    for i in range(4):
        row = online.online_vector(
            users[i], places[went[i] > 0], places[rejected[i] > 0],
            mean=places.mean(axis=0), visits=int(visits[i]), prior_visits=prior_visits,
        )  # fmt: skip
        assert matrix[i] == pytest.approx(row, abs=1e-5)
    assert not np.allclose(matrix[0], users[0], atol=1e-4)


def test_hard_negatives_raise_the_loss_only_for_their_rows() -> None:
    users = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    cands = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    ids = torch.arange(4)
    base = sampled_softmax_loss(users, cands, ids, 0.1)
    none = torch.zeros(4, dtype=torch.bool)
    same = sampled_softmax_loss(users, cands, ids, 0.1, None, users, none)
    assert same.item() == pytest.approx(base.item())
    # A hard negative identical to the user's own vector: the largest possible logit.
    some = torch.tensor([True, False, True, False])
    assert sampled_softmax_loss(users, cands, ids, 0.1, None, users, some) > base


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("feedback"), users=120, places=50, seed=5)


def test_with_feedback_uses_skips_and_counts(tiny_dataset) -> None:
    ds = tiny_dataset
    warm = [u for u in ds.users["user_id"] if u not in ds.split.cold_users]
    cold_rest = set(ds.split.cold_restaurants)
    places = [r for r in ds.restaurants["id"] if r not in cold_rest]
    seen = set(zip(ds.split.train["user_id"], ds.split.train["restaurant_id"], strict=True))
    held = set(
        zip(
            pd.concat([ds.split.val, ds.split.test_warm])["user_id"],
            pd.concat([ds.split.val, ds.split.test_warm])["restaurant_id"],
            strict=True,
        )
    )
    fresh = [(u, r) for u in warm for r in places if (u, r) not in seen and (u, r) not in held]
    (u1, r1), (u2, r2) = fresh[0], fresh[-1]
    visited = ds.split.train.iloc[0]
    marks = pd.DataFrame(
        [
            (u1, r1, 1),
            (u2, r2, -1),
            (visited["user_id"], visited["restaurant_id"], -1),  # latest label wins
            ("nobody", r1, 1),
            (ds.split.cold_users[0], r1, 1) if ds.split.cold_users else ("nobody", r1, 1),
        ],
        columns=["user_id", "restaurant_id", "label"],
    )
    merged, counts = with_feedback(ds, marks)
    train = set(
        zip(merged.split.train["user_id"], merged.split.train["restaurant_id"], strict=True)
    )
    negatives = set(
        zip(merged.negatives["user_id"], merged.negatives["restaurant_id"], strict=True)
    )
    assert (u1, r1) in train and (u2, r2) in negatives
    assert (visited["user_id"], visited["restaurant_id"]) not in train
    assert counts["went_used"] == 1 and counts["not_for_me_used"] == 2
    assert counts["unknown_skipped"] + counts["held_out_skipped"] == 2
    assert counts["training_visits_removed"] == 1
    assert merged.fingerprint == ds.fingerprint and merged.split.test_warm.equals(
        ds.split.test_warm
    )


class _Vectors:
    """A stand-in for a trained model in the simulation: fixed random towers."""

    def __init__(self, ds) -> None:
        self.u, self.r = _unit(len(ds.users)), _unit(len(ds.restaurants))

    def embed_users(self, users: pd.DataFrame) -> np.ndarray:
        return self.u[: len(users)].astype(np.float32)

    def embed_restaurants(self, restaurants: pd.DataFrame) -> np.ndarray:
        return self.r[: len(restaurants)].astype(np.float32)


def test_simulation_reports_every_round_arm_and_segment(tiny_dataset) -> None:
    model = _Vectors(tiny_dataset)
    result = loop.simulate(tiny_dataset, model, 4, retrain=lambda _: model)
    assert [e["round"] for e in result["rounds"]] == [0, 1, 2, 3, 4]
    first = result["rounds"][0]
    assert first["online"] == first["none"] == first["retrain"]  # nothing marked yet
    for entry in result["rounds"]:
        assert set(entry["by_segment"]) == set(loop.SEGMENTS)
        assert all(0.0 <= entry[arm] <= 1.0 for arm in ("online", "none", "retrain"))
    with pytest.raises(RecsysError, match="-1"):
        loop.simulate(tiny_dataset, model, -1)


def test_check_reports_the_goal_and_warm_users_are_not_moved(tiny_dataset) -> None:
    model = _Vectors(tiny_dataset)
    rows = loop.check(tiny_dataset, model, 3, sim_seeds=(0, 1), prior_visits=(0.0, 0.2))
    assert [(r["prior_visits"], r["sim_seed"]) for r in rows] == [
        (0.0, 0), (0.0, 1), (0.2, 0), (0.2, 1),
    ]  # fmt: skip
    for row in rows[:2]:  # an exact prior: warm users' recall is exactly the "none" arm's
        assert row["warm_worst_change"] == row["warm_mean_change"] == 0
        assert row["warm_rounds_lower"] == row["warm_rounds_higher"] == 0
    assert {"cold_lift_after_3", "warm_worst_slots", "world"} <= set(rows[0])


def test_loop_command_needs_grid_or_check(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        loop.main([])
    assert exc.value.code == 2
    assert "give --grid, --check or both" in capsys.readouterr().err
