"""What one GAN variant adds to the adversarial loop: its players, what each minimises, how it samples.

:class:`~lightning_dl.models.gans.loop.AdversarialLoop` owns the optimisation (the two phases, frozen players,
``n_critic``, clipping, counters, the weight average, logging); an :class:`Objective` owns everything a variant
changes, and never steps an optimiser. :class:`NoiseObjective` is the objective of the GANs that turn noise
into images (DCGAN, WGAN, LSGAN); CGAN, ACGAN, InfoGAN and StackedGAN refine it with a few hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import DataValidationError
from lightning_dl.nn.discriminators import Discriminator, DiscriminatorOutputs

if TYPE_CHECKING:
    from lightning_dl.models.gans.loop import AdversarialLoop

Phase = Literal["discriminator", "generator"]
Batch = tuple[Tensor, ...]


class Objective:
    """The part of a GAN that is not the loop. A variant implements:

    - :meth:`build`: its networks and fixed tensors by name, ``generator`` and ``discriminator`` among them (each
      one network, or an ``nn.ModuleDict`` of several that one optimiser steps together). The loop registers
      them on itself under those names (tensors as buffers, so a checkpoint restores them), then binds the
      objective to itself as :attr:`gan`: every other method reads the networks from there;
    - :meth:`discriminator_losses` and :meth:`generator_losses`: what each player minimises on a batch;
    - :meth:`sample` and :meth:`sample_grids`: images from a given generator (the loop passes the one to use,
      in eval mode, without gradients).
    """

    #: The loop this objective is trained by (set by the loop).
    gan: AdversarialLoop

    def build(self) -> dict[str, nn.Module | Tensor]:
        """The variant's networks (``generator``, ``discriminator``, any other) and buffers, by name."""
        raise NotImplementedError

    def discriminator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """The discriminator's terms on one batch: ``loss`` is minimised, every other entry logged."""
        raise NotImplementedError

    def generator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """The generator's terms on one batch: ``loss`` is minimised, every other entry logged."""
        raise NotImplementedError

    def sample(self, generator: nn.Module, n: int, labels: Tensor | None = None, latent: Tensor | None = None
               ) -> Tensor:
        """``n`` images from ``generator`` (of the classes ``labels``, from the noise ``latent`` where it applies)."""
        raise NotImplementedError

    def sample_grids(self, generator: nn.Module) -> dict[str, Tensor]:
        """Named image grids in [0, 1] for the :class:`~lightning_dl.callbacks.SampleGrid` callback."""
        return {}


@dataclass
class Draw:
    """What the generator is given for one batch of generated images."""

    #: The noise ``z`` ``(N, latent_dim)``.
    latent: Tensor
    #: The condition concatenated to ``z`` (one-hot labels, codes), or None.
    condition: Tensor | None = None
    #: The classes asked for (conditional GANs), or None.
    labels: Tensor | None = None
    #: The codes behind the images (InfoGAN), or None.
    codes: Tensor | None = None


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float one-hot vectors of class indices."""
    return F.one_hot(labels, num_classes).float()


def real_labels(batch: Batch) -> Tensor | None:
    """The class labels of a real batch ``(images, labels)``, or None for a batch of images only."""
    return batch[1] if len(batch) > 1 else None


def require_labels(labels: Tensor | None) -> Tensor:
    """The real batch's class labels, which the variants that learn classes cannot train without."""
    if labels is None or labels.is_floating_point() or labels.ndim != 1:
        raise DataValidationError("This GAN learns classes and needs a class label for every real image: set the "
                                  "DataModule's label_format to integer.")
    return labels


def to_display(images: Tensor) -> Tensor:
    """Generated images (tanh outputs in [-1, 1]) as values in [0, 1] for showing."""
    return (images + 1) / 2


