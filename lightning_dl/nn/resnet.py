"""Residual networks for small images (He et al. 2015/2016): ResNet v1 (basic blocks) and v2 (pre-activation
bottlenecks), as in the Keras CIFAR-10 reference.

Three stages of 16/32/64 channels (v2: bottleneck widths 16/32/64, block outputs four times that) on a
32×32 input, the second and third halving the resolution; global average pooling and a linear head.
The stem is a 3×3 conv-BN-ReLU on whatever channels come in, and the pooling is adaptive, so 28×28 grey
images (Fashion-MNIST) work as they are. Every convolution is he_normal initialised and carries an L2
penalty of ``l2`` (1e-4) on its weight only (:func:`~lightning_dl.nn.regularize`, Keras's
``kernel_regularizer=l2(1e-4)``): the Classifier adds it to the training loss.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.base import LinearHead, Network
from lightning_dl.nn.init import Initializer, initialize
from lightning_dl.nn.regularizers import Penalty, regularize

Version = Literal[1, 2]
#: The named variants: name -> (version, depth). v1 depths are 6n+2, v2 depths 9n+2.
RESNET_VARIANTS: dict[str, tuple[int, int]] = {
    "resnet20_v1": (1, 20), "resnet32_v1": (1, 32), "resnet44_v1": (1, 44), "resnet56_v1": (1, 56),
    "resnet110_v1": (1, 110), "resnet29_v2": (2, 29), "resnet56_v2": (2, 56), "resnet110_v2": (2, 110),
}
#: Channels of the three stages (v2: the bottleneck widths; each block outputs 4×).
STAGE_CHANNELS = (16, 32, 64)
BOTTLENECK_EXPANSION = 4


def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int, l2: float,
         bias: bool = False) -> nn.Conv2d:
    """A 'same'-padded convolution with an L2 penalty of ``l2`` on its weight (none for 0)."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=bias)
    return regularize(layer, Penalty(l2=l2)) if l2 else layer


class BasicBlock(nn.Module):
    """ResNet v1 block: conv-BN-ReLU, conv-BN, plus the shortcut, then ReLU. When the block halves the resolution
    (or changes the channels) the shortcut is a strided 1×1 convolution (the projection), else the identity."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, l2: float) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            conv(in_channels, out_channels, 3, stride, l2), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            conv(out_channels, out_channels, 3, 1, l2), nn.BatchNorm2d(out_channels))
        projected = stride != 1 or in_channels != out_channels
        self.shortcut = conv(in_channels, out_channels, 1, stride, l2, bias=True) if projected else nn.Identity()
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(self.residual(x) + self.shortcut(x))


class PreActivationBottleneck(nn.Module):
    """ResNet v2 block: BN-ReLU-Conv1×1(width), BN-ReLU-Conv3×3(width), BN-ReLU-Conv1×1(4·width), plus the
    shortcut (a strided 1×1 projection on the first block of a stage). The network's first block skips its
    first BN-ReLU (``preactivate=False``): the stem has just applied them."""

    def __init__(self, in_channels: int, width: int, stride: int, l2: float, preactivate: bool = True) -> None:
        super().__init__()
        out_channels = width * BOTTLENECK_EXPANSION
        first = [nn.BatchNorm2d(in_channels), nn.ReLU(inplace=False)] if preactivate else []
        self.residual = nn.Sequential(
            *first, conv(in_channels, width, 1, stride, l2),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True), conv(width, width, 3, 1, l2),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True), conv(width, out_channels, 1, 1, l2))
        projected = stride != 1 or in_channels != out_channels
        self.shortcut = conv(in_channels, out_channels, 1, stride, l2, bias=True) if projected else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.residual(x) + self.shortcut(x)


def blocks_per_stage(version: int, depth: int) -> int:
    """Blocks in each of the three stages: ``(depth - 2) / 6`` for v1, ``(depth - 2) / 9`` for v2."""
    layers_per_block = 6 if version == 1 else 9
    if version not in (1, 2):
        raise ConfigurationError(f"ResNet version must be 1 or 2, got {version}.")
    if depth < layers_per_block + 2 or (depth - 2) % layers_per_block:
        named = ", ".join(str(d) for v, d in RESNET_VARIANTS.values() if v == version)
        raise ConfigurationError(f"ResNet v{version} depth must be {layers_per_block}n+2 (e.g. {named}), got {depth}.")
    return (depth - 2) // layers_per_block


class ResNet(LinearHead, Network):
    """ResNet v1 (depth 6n+2, basic blocks, conv-BN-ReLU) or v2 (depth 9n+2, pre-activation bottlenecks) for
    small images, as in the Keras CIFAR-10 reference; the named depths are in :data:`RESNET_VARIANTS`.

    Body (``features``): the stem (3×3 conv-BN-ReLU, 16 channels), three stages of blocks (the second and
    third halve the resolution with a 1×1 projection shortcut), v2's final BN-ReLU, global average pooling
    and flatten; ``num_features`` = 64 (v1) or 256 (v2). Head: one linear layer. ResNet20 v1 has about
    0.27 M parameters on 3×32×32 input with 10 classes.

    Args:
        input_shape: ``(C, H, W)`` of one image: 3×32×32 (CIFAR-10, SVHN) or 1×28×28 (Fashion-MNIST) both work.
        num_outputs: Outputs of the head (classes).
        depth: Layers with weights: 20, 32, 44, 56, 110 for v1 (6n+2); 29, 56, 110 for v2 (9n+2).
        version: 1 or 2.
        l2: L2 penalty on every convolution's weight (Keras ``l2(1e-4)``); 0 for none.
        init: Weight initialiser (he_normal in the reference).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, depth: int = 20, version: Version = 1,
                 l2: float = 1e-4, init: Initializer = "he_normal") -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"ResNet reads images (channels, height, width), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        n = blocks_per_stage(version, depth)
        self.depth, self.version = depth, version
        stem_channels = STAGE_CHANNELS[0]
        stem = nn.Sequential(conv(input_shape[0], stem_channels, 3, 1, l2), nn.BatchNorm2d(stem_channels),
                             nn.ReLU(inplace=True))
        stages, channels = [], stem_channels
        for index, width in enumerate(STAGE_CHANNELS):
            blocks = []
            for block in range(n):
                stride = 2 if index > 0 and block == 0 else 1
                if version == 1:
                    blocks.append(BasicBlock(channels, width, stride, l2))
                    channels = width
                else:
                    blocks.append(PreActivationBottleneck(channels, width, stride, l2,
                                                          preactivate=not (index == 0 and block == 0)))
                    channels = width * BOTTLENECK_EXPANSION
            stages.append(nn.Sequential(*blocks))
        final = [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)] if version == 2 else []
        self.features = nn.Sequential(stem, *stages, *final, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features, self.num_outputs, self.initializer = channels, num_outputs, init
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    @classmethod
    def from_name(cls, name: str, input_shape: tuple[int, ...], num_outputs: int, **kwargs) -> ResNet:
        """A named variant of :data:`RESNET_VARIANTS`, e.g. ``ResNet.from_name("resnet20_v1", (3, 32, 32), 10)``."""
        if name not in RESNET_VARIANTS:
            raise ConfigurationError(f"Unknown ResNet {name!r}; choose one of {', '.join(RESNET_VARIANTS)}.")
        version, depth = RESNET_VARIANTS[name]
        return cls(input_shape, num_outputs, depth=depth, version=version, **kwargs)
