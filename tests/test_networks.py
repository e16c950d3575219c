"""Networks, initialisers and regularisers (plain torch, no Lightning)."""

from __future__ import annotations

import copy
import pickle
import re
import warnings

import pytest
import torch
from torch import nn

from lightning_dl.nn import (CNN, MLP, RNN, Network, NetworkFactory, Penalty, apply_max_norm, initialize,
                             regularization_loss, regularize)
from lightning_dl.nn import networks

#: Every network class in several configurations: id -> (builder, input shape). Outputs: 5.
NETWORKS = {
    "mlp": (lambda: MLP((1, 8, 8), 5, hidden_sizes=[16, 8], activation="selu", dropout=0.1, batch_norm=True),
            (1, 8, 8)),
    "mlp-linear": (lambda: MLP((6,), 5, hidden_sizes=[]), (6,)),
    "cnn": (lambda: CNN((3, 16, 16), 5, channels=[4, 8], pool="avg", batch_norm=True, dropout=0.1), (3, 16, 16)),
    "cnn-strided": (lambda: CNN((1, 16, 16), 5, channels=[4], kernel_size=3, padding=0, stride=2, pool="none",
                                hidden_sizes=[]), (1, 16, 16)),
    "cnn-dilated": (lambda: CNN((1, 16, 16), 5, channels=[4, 4], dilation=2, pool="none"), (1, 16, 16)),
    "simple-rnn": (lambda: RNN((8, 6), 5, cell="simple"), (8, 6)),
    "gru": (lambda: RNN((8, 6), 5, cell="gru", num_layers=2, dropout=0.2), (8, 6)),
    "bilstm": (lambda: RNN((8, 6), 5, cell="lstm", bidirectional=True), (8, 6)),
}


@pytest.fixture(params=list(NETWORKS))
def network_and_input(request) -> tuple[Network, torch.Tensor]:
    build, shape = NETWORKS[request.param]
    torch.manual_seed(0)
    return build(), torch.randn(3, *shape)


def test_the_table_covers_every_network():
    classes = {cls for cls in vars(networks).values()
               if isinstance(cls, type) and issubclass(cls, Network) and cls is not Network}
    assert classes == {type(build()) for build, _ in NETWORKS.values()}


def test_forward_is_the_head_of_the_features(network_and_input):
    network, x = network_and_input
    network.eval()
    features = network.forward_features(x)
    assert features.shape == (3, network.num_features)
    assert network(x).shape == (3, network.num_outputs) == (3, 5)
    assert torch.equal(network(x), network.head(network.features(x)))


def test_freezing_the_features_stops_gradients_to_the_body_only(network_and_input):
    network, x = network_and_input
    network.freeze_features()
    network.train()
    network(x).sum().backward()
    assert all(p.grad is None for p in network.features.parameters())
    assert all(p.grad is not None for p in network.head.parameters())
    network.freeze_features(False)
    network(x).sum().backward()
    assert all(p.grad is not None for p in network.features.parameters())


def test_a_frozen_body_keeps_its_batch_norm_statistics():
    network = CNN((1, 8, 8), 5, channels=[4], batch_norm=True, hidden_sizes=[8])
    body_norm, head_norm = network.features[1], network.head[1]
    network.freeze_features()
    network.train()  # as Lightning does at the start of every epoch
    body_before, head_before = body_norm.running_mean.clone(), head_norm.running_mean.clone()
    network(torch.randn(4, 1, 8, 8) + 3)
    assert torch.equal(body_norm.running_mean, body_before) and not body_norm.training
    assert not torch.equal(head_norm.running_mean, head_before) and head_norm.training


