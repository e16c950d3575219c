"""Early stopping and checkpointing that follow what the model monitors.

Each LightningModule here declares ``monitor`` (e.g. ``val/loss``) and ``monitor_mode``, or ``monitor =
None`` (a GAN). These two callbacks read that declaration in ``setup`` unless given a key of their own:

- a model that monitors nothing gets periodic checkpoints (the latest one, ``last.ckpt``, or all of them
  with ``save_top_k: -1``; every ``every_n_epochs`` epochs or ``every_n_train_steps`` batches) and no early
  stopping;
- with validation switched off (``limit_val_batches: 0``, or a DataModule without a validation split) a
  validation key cannot be watched: checkpoints are still saved, early stopping is skipped, and one line
  says so.
"""

from __future__ import annotations

from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info

from lightning_dl import lightning_internals
from lightning_dl.errors import ConfigurationError
from lightning_dl.types import MonitorMode



def _validation_is_off(trainer: pl.Trainer) -> bool:
    """True when no validation will run: switched off, or (once known) a validation set of no batches."""
    if trainer.limit_val_batches == 0:
        return True
    batches = trainer.num_val_batches
    return isinstance(batches, list) and len(batches) > 0 and sum(batches) == 0


def _note(callback: pl.Callback, message: str) -> None:
    if not getattr(callback, "_noted", False):
        callback._noted = True
        rank_zero_info(message)


