"""Networks, initialisers and regularisers (plain torch, no Lightning)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_dl.nn import CNN, MLP, RNN, Penalty, Regularized, apply_max_norm, initialize, regularization_loss


@pytest.mark.parametrize("network, shape", [
    (MLP((1, 8, 8), 5, hidden_sizes=[16, 8], activation="selu", dropout=0.1, batch_norm=True), (1, 8, 8)),
    (CNN((3, 16, 16), 5, channels=[4, 8], pool="avg", batch_norm=True, dropout=0.1), (3, 16, 16)),
    (CNN((1, 16, 16), 5, channels=[4], kernel_size=3, padding=0, stride=2, pool="none", hidden_sizes=[]), (1, 16, 16)),
    (CNN((1, 16, 16), 5, channels=[4, 4], dilation=2, pool="none"), (1, 16, 16)),
    (RNN((8, 6), 5, cell="simple"), (8, 6)),
    (RNN((8, 6), 5, cell="gru", num_layers=2, dropout=0.2), (8, 6)),
    (RNN((8, 6), 5, cell="lstm", bidirectional=True), (8, 6)),
], ids=["mlp", "cnn", "cnn-strided", "cnn-dilated", "simple-rnn", "gru", "bilstm"])
def test_networks_map_inputs_to_outputs(network, shape):
    assert network(torch.randn(3, *shape)).shape == (3, 5)


@pytest.mark.parametrize("name", ["relu", "elu", "selu", "softplus", "tanh", "sigmoid", "leaky_relu"])
def test_every_activation_builds(name):
    assert MLP((4,), 2, hidden_sizes=[3], activation=name)(torch.randn(2, 4)).shape == (2, 2)


def test_hidden_layer_narrower_than_the_classes_warns():
    with pytest.warns(UserWarning, match="narrower than its 10 outputs"):
        MLP((784,), 10, hidden_sizes=[64, 4])
    with pytest.warns(UserWarning, match="narrower"):
        CNN((1, 8, 8), 10, channels=[4], hidden_sizes=[8])


def test_cnn_that_pools_the_image_away_is_rejected():
    with pytest.raises(ValueError, match="shrink"):
        CNN((1, 4, 4), 3, channels=[4, 4, 4])


@pytest.mark.parametrize("scheme, std", [("he_normal", (2 / 400) ** 0.5), ("lecun_normal", (1 / 400) ** 0.5),
                                         ("glorot_normal", (2 / 800) ** 0.5)])
def test_initialisers_have_the_textbook_scale(scheme, std):
    torch.manual_seed(0)
    layer = initialize(nn.Sequential(nn.Linear(400, 400)), scheme)[0]
    assert layer.weight.std().item() == pytest.approx(std, rel=0.05)
    assert torch.all(layer.bias == 0)


def test_recurrent_weights_are_orthogonal():
    rnn = initialize(nn.RNN(3, 6), "glorot_uniform")
    w = rnn.weight_hh_l0.detach()
    assert torch.allclose(w @ w.T, torch.eye(6), atol=1e-5)


def test_penalties_add_to_the_loss_per_layer():
    net = MLP((2,), 1, hidden_sizes=[3], init="default", weight_penalty=[Penalty(l2=1.0), None],
              bias_penalty=Penalty(l1=0.5), activity_penalty=[None, Penalty(l1=1.0)])
    first, second = [m for m in net.modules() if isinstance(m, Regularized)]
    x = torch.randn(4, 2)
    out = net(x)
    expected = (first.layer.weight.pow(2).sum() + 0.5 * first.layer.bias.abs().sum()
                + 0.5 * second.layer.bias.abs().sum() + out.abs().sum() / 4)
    assert torch.allclose(regularization_loss(net), expected)


def test_penalty_list_must_match_the_layers():
    with pytest.raises(ValueError, match="2 penalties but the network has 3 layers"):
        MLP((2,), 1, hidden_sizes=[3, 3], weight_penalty=[Penalty(l2=1.0), None])


def test_unregularised_network_has_plain_layers():
    net = MLP((2,), 1, hidden_sizes=[3])
    assert regularization_loss(net) == 0.0 and not any(isinstance(m, Regularized) for m in net.modules())


def test_max_norm_caps_each_unit():
    layer = nn.Linear(5, 4)
    with torch.no_grad():
        layer.weight.mul_(100)
    apply_max_norm(layer, 2.0)
    assert torch.all(layer.weight.norm(dim=1) <= 2.0 + 1e-5)
