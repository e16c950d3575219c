"""ResNet v1/v2: every named depth builds with the reference's shapes and sizes, the L2 penalty is on conv
weights only, freezing works through a training step, and the reference recipe's schedule."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.models.schedulers import StepDecayOnPlateau
from lightning_dl.nn import RESNET_VARIANTS, ResNet, regularization_loss
from lightning_dl.nn.resnet import BasicBlock, PreActivationBottleneck

from convnet_helpers import check_freezing, check_interface, parameter_count

#: Parameters on 3×32×32 input with 10 classes. ResNet20/56/110 v1: He et al. report 0.27/0.85/1.7 M.
PARAMETERS = {"resnet20_v1": 272_378, "resnet32_v1": 466_810, "resnet44_v1": 661_242, "resnet56_v1": 855_674,
              "resnet110_v1": 1_730_618, "resnet29_v2": 312_666, "resnet56_v2": 590_874, "resnet110_v2": 1_147_290}


def test_the_table_names_every_depth_of_the_issue():
    assert set(PARAMETERS) == set(RESNET_VARIANTS)
    assert sorted(d for v, d in RESNET_VARIANTS.values() if v == 1) == [20, 32, 44, 56, 110]
    assert sorted(d for v, d in RESNET_VARIANTS.values() if v == 2) == [29, 56, 110]


@pytest.mark.parametrize("name", list(RESNET_VARIANTS))
def test_named_variant_shapes_depth_and_parameters(name):
    version, depth = RESNET_VARIANTS[name]
    network = ResNet.from_name(name, (3, 32, 32), 10)
    assert parameter_count(network) == PARAMETERS[name]
    block = BasicBlock if version == 1 else PreActivationBottleneck
    blocks = [m for m in network.modules() if isinstance(m, block)]
    convs = [m for m in network.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1) or
             isinstance(m, nn.Conv2d) and m not in {b.shortcut for b in blocks}]
    # depth = convolutions on the main path (projections do not count) + the linear head
    assert len(convs) + 1 == depth
    assert len(blocks) == 3 * (depth - 2) // (6 if version == 1 else 9)
    assert network.num_features == (64 if version == 1 else 256)
    check_interface(network, (3, 8, 8), 10)  # small images keep the deep variants quick; pooling is adaptive


def test_resnet20_v1_matches_the_reference_size():
    assert parameter_count(ResNet((3, 32, 32), 10, depth=20)) == pytest.approx(0.27e6, rel=0.02)


@pytest.mark.parametrize("version, depth", [(1, 20), (2, 29)])
def test_the_stem_takes_28x28_grey_images(version, depth):
    network = ResNet((1, 28, 28), 10, depth=depth, version=version).eval()
    x = torch.randn(2, 1, 28, 28)
    maps = network.features[:-2](x)  # before pooling: two halvings, 28 -> 14 -> 7
    assert maps.shape[-2:] == (7, 7) and network(x).shape == (2, 10)


def test_stages_halve_the_resolution_with_a_projection_shortcut():
    network = ResNet((3, 32, 32), 10, depth=20)
    stem, *stages = network.features[:4]
    x = stem(torch.randn(1, 3, 32, 32))
    for stage, (channels, size) in zip(stages, [(16, 32), (32, 16), (64, 8)]):
        first = stage[0]
        assert isinstance(first.shortcut, nn.Identity) == (channels == 16)
        if channels > 16:
            assert first.shortcut.kernel_size == (1, 1) and first.shortcut.stride == (2, 2)
        x = stage(x)
        assert x.shape[1:] == (channels, size, size)


def test_v1_blocks_are_conv_bn_relu_and_v2_blocks_preactivate():
    v1 = ResNet((3, 32, 32), 10, depth=20).features[1][0].residual
    assert [type(m) for m in v1] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d]
    v2 = ResNet((3, 32, 32), 10, depth=29, version=2).features[2][1].residual
    assert [type(m) for m in v2[:3]] == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert [m.kernel_size for m in v2 if isinstance(m, nn.Conv2d)] == [(1, 1), (3, 3), (1, 1)]
    assert v2[-1].out_channels == 4 * v2[2].out_channels


def test_l2_penalty_is_on_conv_weights_only_and_init_is_he_normal():
    torch.manual_seed(0)
    network = ResNet((3, 32, 32), 10, depth=20, l2=1e-4)
    convs = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
    expected = 1e-4 * sum(m.weight.pow(2).sum() for m in convs)
    assert regularization_loss(network).item() == pytest.approx(expected.item(), rel=1e-5)
    assert regularization_loss(ResNet((3, 32, 32), 10, depth=20, l2=0.0)) == 0.0
    wide = convs[-1]  # 64 channels × 3 × 3 inputs: he_normal std sqrt(2 / fan_in)
    fan_in = wide.weight[0].numel()
    assert wide.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)


@pytest.mark.parametrize("version, depth", [(1, 7), (1, 21), (2, 21), (3, 20)])
def test_impossible_depths_are_rejected(version, depth):
    with pytest.raises(ConfigurationError, match="depth|version"):
        ResNet((3, 32, 32), 10, depth=depth, version=version)


@pytest.mark.parametrize("version, depth", [(1, 8), (2, 11)])
def test_freezing_keeps_the_body_through_a_training_step(version, depth):
    check_freezing(partial(ResNet, depth=depth, version=version), (1, 12, 12))


def test_step_decay_on_plateau_follows_the_reference_schedule():
    weight = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([weight], lr=1e-3)
    scheduler = StepDecayOnPlateau(optimizer, patience=1000)
    rates = []
    for _ in range(200):
        rates.append(optimizer.param_groups[0]["lr"])
        scheduler.step(1.0)
    # Keras: lr = 1e-3 × (0.1 after epoch 80, 0.01 after 120, 1e-3 after 160, 0.5e-3 after 180)
    expected = [1e-3 * (0.5e-3 if e > 180 else 1e-3 if e > 160 else 1e-2 if e > 120 else 1e-1 if e > 80 else 1)
                for e in range(200)]
    assert rates == pytest.approx(expected, rel=1e-9, abs=0)


def test_step_decay_on_plateau_reduces_by_sqrt_tenth_after_patience_and_keeps_it():
    optimizer = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = StepDecayOnPlateau(optimizer, milestones=[10], factors=[0.1], patience=5)
    for _ in range(7):  # the first value is the best; six epochs without improvement
        scheduler.step(1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3 * math.sqrt(0.1))
    for _ in range(4):  # through the milestone after epoch 10: the decay multiplies on top
        scheduler.step(0.5 - _)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-4 * math.sqrt(0.1))
