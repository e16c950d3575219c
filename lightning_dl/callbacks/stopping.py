"""Runs that survive being stopped: SIGTERM (a cluster's or a spot instance's notice) and SIGINT (Ctrl-C) save
a checkpoint at the batch the run is on and end the process with ``128 + the signal's number``.

:class:`StopOnSignal` catches the two signals while training runs. At the end of the batch that is running
when one arrives, every DDP process agrees on it (one all-reduce per batch, the same batch on every rank, so
the save, a collective, cannot hang), the checkpoint callbacks save where the run stopped (the same mid-epoch
save as a GAN's step limit: a resumed run goes on with the epoch's next batch), and :class:`RunStopped`, a
``SystemExit`` with status 143 (SIGTERM) or 130 (SIGINT), ends the run. A second Ctrl-C stops at once, without
a checkpoint.

Lightning's own SIGTERM handling is replaced while training runs: it lets the batch finish but saves only at
an epoch's end, exits with status 0 (a scheduler takes the run for finished), and broadcasts from inside the
signal handler.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info

from lightning_dl.callbacks.monitoring import save_where_stopped

#: The signals that stop a run with a checkpoint.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunStopped(SystemExit):
    """A training run stopped by a signal; ``code`` is the exit status, 128 + the signal's number.

    Attributes:
        signal_number: The signal that stopped the run.
        checkpoint: The checkpoint to resume from, or ``None`` when none was saved.
    """

    def __init__(self, signal_number: int, checkpoint: str | None) -> None:
        super().__init__(128 + signal_number)
        self.signal_number, self.checkpoint = signal_number, checkpoint

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal_number).name

    def __str__(self) -> str:
        saved = f"saved {self.checkpoint}" if self.checkpoint else "no checkpoint was saved"
        return f"Training stopped by {self.signal_name}: {saved}"


class StopOnSignal(pl.Callback):
    """On SIGTERM or SIGINT, save a checkpoint at the batch the run is on and raise :class:`RunStopped`.

    A signal that arrives at an epoch's last batch lets the epoch end (validation, the epoch's checkpoints)
    and stops there; one that arrives after the last batch of the run stops the run when training ends.
    Without a checkpoint callback (``enable_checkpointing=False``) the run stops with nothing saved.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._installed: dict[int, Any] = {}

    # --- the signal handlers, while training runs --------------------------------------------------
    def _handle(self, signal_number: int, frame: Any) -> None:
        if self.received == signal.SIGINT and signal_number == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        self.received = signal_number

    def _install(self) -> None:
        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        for number in STOP_SIGNALS:
            self._installed[number] = signal.getsignal(number)
            signal.signal(number, self._handle)

    def _restore(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for number, handler in self._installed.items():
                if signal.getsignal(number) == self._handle and handler is not None:
                    signal.signal(number, handler)
        self._installed = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.received = None

    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()  # after Lightning registers its SIGTERM handler (just before the sanity check)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._install()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._restore()

    # --- stopping ----------------------------------------------------------------------------------
    def agreed_signal(self, trainer: pl.Trainer) -> int:
        """The signal every process has received (0 for none): under DDP the largest number any rank got, so all
        ranks stop at the same batch even when the signal reached only one of them."""
        received = self.received or 0
        if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([received], device=trainer.strategy.root_device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            received = int(flag.item())
        return received

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        signal_number = self.agreed_signal(trainer)
        if not signal_number:
            return
        self.received = signal_number
        trainer.should_stop = True
        if batch_idx + 1 >= trainer.num_training_batches:
            return  # the epoch's last batch: its end saves the epoch's checkpoints, on_train_end stops
        self.stop(trainer, signal_number, saved=self.save(trainer))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        signal_number = self.agreed_signal(trainer)
        if signal_number:
            self.stop(trainer, signal_number, saved=self.save(trainer) or self.last_checkpoint(trainer))

    def save(self, trainer: pl.Trainer) -> str | None:
        """Save through every checkpoint callback where the run is; the checkpoint to resume from, if any."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, pl.callbacks.ModelCheckpoint):
                save_where_stopped(callback, trainer)
        return self.last_checkpoint(trainer)

    @staticmethod
    def last_checkpoint(trainer: pl.Trainer) -> str | None:
        """The newest checkpoint a checkpoint callback wrote (``last.ckpt`` where there is one)."""
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, pl.callbacks.ModelCheckpoint):
                path = callback.last_model_path or callback.best_model_path
                if path:
                    return path
        return None

    def stop(self, trainer: pl.Trainer, signal_number: int, saved: str | None) -> None:
        """End the run: one line saying where it stopped, then :class:`RunStopped`."""
        self._restore()
        stopped = RunStopped(signal_number, saved)
        rank_zero_info(f"Received {stopped.signal_name} at epoch {trainer.current_epoch}, step {trainer.global_step}: "
                       f"{'saved ' + saved if saved else 'nothing saved'}.")
        raise stopped
