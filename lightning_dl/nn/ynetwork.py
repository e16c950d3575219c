"""The Y-network: several convolutional branches over the same image, merged, then classified; and the generic
multi-input :class:`Merge` it uses (Keras's ``concatenate``, ``add``, ``multiply``, ``dot``).

The reference has two branches, each three blocks of Conv(3×3, ReLU) → Dropout 0.4 → MaxPool 2×2 with
32/64/128 filters; the left branch has dilation 1 and the right dilation 2, so the two see the image at two
receptive-field sizes. Their flattened outputs are concatenated, dropped out and classified by one dense layer.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice
from lightning_dl.nn.base import Network
from lightning_dl.nn.init import Initializer, initialize

MergeMode = Literal["concat", "add", "multiply", "dot"]


class Merge(nn.Module):
    """Merge several inputs of a batch into one, as Keras's merge layers do.

    ``concat`` joins them along ``dim`` (1, the channels or features); ``add`` and ``multiply`` combine inputs
    of one shape element-wise; ``dot`` takes exactly two inputs and returns each sample's dot product of the
    two (flattened) as ``(N, 1)``, or their cosine similarity with ``normalize=True``.

    Args:
        mode: ``concat``, ``add``, ``multiply`` or ``dot``.
        dim: The dimension ``concat`` joins along.
        normalize: ``dot`` only: L2-normalise both inputs first (cosine similarity).
    """

    def __init__(self, mode: MergeMode = "concat", dim: int = 1, normalize: bool = False) -> None:
        super().__init__()
        check_choice("merge mode", mode, MergeMode)
        self.mode, self.dim, self.normalize = mode, dim, normalize

    def forward(self, *inputs: Tensor | Sequence[Tensor]) -> Tensor:
        if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
            inputs = tuple(inputs[0])
        if not inputs:
            raise DataValidationError("Merge got no inputs.")
        if self.mode == "concat":
            return torch.cat(inputs, dim=self.dim)
        if self.mode == "dot":
            if len(inputs) != 2:
                raise DataValidationError(f"Merge 'dot' takes exactly two inputs, got {len(inputs)}.")
            a, b = (x.flatten(1) for x in inputs)
            if self.normalize:
                a, b = nn.functional.normalize(a, dim=1), nn.functional.normalize(b, dim=1)
            return (a * b).sum(dim=1, keepdim=True)
        shapes = {tuple(x.shape) for x in inputs}
        if len(shapes) != 1:
            raise DataValidationError(f"Merge {self.mode!r} needs inputs of one shape, got {sorted(shapes)}; "
                                      "use concat for inputs of different sizes.")
        result = inputs[0]
        for x in inputs[1:]:
            result = result + x if self.mode == "add" else result * x
        return result


def conv_branch(in_channels: int, channels: Sequence[int], dilation: int, dropout: float,
                kernel_size: int) -> nn.Sequential:
    """One branch: per width, Conv(kernel, 'same', dilation) → ReLU → Dropout → MaxPool 2×2; then flatten."""
    layers: list[nn.Module] = []
    for width in channels:
        layers += [nn.Conv2d(in_channels, width, kernel_size, padding="same", dilation=dilation),
                   nn.ReLU(inplace=True), *([nn.Dropout(dropout)] if dropout else []), nn.MaxPool2d(2)]
        in_channels = width
    return nn.Sequential(*layers, nn.Flatten())


class Branches(nn.Module):
    """Runs every branch on the same input and merges their outputs."""

    def __init__(self, branches: Sequence[nn.Module], merge: Merge) -> None:
        super().__init__()
        self.branches, self.merge = nn.ModuleList(branches), merge

    def forward(self, x: Tensor) -> Tensor:
        return self.merge([branch(x) for branch in self.branches])


class YNetwork(Network):
    """Convolutional branches over the same image, merged and classified (the Keras Y-network).

    Body (``features``): the branches (one per entry of ``dilations``, each ``len(channels)`` blocks of
    Conv → ReLU → Dropout → MaxPool, flattened) and their merge; ``num_features`` is the merged size. Head:
    dropout and one linear layer. ``features.branches[i]`` is branch ``i``.

    Args:
        input_shape: ``(C, H, W)`` of one image (the same image goes to every branch).
        num_outputs: Outputs of the head (classes).
        dilations: One entry per branch: its convolutions' dilation (the reference: ``[1, 2]``).
        channels: Filters of each block in a branch.
        kernel_size: Conv kernel size.
        dropout: Dropout after each conv block and before the head.
        merge: How the branch outputs are merged: ``concat`` (reference), ``add`` or ``multiply``.
        init: Weight initialiser.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, dilations: list[int] = [1, 2],
                 channels: list[int] = [32, 64, 128], kernel_size: int = 3, dropout: float = 0.4,
                 merge: Literal["concat", "add", "multiply"] = "concat", init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"YNetwork reads images (channels, height, width), got input_shape "
                                     f"{tuple(input_shape)}; use the data's layout: image.")
        if not dilations or min(dilations) < 1:
            raise ConfigurationError(f"dilations needs one positive dilation per branch, got {dilations}.")
        if min(input_shape[1:]) < 2 ** len(channels):
            raise ConfigurationError(f"{len(channels)} blocks halve a {input_shape[1]}×{input_shape[2]} image to "
                                     "nothing; use fewer blocks or bigger images.")
        check_choice("merge", merge, Literal["concat", "add", "multiply"])
        branches = [conv_branch(input_shape[0], channels, d, dropout, kernel_size) for d in dilations]
        self.features = Branches(branches, Merge(merge))
        with torch.no_grad():
            self.num_features = self.features.eval()(torch.zeros(1, *input_shape)).shape[1]
        self.features.train()
        self.num_outputs, self.initializer, self._dropout = num_outputs, init, dropout
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self._dropout), nn.Linear(self.num_features, num_outputs))