def test_reset_head_changes_the_outputs_and_keeps_the_body(network_and_input):
    network, x = network_and_input
    body = copy.deepcopy(network.features.state_dict())
    network.double().eval()
    network.reset_head(7)
    assert network(x.double()).shape == (3, 7) and network.num_outputs == 7
    assert all(torch.equal(body[k].double() if body[k].is_floating_point() else body[k], v)
               for k, v in network.features.state_dict().items())
    assert not network.head.training
    output_layer = [m for m in network.head.modules() if isinstance(m, nn.Linear)][-1]
    assert torch.all(output_layer.bias == 0)  # initialised as the network was, not left at PyTorch's default


def test_constructing_a_cnn_leaves_batch_norm_statistics_alone():
    network = CNN((1, 8, 8), 5, channels=[4], batch_norm=True)
    assert network.features[1].num_batches_tracked == 0 and torch.all(network.features[1].running_var == 1)


def test_network_arguments_list_only_the_projects_networks():
    jsonargparse = pytest.importorskip("jsonargparse")

    class Model:
        def __init__(self, network: NetworkFactory) -> None:
            self.network = network

    parser = jsonargparse.ArgumentParser()
    parser.add_class_arguments(Model, "model")
    listed = re.search(r"known subclasses: ([^)]*)\)", " ".join(parser.format_help().split())).group(1)
    assert {"lightning_dl.nn.MLP", "lightning_dl.nn.CNN", "lightning_dl.nn.RNN"} <= set(listed.split(", "))
    assert "torch" not in listed and "lightning_dl.nn.Network" not in listed


@pytest.mark.parametrize("name", ["relu", "elu", "selu", "softplus", "tanh", "sigmoid", "leaky_relu"])
def test_every_activation_builds(name):
    assert MLP((4,), 2, hidden_sizes=[3], activation=name)(torch.randn(2, 4)).shape == (2, 2)


def test_hidden_layer_narrower_than_the_classes_warns():
    from lightning_dl.nn.networks import NarrowLayerWarning

    assert issubclass(NarrowLayerWarning, UserWarning)
    with pytest.warns(NarrowLayerWarning, match="narrower than its 10 outputs"):
        MLP((784,), 10, hidden_sizes=[64, 4])
    with pytest.warns(NarrowLayerWarning, match="narrower"):
        CNN((1, 8, 8), 10, channels=[4], hidden_sizes=[8])
    with pytest.warns(NarrowLayerWarning, match=r"final state of width \[4\]"):
        RNN((28, 28), 10, units=4)
    with pytest.warns(NarrowLayerWarning) as caught:  # the warning points at the code that built the network
        MLP((784,), 10, hidden_sizes=[4])
    assert caught[0].filename == __file__


def test_hidden_layers_as_wide_as_the_classes_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MLP((784,), 10, hidden_sizes=[64])
        MLP((784,), 10, hidden_sizes=[10])
        CNN((1, 8, 8), 10, channels=[4], hidden_sizes=[64])
        CNN((1, 8, 8), 10, channels=[4], hidden_sizes=[])
        RNN((28, 28), 10, units=64)
        RNN((28, 28), 10, units=6, bidirectional=True)  # the head reads both directions: 12 values


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


def test_he_initialised_transposed_convolution_keeps_the_variance():
    """A DCGAN up-sampling layer: each output sums 128 channels · 2 · 2 taps, and He makes its variance 2."""
    torch.manual_seed(0)
    layer = initialize(nn.ConvTranspose2d(128, 16, kernel_size=4, stride=2, padding=1), "he_normal")
    assert layer.weight.std().item() == pytest.approx((2 / (128 * 4)) ** 0.5, rel=0.05)
    with torch.no_grad():
        outputs = layer(torch.randn(32, 128, 8, 8))[:, :, 1:-1, 1:-1]  # the border sums fewer taps
    assert outputs.var().item() == pytest.approx(2.0, rel=0.1)


def test_embeddings_are_initialised_like_a_dense_layer_on_one_hot_words():
    torch.manual_seed(0)
    embedding = initialize(nn.Embedding(1000, 50, padding_idx=0), "glorot_normal")
    assert embedding.weight[1:].std().item() == pytest.approx((2 / 1050) ** 0.5, rel=0.05)
    assert torch.all(embedding.weight[0] == 0)


