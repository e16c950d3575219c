"""StackedGAN's networks (Huang et al. 2017, as in the Keras reference code), in the textbook's names.

A pretrained classifier is split into two levels, and one GAN learns to invert each level:

==================================  ==========================================  ==================
textbook                            here                                        maps
==================================  ==========================================  ==================
Encoder0 (``e0``)                   ``StackedEncoder.features`` (``encoder0``)  image → f1 (256)
Encoder1 (``e1``)                   ``StackedEncoder.head`` (``encoder1``)      f1 → class logits
Generator1 (``g1``)                 :class:`StackedFeatureGenerator`            (y, z1) → f1
Generator0 (``g0``)                 :class:`StackedImageGenerator`              (f1, z0) → image
Discriminator1 (``d1``)             :class:`StackedFeatureDiscriminator`        f1 → real/fake, z1
Discriminator0 (``d0``)             :class:`StackedImageDiscriminator`          image → real/fake, z0
==================================  ==========================================  ==================

Each discriminator's ``code_head`` recovers the noise its generator was given (the "entropy" loss); the
encoder's levels give the conditional losses (``encoder0(fake image)`` vs f1, ``encoder1(fake f1)`` vs y).
"""

from __future__ import annotations

from torch import Tensor, nn

from lightning_dl.nn.base import Network
from lightning_dl.nn.discriminators import CodeHead, DCGANDiscriminator, Discriminator
from lightning_dl.nn.gan_blocks import check_image_shape, join_condition, output_shape
from lightning_dl.nn.generators import DCGANGenerator
from lightning_dl.nn.init import Initializer, initialize


