"""The Y-network and the multi-input merge."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn import Merge, YNetwork

from convnet_helpers import check_freezing, check_interface


def test_reference_y_network_has_two_branches_of_three_blocks():
    network = YNetwork((1, 28, 28), 10)
    branches = network.features.branches
    assert len(branches) == 2
    for branch, dilation in zip(branches, (1, 2)):
        convs = [m for m in branch if isinstance(m, nn.Conv2d)]
        assert [c.out_channels for c in convs] == [32, 64, 128] and {c.dilation for c in convs} == {(dilation,) * 2}
        assert [type(m) for m in branch[:4]] == [nn.Conv2d, nn.ReLU, nn.Dropout, nn.MaxPool2d]
        assert branch[2].p == 0.4
    assert network.num_features == 2 * 128 * 3 * 3  # 28 -> 14 -> 7 -> 3 per branch, concatenated
    check_interface(network, (1, 28, 28), 10)


def test_branches_see_the_same_image_and_the_merge_joins_them():
    network = YNetwork((1, 16, 16), 4, dilations=[1, 2, 3], channels=[4, 8]).eval()
    x = torch.randn(2, 1, 16, 16)
    parts = [branch(x) for branch in network.features.branches]
    assert torch.equal(network.forward_features(x), torch.cat(parts, dim=1))
    added = YNetwork((1, 16, 16), 4, dilations=[1, 2, 3], channels=[4, 8], merge="add")
    assert added.num_features == parts[0].shape[1]


@pytest.mark.parametrize("mode, expected", [
    ("concat", [[1., 2., 3., 4.]]), ("add", [[4., 6.]]), ("multiply", [[3., 8.]]), ("dot", [[11.]])])
def test_merge_modes_by_hand(mode, expected):
    a, b = torch.tensor([[1., 2.]]), torch.tensor([[3., 4.]])
    assert Merge(mode)(a, b).tolist() == expected
    assert Merge(mode)([a, b]).tolist() == expected


def test_dot_can_be_a_cosine_and_rejects_three_inputs():
    a, b = torch.tensor([[3., 0.]]), torch.tensor([[1., 1.]])
    assert Merge("dot", normalize=True)(a, b).item() == pytest.approx(2 ** -0.5)
    with pytest.raises(DataValidationError, match="exactly two"):
        Merge("dot")(a, b, b)


def test_elementwise_merge_of_different_shapes_is_an_error():
    with pytest.raises(DataValidationError, match="one shape"):
        Merge("add")(torch.zeros(1, 2), torch.zeros(1, 3))
    with pytest.raises(ConfigurationError, match="merge mode"):
        Merge("max")


def test_too_many_blocks_for_the_image_is_an_error():
    with pytest.raises(ConfigurationError, match="halve"):
        YNetwork((1, 4, 4), 10)


def test_freezing_keeps_the_body_through_a_training_step():
    check_freezing(partial(YNetwork, channels=[4, 8], dropout=0.0), (1, 8, 8))
