"""The DCGAN generator (Radford et al. 2015, as in the Keras reference code), unconditional or conditional.

One class serves DCGAN, WGAN, LSGAN (``condition_dim=0``), CGAN and ACGAN (a one-hot label of
``num_classes`` entries), InfoGAN (discrete code + continuous codes) and StackedGAN's image generator
(the 256-dim feature ``f1``): the condition is concatenated to ``z`` before the first dense layer.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.gan_blocks import check_image_shape, check_same_length, conv_block, join_condition
from lightning_dl.nn.init import Initializer, initialize


class DCGANGenerator(nn.Module):
    """DCGAN generator: ``[z, condition]`` → Dense → reshape → (BN-ReLU-ConvTranspose) stack → tanh.

    With the defaults on 28×28×1 images: Dense to 7×7×128, then blocks of 128, 64 and 32 channels with
    strides 2, 2, 1, then a BN-ReLU-ConvTranspose block to the image's channels with stride 1 (the
    reference's ``[128, 64, 32, 1]`` / ``[2, 2, 1, 1]``), and tanh: images in [-1, 1].
    Like every network it has a body (``features``: everything up to the last hidden block) and a head
    (``head``: the block to the image and tanh), but it is no classifier ``Network``: its input is noise.

    Args:
        image_shape: ``(C, H, W)`` of the images to generate; ``H`` and ``W`` must be divisible by the
            product of ``strides``.
        latent_dim: Size of the noise vector ``z`` (100 in DCGAN/CGAN, 62 in InfoGAN, 50 in StackedGAN).
        condition_dim: Size of the vector concatenated to ``z``: 0 for an unconditional generator, the
            number of classes for CGAN/ACGAN, classes + continuous codes for InfoGAN.
        channels: Channels of the hidden transposed-convolution blocks; the first is also the depth of the
            reshaped dense output.
        strides: Stride of each hidden block (one per entry of ``channels``); the image block has stride 1.
        kernel_size: Kernel of every transposed convolution (odd).
        init: Weight initialiser (Keras' default ``glorot_uniform``, as in the reference code).
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), latent_dim: int = 100,
                 condition_dim: int = 0, channels: list[int] = [128, 64, 32], strides: list[int] = [2, 2, 1],
                 kernel_size: int = 5, init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        image_channels, height, width = check_image_shape(image_shape, "DCGANGenerator")
        check_same_length("DCGANGenerator", channels=channels, strides=strides)
        upsampling = math.prod(strides)
        if height % upsampling or width % upsampling:
            raise ConfigurationError(f"DCGANGenerator upsamples by {upsampling} (the product of strides {strides}), "
                                     f"which does not divide the image size {height}×{width}; change strides.")
        self.image_shape = (image_channels, height, width)
        self.latent_dim, self.condition_dim = latent_dim, condition_dim
        start = (channels[0], height // upsampling, width // upsampling)
        blocks: list[nn.Module] = [nn.Linear(latent_dim + condition_dim, math.prod(start)), nn.Unflatten(1, start)]
        in_channels = channels[0]
        for out_channels, stride in zip(channels, strides):
            blocks.append(conv_block(in_channels, out_channels, kernel_size, stride, "batch", "relu", transposed=True))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(conv_block(in_channels, image_channels, kernel_size, 1, "batch", "relu",
                                             transposed=True), nn.Tanh())
        initialize(self, init)

    def forward(self, latent: Tensor, condition: Tensor | None = None) -> Tensor:
        """Images ``(N, C, H, W)`` in [-1, 1] from noise ``(N, latent_dim)`` and, if conditional, a condition
        ``(N, condition_dim)`` (one-hot labels and/or codes)."""
        return self.head(self.features(join_condition(latent, condition, self.condition_dim, "DCGANGenerator")))
