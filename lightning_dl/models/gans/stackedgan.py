"""StackedGAN (Huang et al. 2017): a stack of GANs that inverts a pretrained classifier level by level."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import OptimizerCallable
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, NonFiniteLossError
from lightning_dl.models.gans.base import GAN
from lightning_dl.models.gans.cgan import ConditionalObjective
from lightning_dl.models.gans.objective import Batch, Draw, real_labels, require_labels, to_display
from lightning_dl.nn.base import NetworkFactory
from lightning_dl.nn.discriminators import Discriminator
from lightning_dl.nn.stacked_gan import (
    StackedEncoder,
    StackedFeatureDiscriminator,
    StackedFeatureGenerator,
    StackedImageDiscriminator,
    StackedImageGenerator,
)

TrainingPhase = Literal["encoder", "independent", "joint"]
Level = Literal["feature", "image"]
PHASES: tuple[TrainingPhase, ...] = ("encoder", "independent", "joint")


class StackedObjective(ConditionalObjective):
    """The encoder (``encoder``), both levels' generators and discriminators (``feature``, ``image``), and their
    adversarial, entropy and conditional terms; the noise ``z`` of the base is ``[z0, z1]``, so the fixed sample
    noise and the weight average serve both levels. See :class:`StackedGAN`."""

    def __init__(self, encoder: NetworkFactory, feature_generator: Callable[..., nn.Module],
                 feature_discriminator: Callable[..., Discriminator], encoder_checkpoint: str | None,
                 latent_dims: dict[Level, int], loss_weights: dict[Level, tuple[float, float, float]],
                 noise_scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder_factory, self.encoder_checkpoint = encoder, encoder_checkpoint
        self.feature_generator_factory, self.feature_discriminator_factory = feature_generator, feature_discriminator
        self.latent_dims, self.loss_weights, self.noise_scale = latent_dims, loss_weights, noise_scale

    def build(self) -> dict[str, nn.Module | Tensor]:
        """The encoder (trained weights loaded from ``encoder_checkpoint``), then both levels' networks."""
        encoder = self.encoder_factory(self.input_shape, self.num_classes)
        if self.encoder_checkpoint:
            load_encoder(encoder, self.encoder_checkpoint)
        feature_dim, latent = encoder.num_features, self.latent_dims
        generators = nn.ModuleDict({
            "feature": self.feature_generator_factory(feature_dim=feature_dim, latent_dim=latent["feature"],
                                                      num_classes=self.num_classes),
            "image": self.generator_factory(image_shape=self.input_shape, latent_dim=latent["image"],
                                            feature_dim=feature_dim)})
        discriminators = nn.ModuleDict({
            "feature": self.feature_discriminator_factory(feature_dim=feature_dim, latent_dim=latent["feature"]),
            "image": self.discriminator_factory(image_shape=self.input_shape, latent_dim=latent["image"])})
        return {"encoder": encoder, "generator": generators, "discriminator": discriminators, **self.sample_inputs()}

    @property
    def joint(self) -> bool:
        """Whether Generator0 reads Generator1's features (the joint phase) rather than the real images' ones."""
        return self.gan.training_phase == "joint"

    def split_latent(self, latent: Tensor) -> tuple[Tensor, Tensor]:
        """``(z0, z1)`` from the base's standard-normal noise, scaled to ``noise_scale``."""
        image_latent, feature_latent = (self.noise_scale * latent).split(
            [self.latent_dims["image"], self.latent_dims["feature"]], dim=1)
        return image_latent, feature_latent

    def generate(self, draw: Draw, generator: nn.Module) -> Tensor:
        """Images from labels end to end: Generator1 makes f1 from ``(y, z1)``, Generator0 an image from
        ``(f1, z0)``."""
        image_latent, feature_latent = self.split_latent(draw.latent)
        return generator["image"](image_latent, generator["feature"](feature_latent, draw.condition))

    def discriminator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Both discriminators' losses: real vs generated features (level 1) and images (level 0), each with
        its code head's noise reconstruction on the generated ones."""
        images, labels = batch[0], require_labels(real_labels(batch))
        generator, encoder, adversarial = self.gan.generator, self.gan.encoder, self.gan.adversarial_loss
        draw = self.condition(len(images), labels)
        image_latent, feature_latent = self.split_latent(draw.latent)
        with torch.no_grad():
            real_features = encoder.features(images)
            fake_features = generator["feature"](feature_latent, draw.condition)
            fake_images = generator["image"](image_latent, fake_features if self.joint else real_features)
        terms, scores = {}, {}
        for level, real, fake, latent in (("feature", real_features, fake_features, feature_latent),
                                          ("image", images, fake_images, image_latent)):
            discriminator, (adversarial_weight, entropy_weight, _) = self.gan.discriminator[level], self.loss_weights[level]
            real_out, fake_out = discriminator.forward_all(real), discriminator.forward_all(fake)
            loss = adversarial.discriminator_loss(real_out.logits, fake_out.logits)
            if adversarial.uses_penalty:
                loss = loss + adversarial.penalty(discriminator, real, fake)
            terms[f"{level}_adversarial_loss"] = adversarial_weight * loss
            terms[f"{level}_entropy_loss"] = entropy_weight * F.mse_loss(fake_out.codes.continuous_mean.float(), latent)
            scores[f"{level}_real_score"] = real_out.logits.detach().float().mean()
            scores[f"{level}_fake_score"] = fake_out.logits.detach().float().mean()
        return {"loss": sum(terms.values()), **terms, **scores}

    def generator_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Both generators' adversarial, entropy and conditional losses. Generator1 is conditioned on the real
        batch's labels; Generator0 on Encoder0's features of the real images (independent phase) or on
        Generator1's features, with gradients flowing into Generator1 (joint phase)."""
        images, labels = batch[0], require_labels(real_labels(batch))
        generator, encoder = self.gan.generator, self.gan.encoder
        draw = self.condition(len(images), labels)
        image_latent, feature_latent = self.split_latent(draw.latent)
        fake_features = generator["feature"](feature_latent, draw.condition)
        terms = self._generator_terms("feature", fake_features, feature_latent,
                                      F.cross_entropy(encoder.head(fake_features).float(), labels))
        if self.joint:
            conditions = fake_features
        else:
            with torch.no_grad():
                conditions = encoder.features(images)
        fake_images = generator["image"](image_latent, conditions)
        reconstructed = encoder.features(fake_images).float()
        terms |= self._generator_terms("image", fake_images, image_latent,
                                       F.mse_loss(reconstructed, conditions.detach().float()))
        return {"loss": sum(terms.values()), **terms}

    def _generator_terms(self, level: Level, fake: Tensor, latent: Tensor, conditional: Tensor) -> dict[str, Tensor]:
        """One level's weighted adversarial, entropy and conditional terms for its generator."""
        outputs = self.gan.discriminator[level].forward_all(fake)
        adversarial_weight, entropy_weight, conditional_weight = self.loss_weights[level]
        return {f"{level}_adversarial_loss": adversarial_weight * self.gan.adversarial_loss.generator_loss(outputs.logits),
                f"{level}_entropy_loss": entropy_weight * F.mse_loss(outputs.codes.continuous_mean.float(), latent),
                f"{level}_conditional_loss": conditional_weight * conditional}

    def sample_grids(self, generator: nn.Module) -> dict[str, Tensor]:
        """Grids in [0, 1] with one row per class and 10 columns: ``samples`` (a different ``[z0, z1]`` per
        column), ``feature_noise`` (only ``z1`` varies: the coarse shape) and ``image_noise`` (only ``z0``
        varies: the details)."""
        columns, rows, sample_latent = 10, self.num_classes, self.gan.sample_latent
        labels = torch.arange(rows, device=sample_latent.device).repeat_interleave(columns)
        columns_of_noise = torch.arange(columns * rows, device=sample_latent.device) % min(columns, len(sample_latent))
        noise = sample_latent[columns_of_noise]
        split = self.latent_dims["image"]
        grids = {"samples": noise}
        for name, varying in (("feature_noise", slice(split, None)), ("image_noise", slice(None, split))):
            fixed = sample_latent[:1].expand_as(noise).clone()
            fixed[:, varying] = noise[:, varying]
            grids[name] = fixed
        return {name: to_display(self.sample(generator, len(latent), labels, latent)) for name, latent in grids.items()}


