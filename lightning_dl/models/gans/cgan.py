"""CGAN (Mirza & Osindero 2014): generator and discriminator both told the class."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from lightning_dl.models.gans.base import GAN, Draw, one_hot
from lightning_dl.nn.discriminators import Discriminator, DiscriminatorOutputs


class CGAN(GAN):
    """Conditional GAN: the one-hot class is concatenated to ``z``, and the discriminator reads it as an extra
    image channel, so it judges whether an image is a real image *of that class*. Samples any class on
    demand: ``model.sample(n, labels)``. Needs integer labels from the DataModule (``label_format: integer``).
    Takes the arguments of :class:`GAN`.
    """

    def build_networks(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator]
                       ) -> tuple[nn.Module, nn.Module]:
        return (generator(image_shape=self.input_shape, latent_dim=self.latent_dim, condition_dim=self.num_classes),
                discriminator(image_shape=self.input_shape, condition_dim=self.num_classes))

    def condition(self, n: int, labels: Tensor | None = None) -> Draw:
        """Noise and the one-hot classes ``labels`` (drawn uniformly when not given; moved to the model's device)."""
        labels = torch.randint(self.num_classes, (n,), device=self.device) if labels is None else labels.to(self.device)
        return Draw(torch.randn(n, self.latent_dim, device=self.device), one_hot(labels, self.num_classes), labels)

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        return self.discriminator.forward_all(images, one_hot(self.require_labels(labels), self.num_classes))
