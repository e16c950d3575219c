"""Few-shot learning: prototypical networks (Snell, Swersky and Zemel, 2017).

An embedding network maps images to vectors; each class's **prototype** is the mean embedding of its support
images; a query is classified by a softmax over the negative squared Euclidean distances to the prototypes
and the embedding is trained with cross-entropy on the queries of episodes drawn from the training classes
(:class:`~lightning_dl.data.EpisodicDataModule`). At test time the classes are new: only their few support
images are seen, and nothing is retrained.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn
from torchmetrics import Metric, MetricCollection

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.models.base import BaseModule, Stage
from lightning_dl.nn.base import Network, NetworkFactory
from lightning_dl.nn.layers import output_shape

#: The normal quantile of a two-sided 95 % confidence interval.
Z_95 = 1.96


class Conv4(Network):
    """The embedding of prototypical networks: four blocks of 3×3 convolution, batch norm, ReLU, 2×2 max pooling.

    Body (``features``): the blocks and flatten (64 values per sample for 28×28 images with 64 channels).
    Pooling stops once the maps are 1×1, so the same network reads 8×8 digits. Head: a linear layer (unused by
    :class:`PrototypicalNetwork`, which keeps only the body; there for fine-tuning as a classifier).

    Args:
        input_shape: ``(C, H, W)``.
        num_outputs: Units of the head.
        channels: Filters of every block (64 in Snell et al.).
        blocks: Number of conv blocks.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, channels: int = 64, blocks: int = 4) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"Conv4 reads images of shape (C, H, W), got input_shape {tuple(input_shape)}.")
        layers: list[nn.Module] = []
        in_channels, size = input_shape[0], min(input_shape[1:])
        for _ in range(blocks):
            layers += [nn.Conv2d(in_channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()]
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            in_channels = channels
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.num_features = output_shape(self.features, input_shape)[0]
        self.num_outputs = num_outputs
        self.head = self.build_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)


def class_prototypes(embeddings: Tensor, labels: Tensor, ways: int) -> Tensor:
    """The prototype of each class: the mean of its support embeddings, ``(ways, D)`` from ``(S, D)``."""
    membership = F.one_hot(labels, ways).to(embeddings.dtype)  # (S, ways)
    return membership.T @ embeddings / membership.sum(0)[:, None]


def squared_distances(queries: Tensor, prototypes: Tensor) -> Tensor:
    """Squared Euclidean distance of every query ``(Q, D)`` to every prototype ``(N, D)``: ``(Q, N)``."""
    return (queries[:, None, :] - prototypes[None, :, :]).pow(2).sum(-1)


def confidence_interval95(accuracies: Tensor) -> float:
    """Half-width of the 95 % confidence interval of the mean accuracy: ``1.96 · s / √n`` (``s`` with ``n - 1``)."""
    n = accuracies.numel()
    return Z_95 * accuracies.double().std().item() / math.sqrt(n) if n > 1 else 0.0