class StackedGAN(GAN):
    """StackedGAN: a classifier (the encoder) is split into Encoder0 (image → feature f1) and Encoder1
    (f1 → class), and one GAN learns to invert each level. Generator1 turns a class ``y`` and noise ``z1``
    into a feature f1, judged by Discriminator1 against Encoder0's features of real images; Generator0 turns
    f1 and noise ``z0`` into an image, judged by Discriminator0 against real images. Each level's generator
    minimises three weighted terms (``[adversarial, entropy, conditional]``):

    - adversarial: fool its discriminator;
    - entropy: its discriminator's code head must recover the noise from the output (MSE), so the noise is
      not ignored; the discriminator minimises it too, beside its adversarial loss;
    - conditional: the frozen encoder must map the output back to the condition: Encoder1(fake f1) vs
      ``y`` (cross-entropy), Encoder0(fake image) vs f1 (MSE).

    The reference (Keras) weights are ``[1, 1, 1]`` for the feature level and ``[1, 10, 1]`` for the image
    level. Training runs in phases, by epoch: ``encoder`` (the encoder learns the classes with
    cross-entropy, unless it comes trained from ``encoder_checkpoint``), ``independent`` (each generator
    reads real inputs: Generator1 real labels, Generator0 Encoder0's features of real images) and ``joint``
    (Generator0 reads Generator1's features; trained end to end). The encoder is frozen after its phase.
    ``self.generator`` and ``self.discriminator`` hold both levels (``feature``, ``image``), so the adversarial
    loop steps both generators with one optimiser and both discriminators with the other. ``sample(n, labels)``
    generates images of the given classes from labels end to end.

    Args:
        encoder: Builds the classifier from ``(input_shape, num_classes)`` like any classifier network; its
            ``features`` (flat) are Encoder0 and its ``head`` Encoder1.
        feature_generator: Builds Generator1 from ``feature_dim``, ``latent_dim`` and ``num_classes``.
        image_generator: Builds Generator0 from ``image_shape``, ``latent_dim`` and ``feature_dim``.
        feature_discriminator: Builds Discriminator1 (with a ``code_head``) from ``feature_dim``, ``latent_dim``.
        image_discriminator: Builds Discriminator0 (with a ``code_head``) from ``image_shape``, ``latent_dim``.
        encoder_checkpoint: A checkpoint of a ``Classifier`` whose network is the encoder (or of a
            StackedGAN), or a file of its ``state_dict``; its weights are loaded. Read as weights only (no
            code runs): a file holding Python objects (a checkpoint of a module built in Python with partials
            among its hyperparameters) is refused; train the encoder with ``lightning-dl fit``, or save
            ``{"state_dict": classifier.state_dict()}`` with ``torch.save``.
        encoder_epochs: Epochs of encoder training before the GANs (default: 0 with a checkpoint, else 2).
        encoder_optimizer: The encoder's optimiser; default Adam(1e-3).
        independent_epochs: GAN epochs of independent training before the joint phase; None: never joint.
        feature_loss_weights: Weights of Generator1's adversarial, entropy and conditional losses (the
            discriminator uses the first two).
        image_loss_weights: The same for Generator0 and Discriminator0.
        feature_latent_dim: Size of ``z1``.
        image_latent_dim: Size of ``z0``.
        noise_scale: Standard deviation of ``z0`` and ``z1`` (0.5 in the reference).
        **kwargs: The other arguments of :class:`GAN` (``input_shape``, ``num_classes``, the adversarial
            loss, optimisers, EMA, ...).
    """

    objective: StackedObjective
    encoder: nn.Module

    def __init__(self, encoder: NetworkFactory = StackedEncoder,
                 feature_generator: Callable[..., nn.Module] = StackedFeatureGenerator,
                 image_generator: Callable[..., nn.Module] = StackedImageGenerator,
                 feature_discriminator: Callable[..., Discriminator] = StackedFeatureDiscriminator,
                 image_discriminator: Callable[..., Discriminator] = StackedImageDiscriminator,
                 encoder_checkpoint: str | None = None, encoder_epochs: int | None = None,
                 encoder_optimizer: OptimizerCallable | None = None, independent_epochs: int | None = None,
                 feature_loss_weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                 image_loss_weights: tuple[float, float, float] = (1.0, 10.0, 1.0),
                 feature_latent_dim: int = 50, image_latent_dim: int = 50, noise_scale: float = 0.5,
                 **kwargs: Any) -> None:
        encoder_epochs = (0 if encoder_checkpoint else 2) if encoder_epochs is None else encoder_epochs
        if encoder_epochs < 0 or (independent_epochs or 0) < 0:
            raise ConfigurationError("encoder_epochs and independent_epochs must be non-negative.")
        if not encoder_checkpoint and not encoder_epochs:
            raise ConfigurationError("StackedGAN needs a trained encoder: give encoder_checkpoint (a Classifier "
                                     "checkpoint whose network is a StackedEncoder) or encoder_epochs > 0.")
        loss_weights = {"feature": tuple(feature_loss_weights), "image": tuple(image_loss_weights)}
        for level, weights in loss_weights.items():
            if len(weights) != 3:
                raise ConfigurationError(f"{level}_loss_weights needs 3 weights (adversarial, entropy, conditional), "
                                         f"got {weights}.")
        objective = functools.partial(
            StackedObjective, encoder=encoder, feature_generator=feature_generator,
            feature_discriminator=feature_discriminator, encoder_checkpoint=encoder_checkpoint,
            latent_dims={"image": image_latent_dim, "feature": feature_latent_dim}, loss_weights=loss_weights,
            noise_scale=noise_scale)
        super().__init__(generator=image_generator, discriminator=image_discriminator,
                         latent_dim=image_latent_dim + feature_latent_dim, objective=objective, **kwargs)
        self.encoder_epochs, self.independent_epochs = encoder_epochs, independent_epochs
        self.encoder_optimizer = encoder_optimizer or torch.optim.Adam
        self.encoder_frozen = False
        if not encoder_epochs:
            self.freeze_encoder()

    # --- phases and the encoder ---------------------------------------------------------------------
    @property
    def training_phase(self) -> TrainingPhase:
        """``encoder``, ``independent`` or ``joint``, by the current epoch."""
        epoch = self.current_epoch
        if epoch < self.encoder_epochs:
            return "encoder"
        if self.independent_epochs is not None and epoch >= self.encoder_epochs + self.independent_epochs:
            return "joint"
        return "independent"

    def freeze_encoder(self) -> None:
        """Stop training the encoder: no gradients, evaluation mode (kept by :meth:`train`)."""
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self.encoder_frozen = True

    def train(self, mode: bool = True) -> StackedGAN:
        super().train(mode)
        if getattr(self, "encoder_frozen", False):
            self.encoder.eval()
        return self

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        phase = self.training_phase
        if phase != "encoder" and not self.encoder_frozen:
            self.freeze_encoder()
        rank_zero_info(f"StackedGAN epoch {self.current_epoch}: {phase} training"
                       + (" (Generator0 reads Generator1's features)" if phase == "joint" else ""))

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        phase = self.training_phase
        self.log_step("train/phase", torch.tensor(float(PHASES.index(phase))))
        if phase == "encoder":
            self.encoder_step(batch)
        else:
            super().training_step(batch, batch_idx)

    def encoder_step(self, batch: Batch) -> None:
        """One cross-entropy step of the encoder (a classifier) on a real batch."""
        optimizer = self.optimizers()[2]
        images, labels = batch[0], require_labels(real_labels(batch))
        logits = self.encoder(images).float()
        loss = F.cross_entropy(logits, labels)
        if not torch.isfinite(loss):
            raise NonFiniteLossError(f"The encoder loss is {loss.item()} at epoch {self.current_epoch}; lower the "
                                     "encoder's learning rate or check the data's range.")
        self.manual_backward(loss)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        self.track("train", "encoder_loss", loss, len(images))
        self.track("train", "encoder_accuracy", (logits.argmax(1) == labels).float().mean(), len(images))
        self.log_step("train/encoder_loss_step", loss, prog_bar=True)

    def configure_optimizers(self) -> list[dict[str, Any]]:
        optimization = super().configure_optimizers()  # [generators, discriminators]
        if self.encoder_epochs:
            optimization.append(self.build_optimization(self.encoder.parameters(), self.encoder_optimizer))
        return optimization


