"""Building blocks shared by the GAN networks: the textbook's pre-activation conv block and shape checks.

The Keras reference code builds every GAN layer in the order normalisation → activation → convolution
("BN-ReLU-Conv2DTranspose", "LeakyReLU-Conv2D", "IN-LeakyReLU-Conv2D"); :func:`conv_block` builds that
block for all of them, with Keras' ``padding='same'`` arithmetic: a stride-``s`` block maps ``H`` to
``ceil(H / s)`` (convolution) or ``H · s`` (transposed convolution).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.layers import activation_layer, output_shape

NormName = Literal["batch", "instance", "none"]
ActivationName = Literal["relu", "leaky_relu", "none"]


def norm_layer(kind: NormName, channels: int) -> nn.Module:
    """Batch or instance normalisation of ``channels`` feature maps (instance norm with a learned scale and
    shift, as keras-contrib's ``InstanceNormalization``), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def same_padding(kernel_size: int, stride: int, transposed: bool) -> tuple[int, int]:
    """``(padding, output_padding)`` that reproduce Keras' ``padding='same'`` for an odd kernel."""
    if kernel_size % 2 == 0:
        raise ConfigurationError(f"kernel_size {kernel_size} is even; GAN blocks use odd kernels (3, 5, ...) so "
                                 "that 'same' padding is symmetric.")
    if not transposed:
        return kernel_size // 2, 0
    padding = math.ceil((kernel_size - stride) / 2)
    return padding, 2 * padding - (kernel_size - stride)


def conv_block(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, norm: NormName = "none",
               activation: ActivationName = "none", negative_slope: float = 0.2,
               transposed: bool = False) -> nn.Sequential:
    """Normalisation → activation → (transposed) convolution, with Keras' ``same`` padding."""
    padding, output_padding = same_padding(kernel_size, stride, transposed)
    if transposed:
        conv: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding, output_padding)
    else:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
    return nn.Sequential(norm_layer(norm, in_channels), activation_layer(activation, negative_slope), conv)


def check_image_shape(image_shape: tuple[int, ...], network: str) -> tuple[int, int, int]:
    """``(C, H, W)`` as ints, or a :class:`ConfigurationError` naming the network."""
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ConfigurationError(f"{network} builds images of shape (C, H, W) but was given {tuple(image_shape)}; "
                                 "use the DataModule's input_shape with layout 'image'.")
    channels, height, width = (int(size) for size in image_shape)
    return channels, height, width


def check_same_length(network: str, **lists: list[int]) -> None:
    """Every list argument has the same length (one entry per layer)."""
    lengths = {name: len(values) for name, values in lists.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ConfigurationError(f"{network} needs one entry per layer in each of {', '.join(lists)}, "
                                 f"but {described}.")


def check_condition(condition: Tensor | None, condition_dim: int, network: str) -> None:
    """A condition is given exactly when the network was built with ``condition_dim``, with that width."""
    if condition_dim == 0:
        if condition is not None:
            raise DataValidationError(f"{network} was built unconditional (condition_dim=0) but was given a "
                                      "condition; build it with condition_dim set.")
        return
    if condition is None or condition.dim() != 2 or condition.shape[1] != condition_dim:
        found = None if condition is None else tuple(condition.shape)
        raise DataValidationError(f"{network} expects a condition of shape (batch, {condition_dim}) "
                                  f"(one-hot labels or codes) but was given {found}.")


def join_condition(latent: Tensor, condition: Tensor | None, condition_dim: int, network: str) -> Tensor:
    """``[z, condition]`` concatenated, as every conditional generator of the reference code feeds its dense
    layer (CGAN/ACGAN one-hot labels, InfoGAN codes, StackedGAN features)."""
    check_condition(condition, condition_dim, network)
    return latent if condition is None else torch.cat([latent, condition.to(latent.dtype)], dim=1)
