"""Adversarial losses: what the discriminator (critic) and the generator each minimise.

Every loss is an object with the same three calls, so a GAN module takes it as an argument::

    d_loss = loss.discriminator_loss(discriminator(real), discriminator(fake.detach()))
    if loss.uses_penalty:                       # WGAN-GP only
        d_loss = d_loss + loss.penalty(discriminator, real, fake)
    ...
    if loss.clip_value is not None:             # WGAN only: after each critic step
        for p in discriminator.parameters(): p.data.clamp_(-loss.clip_value, loss.clip_value)
    g_loss = loss.generator_loss(discriminator(fake))

The inputs are the discriminator's raw outputs (logits; no sigmoid) of any shape — ``(N, 1)`` or a
PatchGAN's ``(N, 1, h, w)`` — and every term is a mean over all of them. A discriminator loss is the sum
of its real term and its fake term. Losses are computed in float32 even under bf16 autocast.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_dl.errors import ConfigurationError, DataValidationError


class AdversarialLoss:
    """The interface of every adversarial loss (see the module docstring for how a GAN uses it)."""

    #: Clip the critic's weights to ``[-clip_value, clip_value]`` after each of its steps (WGAN); None: no clipping.
    clip_value: float | None = None

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """What the discriminator minimises, from its outputs on real and on generated samples."""
        raise NotImplementedError

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """What the generator minimises, from the discriminator's outputs on generated samples."""
        raise NotImplementedError

    @property
    def uses_penalty(self) -> bool:
        """Whether :meth:`penalty` adds anything (worth a GAN module's extra discriminator pass)."""
        return False

    def penalty(self, discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        """An extra discriminator-loss term that needs the discriminator itself (zero here)."""
        return real.new_zeros(())

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({arguments})"


def _float(*logits: Tensor) -> tuple[Tensor, ...]:
    return tuple(x.float() for x in logits)


class TargetLoss(AdversarialLoss):
    """A loss that pushes each discriminator output toward a target with ``criterion``: ``real_label`` for
    real samples and 0 for generated ones; the generator pushes its samples' outputs toward 1."""

    real_label: float = 1.0

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = _float(real_logits, fake_logits)
        return (self.criterion(real_logits, torch.full_like(real_logits, self.real_label))
                + self.criterion(fake_logits, torch.zeros_like(fake_logits)))

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        (fake_logits,) = _float(fake_logits)
        return self.criterion(fake_logits, torch.ones_like(fake_logits))


class NonSaturatingLoss(TargetLoss):
    """The original GAN loss with the non-saturating generator (DCGAN, CGAN, ACGAN, InfoGAN, StackedGAN):
    binary cross-entropy on logits. D: ``BCE(real, 1) + BCE(fake, 0)``; G: ``BCE(fake, 1)``.

    Args:
        real_label: Target of real samples for the discriminator; 0.9 gives one-sided label smoothing.
    """

    def __init__(self, real_label: float = 1.0) -> None:
        if not 0.0 < real_label <= 1.0:
            raise ConfigurationError(f"real_label must be in (0, 1] but is {real_label}.")
        self.real_label = real_label

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)


class LeastSquaresLoss(TargetLoss):
    """LSGAN (and CycleGAN's adversarial loss): mean squared error on a linear discriminator output.
    D: ``mean((real - 1)²) + mean(fake²)``; G: ``mean((fake - 1)²)``."""

    def criterion(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(logits, target)


class WassersteinLoss(AdversarialLoss):
    """WGAN: the critic estimates the Wasserstein distance, ``mean(real) - mean(fake)``. With the reference's
    labels +1 real / −1 fake and loss ``-mean(label · output)``: critic ``-mean(real) + mean(fake)``,
    generator ``-mean(fake)``. The critic must stay Lipschitz: the training loop clips its weights to
    ``clip_value`` after every critic step (0.01 in the paper).

    Args:
        clip_value: Weight-clipping bound; None for no clipping.
    """

    def __init__(self, clip_value: float | None = 0.01) -> None:
        if clip_value is not None and clip_value <= 0:
            raise ConfigurationError(f"clip_value must be positive (or null for no clipping) but is {clip_value}.")
        self.clip_value = clip_value

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = _float(real_logits, fake_logits)
        return fake_logits.mean() - real_logits.mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.float().mean()


class WassersteinGradientPenaltyLoss(WassersteinLoss):
    """WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss without weight clipping; the critic is kept
    1-Lipschitz by penalising ``(‖∇D(x̂)‖₂ − 1)²`` at random interpolates ``x̂`` between real and generated
    samples. Add :meth:`penalty` to the critic's loss.

    Args:
        penalty_weight: λ, the weight of the gradient penalty (10 in the paper).
    """

    def __init__(self, penalty_weight: float = 10.0) -> None:
        super().__init__(clip_value=None)
        if penalty_weight < 0:
            raise ConfigurationError(f"penalty_weight must be non-negative but is {penalty_weight}.")
        self.penalty_weight = penalty_weight

    @property
    def uses_penalty(self) -> bool:
        return self.penalty_weight > 0

    def gradient_penalty(self, discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        """``mean((‖∇D(x̂)‖₂ − 1)²)`` over ``x̂ = ε·real + (1 − ε)·fake``, one ``ε ~ U(0, 1)``
        per sample (unweighted). Built with ``create_graph=True``: its backward reaches the critic's weights.
        ``discriminator`` maps a batch to outputs (wrap a conditional one: ``lambda x: D(x, labels)``)."""
        if real.shape != fake.shape:
            raise DataValidationError(f"The gradient penalty interpolates real and generated samples of the same "
                                      f"shape, but got {tuple(real.shape)} and {tuple(fake.shape)}.")
        real, fake = real.detach(), fake.detach()
        epsilon = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
        interpolates = (epsilon * real + (1 - epsilon) * fake).requires_grad_(True)
        outputs = discriminator(interpolates)
        (gradients,) = torch.autograd.grad(outputs.sum(), interpolates, create_graph=True)
        norms = gradients.float().flatten(1).norm(2, dim=1)
        return ((norms - 1) ** 2).mean()

    def penalty(self, discriminator: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        """``penalty_weight`` × :meth:`gradient_penalty`."""
        return self.penalty_weight * self.gradient_penalty(discriminator, real, fake)


class HingeLoss(AdversarialLoss):
    """Hinge loss (geometric GAN, SAGAN): D: ``mean(relu(1 - real)) + mean(relu(1 + fake))``;
    G: ``-mean(fake)``."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        real_logits, fake_logits = _float(real_logits, fake_logits)
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.float().mean()
