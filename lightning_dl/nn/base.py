"""The one interface every network shares: a body (``features``) and a head.

Freezing the body, fine-tuning it, replacing the head for a new task and reusing an autoencoder's encoder
all work the same way for every family because every network is split the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

from torch import Tensor, nn

from lightning_dl.nn.init import Initializer, initialize


class Network(nn.Module, ABC):
    """A network in two parts: ``features`` turns an input into a representation of ``num_features`` values
    per sample, ``head`` turns that representation into ``num_outputs`` outputs; ``forward`` is
    ``head(features(x))``.

    Fine-tuning a trained network on a new task: ``reset_head(num_classes)`` gives it a new, freshly
    initialised head (timm's ``reset_classifier``) and ``freeze_features()`` stops training the body.

    Subclasses assign ``features``, ``num_features``, ``num_outputs`` and ``initializer`` in their
    constructor, implement ``build_head`` and set ``self.head = self.build_head(num_outputs)``. The class is
    abstract, so the CLI lists only its concrete subclasses as networks.
    """

    features: nn.Module
    head: nn.Module
    #: Values per sample in the representation ``features`` returns (the input size of the head).
    num_features: int
    #: Outputs per sample of the head.
    num_outputs: int
    #: The initialiser a new head gets (see :func:`~lightning_dl.nn.initialize`).
    initializer: Initializer = "default"
    #: Whether ``freeze_features`` froze the body.
    features_frozen: bool = False

    @abstractmethod
    def build_head(self, num_outputs: int) -> nn.Module:
        """A new head from ``num_features`` values to ``num_outputs`` outputs, in PyTorch's default initialisation."""

    def forward_features(self, x: Tensor) -> Tensor:
        """The representation the body computes (what transfer learning and visualisation reuse)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """The outputs the head computes from a representation."""
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_head(self, num_outputs: int) -> None:
        """Replace the head by a new one with ``num_outputs`` outputs, initialised as the network was; the body
        keeps its weights. The new head takes the device, dtype and train/eval mode of the old one."""
        old = next(self.head.parameters())
        self.head = initialize(self.build_head(num_outputs), self.initializer).to(old.device, old.dtype)
        self.head.train(self.training)
        self.num_outputs = num_outputs

    def freeze_features(self, frozen: bool = True) -> None:
        """Stop (or resume) training the body: its parameters get no gradient and it runs in evaluation mode
        (batch-norm statistics stay fixed, no dropout), as a frozen base runs in the Keras fine-tuning recipe.
        ``train()`` keeps a frozen body in evaluation mode."""
        self.features_frozen = frozen
        for parameter in self.features.parameters():
            parameter.requires_grad_(not frozen)
        self.features.train(self.training and not frozen)

    def train(self, mode: bool = True) -> Network:
        super().train(mode)
        if self.features_frozen:
            self.features.eval()
        return self


#: Builds a network from the shape of one input and the number of outputs: ``CNN``, ``MLP``, ``RNN``, ...
NetworkFactory = Callable[[tuple[int, ...], int], Network]


class LinearHead:
    """Mixin for a :class:`Network` whose head is one linear layer over its ``num_features`` (ResNet, DenseNet-BC,
    the compact net): ``class ResNet(LinearHead, Network)``."""

    num_features: int

    def build_head(self, num_outputs: int) -> nn.Module:
        """One linear layer from the features to ``num_outputs``."""
        return nn.Linear(self.num_features, num_outputs)
