"""Why this place: the score split adds up to the served score for linear towers, and
the words (likes satisfied, price fit) follow the rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests_frames import small_dataset

from recsys.explain import BIAS, LEARNT, contributions, likes_satisfied, price_fit, summary
from recsys.model.configs import MLP_CONFIG, ModelConfig
from recsys.model.train import train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("explain"), users=200, places=60, seed=3)


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(),
        ModelConfig(id_embeddings=True),
        ModelConfig(id_embeddings=True, id_residual=True, id_lr_scale=1.0),
        ModelConfig(cross_layers=1),
        ModelConfig(cross_layers=1, id_embeddings=True, id_residual=True, id_lr_scale=1.0),
    ],
    ids=["linear", "hybrid", "residual hybrid", "cross", "residual cross"],
)
def test_exact_split_sums_to_the_score_for_linear_towers(dataset, config) -> None:
    model = train(dataset, config=config, epochs=3, seed=1)
    users = dataset.users.head(5)
    frame = dataset.restaurants.head(12)
    scores = model.embed_users(users) @ model.embed_restaurants(frame).T
    for i in range(len(users)):
        parts, exact = contributions(model, frame, model.embed_users(users)[i])
        assert exact
        sums = np.array([sum(p.values()) for p in parts])
        assert sums == pytest.approx(scores[i], abs=1e-5)
        assert BIAS in parts[0] and "cuisine" in parts[0]
        assert (LEARNT in parts[0]) is config.id_embeddings


def test_mlp_towers_get_the_documented_approximation(dataset) -> None:
    model = train(dataset, config=MLP_CONFIG, epochs=2, seed=1)
    frame = dataset.restaurants.head(4)
    parts, exact = contributions(model, frame, model.embed_users(dataset.users.head(1))[0])
    assert not exact
    assert set(parts[0]) >= {"cuisine", "price", "likes matched"}


def test_price_fit_and_likes_satisfied() -> None:
    assert price_fit(2, "middle") == "in your middle price range"
    assert price_fit(4, "low") == "pricier than you usually go"
    assert price_fit(1, "high") == "cheaper than you usually go"
    frame = pd.DataFrame(
        {"cuisines": [["Sushi", "Japanese"], ["Pizza"]], "price": [3, 1],
         "intervals": [None, None]}
    )  # fmt: skip
    liked = likes_satisfied(frame, ["sushi", "pizza", "gravel", "japan"])
    assert "sushi" in liked[0] and "pizza" not in liked[0] and "japan" in liked[0]
    assert "pizza" in liked[1] and "gravel" not in liked[1]
    line = summary({"likes": ["sushi"], "price": "in your high price range",
                    "parts": {BIAS: 0.5, "cuisine": 0.2, "price": -0.1}})  # fmt: skip
    assert line == "likes sushi · in your high price range · cuisine +0.20 · price -0.10"