class NoiseObjective(Objective):
    """A generator that turns noise ``z`` (and a condition) into images, judged by one discriminator against real
    images with the loop's adversarial loss: DCGAN, WGAN, WGAN-GP and LSGAN as it is. A variant of this shape
    passes the size of its condition and its discriminator's heads to this constructor and overrides what it
    changes: :meth:`condition` (what the generator is given), :meth:`discriminate` (what the discriminator
    reads) and :meth:`extra_losses` (its terms beside the adversarial loss).

    Args:
        generator: Builds the generator from ``image_shape``, ``latent_dim`` and ``condition_dim``.
        discriminator: Builds the discriminator from ``image_shape`` and ``discriminator_arguments``.
        input_shape: ``(C, H, W)`` of the images.
        num_classes: Classes of the data (0: none).
        latent_dim: Size of the noise vector ``z``.
        num_samples: Images in the fixed sample grid.
        sample_seed: Seed of the fixed sample noise.
        condition_dim: Size of the condition the generator reads beside ``z``.
        discriminator_arguments: The discriminator's further arguments (its heads).
    """

    def __init__(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator],
                 input_shape: tuple[int, int, int], num_classes: int = 0, latent_dim: int = 100,
                 num_samples: int = 100, sample_seed: int = 0, condition_dim: int = 0,
                 discriminator_arguments: dict[str, Any] | None = None) -> None:
        self.generator_factory, self.discriminator_factory = generator, discriminator
        self.input_shape, self.num_classes, self.latent_dim = tuple(input_shape), num_classes, latent_dim
        self.num_samples, self.sample_seed, self.condition_dim = num_samples, sample_seed, condition_dim
        self.discriminator_arguments = discriminator_arguments or {}

    def build(self) -> dict[str, nn.Module | Tensor]:
        return {"generator": self.generator_factory(image_shape=self.input_shape, latent_dim=self.latent_dim,
                                                    condition_dim=self.condition_dim),
                "discriminator": self.discriminator_factory(image_shape=self.input_shape,
                                                            **self.discriminator_arguments),
                **self.sample_inputs()}

    def sample_inputs(self) -> dict[str, Tensor]:
        """The fixed noise and classes of the sample grids (buffers: a checkpoint restores the same grid)."""
        seeded = torch.Generator().manual_seed(self.sample_seed)
        return {"sample_latent": torch.randn(self.num_samples, self.latent_dim, generator=seeded),
                "sample_labels": torch.arange(self.num_samples) % max(1, self.num_classes)}

    # --- what the variants change ------------------------------------------------------------------
    def condition(self, n: int, labels: Tensor | None = None) -> Draw:
        """Noise and condition for ``n`` generated images (of the classes ``labels`` where it applies)."""
        return Draw(torch.randn(n, self.latent_dim, device=self.gan.device))

    def generate(self, draw: Draw, generator: nn.Module) -> Tensor:
        """Images from a draw, by ``generator``."""
        return generator(draw.latent) if draw.condition is None else generator(draw.latent, draw.condition)

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        """Every output of the discriminator for ``images`` (of classes ``labels``)."""
        return self.gan.discriminator.forward_all(images)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        """The variant's terms added to each phase's loss (ACGAN's class loss, InfoGAN's code loss), by name;
        ``real`` and the real ``labels`` are None in the generator's phase."""
        return {}

    # --- the two players ---------------------------------------------------------------------------
    def discriminator_losses(self, batch: Batch) -> dict[str, Tensor]:
        real, labels, adversarial = batch[0], real_labels(batch), self.gan.adversarial_loss
        draw = self.condition(len(real))
        with torch.no_grad():
            fake_images = self.generate(draw, self.gan.generator)
        real_out, fake_out = self.discriminate(real, labels), self.discriminate(fake_images, draw.labels)
        terms = {"adversarial_loss": adversarial.discriminator_loss(real_out.logits, fake_out.logits)}
        if adversarial.uses_penalty:
            terms["gradient_penalty"] = adversarial.penalty(lambda x: self.discriminate(x, labels).logits, real,
                                                            fake_images)
        terms.update(self.extra_losses("discriminator", real_out, labels, fake_out, draw))
        return {"loss": sum(terms.values()), **terms, "real_score": real_out.logits.detach().float().mean(),
                "fake_score": fake_out.logits.detach().float().mean()}

    def generator_losses(self, batch: Batch) -> dict[str, Tensor]:
        draw = self.condition(len(batch[0]))
        fake_out = self.discriminate(self.generate(draw, self.gan.generator), draw.labels)
        terms = {"adversarial_loss": self.gan.adversarial_loss.generator_loss(fake_out.logits)}
        terms.update(self.extra_losses("generator", None, None, fake_out, draw))
        return {"loss": sum(terms.values()), **terms}

    # --- sampling ----------------------------------------------------------------------------------
    def sample(self, generator: nn.Module, n: int, labels: Tensor | None = None, latent: Tensor | None = None
               ) -> Tensor:
        draw = self.condition(n, labels)  # conditions are moved to the model's device there
        if latent is not None:
            draw.latent = latent.to(self.gan.device)
        return self.generate(draw, generator)

    def sample_grids(self, generator: nn.Module) -> dict[str, Tensor]:
        """The fixed noise (the same images every epoch) and walks between pairs of noise vectors (one a row)."""
        latent, labels = self.gan.sample_latent, self.gan.sample_labels
        fixed = to_display(self.sample(generator, len(latent), labels, latent))
        if len(latent) < 20:
            return {"samples": fixed}
        ends = latent[:20].view(2, 10, -1)
        steps = torch.linspace(0, 1, 10, device=latent.device)[:, None, None]
        walk = ((1 - steps) * ends[0] + steps * ends[1]).transpose(0, 1).reshape(100, -1)
        walk_labels = labels[:10].repeat_interleave(10)
        return {"samples": fixed, "interpolation": to_display(self.sample(generator, 100, walk_labels, walk))}