class EpisodeAccuracy(Metric):
    """Mean query accuracy over episodes (each episode counts once), with its 95 % confidence interval.

    ``update(correct, queries)`` takes per-episode counts of correctly classified queries and of queries;
    ``compute()`` returns ``accuracy`` (the mean of the episode accuracies), ``accuracy_std`` (their sample
    standard deviation) and ``accuracy_ci95`` (``1.96 · std / √episodes``). Sums, so DDP processes combine exactly.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        for name in ("episodes", "total", "total_squares"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, correct: Tensor, queries: Tensor) -> None:
        accuracies = correct.double() / queries.double()
        self.episodes += accuracies.numel()
        self.total += accuracies.sum()
        self.total_squares += accuracies.pow(2).sum()

    def compute(self) -> dict[str, Tensor]:
        n = self.episodes
        mean = self.total / n
        variance = ((self.total_squares - n * mean ** 2) / (n - 1)).clamp(min=0) if n > 1 else torch.zeros_like(n)
        std = variance.sqrt()
        return {"accuracy": mean.float(), "accuracy_std": std.float(), "accuracy_ci95": (Z_95 * std / n.sqrt()).float()}


class PrototypicalNetwork(BaseModule):
    """Prototypical network for few-shot classification (Snell et al., 2017).

    Each batch is an episode ``(support_images, support_labels, query_images, query_labels)`` (from
    :class:`~lightning_dl.data.EpisodicDataModule`). The embedding is the body (``features``) of the network the
    factory builds; each class's prototype is the mean embedding of its support images; queries are classified
    by ``softmax(-d²)`` over their squared Euclidean distances ``d²`` to the prototypes; the loss is the
    cross-entropy of the queries. Logged per stage: ``stage/loss`` (``train/loss_step``, ``train/loss_epoch``)
    and ``stage/accuracy``, the mean over episodes of the query accuracy, with ``stage/accuracy_std`` and
    ``stage/accuracy_ci95`` (half-width of its 95 % confidence interval, ``1.96 · std / √episodes``).
    Monitors ``val/accuracy`` (higher is better): the score few-shot results are reported in.

    Args:
        network: Builds the network whose body is the embedding, from ``(input_shape, num_outputs)``; the head
            is discarded. ``None``: :class:`Conv4` (Snell et al.'s four conv blocks); or ``lightning_dl.nn.CNN``.
        input_shape: Shape of one image; the CLI links it from the DataModule.
        optimizer: Any ``torch.optim`` optimiser (Adam, learning rate 1e-3 in Snell et al.).
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler (Snell et al. halve the rate every 2000 episodes).
    """

    monitor = "val/accuracy"
    monitor_mode = "max"

    def __init__(
        self,
        network: NetworkFactory | None = None,
        input_shape: tuple[int, ...] = (1, 28, 28),
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.input_shape = tuple(input_shape)
        built = (network or Conv4)(self.input_shape, 1)  # only the body is kept: one output suffices
        self.embedding, self.embedding_size = built.features, built.num_features
        self.optimizer, self.lr_scheduler = optimizer, lr_scheduler

    def embed(self, images: Tensor) -> Tensor:
        """The embeddings ``(N, D)`` of ``(N, C, H, W)`` images."""
        if tuple(images.shape[1:]) != self.input_shape:
            raise DataValidationError(
                f"Episode images have shape {tuple(images.shape[1:])} but the embedding was built for "
                f"{self.input_shape}. Match the DataModule's dataset to the model's input_shape.")
        return self.embedding(images).flatten(1)

    def forward(self, support_images: Tensor, support_labels: Tensor, query_images: Tensor) -> Tensor:
        """Logits of the queries, ``-d²`` to each prototype: ``(queries, ways)``; ``ways = max(label) + 1``."""
        counts = torch.bincount(support_labels)
        if (counts == 0).any():
            raise DataValidationError(f"Support labels must cover 0..ways-1 (re-indexed within the episode); "
                                      f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no support image.")
        embeddings = self.embed(torch.cat([support_images, query_images]))  # one pass: batch norm sees the episode
        support, queries = embeddings[:len(support_images)], embeddings[len(support_images):]
        return -squared_distances(queries, class_prototypes(support, support_labels, len(counts)))

    def configure_metrics(self, stage: Stage) -> MetricCollection:
        return MetricCollection({"episodes": EpisodeAccuracy()}, prefix=f"{stage}/")

    def _step(self, batch: tuple[Tensor, ...], stage: Stage) -> Tensor:
        support_images, support_labels, query_images, query_labels = batch
        logits = self(support_images, support_labels, query_images)
        loss = F.cross_entropy(logits, query_labels)
        correct = (logits.argmax(1) == query_labels).sum().view(1)
        self.update_metrics(stage, correct, torch.full_like(correct, len(query_labels)))
        self.track(stage, "loss", loss)  # each episode counts once
        return loss

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")
        self.log_step("train/loss_step", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Class probabilities of the episode's queries, ``(queries, ways)``."""
        return self(*batch[:3]).softmax(-1)

    def configure_optimizers(self) -> dict[str, Any]:
        return self.build_optimization(self.parameters(), self.optimizer, self.lr_scheduler)