def dense_relu_stack(in_features: int, widths: list[int], batch_norm: bool = False) -> list[nn.Module]:
    """Dense-ReLU layers (each followed by batch norm if asked, the reference's Dense(relu)-BN order)."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), nn.ReLU()] + ([nn.BatchNorm1d(width)] if batch_norm else [])
        in_features = width
    return layers


class StackedEncoder(Network):
    """StackedGAN's encoder: a classifier in two levels. ``features`` (Encoder0) maps an image to the
    feature f1: (Conv-ReLU-MaxPool) blocks, flatten, Dense-ReLU to ``feature_dim``; ``head`` (Encoder1) maps
    f1 to class logits. Train it as a classifier first, then freeze it.

    It takes ``(input_shape, num_outputs)`` first like every classifier network, so the ``Classifier``
    module trains it.

    Args:
        input_shape: ``(C, H, W)`` of the images.
        num_outputs: Classes of the head.
        feature_dim: Size of the intermediate feature f1 (the reference's ``fc3``, 256).
        channels: Filters of each conv block (unpadded convolutions, 2×2 max pooling).
        kernel_size: Conv kernel size.
        init: Weight initialiser.
    """

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_outputs: int = 10, feature_dim: int = 256,
                 channels: list[int] = [64, 64], kernel_size: int = 3, init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        image_shape = check_image_shape(input_shape, "StackedEncoder")
        blocks: list[nn.Module] = []
        in_channels = image_shape[0]
        for out_channels in channels:
            blocks += [nn.Conv2d(in_channels, out_channels, kernel_size), nn.ReLU(), nn.MaxPool2d(2)]
            in_channels = out_channels
        blocks.append(nn.Flatten())
        flat = output_shape(nn.Sequential(*blocks), image_shape)[0]
        self.features = nn.Sequential(*blocks, *dense_relu_stack(flat, [feature_dim]))
        self.num_features, self.num_outputs, self.initializer = feature_dim, num_outputs, init
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)

    @property
    def encoder0(self) -> nn.Module:
        """Image → feature f1 (the textbook's Encoder0)."""
        return self.features

    @property
    def encoder1(self) -> nn.Module:
        """Feature f1 → class logits (the textbook's Encoder1)."""
        return self.head


class StackedFeatureGenerator(nn.Module):
    """StackedGAN's Generator1: a one-hot label ``y`` and noise ``z1`` → a feature f1 that Encoder1 should
    classify as ``y``. Dense(512, ReLU)-BN twice, then Dense(``feature_dim``, ReLU) (f1 is a ReLU output).

    Args:
        feature_dim: Size of f1.
        latent_dim: Size of ``z1`` (50).
        num_classes: Size of the one-hot label.
        hidden_sizes: Widths of the hidden dense layers.
        init: Weight initialiser.
    """

    def __init__(self, feature_dim: int = 256, latent_dim: int = 50, num_classes: int = 10,
                 hidden_sizes: list[int] = [512, 512], init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        self.latent_dim, self.condition_dim, self.feature_dim = latent_dim, num_classes, feature_dim
        self.features = nn.Sequential(*dense_relu_stack(latent_dim + num_classes, hidden_sizes, batch_norm=True))
        self.head = nn.Sequential(*dense_relu_stack(hidden_sizes[-1] if hidden_sizes else latent_dim + num_classes,
                                                    [feature_dim]))
        initialize(self, init)

    def forward(self, latent: Tensor, condition: Tensor | None = None) -> Tensor:
        """Features f1 ``(N, feature_dim)`` from ``z1`` ``(N, latent_dim)`` and one-hot labels ``(N, num_classes)``."""
        inputs = join_condition(latent, condition, self.condition_dim, "StackedFeatureGenerator")
        return self.head(self.features(inputs))


class StackedImageGenerator(DCGANGenerator):
    """StackedGAN's Generator0: a feature f1 and noise ``z0`` → an image that Encoder0 maps back to f1.
    A :class:`DCGANGenerator` conditioned on f1: call ``generator(z0, f1)``.

    Args:
        image_shape: ``(C, H, W)`` of the images.
        latent_dim: Size of ``z0`` (50).
        feature_dim: Size of f1, the condition.
        channels: Channels of the hidden transposed-convolution blocks.
        strides: Stride of each hidden block.
        kernel_size: Kernel of every transposed convolution (odd).
        init: Weight initialiser.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), latent_dim: int = 50, feature_dim: int = 256,
                 channels: list[int] = [128, 64, 32], strides: list[int] = [2, 2, 1], kernel_size: int = 5,
                 init: Initializer = "glorot_uniform") -> None:
        super().__init__(image_shape, latent_dim, feature_dim, channels, strides, kernel_size, init)


class StackedFeatureDiscriminator(Discriminator):
    """StackedGAN's Discriminator1: is a feature f1 real (from Encoder0) or fake (from Generator1)?
    Dense(256, ReLU) twice, then real/fake logits (``head``) and the recovered ``z1`` (``code_head``:
    ``code_head(features).continuous_mean``; a linear output, not the reference's tanh, so any noise scale
    can be recovered).

    Args:
        feature_dim: Size of f1.
        latent_dim: Size of ``z1`` to recover.
        hidden_sizes: Widths of the hidden dense layers.
        init: Weight initialiser.
    """

    def __init__(self, feature_dim: int = 256, latent_dim: int = 50, hidden_sizes: list[int] = [256, 256],
                 init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        self.features = nn.Sequential(*dense_relu_stack(feature_dim, hidden_sizes))
        self.num_features = hidden_sizes[-1] if hidden_sizes else feature_dim
        self.num_outputs, self.initializer = 1, init
        self.head = self.build_head(1)
        self.code_head = CodeHead(self.num_features, continuous_codes=latent_dim, hidden=0)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)


class StackedImageDiscriminator(DCGANDiscriminator):
    """StackedGAN's Discriminator0: is an image real or fake (from Generator0)? A :class:`DCGANDiscriminator`
    whose ``code_head`` recovers ``z0`` linearly from the flat features (``code_head(features).continuous_mean``).

    Args:
        image_shape: ``(C, H, W)`` of the images.
        latent_dim: Size of ``z0`` to recover.
        channels: Channels of the convolutions.
        strides: Stride of each convolution.
        kernel_size: Kernel of every convolution (odd).
        init: Weight initialiser.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), latent_dim: int = 50,
                 channels: list[int] = [32, 64, 128, 256], strides: list[int] = [2, 2, 2, 1], kernel_size: int = 5,
                 init: Initializer = "glorot_uniform") -> None:
        super().__init__(image_shape, continuous_codes=latent_dim, channels=channels, strides=strides,
                         kernel_size=kernel_size, head_hidden=0, init=init)
