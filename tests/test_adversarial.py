"""Adversarial losses: values on hand-computed cases, signs, the gradient penalty."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.adversarial import (AdversarialLoss, HingeLoss, LeastSquaresLoss, NonSaturatingLoss,
                                         WassersteinGradientPenaltyLoss, WassersteinLoss)

ALL_LOSSES = [NonSaturatingLoss(), LeastSquaresLoss(), WassersteinLoss(), WassersteinGradientPenaltyLoss(), HingeLoss()]


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values).reshape(-1, 1)


def test_non_saturating_on_logits_with_known_probabilities():
    loss = NonSaturatingLoss()
    # logit log 3 is probability 0.75; logit -log 3 is 0.25
    real, fake = t(math.log(3)), t(-math.log(3))
    assert loss.discriminator_loss(real, fake).item() == pytest.approx(-2 * math.log(0.75))
    assert loss.generator_loss(fake).item() == pytest.approx(-math.log(0.25))
    assert loss.discriminator_loss(t(0.0), t(0.0)).item() == pytest.approx(2 * math.log(2))


def test_non_saturating_label_smoothing():
    loss = NonSaturatingLoss(real_label=0.9)
    expected = -(0.9 * math.log(0.75) + 0.1 * math.log(0.25)) - math.log(0.75)
    assert loss.discriminator_loss(t(math.log(3)), t(-math.log(3))).item() == pytest.approx(expected)
    with pytest.raises(ConfigurationError):
        NonSaturatingLoss(real_label=1.5)


def test_least_squares_values():
    loss = LeastSquaresLoss()
    assert loss.discriminator_loss(t(1.0, 3.0), t(0.0, -1.0)).item() == pytest.approx(2.0 + 0.5)
    assert loss.generator_loss(t(0.0, -1.0)).item() == pytest.approx(2.5)


def test_wasserstein_values_and_clip():
    loss = WassersteinLoss()
    assert loss.discriminator_loss(t(1.0, 3.0), t(-1.0, 0.0)).item() == pytest.approx(-2.0 + -0.5)
    assert loss.generator_loss(t(-1.0, 0.0)).item() == pytest.approx(0.5)
    assert loss.clip_value == 0.01 and not loss.uses_penalty
    assert WassersteinLoss(clip_value=None).clip_value is None
    with pytest.raises(ConfigurationError):
        WassersteinLoss(clip_value=-1.0)


def test_hinge_values():
    loss = HingeLoss()
    assert loss.discriminator_loss(t(0.5, 2.0), t(-2.0, 0.0)).item() == pytest.approx(0.25 + 0.5)
    assert loss.generator_loss(t(-2.0, 0.0)).item() == pytest.approx(1.0)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_signs_better_players_lower_their_losses(loss: AdversarialLoss):
    good_d = loss.discriminator_loss(t(2.0, 1.0), t(-1.0, -2.0))  # real scored high, fake low
    bad_d = loss.discriminator_loss(t(-1.0, -2.0), t(2.0, 1.0))
    assert good_d < bad_d
    assert loss.generator_loss(t(1.0, 2.0)) < loss.generator_loss(t(-2.0, -1.0))  # fooling D lowers G's loss


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_patch_outputs_and_bf16_give_a_float32_scalar(loss: AdversarialLoss):
    real, fake = torch.randn(4, 1, 2, 2, dtype=torch.bfloat16), torch.randn(4, 1, 2, 2, dtype=torch.bfloat16)
    for value in (loss.discriminator_loss(real, fake), loss.generator_loss(fake)):
        assert value.shape == () and value.dtype == torch.float32
    assert type(loss).__name__ in repr(loss)


def linear_critic(weight_norm: float, features: int = 12) -> nn.Linear:
    critic = nn.Linear(features, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.randn(1, features))
        critic.weight.mul_(weight_norm / critic.weight.norm())
    return critic


def test_gradient_penalty_zero_for_unit_gradient_norm_and_large_for_steep_critic():
    loss = WassersteinGradientPenaltyLoss()
    real, fake = torch.randn(16, 12), torch.randn(16, 12)
    assert loss.gradient_penalty(linear_critic(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert loss.gradient_penalty(linear_critic(10.0), real, fake).item() == pytest.approx(81.0, rel=1e-5)
    assert loss.penalty(linear_critic(10.0), real, fake).item() == pytest.approx(810.0, rel=1e-5)
    assert loss.uses_penalty and loss.clip_value is None


def test_gradient_penalty_backpropagates_to_the_critic_weights():
    """create_graph=True: the penalty's gradient w.r.t. w of (‖w‖ - 1)² is 2(‖w‖ - 1) w / ‖w‖."""
    critic = linear_critic(3.0)
    real, fake = torch.randn(8, 12), torch.randn(8, 12, requires_grad=True)
    WassersteinGradientPenaltyLoss().gradient_penalty(critic, real, fake).backward()
    expected = 2 * (3.0 - 1) * critic.weight.detach() / 3.0
    torch.testing.assert_close(critic.weight.grad, expected)


def test_gradient_penalty_sends_nothing_to_the_generator():
    critic = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))  # its input gradient depends on the input
    real, fake = torch.randn(8, 12), torch.randn(8, 12, requires_grad=True)
    WassersteinGradientPenaltyLoss().gradient_penalty(critic, real, fake).backward()
    assert fake.grad is None and critic[0].weight.grad is not None


def test_gradient_penalty_with_images_and_a_condition():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4 + 3, 1))
    labels = torch.eye(3)[[0, 1, 2, 0]]
    conditional = lambda x: critic[1](torch.cat([x.flatten(1), labels], 1))  # noqa: E731
    real, fake = torch.randn(4, 2, 4, 4), torch.randn(4, 2, 4, 4)
    value = WassersteinGradientPenaltyLoss().gradient_penalty(conditional, real, fake)
    assert value.shape == () and torch.isfinite(value)
    with pytest.raises(DataValidationError, match="same shape"):
        WassersteinGradientPenaltyLoss().gradient_penalty(conditional, torch.randn(4, 2, 4, 4), torch.randn(3, 2, 4, 4))


@pytest.mark.parametrize("loss", [NonSaturatingLoss(), LeastSquaresLoss(), WassersteinLoss(), HingeLoss()],
                         ids=lambda loss: type(loss).__name__)
def test_losses_without_penalty_add_nothing(loss: AdversarialLoss):
    assert not loss.uses_penalty
    assert loss.penalty(linear_critic(10.0), torch.randn(2, 12), torch.randn(2, 12)).item() == 0.0
