"""A callback the stopped-run tests load by class path into a ``lightning-dl fit`` subprocess."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytorch_lightning as pl

from lightning_dl.callbacks import StopOnSignal


class PauseAtBatch(pl.Callback):
    """After batch ``batch`` of epoch ``epoch``, write ``marker`` and wait (at most ``timeout`` seconds) until the
    process has received its stop signal: the test signals the run at a batch it knows, not after a blind sleep.
    Under DDP only rank 0 pauses (the others wait for it in the next collective).

    Args:
        marker: File written when the run is paused, for the test to wait on.
        epoch: The epoch of the pause.
        batch: The batch (index in its epoch) after which the run pauses.
        timeout: Longest wait for the signal.
    """

    def __init__(self, marker: str, epoch: int = 0, batch: int = 0, timeout: float = 60.0) -> None:
        self.marker, self.epoch, self.batch, self.timeout = Path(marker), epoch, batch, timeout

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) != (self.epoch, self.batch) or trainer.global_rank != 0:
            return
        stoppers = [c for c in trainer.callbacks if isinstance(c, StopOnSignal)]
        self.marker.write_text(f"{trainer.current_epoch} {batch_idx}\n")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and not any(s.received for s in stoppers):
            time.sleep(0.02)


class SignalAtBatch(pl.Callback):
    """Send this process ``signal_name`` after batch ``batch`` of epoch ``epoch`` (in-process tests).

    Args:
        signal_name: ``SIGTERM`` or ``SIGINT``.
        epoch: The epoch of the signal.
        batch: The batch (index in its epoch) after which the signal is sent.
    """

    def __init__(self, signal_name: str = "SIGTERM", epoch: int = 0, batch: int = 0) -> None:
        self.signal_number, self.epoch, self.batch = signal.Signals[signal_name], epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            os.kill(os.getpid(), self.signal_number)
