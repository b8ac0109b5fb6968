"""Planted worlds: each has its own oracle, far better than random, and differs from default."""

import numpy as np
import pandas as pd
import pytest
from tests_frames import restaurants

from recsys.data.interactions import pair_noise, simulate, split
from recsys.data.users import LIKE_RULES, LIKES, generate_users
from recsys.data.worlds import CLUSTERS, WORLDS, get_world, hidden_clusters, remapped_rules
from recsys.errors import RecsysError
from recsys.model.metrics import ranking_metrics


@pytest.fixture(scope="module")
def people_and_places():
    return generate_users(200, seed=3), restaurants(120, seed=3)


def _recall(scores: np.ndarray, users: pd.DataFrame, rest: pd.DataFrame, visits) -> float:
    """Recall@10 of `scores` on each user's latest visits, earlier ones excluded."""
    s = split(visits, rest, seed=0, cold_user_frac=0, cold_restaurant_frac=0)
    upos = {u: i for i, u in enumerate(users["user_id"])}
    rpos = {r: i for i, r in enumerate(rest["id"])}

    def by_user(frame):
        out: dict[int, list[int]] = {}
        for u, r in zip(frame["user_id"], frame["restaurant_id"], strict=True):
            out.setdefault(upos[u], []).append(rpos[r])
        return out

    seen = by_user(pd.concat([s.train, s.val]))
    return ranking_metrics(scores, by_user(s.test_warm), seen)["recall@10"]


@pytest.mark.parametrize("name", list(WORLDS))
def test_each_worlds_oracle_beats_random_by_a_wide_margin(people_and_places, name):
    users, rest = people_and_places
    world = get_world(name)
    visits, oracle = simulate(users, rest, seed=1, affinity_fn=world.affinity)
    again, oracle2 = simulate(users, rest, seed=1, affinity_fn=world.affinity)
    assert visits.equals(again) and np.array_equal(oracle, oracle2)  # deterministic
    random = np.random.default_rng(0).random(oracle.shape)
    oracle_recall = _recall(oracle, users, rest, visits)
    assert oracle_recall > 4 * _recall(random, users, rest, visits)
    assert oracle_recall > 0.3


def test_worlds_plant_different_tastes(people_and_places):
    users, rest = people_and_places
    oracles = {n: w.affinity(users, rest, 1) for n, w in WORLDS.items()}
    for name in ("remapped", "nonlinear", "collaborative"):
        corr = np.corrcoef(oracles["default"].ravel(), oracles[name].ravel())[0, 1]
        assert corr < 0.9, name


def test_remapped_rules_move_every_like():
    rules = remapped_rules()
    assert set(rules) == set(LIKES)
    assert sum(rules[like] is LIKE_RULES[like] for like in LIKES) == 0


def test_unknown_world_is_one_plain_error():
    assert get_world(None).name == "default" and get_world(" Nonlinear ").name == "nonlinear"
    with pytest.raises(RecsysError, match="unknown world 'mars'; choose one of default, "):
        get_world("mars")


def _masks(users, rest, warm: bool):
    return np.full(len(users), warm), np.full(len(rest), warm)


@pytest.mark.parametrize("name", list(WORLDS))
def test_what_cannot_be_learnt_is_what_the_seed_draws(people_and_places, name):
    """With no visits at all, nothing the seed draws (noise, clusters) can be learnt: two
    seeds give the same learnable affinity. With everybody warm, only the noise is left out."""
    users, rest = people_and_places
    world = get_world(name)
    cold = [
        world.learnable_affinity(users, rest, seed, *_masks(users, rest, False)) for seed in (1, 2)
    ]
    np.testing.assert_allclose(cold[0], cold[1], atol=1e-5)
    assert not np.allclose(world.affinity(users, rest, 1), world.affinity(users, rest, 2))
    warm = world.learnable_affinity(users, rest, 1, *_masks(users, rest, True))
    noise = world.weights["noise"] * pair_noise(len(users), len(rest), 1)
    np.testing.assert_allclose(world.affinity(users, rest, 1) - warm, noise, atol=1e-5)


def test_hidden_clusters_cap_what_a_model_can_learn_for_newcomers(people_and_places):
    """In `collaborative` a newcomer's cluster is unknown, so even the learnable oracle
    ranks far below the oracle; elsewhere only the small noise is unknown."""
    users, rest = people_and_places
    share = {}
    for name, world in WORLDS.items():
        visits, oracle = simulate(users, rest, seed=1, affinity_fn=world.affinity)
        learnable = world.learnable_affinity(users, rest, 1, *_masks(users, rest, False))
        share[name] = _recall(learnable, users, rest, visits) / _recall(oracle, users, rest, visits)
    assert share["collaborative"] < 0.6, share
    assert min(v for k, v in share.items() if k != "collaborative") > 0.9, share


def test_a_cluster_is_learnable_only_between_a_warm_user_and_a_warm_restaurant(people_and_places):
    """Mixed masks: the cluster term stays for warm x warm pairs; for a pair with a
    newcomer on either side it is replaced by its chance, 1 in CLUSTERS."""
    users, rest = people_and_places
    world = get_world("collaborative")
    warm_users, warm_rest = np.arange(len(users)) % 3 != 0, np.arange(len(rest)) % 4 != 0
    learnable = world.learnable_affinity(users, rest, 1, warm_users, warm_rest)
    noise = world.weights["noise"] * pair_noise(len(users), len(rest), 1)
    cluster = world.affinity(users, rest, 1) - noise - learnable  # what was taken out
    same = hidden_clusters(len(users), 1, 0)[:, None] == hidden_clusters(len(rest), 1, 1)[None, :]
    known = warm_users[:, None] & warm_rest[None, :]
    expected = np.where(known, 0.0, world.weights["cluster"] * (same - 1 / CLUSTERS))
    np.testing.assert_allclose(cluster, expected, atol=1e-5)
    assert known.any() and (~known).any() and same[~known].any()
