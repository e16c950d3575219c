"""GAN: the adversarial loop with a generator of noise; the base of the variants that change its objective."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from torch import nn

from lightning_dl.models.gans.loop import AdversarialLoop
from lightning_dl.models.gans.objective import Draw, NoiseObjective, one_hot
from lightning_dl.nn.discriminators import DCGANDiscriminator, Discriminator
from lightning_dl.nn.generators import DCGANGenerator

__all__ = ["GAN", "Draw", "NoiseObjectiveFactory", "one_hot"]


class NoiseObjectiveFactory(Protocol):
    """Builds a :class:`NoiseObjective` from :class:`GAN`'s arguments (a ``NoiseObjective`` subclass, or a partial
    of one with its own arguments set)."""

    def __call__(self, *, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator],
                 input_shape: tuple[int, int, int], num_classes: int, latent_dim: int, num_samples: int,
                 sample_seed: int) -> NoiseObjective: ...


class GAN(AdversarialLoop):
    """A generative adversarial network: a generator learns to turn noise into images the discriminator
    cannot tell from real ones. Unconditional; with the default networks and loss it is **DCGAN**, and the
    adversarial loss makes it **WGAN** (``WassersteinLoss``, ``n_critic: 5``), **WGAN-GP**
    (``WassersteinGradientPenaltyLoss``) or **LSGAN** (``LeastSquaresLoss``); see ``configs/gans/``.

    Trains on images in the range of the generator's output activation ([-1, 1] for tanh): set the
    DataModule's ``normalization: symmetric_range`` and ``val_fraction: 0``. Logged besides the loop's
    values: the discriminator's mean output on real and generated images (``real_score``, ``fake_score``).
    The fixed sample noise is a buffer: a checkpoint restores the same grid.

    Args:
        generator: Builds the generator from ``image_shape``, ``latent_dim`` and ``condition_dim``.
        discriminator: Builds the discriminator from ``image_shape`` (and the variant's heads).
        input_shape: ``(C, H, W)`` of the images; the CLI links it from the DataModule.
        num_classes: Classes of the data (conditional variants); the CLI links it from the DataModule.
        latent_dim: Size of the noise vector ``z``.
        num_samples: Images in the fixed sample grid.
        sample_seed: Seed of the fixed sample noise.
        objective: Builds what the loop trains from the arguments above: ``NoiseObjective`` (this class), or
            another :class:`~lightning_dl.models.gans.objective.NoiseObjective` (CGAN, ACGAN, InfoGAN and
            StackedGAN pass theirs).
        **loop: The loop's arguments (:class:`~lightning_dl.models.gans.loop.AdversarialLoop`): the adversarial
            loss, ``n_critic``, the optimisers and schedulers, ``gradient_clip_val``, ``ema_decay``,
            ``max_generator_steps``.
    """

    objective: NoiseObjective

    def __init__(
        self,
        generator: Callable[..., nn.Module] = DCGANGenerator,
        discriminator: Callable[..., Discriminator] = DCGANDiscriminator,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        latent_dim: int = 100,
        num_samples: int = 100,
        sample_seed: int = 0,
        objective: NoiseObjectiveFactory = NoiseObjective,
        **loop: Any,
    ) -> None:
        super().__init__(objective(generator=generator, discriminator=discriminator, input_shape=tuple(input_shape),
                                   num_classes=num_classes, latent_dim=latent_dim, num_samples=num_samples,
                                   sample_seed=sample_seed), **loop)
        self.input_shape, self.num_classes, self.latent_dim = tuple(input_shape), num_classes, latent_dim
