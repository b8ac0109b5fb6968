"""The retrieval loss against hand computations, and the towers' output."""

import math

import pytest
import torch

from recsys.config import EMBEDDING_DIM
from recsys.model.configs import MLP_CONFIG, ModelConfig
from recsys.model.towers import TwoTower, sampled_softmax_loss

U = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
R = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])


def test_in_batch_softmax_by_hand():
    # logits = U R^T / 0.5 = [[2, 1.2], [0, 1.6]]; the diagonal holds the positives.
    expected = (
        (math.log(math.exp(2) + math.exp(1.2)) - 2) + (math.log(1 + math.exp(1.6)) - 1.6)
    ) / 2
    loss = sampled_softmax_loss(U, R, torch.tensor([0, 1]), temperature=0.5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_accidental_hits_are_masked():
    # Both rows are the same restaurant: neither copy is the other's negative, loss is 0.
    loss = sampled_softmax_loss(U, R, torch.tensor([7, 7]), temperature=0.5)
    assert loss.item() == pytest.approx(0.0, abs=1e-7)


def test_logq_correction_by_hand():
    log_q = torch.log(torch.tensor([0.5, 0.25]))
    # corrected logits = [[2 - ln .5, 1.2 - ln .25], [0 - ln .5, 1.6 - ln .25]]
    a, b = 2 - math.log(0.5), 1.2 - math.log(0.25)
    c, d = -math.log(0.5), 1.6 - math.log(0.25)
    expected = (
        (math.log(math.exp(a) + math.exp(b)) - a) + (math.log(math.exp(c) + math.exp(d)) - d)
    ) / 2
    loss = sampled_softmax_loss(U, R, torch.tensor([0, 1]), temperature=0.5, log_q=log_q)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_towers_give_unit_vectors_of_the_configured_size(hidden):
    config = ModelConfig(user_hidden=hidden, restaurant_hidden=hidden)
    net = TwoTower(5, 7, config).eval()
    users, rests = net(torch.randn(4, 5), torch.randn(3, 7))
    assert users.shape == (4, EMBEDDING_DIM) and rests.shape == (3, EMBEDDING_DIM)
    assert torch.allclose(users.norm(dim=1), torch.ones(4), atol=1e-6)


def test_extra_negatives_by_hand():
    # Candidates: the 2 positives, then restaurant 5 (a negative) and a copy of
    # user 0's positive (id 0), which is masked for user 0 but a negative for user 1.
    extra = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    cands = torch.cat([R, extra])
    loss = sampled_softmax_loss(U, cands, torch.tensor([0, 1, 5, 0]), temperature=0.5)
    # logits / 0.5: user 0 -> [2, 1.2, 0, (masked)], user 1 -> [0, 1.6, 0, 0]
    row0 = math.log(math.exp(2) + math.exp(1.2) + 1) - 2
    row1 = math.log(1 + math.exp(1.6) + 1 + 1) - 1.6
    assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_mlp_towers_have_a_hidden_nonlinearity_and_a_linear_skip():
    net = TwoTower(5, 7, MLP_CONFIG).eval()
    for tower in (net.user_tower, net.restaurant_tower):
        assert any(isinstance(m, torch.nn.GELU) for m in tower.net)
        assert tower.skip is not None
    # Not a linear map before normalisation: the hidden layer bends it.
    x = torch.randn(3, 5)
    raw = net.user_tower.net
    assert not torch.allclose(
        raw(2 * x) - raw(torch.zeros(1, 5)), 2 * (raw(x) - raw(torch.zeros(1, 5)))
    )


def test_cross_layers_start_linear_and_multiply_features_by_hand():
    net = TwoTower(3, 4, ModelConfig(cross_layers=1)).eval()
    tower = net.user_tower
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])
    # Zero at the start: the tower is the linear one.
    assert torch.equal(tower.crossed(x), x)
    with torch.no_grad():
        tower.cross[0].weight.copy_(torch.tensor([[0.0, 1.0, 0.0], [0.0] * 3, [0.0] * 3]))
        tower.cross[0].bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    # x1 = x0 * (C x0 + b) + x0: value 0 gains x0 * x1 (a product of two features),
    # value 2 is scaled by 1.5, value 1 is unchanged.
    expected = torch.tensor([[1.0 + 2.0, 2.0, -1.5], [0.5, 0.0, 4.5]])
    assert torch.allclose(tower.crossed(x), expected)
    # A product of features: no linear map of x gives it, the cross tower does.
    linear = TwoTower(3, 4, ModelConfig()).eval().user_tower
    with torch.no_grad():
        linear.net[0].weight.copy_(tower.net[0].weight)
        linear.net[0].bias.copy_(tower.net[0].bias)
    assert not torch.allclose(tower(x), linear(x))
