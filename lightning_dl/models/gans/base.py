"""The one adversarial training loop every GAN here shares.

Each training batch is one **discriminator step** on its own real images; every ``n_critic``-th
discriminator step is followed by one **generator step**. Both use manual optimisation:

- discriminator step: generated images come from the generator under ``no_grad``; the discriminator's
  loss (the adversarial loss, its gradient penalty and the variant's extra terms) is back-propagated and
  its optimiser stepped; gradients are clipped by norm if asked and weights clipped to ``±clip_value``
  for WGAN;
- generator step: ``toggle_optimizer`` freezes the discriminator (its weights receive no gradient and do
  not change), the generator's loss is back-propagated and its optimiser stepped, then the discriminator
  is unfrozen. An exponential moving average of the generator's weights is updated if asked.

``global_step`` counts every optimizer step, so the module keeps its own counters, ``discriminator_steps``
and ``generator_steps``: buffers, so they are checkpointed, logged, and ``max_generator_steps`` stops the
run. The schedule is counted by them, not by the batch index, so a resumed run continues it exactly. The
fixed sample noise is a buffer too: a checkpoint restores the same grid.

The variants differ only in their networks and loss terms: override :meth:`build_networks`,
:meth:`condition` (what the generator is conditioned on), :meth:`discriminate`, :meth:`extra_losses`, or,
for a GAN of another shape (CycleGAN), :meth:`discriminator_losses` and :meth:`generator_losses`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from lightning_dl.errors import ConfigurationError, DataValidationError, NonFiniteLossError
from lightning_dl.models.base import BaseModule
from lightning_dl.nn.adversarial import AdversarialLoss, NonSaturatingLoss
from lightning_dl.nn.discriminators import DCGANDiscriminator, Discriminator, DiscriminatorOutputs
from lightning_dl.nn.generators import DCGANGenerator

Phase = Literal["discriminator", "generator"]


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


class GeneratorAverage(AveragedModel):
    """An exponential moving average of a generator's weights and buffers whose decay warms up:
    ``min(decay, (1 + n) / (10 + n))`` at the ``n``-th update (the first one copies). A fixed 0.999 would
    still give the random initial weights a share of 0.999¹⁰⁰⁰ ≈ 0.37 after 1,000 generator steps; warmed
    up, the average follows the generator early and smooths it late.

    An ``AveragedModel`` (same state: ``module.*`` and ``n_averaged``) whose update never waits for the
    device: ``AveragedModel.update_parameters`` reads its counter on the host, and a decay computed on the host
    from it would stall a GPU on every parameter of every generator step.
    """

    def __init__(self, generator: nn.Module, decay: float) -> None:
        super().__init__(generator, use_buffers=True)
        self.decay = decay
        self.requires_grad_(False)

    def current_decay(self) -> Tensor:
        """The decay of the next update, as a tensor on the average's device (0 for the first: a copy)."""
        n = self.n_averaged
        return torch.where(n > 0, ((1 + n) / (10 + n)).clamp(max=self.decay), 0.0)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """``average += (1 - decay) * (current - average)`` for every floating-point weight and buffer; integer
        buffers (batch norm's counter) are copied."""
        pairs = list(zip([*self.module.parameters(), *self.module.buffers()], [*model.parameters(), *model.buffers()]))
        averages = [average for average, _ in pairs if average.is_floating_point()]
        currents = [current.detach() for average, current in pairs if average.is_floating_point()]
        if averages:
            steps = torch._foreach_sub(currents, averages)
            torch._foreach_mul_(steps, 1 - self.current_decay())
            torch._foreach_add_(averages, steps)
        for average, current in pairs:
            if not average.is_floating_point():
                average.copy_(current)
        self.n_averaged += 1


def default_optimizer(lr: float) -> OptimizerCallable:
    """Adam with β₁ = 0.5, the DCGAN paper's choice."""
    return functools.partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999))


