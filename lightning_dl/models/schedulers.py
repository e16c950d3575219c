"""Learning-rate schedules of the reference recipes that one torch scheduler does not express.

The Keras CIFAR-10 ResNet reference uses two callbacks at once: a step decay of the learning rate at epochs
80/120/160/180 and ``ReduceLROnPlateau`` (factor √0.1, patience 5). A module of this project takes one
scheduler, so :class:`StepDecayOnPlateau` is both in one: a ``ReduceLROnPlateau`` (the module steps it with what
it monitors) that also multiplies the learning rate by the step decay's factor when an epoch passes a milestone.

One difference from Keras: there ``LearningRateScheduler`` sets the rate from the epoch alone at the start of
every epoch, which undoes a plateau reduction one epoch later; here plateau reductions persist and the step
decay multiplies on top of them (what the recipe intends), floored at ``min_lr``.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from lightning_dl.errors import ConfigurationError


class StepDecayOnPlateau(ReduceLROnPlateau):
    """``ReduceLROnPlateau`` plus a step decay: from the epoch after ``milestones[i]`` on, the learning rate is the
    base rate × ``factors[i]`` (× the plateau reductions so far).

    Args:
        optimizer: The optimiser whose learning rate is scheduled.
        milestones: Epochs (counted from 0) after which each decay applies, increasing (Keras: 80, 120, 160, 180).
        factors: The base rate's multiple after each milestone (Keras: 1e-1, 1e-2, 1e-3, 0.5e-3).
        mode: ``min`` or ``max``: whether the monitored value should fall or rise.
        factor: The plateau reduction's multiple (Keras: √0.1).
        patience: Epochs without improvement before a plateau reduction.
        threshold: Smallest change that counts as an improvement.
        cooldown: Epochs to wait after a reduction before counting again.
        min_lr: Floor of the learning rate (Keras: 0.5e-6).
    """

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int] = (80, 120, 160, 180),
                 factors: Sequence[float] = (1e-1, 1e-2, 1e-3, 0.5e-3), mode: Literal["min", "max"] = "min",
                 factor: float = math.sqrt(0.1), patience: int = 5, threshold: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.5e-6) -> None:
        if len(milestones) != len(factors):
            raise ConfigurationError(f"StepDecayOnPlateau needs one factor per milestone, got {len(milestones)} "
                                     f"milestones and {len(factors)} factors.")
        if list(milestones) != sorted(milestones):
            raise ConfigurationError(f"milestones must increase, got {list(milestones)}.")
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold,
                         cooldown=cooldown, min_lr=min_lr)
        self.milestones, self.factors = list(milestones), [float(f) for f in factors]
        self.epochs_done = 0

    def decay_factor(self, epoch: int) -> float:
        """The step decay's multiple of the base rate during ``epoch`` (counted from 0)."""
        passed = [f for m, f in zip(self.milestones, self.factors) if epoch > m]
        return passed[-1] if passed else 1.0

    def step(self, metrics: float, epoch: int | None = None) -> None:  # type: ignore[override]
        """Count one finished epoch: apply the step decay for the next one, then the plateau rule."""
        before = self.decay_factor(self.epochs_done)
        self.epochs_done += 1
        ratio = self.decay_factor(self.epochs_done) / before
        if ratio != 1.0:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                group["lr"] = max(group["lr"] * ratio, floor)
        super().step(metrics)
