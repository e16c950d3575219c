"""Learning curves: train and validation values per epoch, raw and smoothed, and where they part ways.

The notes' stopping point is the epoch where the validation trend turns against the training trend: the
training loss keeps falling while the validation loss starts to rise (the model begins to overfit).
:func:`turning_point` finds it on smoothed curves; :class:`LearningCurves` plots the curves with that
epoch marked, saves the plot as PNG and logs it to wandb.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger

from lightning_dl.callbacks.samples import run_directory
from lightning_dl.errors import ConfigurationError
from lightning_dl.types import MonitorMode



def exponential_moving_average(values: Sequence[float], factor: float = 0.6) -> list[float]:
    """Smooth a curve: ``s[0] = x[0]`` and ``s[t] = factor * s[t-1] + (1 - factor) * x[t]``.

    ``factor`` 0 leaves the curve as it is; closer to 1 smooths more (and lags more: about
    ``factor / (1 - factor)`` epochs).
    """
    if not 0 <= factor < 1:
        raise ConfigurationError(f"The smoothing factor must lie in [0, 1), got {factor}.")
    smoothed: list[float] = []
    for value in values:
        smoothed.append(float(value) if not smoothed else factor * smoothed[-1] + (1 - factor) * float(value))
    return smoothed


def turning_point(train: Sequence[float], val: Sequence[float], ema: float = 0.6, patience: int = 3,
                  mode: MonitorMode = "min") -> int | None:
    """The epoch where the validation trend turns against the training trend, or ``None`` if it never does.

    Both curves (one value per epoch, aligned) are smoothed with :func:`exponential_moving_average`. The
    turning point is the first epoch ``t`` after which, for ``patience`` epochs, the smoothed validation
    value stays worse than at ``t`` while the smoothed training value stays better than at ``t``: for
    losses (``mode="min"``), validation above and training below. It needs ``patience`` epochs after ``t``,
    so, like early stopping, it is found ``patience`` epochs late; ``t`` is the epoch to stop at.

    Args:
        train: Training values per epoch (e.g. ``train/loss_epoch``).
        val: Validation values of the same epochs (e.g. ``val/loss``).
        ema: Smoothing factor of the exponential moving average (0: no smoothing).
        patience: Epochs the two trends must stay apart.
        mode: ``min`` when lower is better (losses), ``max`` when higher is better (accuracy).
    """
    if patience < 1:
        raise ConfigurationError(f"patience must be at least 1 epoch, got {patience}.")
    sign = 1.0 if mode == "min" else -1.0
    train_smooth = [sign * v for v in exponential_moving_average(train, ema)]
    val_smooth = [sign * v for v in exponential_moving_average(val, ema)]
    for t in range(min(len(train_smooth), len(val_smooth)) - patience):
        window = range(t + 1, t + patience + 1)
        if all(val_smooth[i] > val_smooth[t] for i in window) and all(train_smooth[i] < train_smooth[t] for i in window):
            return t
    return None


def focused_limits(curves: Iterable[tuple[Sequence[int], Sequence[float]]]) -> tuple[float, float] | None:
    """Value-axis limits that fit every ``(epochs, values)`` curve from the end of its first tenth of epochs on,
    so that a loss which starts huge does not flatten the part worth reading; ``None`` without finite values."""
    values = [v for epochs, curve in curves for v in list(curve)[len(epochs) // 10:] if math.isfinite(v)]
    if not values:
        return None
    low, high = min(values), max(values)
    margin = 0.05 * (high - low or abs(high) or 1.0)
    return low - margin, high + margin


def quantity(key: str) -> str:
    """What a logged key measures, without its stage: ``train/loss_epoch`` and ``val/loss`` are both ``loss``."""
    return key.split("/", 1)[1].removesuffix("_epoch")


class MetricHistory(pl.Callback):
    """Record every epoch-level value the model logs: ``val/*`` after each validation run of ``fit``,
    ``train/*`` (except per-step ``*_step`` values) after each training epoch.

    The module logs its training values in its own ``on_train_epoch_end``, which Lightning calls after the
    callbacks' hook of that name; so training values are read when the next epoch starts and when
    training ends. The history is part of the checkpoint, so a resumed run keeps its whole curves.

    Attributes:
        history: ``{key: {epoch: value}}``.
    """

    def __init__(self) -> None:
        self.history: dict[str, dict[int, float]] = {}

    def _record(self, trainer: pl.Trainer, epoch: int, stage: str) -> None:
        for key, value in trainer.callback_metrics.items():
            if key.startswith(f"{stage}/") and not key.endswith("_step") and getattr(value, "numel", lambda: 1)() == 1:
                self.history.setdefault(key, {})[epoch] = float(value)  # the epoch's last validation counts

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._record(trainer, trainer.current_epoch, "val")

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self._record(trainer, trainer.current_epoch - 1, "train")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self._record(trainer, trainer.current_epoch - 1, "train")

    def curve(self, key: str) -> tuple[list[int], list[float]]:
        """The epochs and values recorded for ``key``, in epoch order."""
        points = sorted(self.history.get(key, {}).items())
        return [e for e, _ in points], [v for _, v in points]

    def state_dict(self) -> dict[str, Any]:
        return {"history": {key: dict(values) for key, values in self.history.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {key: {int(e): float(v) for e, v in values.items()}
                        for key, values in state_dict.get("history", {}).items()}


class LearningCurves(MetricHistory):
    """Plot train and validation loss and metrics per epoch, raw and smoothed, with the turning point marked.

    One panel per quantity the model logs for a stage (``loss``, ``accuracy``, ``mae``, ...): the raw values
    as faint lines, their exponential moving average as solid lines. The turning point
    (:func:`turning_point` on ``train/loss_epoch`` and ``val/loss``) is a dashed vertical line in every panel
    and is kept as :attr:`turning_epoch`. The plot is saved as ``<run>/learning_curves.png`` (the run folder
    of the checkpoints) when training ends, and every ``every_n_epochs`` epochs if set, and logged to wandb
    as ``learning_curves``.

    Args:
        metrics: Quantities to plot, e.g. ``[loss, accuracy]``; default every one logged (loss first).
        ema: Smoothing factor of the exponential moving average (0: no smoothing).
        patience: Epochs the validation and training trends must stay apart to make a turning point.
        every_n_epochs: Also redraw the plot every this many epochs (``None``: only at the end).
        filename: Name of the PNG in the run folder.
    """

    def __init__(self, metrics: list[str] | None = None, ema: float = 0.6, patience: int = 3,
                 every_n_epochs: int | None = None, filename: str = "learning_curves.png") -> None:
        super().__init__()
        exponential_moving_average([], ema)  # checks the factor now, not after training
        self.metrics, self.ema, self.patience = metrics, ema, patience
        self.every_n_epochs, self.filename = every_n_epochs, filename
        self.turning_epoch: int | None = None
        self.saved: list[Path] = []

    def quantities(self) -> list[str]:
        """The quantities to plot: those asked for, else every one recorded, loss first."""
        if self.metrics is not None:
            return list(self.metrics)
        names = sorted({quantity(key) for key in self.history})
        return sorted(names, key=lambda name: name != "loss")

    def find_turning_point(self) -> int | None:
        """The turning epoch of the recorded losses (epochs where both were recorded), or ``None``."""
        train = self.history.get("train/loss_epoch", {})
        val = self.history.get("val/loss", {})
        epochs = sorted(set(train) & set(val))
        index = turning_point([train[e] for e in epochs], [val[e] for e in epochs], self.ema, self.patience)
        return None if index is None else epochs[index]

    def plot(self, path: Path) -> Path:
        """Draw the curves into a PNG at ``path``."""
        from matplotlib.figure import Figure  # no pyplot: no global backend, no open windows
        from matplotlib.ticker import MaxNLocator

        names = [n for n in self.quantities() if any(quantity(k) == n for k in self.history)]
        figure = Figure(figsize=(4.5 * max(1, len(names)), 3.6), layout="constrained")
        axes = figure.subplots(1, max(1, len(names)), squeeze=False)[0]
        for axis, name in zip(axes, names):
            drawn = []
            for stage, colour in (("train", "C0"), ("val", "C1")):
                key = next((k for k in self.history if k.startswith(f"{stage}/") and quantity(k) == name), None)
                if key is None:
                    continue
                epochs, values = self.curve(key)
                drawn.append((epochs, values))
                axis.plot(epochs, values, color=colour, alpha=0.3, marker=".", label=f"{stage}")
                axis.plot(epochs, exponential_moving_average(values, self.ema), color=colour,
                          label=f"{stage} (EMA {self.ema:g})")
            if self.turning_epoch is not None:
                axis.axvline(self.turning_epoch, color="grey", linestyle="--",
                             label=f"turning point: epoch {self.turning_epoch}")
            limits = focused_limits(drawn)
            if limits is not None:
                axis.set_ylim(*limits)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set(title=name, xlabel="epoch")
            axis.legend(fontsize="small")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
        return path

    def draw(self, trainer: pl.Trainer) -> Path | None:
        """Find the turning point, save the plot and log it to wandb (on the main process)."""
        self.turning_epoch = self.find_turning_point()
        if not trainer.is_global_zero or not self.history:
            return None
        path = self.plot(run_directory(trainer) / self.filename)
        self.saved.append(path)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(key="learning_curves", images=[str(path)], step=trainer.global_step)
                if self.turning_epoch is not None:
                    logger.log_metrics({"learning_curves/turning_epoch": self.turning_epoch}, step=trainer.global_step)
        return path

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self.every_n_epochs and trainer.current_epoch > 0 and trainer.current_epoch % self.every_n_epochs == 0:
            self.draw(trainer)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        self.draw(trainer)