class EarlyStopping(pl.callbacks.EarlyStopping):
    """Stop training when the monitored value has not improved for ``patience`` validation epochs.

    Watches what the model declares (``model.monitor`` / ``model.monitor_mode``) unless ``monitor`` is given;
    does nothing, with one line saying so, for a model that monitors nothing or when validation is off. Every
    other argument is Lightning's ``EarlyStopping``'s, passed on as it is.

    Args:
        monitor: Logged key to watch; ``None`` watches the model's ``monitor``.
        mode: ``min`` or ``max``; ``None`` takes the model's ``monitor_mode``.
        patience: Validation epochs without improvement before stopping.
        kwargs: The other arguments of ``pytorch_lightning.callbacks.EarlyStopping`` (``min_delta``, ``strict``,
            ``check_finite``, ``stopping_threshold``, ``log_rank_zero_only``, ...).
    """

    def __init__(self, monitor: str | None = None, mode: MonitorMode | None = None, patience: int = 10,
                 **kwargs: Any) -> None:
        super().__init__(monitor=monitor or "", mode=mode or "min", patience=patience, **kwargs)
        self.requested_monitor, self.requested_mode = monitor, mode
        self.active = True

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.monitor = self.requested_monitor or getattr(pl_module, "monitor", None)
        mode = self.requested_mode or getattr(pl_module, "monitor_mode", "min")
        if mode != self.mode:  # the direction decides the sign of min_delta and the starting best score
            self.mode, self.min_delta, self.best_score = mode, -self.min_delta, -self.best_score
        if self.monitor is None:
            self.active = False
            _note(self, f"Early stopping is off: {type(pl_module).__name__} monitors nothing.")
        elif self.monitor.startswith("val/") and trainer.limit_val_batches == 0:
            self.active = False
            _note(self, f"Validation is off (limit_val_batches=0): early stopping on {self.monitor} is skipped.")
        super().setup(trainer, pl_module, stage)

    def checks(self, trainer: pl.Trainer) -> bool:
        """Whether early stopping checks now: it is active and the monitored value can have been computed."""
        if not self.active:
            return False
        if self.monitor not in trainer.callback_metrics and _validation_is_off(trainer):
            _note(self, f"There is no validation data: early stopping on {self.monitor} is skipped.")
            return False
        return True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.checks(trainer):
            super().on_train_epoch_end(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.checks(trainer):
            super().on_validation_end(trainer, pl_module)


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Save checkpoints: the best by what the model monitors, plus ``last.ckpt``; periodic ones when the model
    monitors nothing or validation is off. A run stopped in the middle of an epoch (a GAN's step limit, a time
    budget, a signal) is saved at the batch it stopped on. Every other argument is Lightning's
    ``ModelCheckpoint``'s, passed on as it is.

    Args:
        dirpath: Folder of the checkpoints (default: the logger's run folder).
        filename: File name pattern; default ``best-{epoch}`` when monitoring, else ``{epoch}-{step}``.
        monitor: Logged key to rank checkpoints by; ``None`` takes the model's ``monitor``.
        mode: ``min`` or ``max``; ``None`` takes the model's ``monitor_mode``.
        save_last: Also keep ``last.ckpt``, the checkpoint to resume from.
        save_top_k: Best checkpoints to keep; without a monitor 1 keeps the latest and -1 keeps every one.
        kwargs: The other arguments of ``pytorch_lightning.callbacks.ModelCheckpoint`` (``every_n_epochs``,
            ``every_n_train_steps``, ``save_weights_only``, ``save_on_exception``, ``enable_version_counter``, ...).
    """

    def __init__(self, dirpath: str | None = None, filename: str | None = None, monitor: str | None = None,
                 mode: MonitorMode | None = None, save_last: bool | Literal["link"] | None = True,
                 save_top_k: int = 1, **kwargs: Any) -> None:
        # A placeholder monitor lets save_top_k > 1 through Lightning's checks; setup() decides for real.
        super().__init__(dirpath=dirpath, filename=filename, monitor=monitor or "model's monitor", mode=mode or "min",
                         save_last=save_last, save_top_k=save_top_k, **kwargs)
        self.requested_monitor, self.requested_mode, self.requested_filename = monitor, mode, filename

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        monitor = self.requested_monitor or getattr(pl_module, "monitor", None)
        if monitor is not None and monitor.startswith("val/") and trainer.limit_val_batches == 0:
            _note(self, f"Validation is off (limit_val_batches=0): checkpoints are saved every epoch, not by {monitor}.")
            monitor = None
        self.monitor = monitor
        if monitor is None:
            if self.save_top_k not in (-1, 0, 1):
                raise ConfigurationError(f"checkpoint.save_top_k={self.save_top_k} ranks checkpoints, but nothing is "
                                         "monitored: use 1 (the latest) or -1 (every one).")
            self.filename = self.requested_filename or "{epoch}-{step}"
        else:
            self.mode = self.requested_mode or getattr(pl_module, "monitor_mode", "min")
            self.kth_value = torch.tensor(torch.inf if self.mode == "min" else -torch.inf)
            self.filename = self.requested_filename or "best-{epoch}"
        super().setup(trainer, pl_module, stage)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: object, batch: object,
                           batch_idx: int) -> None:
        """A run stopped in the middle of an epoch (a GAN's ``max_generator_steps``, a time budget) is saved
        where it stopped: Lightning would save it at the epoch's end, as if the epoch were finished, and a
        resumed run would skip the epoch's remaining batches. Saved here, it resumes with the next batch."""
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        mid_epoch = batch_idx + 1 < trainer.num_training_batches
        if trainer.should_stop and mid_epoch:
            self.save_where_stopped(trainer)  # a save here: the epoch's end saves nothing

    def save_where_stopped(self, trainer: pl.Trainer) -> bool:
        """Save the checkpoints of a run that stops at the batch it is on: the periodic one when nothing is
        monitored, and ``last.ckpt``; a resumed run goes on with the next batch. Returns whether it saved."""
        return save_where_stopped(self, trainer)


def save_where_stopped(callback: pl.callbacks.ModelCheckpoint, trainer: pl.Trainer) -> bool:
    """:meth:`ModelCheckpoint.save_where_stopped` for any Lightning ``ModelCheckpoint`` (a user's own too)."""
    return lightning_internals.save_checkpoint_where_stopped(callback, trainer)
