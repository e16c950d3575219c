"""Autoencoders: a convolutional encoder to a latent vector and its mirrored decoder, trained to give back
the clean image.

One module, :class:`Autoencoder`, serves the plain, 2-D latent, denoising and colourising variants: they differ
only in ``latent_dim`` and in the ``corruption`` that turns the target into the input (none, Gaussian noise,
colour to grey). :class:`ClassifierAutoencoder` adds a classification head on the latent vector, trained
jointly; :class:`~lightning_dl.models.VariationalAutoencoder` (``models/vae.py``) makes the latent vector a
Gaussian posterior. Batches are ``(images,)`` or ``(images, labels)``, images in [0, 1] (the decoder's sigmoid
range: ``normalization: unit_range``).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MeanSquaredError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.models.base import BaseModule, Stage
from lightning_dl.nn.autoencoders import ConvDecoder, ConvEncoder, Corruption

#: How far outside [0, 1] a pixel may lie before the data is called wrongly scaled.
RANGE_TOLERANCE = 0.05


def psnr_from_mse(mse: Tensor | float, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio in dB of a mean squared error, for pixels spanning ``data_range``."""
    mse = torch.as_tensor(mse, dtype=torch.float32)
    return 10 * torch.log10(data_range ** 2 / mse)


class Autoencoder(BaseModule):
    """A convolutional autoencoder: ``encode`` (stride-2 convolutions with ``layer_filters``, then a dense layer
    to ``latent_dim`` values) and ``decode`` (the mirror image, transposed convolutions, sigmoid output), trained
    with the mean squared error to the clean image (the Gaussian-decoder assumption).

    The variants are settings of this one class: ``latent_dim: 2`` for the latent plots (with the
    :class:`~lightning_dl.callbacks.LatentPlots` callback), ``corruption: GaussianNoise`` for a denoising
    autoencoder, ``corruption: Greyscale`` for colourisation (grey in, colour out). The input is
    ``corruption(target)``, drawn anew every batch.

    Logged per stage: ``stage/loss`` (MSE), ``stage/mse`` and ``stage/psnr`` (torchmetrics, PSNR in dB over the
    stage's pixels), and with a corruption ``stage/input_psnr``: the PSNR of the corrupted input itself (grey
    repeated over the colour channels), the baseline the model must beat. ``sample_grids()`` gives the
    :class:`~lightning_dl.callbacks.SampleGrid` callback a ``reconstruction`` grid: rows of inputs, targets and
    outputs of fixed validation images (the first training images without validation). Monitors ``val/loss``.

    Args:
        input_shape: ``(C, H, W)`` of the clean images; the CLI links it from the DataModule.
        latent_dim: Size of the latent vector (16 in the Keras reference; 2 for the latent plots).
        layer_filters: Channels of the encoder's stride-2 convolutions (the decoder mirrors them).
        kernel_size: Side of every kernel (odd).
        corruption: What makes the input from the clean target: ``lightning_dl.nn.GaussianNoise`` (denoising),
            ``lightning_dl.nn.Greyscale`` (colourisation); none for a plain autoencoder.
        class_names: Names of the classes (linked from the DataModule), for the latent scatter's legend.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler or ``lightning_dl.models.LinearWarmup``.
        num_samples: Images in each row of the reconstruction grid.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        latent_dim: int = 16,
        layer_filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        corruption: Corruption | None = None,
        class_names: Sequence[str] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        num_samples: int = 10,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim, self.layer_filters = latent_dim, list(layer_filters)
        self.corruption = corruption if corruption is not None else Corruption()
        self.class_names = tuple(class_names) if class_names else None
        self.optimizer, self.lr_scheduler, self.num_samples = optimizer, lr_scheduler, num_samples
        channels = self.corruption.output_channels(self.input_shape[0]) if len(self.input_shape) == 3 else 0
        self.encoded_shape = (channels, *self.input_shape[1:])
        self.encoder = self.build_encoder(kernel_size)
        self.decoder = ConvDecoder(self.input_shape, layer_filters, latent_dim, kernel_size)
        self.grid_images: tuple[Tensor, Tensor] | None = None  # (inputs, targets) shown by sample_grids
        self._grid_from_validation = False

    @property
    def corrupts(self) -> bool:
        """Whether the input differs from the target (denoising, colourisation)."""
        return type(self.corruption) is not Corruption

    def build_encoder(self, kernel_size: int, num_outputs: int = 0, latent_outputs: int = 1) -> ConvEncoder:
        """The encoder (a :class:`~lightning_dl.nn.Network`) for this module's inputs."""
        return ConvEncoder(self.encoded_shape, num_outputs, self.layer_filters, self.latent_dim, kernel_size,
                           latent_outputs)

    # --- the two halves, usable on their own --------------------------------------------------------
    def encode(self, inputs: Tensor) -> Tensor:
        """The latent vectors ``(N, latent_dim)`` of (already corrupted) inputs ``(N, C, H, W)``."""
        return self.encoder.forward_features(self.check_inputs(inputs))

    def decode(self, latent: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` in [0, 1] from latent vectors ``(N, latent_dim)``."""
        if latent.dim() != 2 or latent.shape[1] != self.latent_dim:
            raise DataValidationError(f"Latent vectors of shape {tuple(latent.shape)} given to a decoder of "
                                      f"latent_dim {self.latent_dim}; pass (N, {self.latent_dim}).")
        return self.decoder(latent)

    def forward(self, inputs: Tensor) -> Tensor:
        """The reconstruction of (already corrupted) inputs."""
        return self.decode(self.encode(inputs))

    def latent_codes(self, images: Tensor) -> Tensor:
        """The latent vectors of clean images: corrupted as in training (for the latent plots)."""
        return self.encode(self.corruption(images))

    def check_inputs(self, inputs: Tensor) -> Tensor:
        if inputs.dim() != 4 or tuple(inputs.shape[1:]) != self.encoded_shape:
            raise DataValidationError(
                f"Inputs of shape {tuple(inputs.shape)} given to an autoencoder whose encoder reads "
                f"(N, {', '.join(map(str, self.encoded_shape))}); match the DataModule (layout: image, image size, "
                "channels) to the model's input_shape.")
        return inputs

    def check_targets(self, images: Tensor, stage: str) -> None:
        """The clean images must have ``input_shape`` and lie in [0, 1] (looked at on a stage's first batch)."""
        if images.dim() != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise DataValidationError(f"{stage} images have shape {tuple(images.shape)} but the autoencoder was "
                                      f"built for (N, {', '.join(map(str, self.input_shape))}); use layout: image and "
                                      "the model's input_shape.")
        low, high = images.aminmax()
        if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            raise DataValidationError(
                f"{stage} images range over [{low.item():.3g}, {high.item():.3g}], but the decoder's sigmoid makes "
                "pixels in [0, 1]: set the DataModule's normalization: unit_range.")

    # --- training -----------------------------------------------------------------------------------
    def configure_metrics(self, stage: Stage) -> MetricCollection:
        return MetricCollection({"mse": MeanSquaredError(), "psnr": PeakSignalNoiseRatio(data_range=1.0)},
                                prefix=f"{stage}/")

    def baseline(self, inputs: Tensor) -> Tensor:
        """The corrupted input as a guess of the target (grey repeated over the colour channels)."""
        return inputs.expand(-1, self.input_shape[0], -1, -1) if inputs.shape[1] == 1 else inputs

    def reconstruct(self, inputs: Tensor, stage: str) -> tuple[Tensor, dict[str, Tensor]]:
        """The reconstruction of a batch of inputs and anything a loss needs besides it."""
        return self(inputs), {}

    def losses(self, outputs: Tensor, images: Tensor, labels: Tensor | None, extra: dict[str, Tensor],
               stage: Stage) -> Tensor:
        """The training objective of a batch; subclasses add terms and track them."""
        return F.mse_loss(outputs, images)

    def _step(self, batch: tuple[Tensor, ...], stage: Stage, batch_idx: int) -> Tensor:
        images, labels = batch[0], (batch[1] if len(batch) > 1 else None)
        if batch_idx == 0:
            self.check_targets(images, stage)
        inputs = self.corruption(images)
        outputs, extra = self.reconstruct(inputs, stage)
        loss = self.losses(outputs, images, labels, extra, stage)
        n = len(images)
        self.track(stage, "loss", loss, n)
        self.update_metrics(stage, outputs, images)
        if self.corrupts:
            self.track(stage, "input_mse", F.mse_loss(self.baseline(inputs), images), n)
        if self.grid_images is None or (stage == "val" and batch_idx == 0 and not self._grid_from_validation):
            # fixed images (and their noise): validation's first, else training's first until validation runs
            self.grid_images = (inputs[:self.num_samples].detach(), images[:self.num_samples].detach())
            self._grid_from_validation = stage == "val"
        return loss

    def epoch_values(self, stage: Stage) -> dict[str, Tensor]:
        values = super().epoch_values(stage)
        suffix = "_epoch" if stage == "train" else ""
        input_mse = values.pop(f"{stage}/input_mse{suffix}", None)
        if input_mse is not None:  # the pixels are equally many per image: the mean of the batch means is the MSE
            values[f"{stage}/input_psnr{suffix}"] = psnr_from_mse(input_mse)
        return values

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train", batch_idx)
        self.log_step("train/loss_step", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Reconstructions of the batch's (corrupted) images."""
        return self(self.corruption(batch[0]))

    def configure_optimizers(self) -> dict[str, Any]:
        return self.build_optimization(self.parameters(), self.optimizer, self.lr_scheduler)

    # --- pictures -----------------------------------------------------------------------------------
    def to_display(self, images: Tensor) -> Tensor:
        """Images with the target's channels (grey repeated), for a grid in [0, 1]."""
        return self.baseline(images).clamp(0, 1)

    @torch.no_grad()
    def sample_grids(self) -> dict[str, Tensor]:
        """``reconstruction``: a row of inputs, a row of targets and a row of outputs of fixed images (for
        :class:`~lightning_dl.callbacks.SampleGrid`; ``nrow`` should equal ``num_samples``)."""
        if self.grid_images is None:
            return {}
        inputs, targets = self.grid_images
        was_training = self.training
        self.eval()
        outputs = self(inputs)
        self.train(was_training)
        return {"reconstruction": torch.cat([self.to_display(inputs), targets, outputs])}


class ClassifierAutoencoder(Autoencoder):
    """An autoencoder whose latent vector also feeds a classification head: encoder, decoder and head trained
    jointly on ``classification_weight`` × cross-entropy + ``reconstruction_weight`` × MSE. Batches must carry
    integer labels (``label_format: integer``).

    Logged per stage, besides the autoencoder's: ``stage/accuracy``, ``stage/classification_loss`` and
    ``stage/reconstruction_loss`` (``stage/loss`` is the weighted sum). ``predict`` returns class probabilities.

    Args:
        input_shape: ``(C, H, W)`` of the images; linked from the DataModule.
        num_classes: Classes of the head; linked from the DataModule.
        classification_weight: Weight of the cross-entropy.
        reconstruction_weight: Weight of the mean squared error.
        latent_dim: Size of the latent vector.
        layer_filters: Channels of the encoder's stride-2 convolutions.
        kernel_size: Side of every kernel.
        corruption: Optional corruption of the input (see :class:`Autoencoder`).
        class_names: Names of the classes.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any scheduler.
        num_samples: Images in each row of the reconstruction grid.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        classification_weight: float = 1.0,
        reconstruction_weight: float = 1.0,
        latent_dim: int = 16,
        layer_filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        corruption: Corruption | None = None,
        class_names: Sequence[str] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        num_samples: int = 10,
    ) -> None:
        if num_classes < 2:
            raise ConfigurationError(f"A classifier autoencoder needs num_classes >= 2, got {num_classes}.")
        if classification_weight < 0 or reconstruction_weight < 0 or classification_weight + reconstruction_weight == 0:
            raise ConfigurationError("classification_weight and reconstruction_weight must not be negative and not "
                                     f"both 0; got {classification_weight} and {reconstruction_weight}.")
        self.num_classes = num_classes
        super().__init__(input_shape, latent_dim, layer_filters, kernel_size, corruption, class_names, optimizer,
                         lr_scheduler, num_samples)
        self.save_hyperparameters()
        self.classification_weight, self.reconstruction_weight = classification_weight, reconstruction_weight

    def build_encoder(self, kernel_size: int, num_outputs: int = 0, latent_outputs: int = 1) -> ConvEncoder:
        return super().build_encoder(kernel_size, self.num_classes, latent_outputs)

    def reconstruct(self, inputs: Tensor, stage: str) -> tuple[Tensor, dict[str, Tensor]]:
        latent = self.encode(inputs)
        return self.decode(latent), {"logits": self.encoder.forward_head(latent)}

    def losses(self, outputs: Tensor, images: Tensor, labels: Tensor | None, extra: dict[str, Tensor],
               stage: Stage) -> Tensor:
        if labels is None or labels.is_floating_point() or labels.dim() != 1:
            raise DataValidationError("A classifier autoencoder needs integer class labels in every batch "
                                      "(label_format: integer); got "
                                      f"{'none' if labels is None else f'{labels.dtype} of shape {tuple(labels.shape)}'}.")
        logits, n = extra["logits"], len(images)
        classification, reconstruction = F.cross_entropy(logits, labels), F.mse_loss(outputs, images)
        self.track(stage, "classification_loss", classification, n)
        self.track(stage, "reconstruction_loss", reconstruction, n)
        self.track(stage, "accuracy", (logits.argmax(1) == labels).float().mean(), n)  # weighted: micro accuracy
        return self.classification_weight * classification + self.reconstruction_weight * reconstruction

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Class probabilities."""
        return self.encoder(self.corruption(batch[0])).softmax(-1)
