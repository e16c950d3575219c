"""ACGAN (Odena et al. 2017): the discriminator also names the class."""

from __future__ import annotations

from typing import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.models.gans.base import Draw, Phase
from lightning_dl.models.gans.cgan import CGAN
from lightning_dl.nn.discriminators import Discriminator, DiscriminatorOutputs


class ACGAN(CGAN):
    """Auxiliary-classifier GAN: the generator is conditioned on the class as in CGAN, but the discriminator
    is not told it; an auxiliary head on its features predicts the class instead. Both players add the
    class cross-entropy to their adversarial loss (equal weights, as in the reference): the discriminator on
    real images (their true class) and generated ones (the class asked for), the generator on its images.

    Args:
        class_loss_weight: Weight of the class cross-entropy in both players' losses.
        **kwargs: The arguments of :class:`GAN`.
    """

    def __init__(self, class_loss_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.class_loss_weight = class_loss_weight

    def build_networks(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator]
                       ) -> tuple[nn.Module, nn.Module]:
        return (generator(image_shape=self.input_shape, latent_dim=self.latent_dim, condition_dim=self.num_classes),
                discriminator(image_shape=self.input_shape, num_classes=self.num_classes))

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        return self.discriminator.forward_all(images)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, real_labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        loss = F.cross_entropy(fake.class_logits.float(), draw.labels)
        if phase == "discriminator":
            loss = loss + F.cross_entropy(real.class_logits.float(), self.require_labels(real_labels))
        return {"class_loss": self.class_loss_weight * loss}
