"""A compact convolutional network for fast training on small images, in the style of Keller Jordan's airbench.

A conv stem and three blocks of conv → max-pool → conv, each conv followed by batch norm and GELU, then a
global max pool and a linear head. At the default width (16/32/64/128 channels) it has about 293k
parameters and reaches 0.94 Fashion-MNIST test accuracy in a few minutes on a 2-core CPU with the recipe of
``configs/classifiers/fast_fashion_mnist.yaml``; ``width: 1.5`` gives the 657k-parameter version.
"""

from __future__ import annotations

from itertools import pairwise

from torch import nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.base import Network

#: The named variants: their width multiplier of the 16/32/64/128 base channels.
COMPACT_VARIANTS: dict[str, float] = {"compact": 1.0, "compact_wide": 1.5}
#: Channels of the stem and of the three blocks at width 1.
BASE_CHANNELS: tuple[int, int, int, int] = (16, 32, 64, 128)


def conv_bn_gelu(in_channels: int, out_channels: int, pool: bool = False) -> list[nn.Module]:
    """A 3×3 convolution (no bias: batch norm has one), optionally a 2×2 max pool, batch norm and GELU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers + [nn.BatchNorm2d(out_channels), nn.GELU()]


class ConvPoolBlock(nn.Sequential):
    """conv → 2×2 max pool → BN → GELU → conv → BN → GELU: halves the resolution, sets the channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(*conv_bn_gelu(in_channels, out_channels, pool=True), *conv_bn_gelu(out_channels, out_channels))


class CompactNet(Network):
    """The compact airbench-style CNN: a conv stem, three conv-pool-conv blocks, global max pool, linear head.

    Body (``features``): the stem (3×3 conv, BN, GELU), three :class:`ConvPoolBlock` s and a global max pool,
    returning ``num_features`` = the last block's channels per sample. Head: one linear layer. Channels are
    ``round(width × (16, 32, 64, 128))``: ``width: 1.0`` has about 293k parameters, ``width: 1.5`` about 657k
    (see :data:`COMPACT_VARIANTS`). Inputs need at least 8×8 pixels (three 2×2 pools).

    Args:
        input_shape: ``(channels, height, width)`` of one input image.
        num_outputs: Outputs of the head (classes).
        width: Multiplier of the base channels 16/32/64/128.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, width: float = 1.0) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"CompactNet reads images (channels, height, width), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        if min(input_shape[1:]) < 8:
            raise ConfigurationError(f"CompactNet halves the resolution three times and needs at least 8×8 pixels, "
                                     f"got {input_shape[1]}×{input_shape[2]}.")
        if width <= 0:
            raise ConfigurationError(f"width must be positive, got {width}.")
        stem, *blocks = (max(1, round(width * c)) for c in BASE_CHANNELS)
        widths = [stem, *blocks]
        self.channels = tuple(widths)
        self.features = nn.Sequential(
            nn.Sequential(*conv_bn_gelu(input_shape[0], stem)),
            *(ConvPoolBlock(a, b) for a, b in pairwise(widths)),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
        )
        self.num_features, self.num_outputs = widths[-1], num_outputs
        self.head = self.build_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)
