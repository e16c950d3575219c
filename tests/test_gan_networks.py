"""GAN networks: shapes at the reference defaults and at 32×32×3, conditions, heads, parameter counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.base import Network
from lightning_dl.nn.discriminators import CodeHead, DCGANDiscriminator, PatchGANDiscriminator
from lightning_dl.nn.generators import DCGANGenerator
from lightning_dl.nn.stacked_gan import (StackedEncoder, StackedFeatureDiscriminator, StackedFeatureGenerator,
                                         StackedImageDiscriminator, StackedImageGenerator)
from lightning_dl.nn.unet import UNetGenerator

GREY, COLOUR = (1, 28, 28), (3, 32, 32)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def one_hot(labels: list[int], num_classes: int = 10) -> torch.Tensor:
    return torch.eye(num_classes)[labels]


@pytest.mark.parametrize("shape", [GREY, COLOUR])
@pytest.mark.parametrize("condition_dim", [0, 10])
def test_dcgan_generator_shapes_and_range(shape, condition_dim):
    generator = DCGANGenerator(shape, condition_dim=condition_dim)
    condition = one_hot([0, 3, 9]) if condition_dim else None
    images = generator(100 * torch.randn(3, 100), condition)  # large noise saturates tanh: still in range
    assert images.shape == (3, *shape)
    assert images.min() >= -1 and images.max() <= 1 and images.abs().max() > 0.9


def test_generators_condition_is_checked():
    with pytest.raises(DataValidationError, match=r"\(batch, 10\)"):
        DCGANGenerator(condition_dim=10)(torch.randn(2, 100))
    with pytest.raises(DataValidationError, match="unconditional"):
        DCGANGenerator()(torch.randn(2, 100), one_hot([1, 2]))
    with pytest.raises(DataValidationError):
        DCGANGenerator(condition_dim=10)(torch.randn(2, 100), one_hot([1, 2], 9))


def test_conditional_generator_uses_its_condition():
    generator = DCGANGenerator(condition_dim=10).eval()
    z = torch.randn(1, 100)
    assert not torch.allclose(generator(z, one_hot([1])), generator(z, one_hot([2])))


@pytest.mark.parametrize("shape", [GREY, COLOUR])
def test_dcgan_discriminator_outputs_logits_per_image(shape):
    discriminator = DCGANDiscriminator(shape)
    assert isinstance(discriminator, Network)
    outputs = discriminator.forward_all(torch.randn(5, *shape))
    assert outputs.logits.shape == (5, 1) and outputs.class_logits is None and outputs.codes is None
    assert discriminator(torch.randn(5, *shape)).shape == (5, 1)


@pytest.mark.parametrize("shape", [GREY, COLOUR])
def test_conditional_discriminator_takes_the_condition_as_an_extra_channel(shape):
    discriminator = DCGANDiscriminator(shape, condition_dim=10).eval()
    images = torch.randn(2, *shape)
    logits = discriminator(images, one_hot([4, 4]))
    assert logits.shape == (2, 1)
    assert discriminator.features[0][2].in_channels == shape[0] + 1
    assert not torch.allclose(logits, discriminator(images, one_hot([5, 5])))
    with pytest.raises(DataValidationError, match=r"\(batch, 10\)"):
        discriminator(images)


def test_acgan_and_infogan_heads_read_the_features():
    discriminator = DCGANDiscriminator(GREY, num_classes=10, discrete_codes=10, continuous_codes=2,
                                       code_log_variance=True)
    outputs = discriminator.forward_all(torch.randn(4, *GREY))
    assert outputs.logits.shape == (4, 1) and outputs.class_logits.shape == (4, 10)
    assert outputs.codes.discrete_logits.shape == (4, 10)
    assert outputs.codes.continuous_mean.shape == outputs.codes.continuous_log_variance.shape == (4, 2)
    features = discriminator.forward_features(torch.randn(4, *GREY))
    assert features.shape == (4, discriminator.num_features) and discriminator.class_head(features).shape == (4, 10)
    # one pass through everything reaches every parameter (nothing unused under DDP when all heads are used)
    (outputs.logits.sum() + outputs.class_logits.sum() + sum(c.sum() for c in outputs.codes)).backward()
    assert all(p.grad is not None for p in discriminator.parameters())


def test_code_head_variants():
    assert CodeHead(8, continuous_codes=2).forward(torch.randn(3, 8)).continuous_log_variance is None
    prediction = CodeHead(8, discrete_codes=5, hidden=0)(torch.randn(3, 8))
    assert prediction.discrete_logits.shape == (3, 5) and prediction.continuous_mean is None


def test_reference_parameter_counts():
    """The Keras reference's DCGAN: D 1,080,577 parameters; G 1,301,505 of which 704 are BN running statistics
    (buffers here)."""
    assert count(DCGANDiscriminator()) == 1_080_577
    assert count(DCGANGenerator()) == 1_301_505 - 704
    print({name: count(net) for name, net in [
        ("DCGANGenerator", DCGANGenerator()), ("DCGANGenerator 32x32x3", DCGANGenerator(COLOUR)),
        ("DCGANDiscriminator", DCGANDiscriminator()), ("DCGANDiscriminator 32x32x3", DCGANDiscriminator(COLOUR)),
        ("PatchGANDiscriminator", PatchGANDiscriminator()), ("UNetGenerator grey->colour", UNetGenerator()),
        ("StackedEncoder", StackedEncoder()), ("StackedFeatureGenerator", StackedFeatureGenerator()),
        ("StackedImageGenerator", StackedImageGenerator()),
        ("StackedFeatureDiscriminator", StackedFeatureDiscriminator()),
        ("StackedImageDiscriminator", StackedImageDiscriminator())]})


@pytest.mark.parametrize(("shape", "patch", "expected"), [
    (COLOUR, True, (1, 2, 2)), (GREY, True, (1, 2, 2)), (COLOUR, False, (1,)), ((3, 64, 64), True, (1, 4, 4))])
def test_patchgan_outputs_one_logit_per_patch(shape, patch, expected):
    discriminator = PatchGANDiscriminator(shape, patch=patch)
    assert discriminator.output_shape == expected
    assert discriminator(torch.randn(2, *shape)).shape == (2, *expected)


def test_patchgan_instance_norm_and_new_head():
    discriminator = PatchGANDiscriminator(COLOUR, instance_norm=True)
    norms = [m for m in discriminator.features.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3  # every block but the first: the image itself is not normalised
    discriminator.reset_head(1)
    assert discriminator(torch.randn(2, *COLOUR)).shape == (2, 1, 2, 2)


@pytest.mark.parametrize(("source", "target"), [
    ((1, 32, 32), (3, 32, 32)), ((3, 32, 32), (1, 32, 32)), ((1, 28, 28), (3, 28, 28)), ((3, 28, 28), (3, 28, 28))])
def test_unet_translates_between_domains(source, target):
    generator = UNetGenerator(source, target)
    translated = generator(torch.randn(2, *source))
    assert translated.shape == (2, *target) and translated.abs().max() <= 1
    assert UNetGenerator(target, source)(translated).shape == (2, *source)  # a cycle back has the input's shape


def test_unet_skip_connections_carry_the_encoder_levels():
    generator = UNetGenerator((1, 32, 32), (3, 32, 32), filters=[8, 16, 32])
    assert [up.conv.in_channels for up in generator.decoder] == [32, 2 * 16]
    assert generator.output[0][2].in_channels == 2 * 8  # the full-resolution skip reaches the output layer
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in generator.modules()) == 2 + 2


def test_unet_checks_shapes():
    with pytest.raises(ConfigurationError, match="same size"):
        UNetGenerator((1, 28, 28), (3, 32, 32))
    with pytest.raises(DataValidationError, match="built for images"):
        UNetGenerator((1, 32, 32), (3, 32, 32))(torch.randn(1, 3, 32, 32))


def test_bad_configurations_are_explained():
    with pytest.raises(ConfigurationError, match="does not divide"):
        DCGANGenerator((1, 30, 30))
    with pytest.raises(ConfigurationError, match="one entry per layer"):
        DCGANDiscriminator(channels=[32, 64], strides=[2, 2, 1])
    with pytest.raises(ConfigurationError, match="even"):
        DCGANGenerator(kernel_size=4)
    with pytest.raises(ConfigurationError, match=r"\(C, H, W\)"):
        PatchGANDiscriminator((28, 28))


@pytest.mark.parametrize("shape", [GREY, COLOUR])
def test_stacked_gan_levels_fit_together(shape):
    encoder, g1, g0 = StackedEncoder(shape), StackedFeatureGenerator(), StackedImageGenerator(shape)
    d1, d0 = StackedFeatureDiscriminator(), StackedImageDiscriminator(shape)
    labels, z1, z0 = one_hot([0, 1, 2, 3]), torch.randn(4, 50), torch.randn(4, 50)
    fake_features = g1(z1, labels)
    fake_images = g0(z0, fake_features)
    assert fake_features.shape == (4, 256) and fake_features.min() >= 0  # a ReLU feature, like Encoder0's
    assert fake_images.shape == (4, *shape)
    assert encoder.encoder0(fake_images).shape == (4, 256) and encoder.encoder1(fake_features).shape == (4, 10)
    images = torch.randn(4, *shape)
    torch.testing.assert_close(encoder(images), encoder.encoder1(encoder.encoder0(images)))
    for discriminator, inputs in ((d1, fake_features), (d0, fake_images)):
        outputs = discriminator.forward_all(inputs)
        assert outputs.logits.shape == (4, 1) and outputs.codes.continuous_mean.shape == (4, 50)
