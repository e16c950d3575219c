"""The one adversarial training loop every GAN here shares.

Each training batch is one **discriminator step** on its own real images; every ``n_critic``-th
discriminator step is followed by one **generator step**. Both use manual optimisation:

- discriminator step: the objective's discriminator loss (its adversarial loss, gradient penalty and extra
  terms; generated images made under ``no_grad``) is back-propagated and its optimiser stepped; gradients are
  clipped by norm if asked and weights clipped to ``±clip_value`` for WGAN;
- generator step: ``toggle_optimizer`` freezes the discriminator (its weights receive no gradient and do
  not change), the objective's generator loss is back-propagated and its optimiser stepped, then the
  discriminator is unfrozen. An exponential moving average of the generator's weights is updated if asked.

``global_step`` counts every optimizer step, so the module keeps its own counters, ``discriminator_steps``
and ``generator_steps``: buffers, so they are checkpointed, logged, and ``max_generator_steps`` stops the
run. The schedule is counted by them, not by the batch index, so a resumed run continues it exactly.

What a variant changes lives in its :class:`~lightning_dl.models.gans.objective.Objective`; a variant's
module only turns its arguments into an objective and hands it to this loop.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from typing import Any, Iterator

import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from lightning_dl import lightning_internals
from lightning_dl.errors import ConfigurationError, DataValidationError, NonFiniteLossError
from lightning_dl.models.base import BaseModule
from lightning_dl.models.gans.average import GeneratorAverage
from lightning_dl.models.gans.objective import Batch, Objective, Phase, real_labels, to_display
from lightning_dl.nn.adversarial import AdversarialLoss, NonSaturatingLoss


def default_optimizer(lr: float) -> OptimizerCallable:
    """Adam with β₁ = 0.5, the DCGAN paper's choice."""
    return functools.partial(torch.optim.Adam, lr=lr, betas=(0.5, 0.999))


def outermost_init_frame(module: nn.Module) -> types.FrameType | None:
    """The frame of the ``__init__`` of the class that was instantiated (the last one up the stack building
    ``module``): its arguments are the module's hyperparameters, not the values it passed to its bases."""
    frame, outermost = inspect.currentframe(), None
    while frame is not None:
        if frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is module:
            outermost = frame
        frame = frame.f_back
    return outermost


