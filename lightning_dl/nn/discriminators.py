"""GAN discriminators: the DCGAN discriminator (with CGAN's condition channel, ACGAN's class head and
InfoGAN's Q head) and CycleGAN's PatchGAN discriminator.

Every discriminator is a :class:`~lightning_dl.nn.base.Network`: ``features`` is the conv body, ``head``
the real/fake output. Outputs are logits (no sigmoid): the adversarial loss decides what they mean. The
auxiliary heads read the same ``features``, so a GAN module computes the body once::

    outputs = discriminator.forward_all(images, condition)   # DiscriminatorOutputs
    outputs.logits, outputs.class_logits, outputs.codes       # codes: a CodePrediction
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lightning_dl.nn.base import Network
from lightning_dl.nn.gan_blocks import check_condition, check_image_shape, check_same_length, conv_block, output_shape
from lightning_dl.nn.init import Initializer, initialize


class CodePrediction(NamedTuple):
    """What InfoGAN's Q head (or StackedGAN's z-recovery head) predicts about the codes behind an image."""

    #: Logits of the discrete code ``(N, discrete_codes)``, or None.
    discrete_logits: Tensor | None
    #: Predicted value (Gaussian mean) of each continuous code ``(N, continuous_codes)``, or None.
    continuous_mean: Tensor | None
    #: Predicted log-variance of each continuous code (for a Gaussian NLL), or None.
    continuous_log_variance: Tensor | None


class DiscriminatorOutputs(NamedTuple):
    """Every output of a discriminator for one batch, from one pass through its body."""

    #: Real/fake logits: ``(N, 1)``, or ``(N, 1, h, w)`` for a PatchGAN.
    logits: Tensor
    #: ACGAN's class logits ``(N, num_classes)``, or None.
    class_logits: Tensor | None
    #: InfoGAN's Q-head prediction, or None.
    codes: CodePrediction | None


def dense_head(in_features: int, out_features: int, hidden: int, negative_slope: float = 0.2) -> nn.Sequential:
    """``Linear`` to ``out_features``, after a ``Linear(hidden)``-LeakyReLU layer when ``hidden > 0``."""
    if not hidden:
        return nn.Sequential(nn.Linear(in_features, out_features))
    return nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(negative_slope), nn.Linear(hidden, out_features))


class CodeHead(nn.Module):
    """InfoGAN's Q network on the discriminator's features: logits of a discrete code, and the mean (and
    optionally the log-variance, for a Gaussian NLL) of continuous codes. StackedGAN's z-recovery head is
    one with continuous codes only.

    Args:
        in_features: Size of the discriminator's flat features.
        discrete_codes: Categories of the discrete code (0: none).
        continuous_codes: Number of continuous codes (0: none).
        log_variance: Also predict each continuous code's log-variance.
        hidden: Width of a shared LeakyReLU hidden layer (0: linear outputs straight from the features).
    """

    def __init__(self, in_features: int, discrete_codes: int = 0, continuous_codes: int = 0,
                 log_variance: bool = False, hidden: int = 128) -> None:
        super().__init__()
        self.shared = nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(0.2)) if hidden else nn.Identity()
        width = hidden or in_features
        self.discrete = nn.Linear(width, discrete_codes) if discrete_codes else None
        self.continuous_mean = nn.Linear(width, continuous_codes) if continuous_codes else None
        self.continuous_log_variance = nn.Linear(width, continuous_codes) if continuous_codes and log_variance else None

    def forward(self, features: Tensor) -> CodePrediction:
        shared = self.shared(features)
        return CodePrediction(*(None if layer is None else layer(shared)
                                for layer in (self.discrete, self.continuous_mean, self.continuous_log_variance)))


class Discriminator(Network):
    """A GAN discriminator: ``features`` → ``head`` (real/fake logits, ``num_outputs = 1``), plus optional
    ``class_head`` (ACGAN) and ``code_head`` (InfoGAN, StackedGAN) on the same features. ``forward``
    returns the logits."""

    def __init__(self) -> None:
        super().__init__()
        self.class_head: nn.Module | None = None
        self.code_head: CodeHead | None = None

    def forward_all(self, x: Tensor, *condition: Tensor) -> DiscriminatorOutputs:
        """Real/fake logits and every auxiliary head's output from one pass through the body."""
        features = self.forward_features(x, *condition)
        return DiscriminatorOutputs(self.forward_head(features),
                                    None if self.class_head is None else self.class_head(features),
                                    None if self.code_head is None else self.code_head(features))


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator: (LeakyReLU-Conv) stack without batch norm, flatten, Dense(1) logits.

    With the defaults on 28×28×1 images: 32, 64, 128, 256 channels with strides 2, 2, 2, 1 and kernel 5
    (28 → 14 → 7 → 4 → 4), as in the Keras reference code. Options:

    - ``condition_dim`` (CGAN): the one-hot condition goes through ``Dense(H·W)``, is reshaped to an extra
      image channel and concatenated to the image before the first convolution (the reference's way);
      call ``discriminator(images, one_hot)``.
    - ``num_classes`` (ACGAN): ``class_head``, class logits from the features.
    - ``discrete_codes`` / ``continuous_codes`` (InfoGAN): ``code_head``, a :class:`CodeHead`.

    Args:
        image_shape: ``(C, H, W)`` of the images to judge.
        condition_dim: Size of the condition fed as an extra channel (0: none).
        num_classes: Outputs of ACGAN's auxiliary class head (0: no class head).
        discrete_codes: Categories of InfoGAN's discrete code predicted by the Q head (0: none).
        continuous_codes: InfoGAN's continuous codes predicted by the Q head (0: none).
        code_log_variance: The Q head also predicts each continuous code's log-variance.
        channels: Channels of the convolutions.
        strides: Stride of each convolution (one per entry of ``channels``).
        kernel_size: Kernel of every convolution (odd).
        negative_slope: Slope of LeakyReLU for negative inputs.
        head_hidden: Width of the hidden layer of the class and Q heads (0: linear heads); 128 in the
            reference.
        init: Weight initialiser.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), condition_dim: int = 0,
                 num_classes: int = 0, discrete_codes: int = 0, continuous_codes: int = 0,
                 code_log_variance: bool = False, channels: list[int] = [32, 64, 128, 256],
                 strides: list[int] = [2, 2, 2, 1], kernel_size: int = 5, negative_slope: float = 0.2,
                 head_hidden: int = 128, init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        image_channels, height, width = check_image_shape(image_shape, "DCGANDiscriminator")
        check_same_length("DCGANDiscriminator", channels=channels, strides=strides)
        self.image_shape, self.condition_dim = (image_channels, height, width), condition_dim
        self.condition_embedding = (nn.Sequential(nn.Linear(condition_dim, height * width),
                                                  nn.Unflatten(1, (1, height, width))) if condition_dim else None)
        blocks: list[nn.Module] = []
        in_channels = input_channels = image_channels + (1 if condition_dim else 0)
        for out_channels, stride in zip(channels, strides):
            blocks.append(conv_block(in_channels, out_channels, kernel_size, stride, "none", "leaky_relu",
                                     negative_slope))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks, nn.Flatten())
        self.num_features = output_shape(self.features, (input_channels, height, width))[0]
        self.num_outputs, self.initializer = 1, init
        self.head = self.build_head(1)
        if num_classes:
            self.class_head = dense_head(self.num_features, num_classes, head_hidden, negative_slope)
        self.code_head = (CodeHead(self.num_features, discrete_codes, continuous_codes, code_log_variance, head_hidden)
                          if discrete_codes or continuous_codes else None)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)

    def forward_features(self, images: Tensor, condition: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """The flat features of ``images`` (with the condition as an extra channel for a CGAN)."""
        check_condition(condition, self.condition_dim, "DCGANDiscriminator")
        if self.condition_embedding is not None:
            images = torch.cat([images, self.condition_embedding(condition.to(images.dtype))], dim=1)
        return self.features(images)

    def forward(self, images: Tensor, condition: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """Real/fake logits ``(N, 1)``."""
        return self.forward_head(self.forward_features(images, condition))


class PatchGANDiscriminator(Discriminator):
    """CycleGAN's PatchGAN discriminator: a (LeakyReLU-Conv) stack whose output is one real/fake logit per
    image patch, or (``patch=False``) a single logit per image.

    With the reference defaults (kernel 3, channels 32, 64, 128, 256, strides 2, 2, 2, 1, then a
    LeakyReLU-Conv(1) with stride 2), a 32×32 image gives a 2×2 grid of patch logits. The reference
    uses no normalisation in its discriminator; ``instance_norm=True`` adds instance norm before every
    activation but the first (the image itself is not normalised).

    Args:
        image_shape: ``(C, H, W)`` of the images to judge.
        channels: Channels of the convolutions.
        strides: Stride of each convolution (one per entry of ``channels``).
        kernel_size: Kernel of every convolution (odd).
        patch: One logit per patch (``True``) or one per image (``False``: flatten, Dense(1)).
        instance_norm: Instance normalisation in the body (IN-LeakyReLU-Conv).
        negative_slope: Slope of LeakyReLU for negative inputs.
        init: Weight initialiser.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (3, 32, 32), channels: list[int] = [32, 64, 128, 256],
                 strides: list[int] = [2, 2, 2, 1], kernel_size: int = 3, patch: bool = True,
                 instance_norm: bool = False, negative_slope: float = 0.2,
                 init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        image_shape = check_image_shape(image_shape, "PatchGANDiscriminator")
        check_same_length("PatchGANDiscriminator", channels=channels, strides=strides)
        blocks: list[nn.Module] = []
        in_channels = image_shape[0]
        for i, (out_channels, stride) in enumerate(zip(channels, strides)):
            norm = "instance" if instance_norm and i > 0 else "none"
            blocks.append(conv_block(in_channels, out_channels, kernel_size, stride, norm, "leaky_relu",
                                     negative_slope))
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.feature_shape = output_shape(self.features, image_shape)
        self.num_features, self.num_outputs, self.initializer = math.prod(self.feature_shape), 1, init
        self.patch, self.kernel_size, self.negative_slope = patch, kernel_size, negative_slope
        self.head = self.build_head(1)
        #: Shape of the logits for one image: ``(1, h, w)`` patches, or ``(1,)``.
        self.output_shape = output_shape(self.head, self.feature_shape)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        if self.patch:
            return conv_block(self.feature_shape[0], num_outputs, self.kernel_size, 2, "none", "leaky_relu",
                              self.negative_slope)
        return nn.Sequential(nn.Flatten(), nn.Linear(self.num_features, num_outputs))
