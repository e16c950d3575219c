"""CGAN (Mirza & Osindero 2014): generator and discriminator both told the class."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lightning_dl.models.gans.base import GAN
from lightning_dl.models.gans.objective import Draw, NoiseObjective, one_hot, require_labels
from lightning_dl.nn.discriminators import DiscriminatorOutputs


class ConditionalObjective(NoiseObjective):
    """The generator reads the one-hot class beside ``z`` (drawn uniformly, or the classes asked for); a
    variant passes ``discriminator_arguments`` for a discriminator that is not told the class (ACGAN) or reads
    it (default: as an extra image channel)."""

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        kwargs.setdefault("discriminator_arguments", {"condition_dim": num_classes})
        super().__init__(num_classes=num_classes, condition_dim=num_classes, **kwargs)

    def condition(self, n: int, labels: Tensor | None = None) -> Draw:
        """Noise and the one-hot classes ``labels`` (drawn uniformly when not given; moved to the model's device)."""
        device = self.gan.device
        labels = torch.randint(self.num_classes, (n,), device=device) if labels is None else labels.to(device)
        return Draw(torch.randn(n, self.latent_dim, device=device), one_hot(labels, self.num_classes), labels)

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        return self.gan.discriminator.forward_all(images, one_hot(require_labels(labels), self.num_classes))


class CGAN(GAN):
    """Conditional GAN: the one-hot class is concatenated to ``z``, and the discriminator reads it as an extra
    image channel, so it judges whether an image is a real image *of that class*. Samples any class on
    demand: ``model.sample(n, labels)``. Needs integer labels from the DataModule (``label_format: integer``).

    Args:
        **kwargs: The arguments of :class:`GAN` (but its objective).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(objective=ConditionalObjective, **kwargs)
