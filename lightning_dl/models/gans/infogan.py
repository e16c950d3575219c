"""InfoGAN (Chen et al. 2016): codes the generator must keep recoverable from its images."""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.models.gans.base import GAN
from lightning_dl.models.gans.objective import Draw, NoiseObjective, Phase, one_hot, require_labels, to_display
from lightning_dl.nn.discriminators import DiscriminatorOutputs

ContinuousLoss = Literal["gaussian_nll", "mse"]


class InformationObjective(NoiseObjective):
    """The generator reads a categorical code and continuous codes beside ``z``; the discriminator's Q head
    recovers them, and both players minimise the code losses (see :class:`InfoGAN`)."""

    def __init__(self, discrete_codes: int = 10, continuous_codes: int = 2, discrete_weight: float = 1.0,
                 continuous_weight: float = 0.5, continuous_loss: ContinuousLoss = "gaussian_nll",
                 real_code_labels: bool = False, **kwargs: Any) -> None:
        super().__init__(condition_dim=discrete_codes + continuous_codes,
                         discriminator_arguments={"discrete_codes": discrete_codes, "continuous_codes": continuous_codes,
                                                  "code_log_variance": continuous_loss == "gaussian_nll"}, **kwargs)
        if real_code_labels and discrete_codes != self.num_classes:
            raise ConfigurationError(f"real_code_labels makes the discrete code the class: discrete_codes "
                                     f"({discrete_codes}) must equal num_classes ({self.num_classes}).")
        self.discrete_codes, self.continuous_codes = discrete_codes, continuous_codes
        self.discrete_weight, self.continuous_weight = discrete_weight, continuous_weight
        self.continuous_loss, self.real_code_labels = continuous_loss, real_code_labels

    def condition(self, n: int, labels: Tensor | None = None, continuous: Tensor | None = None) -> Draw:
        """Noise, a discrete code (``labels``, or drawn uniformly) and continuous codes (or drawn from U(-1, 1));
        given codes are moved to the model's device."""
        device = self.gan.device
        labels = torch.randint(self.discrete_codes, (n,), device=device) if labels is None else labels.to(device)
        continuous = (torch.rand(n, self.continuous_codes, device=device) * 2 - 1 if continuous is None
                      else continuous.to(device))
        condition = torch.cat([one_hot(labels, self.discrete_codes), continuous], dim=1)
        return Draw(torch.randn(n, self.latent_dim, device=device), condition, labels, continuous)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        predicted = fake.codes
        discrete = F.cross_entropy(predicted.discrete_logits.float(), draw.labels)
        if phase == "discriminator" and self.real_code_labels:
            discrete = discrete + F.cross_entropy(real.codes.discrete_logits.float(), require_labels(labels))
        losses = {"discrete_code_loss": self.discrete_weight * discrete}
        if self.continuous_codes:
            mean, target = predicted.continuous_mean.float(), draw.codes
            if self.continuous_loss == "mse":
                continuous = F.mse_loss(mean, target)
            else:  # -log N(c; mean, exp(log_variance)), per code, averaged
                log_variance = predicted.continuous_log_variance.float().clamp(-10, 10)
                continuous = 0.5 * (log_variance + (target - mean) ** 2 / log_variance.exp() + math.log(2 * math.pi)).mean()
            losses["continuous_code_loss"] = self.continuous_weight * continuous
        return losses

    def sample_codes(self, generator: nn.Module, n: int, labels: Tensor | None = None,
                     continuous: Tensor | None = None, latent: Tensor | None = None) -> Tensor:
        """``n`` images with the discrete code ``labels`` and the ``continuous`` codes (each drawn if not given)."""
        draw = self.condition(n, labels, continuous)
        if latent is not None:
            draw.latent = latent.to(self.gan.device)
        return self.generate(draw, generator)

    def traverse(self, generator: nn.Module, code: int, values: int = 10, latent: Tensor | None = None) -> Tensor:
        """A grid that varies one code: rows are the discrete code's values (or, for ``code >= 0``, continuous
        code ``code`` from -2 to 2 across the columns, with the discrete code fixed per row)."""
        rows, device, sample_latent = self.discrete_codes, self.gan.device, self.gan.sample_latent
        latent = sample_latent[:1].expand(rows * values, -1) if latent is None else latent
        labels = torch.arange(rows, device=device).repeat_interleave(values)
        continuous = torch.zeros(rows * values, self.continuous_codes, device=device)
        if code >= 0:
            continuous[:, code] = torch.linspace(-2, 2, values, device=device).repeat(rows)
        else:  # discrete traversal: each column a different noise vector
            latent = sample_latent[:values].repeat(rows, 1)
        return self.sample_codes(generator, rows * values, labels, continuous, latent)

    def sample_grids(self, generator: nn.Module) -> dict[str, Tensor]:
        grids = super().sample_grids(generator)
        grids["discrete_code"] = to_display(self.traverse(generator, -1))
        for code in range(self.continuous_codes):
            grids[f"continuous_code_{code}"] = to_display(self.traverse(generator, code))
        return grids


