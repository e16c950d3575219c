"""DenseNet-BC for small images (Huang et al. 2017): dense blocks of bottleneck layers, each layer's k new
feature maps concatenated to everything before it, and compressing transitions between blocks.

A layer is BN-ReLU-Conv1×1(4k)-BN-ReLU-Conv3×3(k); a transition is BN-Conv1×1(⌊θ·C⌋)-AvgPool2×2 with
compression θ = 0.5. Depth ``d`` gives three dense blocks of ``(d - 4) / 6`` layers each (every bottleneck layer
has two convolutions, plus the stem, the two transitions and the classifier). DenseNet-BC-100 with k = 12 has
about 0.8 M parameters on CIFAR-10; the reference trains it with RMSprop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.base import LinearHead, Network
from lightning_dl.nn.init import Initializer, initialize

#: The named variants: name -> (depth, growth rate). ``densenet_bc_22`` (three blocks of three layers) is the
#: small one for CPU runs.
DENSENET_VARIANTS: dict[str, tuple[int, int]] = {
    "densenet_bc_100": (100, 12), "densenet_bc_40": (40, 12), "densenet_bc_22": (22, 12),
}


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1×1(``bottleneck``·k)-BN-ReLU-Conv3×3(k); returns its input with the k new maps appended."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: int, dropout: float) -> None:
        super().__init__()
        width = bottleneck * growth_rate
        self.layers = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True), nn.Conv2d(in_channels, width, 1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.Conv2d(width, growth_rate, 3, padding=1, bias=False),
            *([nn.Dropout(dropout)] if dropout else []))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x, self.layers(x)], dim=1)


class Transition(nn.Sequential):
    """BN-Conv1×1-AvgPool2×2: compresses the channels and halves the resolution between dense blocks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.BatchNorm2d(in_channels), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.AvgPool2d(2))


def layers_per_block(depth: int) -> int:
    """Bottleneck layers in each of the three dense blocks: ``(depth - 4) / 6``."""
    if depth < 10 or (depth - 4) % 6:
        raise ConfigurationError(f"DenseNet-BC depth must be 6n+4 (e.g. 22, 40, 100, 190), got {depth}.")
    return (depth - 4) // 6


class DenseNetBC(LinearHead, Network):
    """DenseNet-BC: a 3×3 stem conv of 2k channels, three dense blocks joined by compressing transitions, a
    final BN-ReLU, global average pooling and a linear head; named variants in :data:`DENSENET_VARIANTS`.

    Body (``features``): everything up to the pooled, flattened maps; ``num_features`` is the channels after
    the last block. Head: one linear layer.

    Args:
        input_shape: ``(C, H, W)`` of one image (3×32×32, 1×28×28, ...).
        num_outputs: Outputs of the head (classes).
        depth: 6n+4: 100 for the CIFAR-10 reference, 22 or 40 for CPU runs.
        growth_rate: k, the feature maps each layer adds.
        compression: θ, the share of channels a transition keeps.
        bottleneck: The 1×1 convolution's width in multiples of k (4 in DenseNet-BC).
        dropout: Dropout after each layer's 3×3 convolution (0 in the BC reference with augmentation).
        init: Weight initialiser.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, depth: int = 100, growth_rate: int = 12,
                 compression: float = 0.5, bottleneck: int = 4, dropout: float = 0.0,
                 init: Initializer = "he_normal") -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"DenseNetBC reads images (channels, height, width), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        if not 0 < compression <= 1:
            raise ConfigurationError(f"compression must be in (0, 1], got {compression}.")
        n = layers_per_block(depth)
        channels = 2 * growth_rate
        modules: list[nn.Module] = [nn.Conv2d(input_shape[0], channels, 3, padding=1, bias=False)]
        for block in range(3):
            for _ in range(n):
                modules.append(DenseLayer(channels, growth_rate, bottleneck, dropout))
                channels += growth_rate
            if block < 2:
                compressed = int(channels * compression)
                modules.append(Transition(channels, compressed))
                channels = compressed
        modules += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*modules)
        self.depth, self.growth_rate = depth, growth_rate
        self.num_features, self.num_outputs, self.initializer = channels, num_outputs, init
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    @classmethod
    def from_name(cls, name: str, input_shape: tuple[int, ...], num_outputs: int, **kwargs) -> DenseNetBC:
        """A named variant of :data:`DENSENET_VARIANTS`,
        e.g. ``DenseNetBC.from_name("densenet_bc_100", (3, 32, 32), 10)``."""
        if name not in DENSENET_VARIANTS:
            raise ConfigurationError(f"Unknown DenseNet {name!r}; choose one of {', '.join(DENSENET_VARIANTS)}.")
        depth, growth_rate = DENSENET_VARIANTS[name]
        return cls(input_shape, num_outputs, depth=depth, growth_rate=growth_rate, **kwargs)