class GAN(BaseModule):
    """A generative adversarial network: a generator learns to turn noise into images the discriminator
    cannot tell from real ones. Unconditional; with the default networks and loss it is **DCGAN**, and the
    adversarial loss makes it **WGAN** (``WassersteinLoss``, ``n_critic: 5``), **WGAN-GP**
    (``WassersteinGradientPenaltyLoss``) or **LSGAN** (``LeastSquaresLoss``); see ``configs/gans/``.

    Trains on images in the range of the generator's output activation ([-1, 1] for tanh): set the
    DataModule's ``normalization: symmetric_range`` and ``val_fraction: 0``. Monitors nothing, so the CLI
    checkpoints periodically and never stops early. Logged: ``train/discriminator_loss``,
    ``train/generator_loss`` (per step and ``_epoch``), the discriminator's mean output on real and generated
    images, each extra loss term, and the step counters.

    Args:
        generator: Builds the generator from ``image_shape``, ``latent_dim`` and ``condition_dim``.
        discriminator: Builds the discriminator from ``image_shape`` (and the variant's heads).
        adversarial_loss: ``NonSaturatingLoss`` (DCGAN), ``LeastSquaresLoss``, ``WassersteinLoss``,
            ``WassersteinGradientPenaltyLoss`` or ``HingeLoss``; default non-saturating.
        input_shape: ``(C, H, W)`` of the images; the CLI links it from the DataModule.
        num_classes: Classes of the data (conditional variants); the CLI links it from the DataModule.
        latent_dim: Size of the noise vector ``z``.
        n_critic: Discriminator steps per generator step (5 for WGAN).
        generator_optimizer: The generator's optimiser; default Adam(2e-4, β₁ 0.5).
        discriminator_optimizer: The discriminator's optimiser; default Adam(2e-4, β₁ 0.5).
        generator_lr_scheduler: The generator's scheduler, if any.
        discriminator_lr_scheduler: The discriminator's scheduler, if any.
        gradient_clip_val: Clip each network's gradient norm to this before its step (None: no clipping).
        ema_decay: Keep an exponential moving average of the generator's weights with this decay (e.g.
            0.999, warmed up from ~0.1 over the first thousands of steps) and sample from it; None: no average.
        max_generator_steps: Stop training after this many generator steps.
        num_samples: Images in the fixed sample grid.
        sample_seed: Seed of the fixed sample noise.
    """

    monitor = None
    #: The range of the generator's output activation (tanh), which real images must come in.
    data_range: tuple[float, float] = (-1.0, 1.0)

    def __init__(
        self,
        generator: Callable[..., nn.Module] = DCGANGenerator,
        discriminator: Callable[..., Discriminator] = DCGANDiscriminator,
        adversarial_loss: AdversarialLoss | None = None,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        latent_dim: int = 100,
        n_critic: int = 1,
        generator_optimizer: OptimizerCallable | None = None,
        discriminator_optimizer: OptimizerCallable | None = None,
        generator_lr_scheduler: LRSchedulerCallable | None = None,
        discriminator_lr_scheduler: LRSchedulerCallable | None = None,
        gradient_clip_val: float | None = None,
        ema_decay: float | None = None,
        max_generator_steps: int | None = None,
        num_samples: int = 100,
        sample_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        if n_critic < 1:
            raise ConfigurationError(f"n_critic={n_critic}: the discriminator must take at least one step per "
                                     "generator step.")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ConfigurationError(f"ema_decay={ema_decay} must lie strictly between 0 and 1 (typically 0.999).")
        self.input_shape, self.num_classes, self.latent_dim = tuple(input_shape), num_classes, latent_dim
        self.n_critic, self.gradient_clip_val, self.max_generator_steps = n_critic, gradient_clip_val, max_generator_steps
        self.adversarial_loss = adversarial_loss or NonSaturatingLoss()
        self.generator_optimizer = generator_optimizer or default_optimizer(2e-4)
        self.discriminator_optimizer = discriminator_optimizer or default_optimizer(2e-4)
        self.generator_lr_scheduler, self.discriminator_lr_scheduler = generator_lr_scheduler, discriminator_lr_scheduler
        self.generator, self.discriminator = self.build_networks(generator, discriminator)
        self.generator_average = None
        if ema_decay is not None:
            self.generator_average = GeneratorAverage(self.generator, ema_decay)
        self.register_buffer("discriminator_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("generator_steps", torch.zeros((), dtype=torch.long))
        seeded = torch.Generator().manual_seed(sample_seed)
        self.register_buffer("sample_latent", torch.randn(num_samples, latent_dim, generator=seeded))
        self.register_buffer("sample_labels", torch.arange(num_samples) % max(1, num_classes))

    # --- what the variants change ------------------------------------------------------------------
    def build_networks(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator]
                       ) -> tuple[nn.Module, nn.Module]:
        """The generator and the discriminator, built for this variant's condition and heads."""
        return (generator(image_shape=self.input_shape, latent_dim=self.latent_dim, condition_dim=0),
                discriminator(image_shape=self.input_shape))

    def condition(self, n: int, labels: Tensor | None = None) -> Draw:
        """Noise and condition for ``n`` generated images (of the classes ``labels`` where it applies)."""
        return Draw(torch.randn(n, self.latent_dim, device=self.device))

    def generate(self, draw: Draw, generator: nn.Module | None = None) -> Tensor:
        """Images from a draw, by ``generator`` (default: the generator being trained)."""
        generator = self.generator if generator is None else generator
        return generator(draw.latent) if draw.condition is None else generator(draw.latent, draw.condition)

    def require_labels(self, labels: Tensor | None) -> Tensor:
        """The real batch's class labels, which the variants that learn classes cannot train without."""
        if labels is None or labels.is_floating_point() or labels.ndim != 1:
            raise DataValidationError(f"{type(self).__name__} needs a class label for every real image: set the "
                                      "DataModule's label_format to integer.")
        return labels

    def discriminate(self, images: Tensor, labels: Tensor | None) -> DiscriminatorOutputs:
        """Every output of the discriminator for ``images`` (of classes ``labels``)."""
        return self.discriminator.forward_all(images)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, real_labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        """The variant's terms added to each phase's loss (ACGAN's class loss, InfoGAN's code loss), by name."""
        return {}

    # --- the two phases ----------------------------------------------------------------------------
    def discriminator_losses(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The discriminator's loss on one real batch and as many generated images; ``loss`` is minimised."""
        real, labels = batch[0], (batch[1] if len(batch) > 1 else None)
        draw = self.condition(len(real))
        with torch.no_grad():
            fake_images = self.generate(draw)
        real_out, fake_out = self.discriminate(real, labels), self.discriminate(fake_images, draw.labels)
        terms = {"adversarial_loss": self.adversarial_loss.discriminator_loss(real_out.logits, fake_out.logits)}
        if self.adversarial_loss.uses_penalty:
            terms["gradient_penalty"] = self.adversarial_loss.penalty(
                lambda x: self.discriminate(x, labels).logits, real, fake_images)
        terms.update(self.extra_losses("discriminator", real_out, labels, fake_out, draw))
        return {"loss": sum(terms.values()), **terms, "real_score": real_out.logits.detach().float().mean(),
                "fake_score": fake_out.logits.detach().float().mean()}

    def generator_losses(self, batch: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """The generator's loss on as many generated images as the real batch; ``loss`` is minimised."""
        draw = self.condition(len(batch[0]))
        fake_out = self.discriminate(self.generate(draw), draw.labels)
        terms = {"adversarial_loss": self.adversarial_loss.generator_loss(fake_out.logits)}
        terms.update(self.extra_losses("generator", None, None, fake_out, draw))
        return {"loss": sum(terms.values()), **terms}

    # --- the loop ----------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        super().on_fit_start()
        self._data_range_checked = False

    def on_train_batch_start(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        if not self._data_range_checked:  # once per fit: one host sync
            self.check_data_range(batch)
            self._data_range_checked = True

    def check_data_range(self, batch: tuple[Tensor, ...]) -> None:
        """Refuse real images outside the generator's output range, or in its upper half only (0–1 data for
        a tanh generator): the discriminator would tell real from generated by the range alone."""
        low, high = self.data_range
        mode = {(-1.0, 1.0): "symmetric_range", (0.0, 1.0): "unit_range"}.get((low, high))
        fix = f"normalization: {mode}" if mode else "a normalization that maps the images into that range"
        tolerance = 0.01 * (high - low)  # resampling may overshoot the fitted range a little
        for images in batch:  # every image tensor of the batch (CycleGAN's two domains), labels skipped
            if not (isinstance(images, Tensor) and images.ndim == 4):
                continue
            if not images.is_floating_point():
                raise DataValidationError(
                    f"{type(self).__name__}'s generator makes floating-point images in [{low:g}, {high:g}], but the "
                    f"real images of the first training batch are {images.dtype} (raw pixels?). Set the DataModule's "
                    f"{fix}.")
            smallest, largest = (value.item() for value in images.detach().aminmax())
            if smallest < low - tolerance or largest > high + tolerance or smallest >= (low + high) / 2:
                raise DataValidationError(
                    f"{type(self).__name__}'s generator makes images in [{low:g}, {high:g}], but the real images of "
                    f"the first training batch range from {smallest:.3g} to {largest:.3g}: the discriminator could "
                    f"tell them apart by their range. Set the DataModule's {fix}.")

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        generator_optimizer, discriminator_optimizer = self.optimizers()[:2]  # a variant may add more (StackedGAN)
        self._optimise("discriminator", discriminator_optimizer, self.discriminator, batch)
        self.discriminator_steps += 1
        if self.adversarial_loss.clip_value is not None:
            with torch.no_grad():
                for parameter in self.discriminator.parameters():
                    parameter.clamp_(-self.adversarial_loss.clip_value, self.adversarial_loss.clip_value)
        if self.discriminator_steps % self.n_critic == 0:
            self._optimise("generator", generator_optimizer, self.generator, batch)
            self.generator_steps += 1
            if self.generator_average is not None:
                self.generator_average.update_parameters(self.generator)
            if self.max_generator_steps is not None and self.generator_steps >= self.max_generator_steps:
                self.trainer.should_stop = True
        self.log_step("train/discriminator_steps", self.discriminator_steps.float())
        self.log_step("train/generator_steps", self.generator_steps.float())

    def _optimise(self, phase: Phase, optimizer: Any, network: nn.Module, batch: tuple[Tensor, ...]) -> None:
        """One step of one network, the other frozen (``toggle_optimizer``)."""
        self.toggle_optimizer(optimizer)
        losses = (self.discriminator_losses if phase == "discriminator" else self.generator_losses)(batch)
        loss = losses.pop("loss")
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"The {phase} loss is {loss.item()} at {phase} step {int(getattr(self, f'{phase}_steps')) + 1} "
                f"(epoch {self.current_epoch}, batch {self.trainer.fit_loop.epoch_loop.batch_idx})"
                f"; terms: { {k: round(v.item(), 4) for k, v in losses.items()} }. Lower the learning rates, clip "
                "gradients (gradient_clip_val) or check the data's range.")
        self.manual_backward(loss)
        if self.gradient_clip_val is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self.untoggle_optimizer(optimizer)
        self._step_schedulers_of(optimizer)
        batch_size = len(batch[0])
        self.track("train", f"{phase}_loss", loss, batch_size)
        self.log_step(f"train/{phase}_loss_step", loss, prog_bar=True)
        for name, value in losses.items():
            self.track("train", f"{phase}_{name}", value, batch_size)

    def _step_schedulers_of(self, optimizer: Any) -> None:
        """Step the per-batch schedulers of this optimiser (under manual optimisation Lightning does not)."""
        optimizer = getattr(optimizer, "optimizer", optimizer)  # Lightning's wrapper
        for config in self.trainer.lr_scheduler_configs:
            if config.interval == "step" and config.scheduler.optimizer is optimizer:
                config.scheduler.step()

    def configure_optimizers(self) -> list[dict[str, Any]]:
        generator = self.build_optimization(self.generator.parameters(), self.generator_optimizer,
                                            self.generator_lr_scheduler, 1 / self.n_critic)
        discriminator = self.build_optimization(self.discriminator.parameters(), self.discriminator_optimizer,
                                                self.discriminator_lr_scheduler)
        return [generator, discriminator]

    # --- sampling ----------------------------------------------------------------------------------
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for samples and evaluation: the weight average when there is one."""
        return self.generator if self.generator_average is None else self.generator_average.module

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor | None = None, latent: Tensor | None = None, **codes: Tensor) -> Tensor:
        """``n`` generated images (of the classes ``labels``, for conditional GANs), in eval mode; ``latent``
        replaces the drawn noise and ``codes`` go to the variant's :meth:`condition` (InfoGAN's ``continuous``)."""
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()
        draw = self.condition(n, labels, **codes)  # conditions are moved to the model's device there
        if latent is not None:
            draw.latent = latent.to(self.device)
        images = self.generate(draw, generator)
        generator.train(was_training)
        return images

    @staticmethod
    def to_display(images: Tensor) -> Tensor:
        """Generated images (tanh outputs in [-1, 1]) as values in [0, 1] for showing."""
        return (images + 1) / 2

    def sample_grids(self) -> dict[str, Tensor]:
        """Named image grids (values in [0, 1]) for the :class:`~lightning_dl.callbacks.SampleGrid` callback:
        the fixed noise (the same images every epoch) and walks between pairs of noise vectors (one a row)."""
        fixed = self.to_display(self.sample(len(self.sample_latent), self.sample_labels, self.sample_latent))
        if len(self.sample_latent) < 20:
            return {"samples": fixed}
        ends = self.sample_latent[:20].view(2, 10, -1)
        steps = torch.linspace(0, 1, 10, device=self.device)[:, None, None]
        walk = ((1 - steps) * ends[0] + steps * ends[1]).transpose(0, 1).reshape(100, -1)
        walk_labels = self.sample_labels[:10].repeat_interleave(10)
        return {"samples": fixed, "interpolation": self.to_display(self.sample(100, walk_labels, walk))}

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """As many generated images as the batch holds (of its classes, for conditional GANs)."""
        return self.sample(len(batch[0]), batch[1] if len(batch) > 1 else None)


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """Float one-hot vectors of class indices."""
    return F.one_hot(labels, num_classes).float()
