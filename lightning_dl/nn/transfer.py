"""Pretrained torchvision networks as the project's :class:`~lightning_dl.nn.Network` (body and head).

``TorchvisionNetwork("resnet50", weights="IMAGENET1K_V2")`` builds the model with
``torchvision.models.get_model`` and loads its weights: from ``weights_file`` (a ``state_dict`` of the
torchvision model, read with ``weights_only=True``) when given, else from the torchvision weights enum,
which reads torch hub's cache and downloads when online. Offline with neither, the error names the file to
provide and where to put it.

The body is the model's children in order except the last (the classifier), then a flatten; the head is a
new linear layer (or, with ImageNet weights and 1000 outputs, the model's own classifier). That split is
exact for models whose ``forward`` runs their children in order: ResNet, ResNeXt, Wide ResNet, VGG,
MobileNet v2/v3, EfficientNet, RegNet. ``cut_at`` ends the body earlier, at a named layer ("earlier layers
for very different data": they hold more generic features), followed by global average pooling.
"""

from __future__ import annotations

import urllib.error
from collections import OrderedDict
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DatasetNotFoundError
from lightning_dl.nn.base import Network

IMAGENET_CLASSES = 1000


class RepeatGrey(nn.Module):
    """A one-channel image repeated to the three channels an ImageNet network reads; RGB passes through."""

    def forward(self, x: Tensor) -> Tensor:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def torchvision_weights(name: str, weights: str | None) -> torchvision.models.WeightsEnum | None:
    """The weights enum member ``weights`` (``DEFAULT``, ``IMAGENET1K_V1``, ...) of the model ``name``."""
    if weights is None:
        return None
    try:
        return torchvision.models.get_model_weights(name)[weights]
    except KeyError:
        options = ", ".join(["DEFAULT", *(w.name for w in torchvision.models.get_model_weights(name))])
        raise ConfigurationError(f"{name} has no weights {weights!r}; choose one of {options} or null.") from None


def load_weights(name: str, weights: torchvision.models.WeightsEnum) -> dict[str, Tensor]:
    """The state_dict of ``weights``, from torch hub's cache or downloaded; offline, an error naming the file."""
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cached.exists():
        return torch.load(cached, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=False)
    except (urllib.error.URLError, OSError) as error:
        raise DatasetNotFoundError(
            f"Could not download {name}'s weights {weights} ({error}). Offline, save the file {weights.url} as "
            f"{cached}, or give weights_file: a path to the model's state_dict (torch.save(model.state_dict(), "
            f"path)).") from error


class TorchvisionNetwork(Network):
    """A torchvision classification model, pretrained or not, split into body (``features``) and head.

    Args:
        input_shape: ``(C, H, W)``; one channel is repeated to three. Normalise the data as the weights want
            (``normalization: imagenet`` for torchvision's ImageNet weights).
        num_outputs: Outputs of the head. With ImageNet weights and 1000 outputs the model's own classifier
            is kept; otherwise the head is a new linear layer.
        name: A name ``torchvision.models.get_model`` knows: ``resnet18``, ``resnet50``, ``vgg16``,
            ``mobilenet_v3_large``, ``efficientnet_b0``, ...
        weights: A member of the model's weights enum (``DEFAULT``, ``IMAGENET1K_V1``, ...) or ``None`` for
            random initialisation. Ignored when ``weights_file`` is given.
        weights_file: A local ``state_dict`` of the whole torchvision model (``weights_only=True`` load).
        cut_at: End the body at this layer (a child of the model, e.g. ``layer2`` of a ResNet, or a
            dotted name inside one, e.g. ``features.9`` of a VGG) and pool it globally; ``None`` keeps the
            whole body.
        dropout: Dropout before a new head's linear layer (0 for none).
    """

    def __init__(self, input_shape: tuple[int, ...] = (3, 224, 224), num_outputs: int = 1000, name: str = "resnet18",
                 weights: str | None = "DEFAULT", weights_file: str | None = None, cut_at: str | None = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if len(input_shape) != 3 or input_shape[0] not in (1, 3):
            raise ConfigurationError(f"{name} reads RGB or grey images (3 or 1, H, W), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        try:
            model = torchvision.models.get_model(name, weights=None)
        except ValueError as error:
            raise ConfigurationError(f"Unknown torchvision model {name!r}; choose one of "
                                     f"torchvision.models.list_models() ({error}).") from None
        enum = None if weights_file else torchvision_weights(name, weights)
        if weights_file:
            model.load_state_dict(torch.load(weights_file, map_location="cpu", weights_only=True), strict=True)
        elif enum is not None:
            model.load_state_dict(load_weights(name, enum), strict=True)
        children = list(model.named_children())
        classifier = children.pop()[1]
        body = [("grey", RepeatGrey()), *self._cut(children, cut_at)]
        if cut_at is not None:
            body.append(("cut_pool", nn.AdaptiveAvgPool2d(1)))
        self.features = nn.Sequential(OrderedDict([*body, ("flatten", nn.Flatten())]))
        self.name, self.dropout, self.cut_at = name, dropout, cut_at
        was_training = self.features.training
        with torch.no_grad():
            self.num_features = self.features.eval()(torch.zeros(1, *input_shape)).shape[1]
        self.features.train(was_training)
        pretrained_head = (enum is not None or weights_file) and cut_at is None and num_outputs == IMAGENET_CLASSES
        self.num_outputs = num_outputs
        self.head = classifier if pretrained_head else self.build_head(num_outputs)

    @staticmethod
    def _cut(children: list[tuple[str, nn.Module]], cut_at: str | None) -> list[tuple[str, nn.Module]]:
        if cut_at is None:
            return children
        names = [name for name, _ in children]
        top, _, inner = cut_at.partition(".")
        if top not in names:
            raise ConfigurationError(f"cut_at {cut_at!r} is not a layer of the body; choose one of {', '.join(names)} "
                                     "(or a dotted name inside one, e.g. features.9).")
        index = names.index(top)
        kept, last = children[:index], children[index][1]
        if not inner:
            return children[:index + 1]
        children = dict(last.named_children())
        if inner not in children or not isinstance(last, nn.Sequential):
            raise ConfigurationError(f"cut_at {cut_at!r}: {top} has no layer {inner!r}; choose one of "
                                     f"{', '.join(children)}.")
        return [*kept, (top, last[:list(children).index(inner) + 1])]

    def build_head(self, num_outputs: int) -> nn.Module:
        linear = nn.Linear(self.num_features, num_outputs)
        return nn.Sequential(nn.Dropout(self.dropout), linear) if self.dropout else linear

    def feature_blocks(self) -> list[nn.Module]:
        """The body's trainable blocks from input to output: its layers with parameters (ResNet: conv1, bn1,
        layer1-4), the layers of a ``features`` Sequential (VGG, MobileNet, EfficientNet) one by one."""
        blocks = []
        for name, module in self.features.named_children():
            blocks += list(module.children()) if name == "features" else [module]
        return [block for block in blocks if any(True for _ in block.parameters())]