class InfoGAN(GAN):
    """InfoGAN: besides the noise ``z`` the generator reads a categorical code (``discrete_codes`` values) and
    ``continuous_codes`` codes uniform on [-1, 1]; a Q head on the discriminator's features recovers them
    from the image. Maximising that mutual information (a lower bound on it: the Q head's likelihood)
    makes each code control one factor of variation, without labels. Both the Q head (in the
    discriminator's step) and the generator minimise the code losses: cross-entropy for the discrete code
    (weight ``discrete_weight``) and, for the continuous ones, the Gaussian negative log-likelihood under the
    Q head's predicted mean and variance or the squared error of its mean (weight ``continuous_weight``).

    With ``real_code_labels`` the Q head's discrete code also learns the classes of the real images, as the
    Keras reference code trains it (the paper's InfoGAN uses no labels): the code then means the class.

    ``sample(n, labels)`` uses ``labels`` as the discrete code: after matching codes to classes (see
    ``lightning_dl.evaluation``) it samples classes on demand; :meth:`sample_codes` sets the continuous codes
    too, :meth:`traverse` varies one code. ``sample_grids`` adds code traversals.

    Args:
        discrete_codes: Values of the categorical code (10 for the ten classes of Fashion-MNIST).
        continuous_codes: Number of continuous codes.
        discrete_weight: λ of the discrete code's cross-entropy.
        continuous_weight: λ of the continuous codes' loss.
        continuous_loss: ``gaussian_nll`` (Q predicts mean and log-variance) or ``mse`` (mean only).
        real_code_labels: Also train the discrete code's cross-entropy on real images against their class
            labels in the discriminator's step (needs ``label_format: integer`` and ``discrete_codes`` equal to
            the number of classes); False: unsupervised, as in the paper.
        latent_dim: Size of the noise ``z`` (62 in the paper).
        **kwargs: The other arguments of :class:`GAN` (but its objective).
    """

    objective: InformationObjective

    def __init__(self, discrete_codes: int = 10, continuous_codes: int = 2, discrete_weight: float = 1.0,
                 continuous_weight: float = 0.5, continuous_loss: ContinuousLoss = "gaussian_nll",
                 real_code_labels: bool = False, latent_dim: int = 62, **kwargs: Any) -> None:
        objective = functools.partial(InformationObjective, discrete_codes=discrete_codes,
                                      continuous_codes=continuous_codes, discrete_weight=discrete_weight,
                                      continuous_weight=continuous_weight, continuous_loss=continuous_loss,
                                      real_code_labels=real_code_labels)
        super().__init__(objective=objective, latent_dim=latent_dim, **kwargs)

    def sample_codes(self, n: int, labels: Tensor | None = None, continuous: Tensor | None = None,
                     latent: Tensor | None = None) -> Tensor:
        """``n`` images of the discrete code ``labels`` and the ``continuous`` codes ``(n, continuous_codes)``
        (each drawn where not given), by the sampling generator in eval mode."""
        with self.sampling() as generator:
            return self.objective.sample_codes(generator, n, labels, continuous, latent)

    def traverse(self, code: int, values: int = 10, latent: Tensor | None = None) -> Tensor:
        """A grid that varies one code (see :meth:`InformationObjective.traverse`), in [-1, 1]."""
        with self.sampling() as generator:
            return self.objective.traverse(generator, code, values, latent)
