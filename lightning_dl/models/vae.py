"""The variational autoencoder: the latent vector becomes a Gaussian posterior ``q(z|x)``, sampled with the
reparameterisation trick and pulled towards the prior ``N(0, I)`` by a KL term; the objective is the evidence
lower bound (ELBO). It is an :class:`~lightning_dl.models.Autoencoder` (same encoder, decoder, metrics, grids)
with its own ``encode``, ``decode(z)`` and ``sample(n)``, so a callback never has to guess what ``forward``
takes.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_dl.errors import ConfigurationError, check_choice
from lightning_dl.models.autoencoders import Autoencoder
from lightning_dl.models.base import Stage
from lightning_dl.nn.autoencoders import ConvEncoder, Corruption

Likelihood = Literal["bernoulli", "gaussian"]


def gaussian_kl(mean: Tensor, log_var: Tensor) -> Tensor:
    """``KL(N(mean, exp(log_var)) || N(0, I))`` per sample, in nats: ``½ Σ (mean² + σ² − 1 − log σ²)``."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1)


def reparameterize(mean: Tensor, log_var: Tensor) -> Tensor:
    """A draw ``z = mean + σ·ε`` with ``ε ~ N(0, I)``: differentiable in ``mean`` and ``log_var``."""
    return mean + (0.5 * log_var).exp() * torch.randn_like(mean)