def load_encoder(encoder: nn.Module, checkpoint: str) -> None:
    """Load a Classifier checkpoint's network (``network.*``), a StackedGAN's encoder (``encoder.*``), or either
    from a file of a ``state_dict``. The file is read as weights only (``weights_only=True``): no code it
    carries runs; one that cannot be read that way is refused."""
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"encoder_checkpoint {checkpoint} does not exist; train a Classifier with network "
                                "StackedEncoder first, or set encoder_epochs to train the encoder here.")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as error:
        raise ConfigurationError(
            f"encoder_checkpoint {checkpoint} cannot be read as weights only, so it is not loaded (a file that "
            "holds Python objects could run code when loaded). A checkpoint of `lightning-dl fit` can be read; for "
            "a Classifier built in Python, save its weights: torch.save({'state_dict': classifier.state_dict()}, "
            f"path). ({unpickling_reason(error)})") from error
    state = stored.get("state_dict", stored) if isinstance(stored, dict) else {}
    for prefix in ("network.", "encoder."):
        weights = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
        if weights:
            try:
                encoder.load_state_dict(weights)
            except RuntimeError as error:
                raise ConfigurationError(f"The network in {checkpoint} does not fit the encoder "
                                         f"{type(encoder).__name__} built here (same arguments needed): {error}"
                                         ) from error
            return
    raise ConfigurationError(f"{checkpoint} holds no network.* (Classifier) or encoder.* (StackedGAN) weights.")


def unpickling_reason(error: Exception) -> str:
    """The line of a ``torch.load`` error that says why (the global it refused), else the error's type."""
    lines = [line.strip() for line in str(error).splitlines() if "WeightsUnpickler error" in line]
    return lines[0].split(". Please use")[0] if lines else f"{type(error).__name__}: {str(error)[:200]}"
