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

from datetime import timedelta
from typing import Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info

from lightning_dl.errors import ConfigurationError

MonitorMode = Literal["min", "max"]


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
    does nothing, with one line saying so, for a model that monitors nothing or when validation is off.

    Args:
        monitor: Logged key to watch; ``None`` watches the model's ``monitor``.
        mode: ``min`` or ``max``; ``None`` takes the model's ``monitor_mode``.
        patience: Validation epochs without improvement before stopping.
        min_delta: Smallest change that counts as an improvement.
        verbose: Print a line at every check.
        strict: Fail when the monitored key was never logged (with validation on).
        check_finite: Stop when the monitored value becomes NaN or infinite.
        stopping_threshold: Stop as soon as the value is better than this.
        divergence_threshold: Stop as soon as the value is worse than this.
        check_on_train_epoch_end: Check at the end of the training epoch instead of after validation.
    """

    def __init__(self, monitor: str | None = None, mode: MonitorMode | None = None, patience: int = 10,
                 min_delta: float = 0.0, verbose: bool = False, strict: bool = True, check_finite: bool = True,
                 stopping_threshold: float | None = None, divergence_threshold: float | None = None,
                 check_on_train_epoch_end: bool | None = None) -> None:
        super().__init__(monitor=monitor or "", mode=mode or "min", patience=patience, min_delta=min_delta,
                         verbose=verbose, strict=strict, check_finite=check_finite,
                         stopping_threshold=stopping_threshold, divergence_threshold=divergence_threshold,
                         check_on_train_epoch_end=check_on_train_epoch_end)
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

    def _run_early_stopping_check(self, trainer: pl.Trainer) -> None:
        if not self.active:
            return
        if self.monitor not in trainer.callback_metrics and _validation_is_off(trainer):
            _note(self, f"There is no validation data: early stopping on {self.monitor} is skipped.")
            return
        super()._run_early_stopping_check(trainer)


class ModelCheckpoint(pl.callbacks.ModelCheckpoint):
    """Save checkpoints: the best by what the model monitors, plus ``last.ckpt``; periodic ones when the model
    monitors nothing or validation is off.

    Args:
        dirpath: Folder of the checkpoints (default: the logger's run folder).
        filename: File name pattern; default ``best-{epoch}`` when monitoring, else ``{epoch}-{step}``.
        monitor: Logged key to rank checkpoints by; ``None`` takes the model's ``monitor``.
        mode: ``min`` or ``max``; ``None`` takes the model's ``monitor_mode``.
        save_last: Also keep ``last.ckpt``, the checkpoint to resume from.
        save_top_k: Best checkpoints to keep; without a monitor 1 keeps the latest and -1 keeps every one.
        every_n_epochs: Save every this many epochs.
        every_n_train_steps: Save every this many training batches instead.
        train_time_interval: Save at this wall-time interval instead.
        save_on_train_epoch_end: Save at the end of the training epoch instead of after validation.
        verbose: Print a line at every save.
    """

    def __init__(self, dirpath: str | None = None, filename: str | None = None, monitor: str | None = None,
                 mode: MonitorMode | None = None, save_last: bool | None = True, save_top_k: int = 1,
                 every_n_epochs: int | None = None, every_n_train_steps: int | None = None,
                 train_time_interval: timedelta | None = None, save_on_train_epoch_end: bool | None = None,
                 verbose: bool = False) -> None:
        # A placeholder monitor lets save_top_k > 1 through Lightning's checks; setup() decides for real.
        super().__init__(dirpath=dirpath, filename=filename, monitor=monitor or "model's monitor", mode=mode or "min",
                         save_last=save_last, save_top_k=save_top_k, every_n_epochs=every_n_epochs,
                         every_n_train_steps=every_n_train_steps, train_time_interval=train_time_interval,
                         save_on_train_epoch_end=save_on_train_epoch_end, verbose=verbose)
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
        if trainer.should_stop and mid_epoch and not self._should_skip_saving_checkpoint(trainer):
            candidates = self._monitor_candidates(trainer)
            if self.monitor is None and self.save_top_k != 0:  # the periodic checkpoint of the stop
                self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)  # a save here: the epoch's end saves nothing