def test_recurrent_weights_are_orthogonal():
    rnn = initialize(nn.RNN(3, 6), "glorot_uniform")
    w = rnn.weight_hh_l0.detach()
    assert torch.allclose(w @ w.T, torch.eye(6), atol=1e-5)


def penalised_mlp() -> MLP:
    return MLP((2,), 1, hidden_sizes=[3], init="default", weight_penalty=[Penalty(l2=1.0), None],
               bias_penalty=Penalty(l1=0.5), activity_penalty=[None, Penalty(l1=1.0)])


def expected_penalty(network: MLP, output: torch.Tensor) -> torch.Tensor:
    first, second = network.features[1], network.head
    return (first.weight.pow(2).sum() + 0.5 * first.bias.abs().sum() + 0.5 * second.bias.abs().sum()
            + output.abs().sum() / len(output))


def test_penalties_add_to_the_loss_per_layer():
    network = penalised_mlp()
    output = network(torch.randn(4, 2))
    assert torch.allclose(regularization_loss(network), expected_penalty(network, output))


def test_the_new_head_keeps_its_penalties():
    network = penalised_mlp()
    network.reset_head(1)
    output = network(torch.randn(4, 2))
    assert torch.allclose(regularization_loss(network), expected_penalty(network, output))


@pytest.mark.parametrize("build", [
    lambda penalty: MLP((1, 8, 8), 5, hidden_sizes=[16], batch_norm=True, weight_penalty=penalty,
                        bias_penalty=penalty, activity_penalty=penalty),
    lambda penalty: CNN((1, 8, 8), 5, channels=[4, 8], hidden_sizes=[16], weight_penalty=penalty,
                        bias_penalty=penalty, activity_penalty=penalty),
], ids=["mlp", "cnn"])
def test_penalised_and_plain_networks_load_each_others_weights(build):
    penalised, plain = build(Penalty(l1=1e-3, l2=1e-3)), build(None)
    assert isinstance(regularization_loss(penalised), torch.Tensor) and regularization_loss(plain) == 0.0
    assert list(penalised.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(penalised.state_dict(), strict=True)
    penalised.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(penalised.eval()(x), plain.eval()(x))


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda network: pickle.loads(pickle.dumps(network))],
                         ids=["deepcopy", "pickle"])
def test_penalties_survive_copies(clone):
    network = penalised_mlp()
    x = torch.randn(4, 2)
    loss = regularization_loss(network)  # weight and bias penalties only
    network(x)  # the activity penalty of this pass is part of a computation graph
    copied = clone(network)
    assert torch.allclose(regularization_loss(copied), loss)  # no activity yet: the copy has not run
    output = copied(2 * x)
    assert torch.allclose(regularization_loss(copied), expected_penalty(copied, output))
    assert torch.allclose(regularization_loss(network), expected_penalty(network, network(x)))


def test_penalty_list_must_match_the_layers():
    with pytest.raises(ValueError, match="2 penalties but the network has 3 layers"):
        MLP((2,), 1, hidden_sizes=[3, 3], weight_penalty=[Penalty(l2=1.0), None])


def test_unregularised_network_has_plain_layers():
    network = MLP((2,), 1, hidden_sizes=[3])
    assert regularization_loss(network) == 0.0
    assert not any(hasattr(m, "penalties") or m._forward_hooks for m in network.modules())


def test_a_layer_is_regularised_once():
    layer = regularize(nn.Linear(2, 2), weight=Penalty(l2=1.0))
    with pytest.raises(ValueError, match="already has penalties"):
        regularize(layer, activity=Penalty(l1=1.0))


def test_max_norm_caps_each_unit():
    layer = nn.Linear(5, 4)
    with torch.no_grad():
        layer.weight.mul_(100)
    apply_max_norm(layer, 2.0)
    assert torch.all(layer.weight.norm(dim=1) <= 2.0 + 1e-5)
