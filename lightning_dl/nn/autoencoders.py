"""Autoencoder networks (plain torch, no Lightning): a convolutional encoder, its mirrored decoder, and the
corruptions a denoising or colourising autoencoder learns to undo.

The encoder is a :class:`~lightning_dl.nn.Network`: its body (``features``) maps an image to the latent
vector, its head (optional) classifies from that vector, so an autoencoder's trained encoder is reused as a
network body like any other (``reset_head``, ``freeze_features``).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.base import Network
from lightning_dl.nn.init import initialize

#: ITU-R 601 luma weights (R, G, B): the grey image a colourising autoencoder starts from.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def conv_sizes(size: int, layers: int, kernel_size: int) -> list[int]:
    """Spatial sizes after each stride-2 convolution with ``kernel_size // 2`` padding, input size first."""
    sizes = [size]
    for _ in range(layers):
        sizes.append((sizes[-1] + 2 * (kernel_size // 2) - kernel_size) // 2 + 1)
    return sizes


def check_image_shape(shape: Sequence[int], layers: int, kernel_size: int, what: str = "input_shape") -> tuple[int, ...]:
    """``(C, H, W)`` checked: three dimensions, big enough for ``layers`` stride-2 convolutions."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ConfigurationError(f"{what} {shape} must be (channels, height, width): autoencoders read images "
                                 "(use the DataModule's layout: image).")
    if min(shape[1:]) < 2 ** layers:
        raise ConfigurationError(f"{what} {shape} is too small for {layers} stride-2 layers; "
                                 f"use fewer layer_filters or images of at least {2 ** layers} pixels a side.")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigurationError(f"kernel_size {kernel_size} must be odd (the padding keeps the layers aligned).")
    return shape


class ConvEncoder(Network):
    """Stride-2 convolutions (ReLU) with ``layer_filters`` channels, flattened, then a dense layer to the latent
    vector: ``features(x)`` is ``(N, latent_dim)``. The head classifies from the latent vector (``num_outputs``
    classes), or is absent (``num_outputs = 0``, an autoencoder that only reconstructs).

    Args:
        input_shape: ``(C, H, W)`` of one image.
        num_outputs: Outputs of the head (0: no head).
        layer_filters: Channels of each stride-2 convolution, e.g. ``[32, 64]``.
        latent_dim: Size of the latent vector.
        kernel_size: Side of the convolution kernels (odd).
        latent_outputs: Values the last dense layer produces per latent dimension (2 for a VAE's mean and
            log-variance); ``num_features`` stays ``latent_dim``.
    """

    def __init__(self, input_shape: Sequence[int], num_outputs: int = 0, layer_filters: Sequence[int] = (32, 64),
                 latent_dim: int = 16, kernel_size: int = 3, latent_outputs: int = 1) -> None:
        super().__init__()
        if not layer_filters or latent_dim < 1:
            raise ConfigurationError(f"An encoder needs at least one layer filter and latent_dim >= 1; got "
                                     f"layer_filters={list(layer_filters)}, latent_dim={latent_dim}.")
        self.input_shape = check_image_shape(input_shape, len(layer_filters), kernel_size)
        channels, height, width = self.input_shape
        layers: list[nn.Module] = []
        for n_in, n_out in zip([channels, *layer_filters], layer_filters):
            layers += [nn.Conv2d(n_in, n_out, kernel_size, stride=2, padding=kernel_size // 2), nn.ReLU()]
        self.feature_shape = (layer_filters[-1], conv_sizes(height, len(layer_filters), kernel_size)[-1],
                              conv_sizes(width, len(layer_filters), kernel_size)[-1])
        layers += [nn.Flatten(), nn.Linear(math.prod(self.feature_shape), latent_dim * latent_outputs)]
        self.features = nn.Sequential(*layers)
        self.num_features, self.num_outputs = latent_dim, num_outputs
        self.head = self.build_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs) if num_outputs else nn.Identity()

    def reset_head(self, num_outputs: int) -> None:
        """A new head with ``num_outputs`` outputs (0 removes it); the body keeps its weights."""
        reference = next(self.features.parameters())
        self.head = initialize(self.build_head(num_outputs), self.initializer).to(reference.device, reference.dtype)
        self.head.train(self.training)
        self.num_outputs = num_outputs

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataValidationError(f"Images of shape {tuple(x.shape[1:])} given to an encoder built for "
                                      f"{self.input_shape} (C, H, W); match the DataModule to the model's input_shape.")
        return super().forward(x)


class ConvDecoder(nn.Module):
    """The encoder mirrored: a dense layer from the latent vector to the encoder's last feature map, transposed
    stride-2 convolutions (ReLU) with ``layer_filters`` reversed (as the Keras reference), then a same-size convolution to the image's
    channels and a sigmoid (pixels in [0, 1]). Output padding is chosen per layer so that every image size,
    odd ones included, comes back exactly.

    Args:
        output_shape: ``(C, H, W)`` of the images it makes.
        layer_filters: The encoder's ``layer_filters`` (not reversed).
        latent_dim: Size of the latent vector.
        kernel_size: Side of the kernels (odd).
    """

    def __init__(self, output_shape: Sequence[int], layer_filters: Sequence[int] = (32, 64), latent_dim: int = 16,
                 kernel_size: int = 3) -> None:
        super().__init__()
        self.output_shape = check_image_shape(output_shape, len(layer_filters), kernel_size, "output_shape")
        channels, height, width = self.output_shape
        heights = conv_sizes(height, len(layer_filters), kernel_size)[::-1]
        widths = conv_sizes(width, len(layer_filters), kernel_size)[::-1]
        self.start_shape = (layer_filters[-1], heights[0], widths[0])
        self.project = nn.Linear(latent_dim, math.prod(self.start_shape))
        layers: list[nn.Module] = []
        filters = list(layer_filters)[::-1]
        padding = kernel_size // 2
        for i, (n_in, n_out) in enumerate(zip([filters[0], *filters[:-1]], filters)):
            made = [(size - 1) * 2 - 2 * padding + kernel_size for size in (heights[i], widths[i])]
            extra = (heights[i + 1] - made[0], widths[i + 1] - made[1])
            layers += [nn.ConvTranspose2d(n_in, n_out, kernel_size, stride=2, padding=padding, output_padding=extra),
                       nn.ReLU()]
        layers += [nn.Conv2d(filters[-1], channels, kernel_size, padding=padding), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.layers(self.project(z).view(len(z), *self.start_shape))


class Corruption(nn.Module):
    """What an autoencoder's input is made from its target: the identity (a plain autoencoder); subclasses add
    noise (:class:`GaussianNoise`) or take the colour away (:class:`Greyscale`)."""

    def output_channels(self, channels: int) -> int:
        """Channels of the corrupted image of a ``channels``-channel image."""
        return channels

    def forward(self, images: Tensor) -> Tensor:
        return images


class GaussianNoise(Corruption):
    """Add Gaussian noise of mean ``mean`` and standard deviation ``std`` to each pixel, then clip to [0, 1]
    (the denoising autoencoder's input: mean 0.5, std 0.5, as in the Keras reference code). A fresh draw every
    call; seed torch for a fixed one.

    Args:
        mean: Mean of the noise.
        std: Standard deviation of the noise.
        clip: Clip the noisy image to [0, 1].
    """

    def __init__(self, mean: float = 0.5, std: float = 0.5, clip: bool = True) -> None:
        super().__init__()
        if std < 0:
            raise ConfigurationError(f"The noise's std {std} must not be negative.")
        self.mean, self.std, self.clip = mean, std, clip

    def forward(self, images: Tensor) -> Tensor:
        noisy = images + self.mean + self.std * torch.randn_like(images)
        return noisy.clamp(0, 1) if self.clip else noisy


class Greyscale(Corruption):
    """Colour to grey: ``0.299 R + 0.587 G + 0.114 B`` (ITU-R 601 luma), one channel; the colourising
    autoencoder's input.

    Args:
        weights: The weight of each channel.
    """

    def __init__(self, weights: Sequence[float] = LUMA_WEIGHTS) -> None:
        super().__init__()
        self.register_buffer("weights", torch.tensor([float(w) for w in weights]), persistent=False)

    def output_channels(self, channels: int) -> int:
        if channels != len(self.weights):
            raise ConfigurationError(f"Greyscale weighs {len(self.weights)} channels but the images have {channels}; "
                                     "colourisation needs colour (RGB) images.")
        return 1

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[1] != len(self.weights):
            raise DataValidationError(f"Greyscale needs images with {len(self.weights)} channels (N, C, H, W); "
                                      f"got shape {tuple(images.shape)}.")
        return torch.einsum("nchw,c->nhw", images, self.weights.to(images.dtype))[:, None]
