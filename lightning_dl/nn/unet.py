"""CycleGAN's U-Net generator (Ronneberger et al. 2015, as in the Keras reference code) with instance norm."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.gan_blocks import activation_layer, check_image_shape, conv_block, norm_layer, same_padding
from lightning_dl.nn.init import Initializer, initialize


class UpBlock(nn.Module):
    """A U-Net decoder level: IN-ReLU-ConvTranspose (stride 2) to the size of the encoder's matching level,
    then the skip connection: the encoder's output at that level concatenated as extra channels."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.pre = nn.Sequential(norm_layer("instance", in_channels), activation_layer("relu"))
        padding, _ = same_padding(kernel_size, 2, transposed=True)
        self.conv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, 2, padding)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        # output_size picks the output padding, so odd sizes (28 → 14 → 7 → 4 and back) line up with the skip
        upsampled = self.conv(self.pre(x), output_size=skip.shape[-2:])
        return torch.cat([upsampled, skip], dim=1)


class UNetGenerator(nn.Module):
    """CycleGAN generator: a U-Net that translates images of one domain into another.

    Encoder: one (IN-LeakyReLU-Conv) level per entry of ``filters``, the first with stride 1 and the others
    with stride 2. Decoder: (IN-ReLU-ConvTranspose) levels back up, each followed by the skip connection
    from the encoder level of the same size, then a ConvTranspose to the output channels and tanh. With
    the reference's kernel 3 and filters 32, 64, 128, 256 a 32×32 image goes down to 4×4 and back.

    The input domain and the output domain may have different channels (grey ↔ colour) but share their
    height and width. Unlike the reference, the first level does not instance-normalise the input image:
    per-image normalisation would discard the image's brightness and contrast, which a translation (grey →
    colour) must keep.

    Args:
        input_shape: ``(C, H, W)`` of the domain translated from.
        output_shape: ``(C, H, W)`` of the domain translated to (same ``H`` and ``W``).
        filters: Channels of each encoder level (the decoder mirrors them); ``32·2^k`` for 4 levels in the
            reference.
        kernel_size: Kernel of every (transposed) convolution (odd).
        negative_slope: Slope of the encoder's LeakyReLU for negative inputs.
        init: Weight initialiser.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (1, 32, 32),
                 output_shape: tuple[int, int, int] = (3, 32, 32), filters: list[int] = [32, 64, 128, 256],
                 kernel_size: int = 3, negative_slope: float = 0.2, init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        input_shape = check_image_shape(input_shape, "UNetGenerator")
        output_shape = check_image_shape(output_shape, "UNetGenerator")
        if input_shape[1:] != output_shape[1:]:
            raise ConfigurationError(f"UNetGenerator translates between images of the same size, but input_shape "
                                     f"{input_shape} and output_shape {output_shape} differ in height or width; "
                                     "resize one domain.")
        if not filters:
            raise ConfigurationError("UNetGenerator needs at least one entry in filters.")
        self.input_shape, self.output_shape = input_shape, output_shape
        self.encoder = nn.ModuleList()
        in_channels = input_shape[0]
        for level, out_channels in enumerate(filters):
            norm, activation = ("none", "none") if level == 0 else ("instance", "leaky_relu")
            self.encoder.append(conv_block(in_channels, out_channels, kernel_size, 1 if level == 0 else 2, norm,
                                           activation, negative_slope))
            in_channels = out_channels
        self.decoder = nn.ModuleList()
        for out_channels in reversed(filters[:-1]):
            self.decoder.append(UpBlock(in_channels, out_channels, kernel_size))
            in_channels = 2 * out_channels  # the upsampled maps and the skip connection
        self.output = nn.Sequential(conv_block(in_channels, output_shape[0], kernel_size, 1, transposed=True),
                                    nn.Tanh())
        initialize(self, init)

    def forward(self, images: Tensor) -> Tensor:
        """Translated images ``(N, *output_shape)`` in [-1, 1] from images ``(N, *input_shape)``."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise DataValidationError(f"UNetGenerator was built for images of shape {self.input_shape} but was "
                                      f"given {tuple(images.shape[1:])}.")
        skips = []
        x = images
        for level in self.encoder:
            x = level(x)
            skips.append(x)
        for up, skip in zip(self.decoder, reversed(skips[:-1])):
            x = up(x, skip)
        return self.output(x)
