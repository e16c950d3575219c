"""InfoGAN (Chen et al. 2016): codes the generator must keep recoverable from its images."""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.models.gans.base import GAN, Draw, Phase, one_hot
from lightning_dl.nn.discriminators import Discriminator, DiscriminatorOutputs

ContinuousLoss = Literal["gaussian_nll", "mse"]


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
    ``lightning_dl.evaluation``) it samples classes on demand. ``sample_grids`` adds code traversals.

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
        **kwargs: The other arguments of :class:`GAN`.
    """

    def __init__(self, discrete_codes: int = 10, continuous_codes: int = 2, discrete_weight: float = 1.0,
                 continuous_weight: float = 0.5, continuous_loss: ContinuousLoss = "gaussian_nll",
                 real_code_labels: bool = False, latent_dim: int = 62, **kwargs) -> None:
        self.discrete_codes, self.continuous_codes = discrete_codes, continuous_codes
        self.continuous_loss = continuous_loss
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.discrete_weight, self.continuous_weight = discrete_weight, continuous_weight
        if real_code_labels and discrete_codes != self.num_classes:
            raise ConfigurationError(f"real_code_labels makes the discrete code the class: discrete_codes "
                                     f"({discrete_codes}) must equal num_classes ({self.num_classes}).")
        self.real_code_labels = real_code_labels

    def build_networks(self, generator: Callable[..., nn.Module], discriminator: Callable[..., Discriminator]
                       ) -> tuple[nn.Module, nn.Module]:
        return (generator(image_shape=self.input_shape, latent_dim=self.latent_dim,
                          condition_dim=self.discrete_codes + self.continuous_codes),
                discriminator(image_shape=self.input_shape, discrete_codes=self.discrete_codes,
                              continuous_codes=self.continuous_codes,
                              code_log_variance=self.continuous_loss == "gaussian_nll"))

    def condition(self, n: int, labels: Tensor | None = None, continuous: Tensor | None = None) -> Draw:
        """Noise, a discrete code (``labels``, or drawn uniformly) and continuous codes (or drawn from U(-1, 1));
        given codes are moved to the model's device."""
        labels = torch.randint(self.discrete_codes, (n,), device=self.device) if labels is None else labels.to(self.device)
        continuous = (torch.rand(n, self.continuous_codes, device=self.device) * 2 - 1 if continuous is None
                      else continuous.to(self.device))
        condition = torch.cat([one_hot(labels, self.discrete_codes), continuous], dim=1)
        return Draw(torch.randn(n, self.latent_dim, device=self.device), condition, labels, continuous)

    def extra_losses(self, phase: Phase, real: DiscriminatorOutputs | None, real_labels: Tensor | None,
                     fake: DiscriminatorOutputs, draw: Draw) -> dict[str, Tensor]:
        predicted = fake.codes
        discrete = F.cross_entropy(predicted.discrete_logits.float(), draw.labels)
        if phase == "discriminator" and self.real_code_labels:
            discrete = discrete + F.cross_entropy(real.codes.discrete_logits.float(), self.require_labels(real_labels))
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

    @torch.no_grad()
    def traverse(self, code: int, values: int = 10, latent: Tensor | None = None) -> Tensor:
        """A grid that varies one code: rows are the discrete code's values (or, for ``code >= 0``, continuous
        code ``code`` from -2 to 2 across the columns, with the discrete code fixed per row)."""
        rows = self.discrete_codes
        latent = self.sample_latent[:1].expand(rows * values, -1) if latent is None else latent
        labels = torch.arange(rows, device=self.device).repeat_interleave(values)
        continuous = torch.zeros(rows * values, self.continuous_codes, device=self.device)
        if code >= 0:
            continuous[:, code] = torch.linspace(-2, 2, values, device=self.device).repeat(rows)
        else:  # discrete traversal: each column a different noise vector
            latent = self.sample_latent[:values].repeat(rows, 1)
        return self.sample(rows * values, labels, latent, continuous=continuous)

    def sample_grids(self) -> dict[str, Tensor]:
        grids = super().sample_grids()
        grids["discrete_code"] = self.to_display(self.traverse(-1))
        for code in range(self.continuous_codes):
            grids[f"continuous_code_{code}"] = self.to_display(self.traverse(code))
        return grids