class VariationalAutoencoder(Autoencoder):
    """A variational autoencoder on the convolutional encoder and decoder (Kingma & Welling, 2014).

    The encoder's last layer gives the posterior's mean and log-variance; training decodes a reparameterised
    draw and minimises ``−log p(x|z) + β·KL(q(z|x) || N(0, I))`` per image, with ``β = kl_weight``, raised linearly
    from 0 over the first ``kl_warmup_steps`` batches when asked (KL warm-up). ``likelihood``: ``bernoulli``
    (binary cross-entropy summed over pixels, the usual choice for (Fashion-)MNIST and the one published ELBOs
    use) or ``gaussian`` (a fixed ``decoder_std``: the squared error scaled, plus its normalising constant).

    Logged per stage, besides the autoencoder's MSE and PSNR (of the posterior mean's decoding): ``stage/elbo``
    (nats per image, one posterior sample, β = 1 whatever the weight), ``stage/kl`` and
    ``stage/reconstruction_nll``; ``stage/loss`` is the β-weighted objective; ``train/kl_weight`` during warm-up.
    ``sample_grids()`` adds ``prior_samples``: images decoded from fixed draws of the prior. Monitors
    ``val/elbo`` (higher is better).

    Args:
        input_shape: ``(C, H, W)`` of the images; linked from the DataModule.
        latent_dim: Size of the latent vector (2 for the latent plots).
        layer_filters: Channels of the encoder's stride-2 convolutions.
        kernel_size: Side of every kernel.
        likelihood: ``bernoulli`` or ``gaussian``.
        decoder_std: The Gaussian decoder's fixed standard deviation (``likelihood: gaussian``).
        kl_weight: β, the weight of the KL term in the training loss.
        kl_warmup_steps: Batches over which β rises linearly from 0 to ``kl_weight`` (0: no warm-up).
        corruption: Optional corruption of the input (see :class:`~lightning_dl.models.Autoencoder`).
        class_names: Names of the classes (linked from the DataModule), for the latent scatter.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any scheduler.
        num_samples: Images in each row of the grids (the prior grid is ``num_samples``²).
        sample_seed: Seed of the fixed prior draws of the ``prior_samples`` grid.
    """

    monitor = "val/elbo"
    monitor_mode = "max"

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        latent_dim: int = 2,
        layer_filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        likelihood: Likelihood = "bernoulli",
        decoder_std: float = 0.1,
        kl_weight: float = 1.0,
        kl_warmup_steps: int = 0,
        corruption: Corruption | None = None,
        class_names: Sequence[str] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        num_samples: int = 10,
        sample_seed: int = 0,
    ) -> None:
        check_choice("likelihood", likelihood, Likelihood)
        if kl_weight < 0 or kl_warmup_steps < 0 or decoder_std <= 0:
            raise ConfigurationError(f"kl_weight ({kl_weight}) and kl_warmup_steps ({kl_warmup_steps}) must not be "
                                     f"negative and decoder_std ({decoder_std}) must be positive.")
        super().__init__(input_shape, latent_dim, layer_filters, kernel_size, corruption, class_names, optimizer,
                         lr_scheduler, num_samples)
        self.save_hyperparameters()
        self.likelihood, self.decoder_std = likelihood, decoder_std
        self.kl_weight, self.kl_warmup_steps = kl_weight, kl_warmup_steps
        seeded = torch.Generator().manual_seed(sample_seed)
        self.register_buffer("sample_latent", torch.randn(num_samples ** 2, latent_dim, generator=seeded))

    def build_encoder(self, kernel_size: int, num_outputs: int = 0, latent_outputs: int = 1) -> ConvEncoder:
        return super().build_encoder(kernel_size, num_outputs, latent_outputs=2)  # mean and log-variance

    # --- the VAE's own interface --------------------------------------------------------------------
    def posterior(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """The posterior's ``(mean, log_var)``, each ``(N, latent_dim)``."""
        mean, log_var = self.encoder.forward_features(self.check_inputs(inputs)).chunk(2, dim=1)
        return mean, log_var

    def encode(self, inputs: Tensor) -> Tensor:
        """The posterior means ``(N, latent_dim)``: the images' latent codes."""
        return self.posterior(inputs)[0]

    def sample(self, n: int, latent: Tensor | None = None) -> Tensor:
        """``n`` images decoded from draws of the prior ``N(0, I)`` (or from the given ``latent``)."""
        if latent is None:
            latent = torch.randn(n, self.latent_dim, device=self.device)
        return self.decode(latent.to(self.device))

    def negative_log_likelihood(self, outputs: Tensor, images: Tensor) -> Tensor:
        """``−log p(x|z)`` per image in nats, from the decoder's outputs."""
        if self.likelihood == "bernoulli":
            return F.binary_cross_entropy(outputs, images.clamp(0, 1), reduction="none").flatten(1).sum(1)
        pixels = images[0].numel()
        squared = ((outputs - images) / self.decoder_std).pow(2).flatten(1).sum(1)
        return 0.5 * squared + pixels * math.log(self.decoder_std * math.sqrt(2 * math.pi))

    def current_kl_weight(self) -> float:
        """β at this training step (warm-up included)."""
        if not self.kl_warmup_steps:
            return self.kl_weight
        return self.kl_weight * min(1.0, self.global_step / self.kl_warmup_steps)

    # --- training -----------------------------------------------------------------------------------
    def reconstruct(self, inputs: Tensor, stage: str) -> tuple[Tensor, dict[str, Tensor]]:
        mean, log_var = self.posterior(inputs)
        drawn = self.decode(reparameterize(mean, log_var))
        outputs = drawn if stage == "train" else self.decode(mean)  # evaluated: the posterior mean's decoding
        return outputs, {"mean": mean, "log_var": log_var, "drawn": drawn}

    def losses(self, outputs: Tensor, images: Tensor, labels: Tensor | None, extra: dict[str, Tensor],
               stage: Stage) -> Tensor:
        nll, kl, n = self.negative_log_likelihood(extra["drawn"], images), gaussian_kl(extra["mean"], extra["log_var"]), len(images)
        self.track(stage, "reconstruction_nll", nll.mean(), n)
        self.track(stage, "kl", kl.mean(), n)
        self.track(stage, "elbo", -(nll + kl).mean(), n)
        weight = self.current_kl_weight() if stage == "train" else self.kl_weight
        if stage == "train" and self.kl_warmup_steps:
            self.log_step("train/kl_weight", torch.tensor(weight))
        return (nll + weight * kl).mean()

    def sample_grids(self) -> dict[str, Tensor]:
        """The reconstruction grid and ``prior_samples``, decoded from fixed draws of the prior."""
        grids = super().sample_grids()
        was_training = self.training
        self.eval()
        with torch.no_grad():
            grids["prior_samples"] = self.sample(len(self.sample_latent), self.sample_latent)
        self.train(was_training)
        return grids
