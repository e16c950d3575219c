"""DenseNet-BC: every named variant builds with the reference's layers and size; freezing works."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn import DENSENET_VARIANTS, DenseNetBC
from lightning_dl.nn.densenet import DenseLayer, Transition

from convnet_helpers import check_freezing, check_interface, parameter_count

#: Parameters on 3×32×32 input with 10 classes; Huang et al. report 0.8 M for DenseNet-BC-100 (k = 12).
PARAMETERS = {"densenet_bc_100": 769_162, "densenet_bc_40": 176_122, "densenet_bc_22": 71_686}


@pytest.mark.parametrize("name", list(DENSENET_VARIANTS))
def test_named_variant_layers_shapes_and_parameters(name):
    depth, k = DENSENET_VARIANTS[name]
    network = DenseNetBC.from_name(name, (3, 32, 32), 10)
    assert parameter_count(network) == PARAMETERS[name]
    layers = [m for m in network.modules() if isinstance(m, DenseLayer)]
    transitions = [m for m in network.modules() if isinstance(m, Transition)]
    assert len(layers) == 3 * (depth - 4) // 6 and len(transitions) == 2
    # depth = 2 convolutions per bottleneck layer + stem + 2 transitions + the linear head
    assert 2 * len(layers) + 1 + 2 + 1 == depth
    check_interface(network, (3, 8, 8), 10)


def test_densenet_bc_100_matches_the_reference_size():
    assert parameter_count(DenseNetBC((3, 32, 32), 10, depth=100)) == pytest.approx(0.8e6, rel=0.05)


def test_layers_add_k_maps_through_a_4k_bottleneck_and_transitions_compress_by_half():
    network = DenseNetBC((3, 32, 32), 10, depth=22, growth_rate=12)
    stem, first = network.features[0], network.features[1]
    assert stem.out_channels == 24
    assert [type(m) for m in first.layers] == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert first.layers[2].out_channels == 48 and first.layers[5].out_channels == 12
    assert first(torch.randn(1, 24, 8, 8)).shape == (1, 36, 8, 8)
    transition = network.features[4]  # after three layers: 24 + 3·12 = 60 channels -> 30
    assert isinstance(transition, Transition) and [type(m) for m in transition] == [nn.BatchNorm2d, nn.Conv2d,
                                                                                    nn.AvgPool2d]
    assert transition(torch.randn(1, 60, 8, 8)).shape == (1, 30, 4, 4)


def test_grey_28x28_images_work():
    assert DenseNetBC((1, 28, 28), 10, depth=22).eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("depth", [21, 4])
def test_impossible_depths_are_rejected(depth):
    with pytest.raises(ConfigurationError, match="6n\\+4"):
        DenseNetBC((3, 32, 32), 10, depth=depth)


def test_freezing_keeps_the_body_through_a_training_step():
    check_freezing(partial(DenseNetBC, depth=10, growth_rate=4), (1, 8, 8))
