"""ACGAN (Odena et al. 2017): the discriminator also names the class."""

from __future__ import annotations

import functools
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lightning_dl.models.gans.base import GAN
from lightning_dl.models.gans.cgan import ConditionalObjective
from lightning_dl.models.gans.objective import Draw, Phase, require_labels
from lightning_dl.nn.discriminators import DiscriminatorOutputs


class AuxiliaryClassifierObjective(ConditionalObjective):
    """CGAN's generator; a discriminator with a class head instead of the class as input; both players add the
    weighted class cross-entropy."""

    def __init__(self, num_classes: int, class_loss_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, discriminator_arguments={"num_classes": num_classes}, **kwargs)
        self.class_loss_weight = class_loss_weight

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        return self.gan.discriminator.forward_all(images)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        loss = F.cross_entropy(fake.class_logits.float(), draw.labels)
        if phase == "discriminator":
            loss = loss + F.cross_entropy(real.class_logits.float(), require_labels(labels))
        return {"class_loss": self.class_loss_weight * loss}


class ACGAN(GAN):
    """Auxiliary-classifier GAN: the generator is conditioned on the class as in CGAN, but the discriminator
    is not told it; an auxiliary head on its features predicts the class instead. Both players add the
    class cross-entropy to their adversarial loss (equal weights, as in the reference): the discriminator on
    real images (their true class) and generated ones (the class asked for), the generator on its images.

    Args:
        class_loss_weight: Weight of the class cross-entropy in both players' losses.
        **kwargs: The arguments of :class:`GAN` (but its objective).
    """

    def __init__(self, class_loss_weight: float = 1.0, **kwargs: Any) -> None:
        super().__init__(objective=functools.partial(AuxiliaryClassifierObjective, class_loss_weight=class_loss_weight),
                         **kwargs)
