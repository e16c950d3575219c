"""Small modules the CLI tests load by class path."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import OptimizerCallable
from torch import Tensor, nn

from lightning_dl.models import BaseModule


class Unmonitored(BaseModule):
    """A softmax regression that monitors nothing and has no validation or test step.

    Args:
        input_shape: Shape of one input.
        num_classes: Number of classes.
        optimizer: The optimiser.
    """

    monitor = None

    def __init__(self, input_shape: tuple[int, ...] = (1, 8, 8), num_classes: int = 10,
                 optimizer: OptimizerCallable = torch.optim.Adam) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer, self.optimizer = nn.Linear(math.prod(input_shape), num_classes), optimizer
        self.input_shape = tuple(input_shape)

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch
        loss = F.cross_entropy(self.layer(x.flatten(1)), y)
        self.track("train", "loss", loss, len(x))
        return loss

    def configure_optimizers(self):
        return self.build_optimization(self.parameters(), self.optimizer)
