"""Small pieces the data tests share: a tiny LightningModule that does not depend on lightning_dl.models."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torchmetrics
from torch import nn


class TinyClassifier(pl.LightningModule):
    """A linear classifier that logs synchronised accuracy and sample counts, and records what it was fed.

    ``seen[stage]`` holds, per epoch, the first input feature of every sample it saw (a fingerprint of
    the order and of any augmentation); ``stage/count`` counts samples across all processes.
    """

    def __init__(self, input_size: int, num_classes: int) -> None:
        super().__init__()
        self.layer = nn.Linear(input_size, num_classes)
        self.accuracy = nn.ModuleDict({s: torchmetrics.classification.MulticlassAccuracy(num_classes, average="micro")
                                       for s in ("val", "test")})
        self.count = nn.ModuleDict({s: torchmetrics.SumMetric() for s in ("val", "test")})
        self.seen: dict[str, list[list[float]]] = {"train": [], "val": [], "test": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.flatten(1))

    def _record(self, stage: str, x: torch.Tensor, first: bool) -> None:
        if first or not self.seen[stage]:
            self.seen[stage].append([])
        self.seen[stage][-1].extend(x.flatten(1)[:, 0].tolist() if stage != "train" else x.flatten(1).sum(1).tolist())

    def training_step(self, batch, batch_idx):
        x, y = batch
        self._record("train", x, batch_idx == 0)
        return nn.functional.cross_entropy(self(x), y)

    def _evaluate(self, stage: str, batch, batch_idx: int) -> None:
        x, y = batch
        self._record(stage, x, batch_idx == 0)
        self.accuracy[stage].update(self(x), y)
        self.count[stage].update(torch.tensor(float(len(y))))
        self.log(f"{stage}/accuracy", self.accuracy[stage], on_epoch=True)
        self.log(f"{stage}/count", self.count[stage], on_epoch=True)

    def validation_step(self, batch, batch_idx):
        self._evaluate("val", batch, batch_idx)

    def test_step(self, batch, batch_idx):
        self._evaluate("test", batch, batch_idx)

    def predict_step(self, batch, batch_idx):
        return self(batch[0]).argmax(1)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def quiet_trainer(**kwargs) -> pl.Trainer:
    """A CPU trainer that prints and writes nothing unless asked."""
    options = {"accelerator": "cpu", "devices": 1, "logger": False, "enable_checkpointing": False,
               "enable_progress_bar": False, "enable_model_summary": False, **kwargs}
    return pl.Trainer(**options)