class AdversarialLoop(BaseModule):
    """The adversarial loop (see the module docstring) around an objective that says what the players are
    and what each minimises. Monitors nothing, so the CLI checkpoints periodically and never stops early.
    Logged: ``train/discriminator_loss`` and ``train/generator_loss`` (per step and ``_epoch``), each further
    term of the objective (``train/<player>_<term>``) and the step counters.

    The hyperparameters are the arguments of the class that was instantiated, as given: what a variant passes
    on to this loop (its objective, settings it fixes) is not among them.

    Args:
        objective: The variant: its networks, losses and samples.
        adversarial_loss: ``NonSaturatingLoss`` (DCGAN), ``LeastSquaresLoss``, ``WassersteinLoss``,
            ``WassersteinGradientPenaltyLoss`` or ``HingeLoss``; default non-saturating.
        n_critic: Discriminator steps per generator step (5 for WGAN).
        generator_optimizer: The generator's optimiser; default Adam(2e-4, β₁ 0.5).
        discriminator_optimizer: The discriminator's optimiser; default Adam(2e-4, β₁ 0.5).
        generator_lr_scheduler: The generator's scheduler, if any.
        discriminator_lr_scheduler: The discriminator's scheduler, if any.
        gradient_clip_val: Clip each network's gradient norm to this before its step (None: no clipping).
        ema_decay: Keep an exponential moving average of the generator's weights with this decay (e.g.
            0.999, warmed up from ~0.1 over the first thousands of steps) and sample from it; None: no average.
        max_generator_steps: Stop training after this many generator steps.
    """

    monitor = None
    #: The range of the generator's output activation (tanh), which real images must come in.
    data_range: tuple[float, float] = (-1.0, 1.0)
    generator: nn.Module
    discriminator: nn.Module

    def __init__(
        self,
        objective: Objective,
        adversarial_loss: AdversarialLoss | None = None,
        n_critic: int = 1,
        generator_optimizer: OptimizerCallable | None = None,
        discriminator_optimizer: OptimizerCallable | None = None,
        generator_lr_scheduler: LRSchedulerCallable | None = None,
        discriminator_lr_scheduler: LRSchedulerCallable | None = None,
        gradient_clip_val: float | None = None,
        ema_decay: float | None = None,
        max_generator_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(frame=outermost_init_frame(self))
        self.automatic_optimization = False
        if n_critic < 1:
            raise ConfigurationError(f"n_critic={n_critic}: the discriminator must take at least one step per "
                                     "generator step.")
        if ema_decay is not None and not 0 < ema_decay < 1:
            raise ConfigurationError(f"ema_decay={ema_decay} must lie strictly between 0 and 1 (typically 0.999).")
        self.n_critic, self.gradient_clip_val, self.max_generator_steps = n_critic, gradient_clip_val, max_generator_steps
        self.adversarial_loss = adversarial_loss or NonSaturatingLoss()
        self.generator_optimizer = generator_optimizer or default_optimizer(2e-4)
        self.discriminator_optimizer = discriminator_optimizer or default_optimizer(2e-4)
        self.generator_lr_scheduler, self.discriminator_lr_scheduler = generator_lr_scheduler, discriminator_lr_scheduler
        for name, part in objective.build().items():
            if isinstance(part, Tensor):
                self.register_buffer(name, part)
            else:
                self.add_module(name, part)
        self.objective = objective
        objective.gan = self
        self.generator_average = None if ema_decay is None else GeneratorAverage(self.generator, ema_decay)
        self.register_buffer("discriminator_steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("generator_steps", torch.zeros((), dtype=torch.long))

    # --- what each player minimises: the objective's -------------------------------------------------
    def discriminator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """The discriminator's loss on one real batch and as many generated images; ``loss`` is minimised."""
        return self.objective.discriminator_losses(batch)

    def generator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """The generator's loss on as many generated images as the real batch; ``loss`` is minimised."""
        return self.objective.generator_losses(batch)

    # --- the loop ----------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        super().on_fit_start()
        self._data_range_checked = False

    def on_train_batch_start(self, batch: Batch, batch_idx: int) -> None:
        if not self._data_range_checked:  # once per fit: one host sync
            self.check_data_range(batch)
            self._data_range_checked = True

    def check_data_range(self, batch: Batch) -> None:
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

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        generator_optimizer, discriminator_optimizer = self.optimizers()[:2]  # a variant may add more (StackedGAN)
        self._optimise("discriminator", discriminator_optimizer, batch)
        self.discriminator_steps += 1
        if self.adversarial_loss.clip_value is not None:
            with torch.no_grad():
                for parameter in self.discriminator.parameters():
                    parameter.clamp_(-self.adversarial_loss.clip_value, self.adversarial_loss.clip_value)
        if self.discriminator_steps % self.n_critic == 0:
            self._optimise("generator", generator_optimizer, batch)
            self.generator_steps += 1
            if self.generator_average is not None:
                self.generator_average.update_parameters(self.generator)
            if self.max_generator_steps is not None and self.generator_steps >= self.max_generator_steps:
                self.trainer.should_stop = True
        self.log_step("train/discriminator_steps", self.discriminator_steps.float())
        self.log_step("train/generator_steps", self.generator_steps.float())

    def _optimise(self, phase: Phase, optimizer: Any, batch: Batch) -> None:
        """One step of one player, the other frozen (``toggle_optimizer``)."""
        self.toggle_optimizer(optimizer)
        losses = (self.discriminator_losses if phase == "discriminator" else self.generator_losses)(batch)
        loss = losses.pop("loss")
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"The {phase} loss is {loss.item()} at {phase} step {int(getattr(self, f'{phase}_steps')) + 1} "
                f"(epoch {self.current_epoch}, batch {lightning_internals.training_batch_index(self.trainer)})"
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

    @contextlib.contextmanager
    def sampling(self) -> Iterator[nn.Module]:
        """The sampling generator, in eval mode and without gradients for the ``with`` block."""
        generator = self.sampling_generator
        was_training = generator.training
        generator.eval()
        try:
            with torch.no_grad():
                yield generator
        finally:
            generator.train(was_training)

    def sample(self, n: int, labels: Tensor | None = None, latent: Tensor | None = None) -> Tensor:
        """``n`` generated images (of the classes ``labels``, for conditional GANs; from the noise ``latent``
        instead of drawn noise, where there is noise), by the sampling generator in eval mode."""
        with self.sampling() as generator:
            return self.objective.sample(generator, n, labels, latent)

    to_display = staticmethod(to_display)

    def sample_grids(self) -> dict[str, Tensor]:
        """Named image grids (values in [0, 1]) for the :class:`~lightning_dl.callbacks.SampleGrid` callback."""
        with self.sampling() as generator:
            return self.objective.sample_grids(generator)

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        """As many generated images as the batch holds (of its classes, for conditional GANs)."""
        return self.sample(len(batch[0]), real_labels(batch))
