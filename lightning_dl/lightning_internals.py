"""Every touch of a private Lightning (or torch) attribute in the package, each behind one small named function.

Lightning's public API does not say everything exact resumption, step-rate logging and DDP set-up need: these
functions do, and each docstring names what it relies on. ``tests/test_lightning_internals.py`` checks, by
name, that the installed Lightning and torch still provide each of them, so an upgrade that renames one fails
there, not silently in a resumed run. Nothing else in the package reads a private attribute of Lightning or
torch; add a function here (and a row to :data:`RELIES_ON`) rather than reaching in elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

#: What each function relies on, as ``(function, dotted attributes from its root)``; the test checks every row.
RELIES_ON: dict[str, tuple[str, ...]] = {
    "logger_writes_this_step": ("Trainer._logger_connector.should_update_logs",),
    "training_iterator_built": ("Trainer.fit_loop._combined_loader",),
    "rebuild_training_iterator": ("Trainer.fit_loop._combined_loader", "Trainer.fit_loop.setup_data"),
    "ddp_keyword_arguments": ("DDPStrategy._ddp_kwargs",),
    "save_checkpoint_where_stopped": ("ModelCheckpoint._should_skip_saving_checkpoint",
                                      "ModelCheckpoint._monitor_candidates", "ModelCheckpoint._save_topk_checkpoint",
                                      "ModelCheckpoint._save_last_checkpoint"),
    "training_batches_fetched": ("Trainer.fit_loop.epoch_loop.batch_progress.total.ready",),
    "training_epochs_processed": ("Trainer.fit_loop.epoch_progress.current.processed",),
    "training_batches_processed_this_epoch": ("Trainer.fit_loop.epoch_loop.batch_progress.current.processed",),
    "training_batch_index": ("Trainer.fit_loop.epoch_loop.batch_idx",),
}


# --- logging --------------------------------------------------------------------------------------------
def logger_writes_this_step(trainer: pl.Trainer) -> bool:
    """Whether the logger writes the values logged in this training batch (every ``log_every_n_steps`` batches,
    counted in batches, not optimizer steps).

    Relies on ``trainer._logger_connector.should_update_logs``, the flag Lightning itself consults before it
    writes step values (Lightning 2.4–2.6).
    """
    return trainer._logger_connector.should_update_logs


# --- the training iterator ------------------------------------------------------------------------------
def training_iterator_built(trainer: pl.Trainer) -> bool:
    """Whether the fit loop has already built its training iterator (``estimated_stepping_batches`` in
    ``configure_optimizers`` builds it before a checkpoint's loop state is restored).

    Relies on ``trainer.fit_loop._combined_loader``, ``None`` until ``FitLoop.setup_data`` builds it.
    """
    return trainer.fit_loop._combined_loader is not None


def rebuild_training_iterator(trainer: pl.Trainer) -> None:
    """Throw the fit loop's training iterator away and build it again, with the restored epoch and the loader's
    mid-epoch position.

    Relies on ``trainer.fit_loop._combined_loader`` (set to ``None`` so that ``FitLoop.setup_data``, a public
    method of a loop object, builds it again rather than returning early).
    """
    loop = trainer.fit_loop
    loop._combined_loader = None
    loop.setup_data()


# --- DDP ------------------------------------------------------------------------------------------------
def ddp_keyword_arguments(strategy: pl.strategies.DDPStrategy) -> dict[str, Any]:
    """The keyword arguments a DDP strategy will give ``DistributedDataParallel`` when it wraps the model in
    ``fit``; the dict itself, so a change to it takes effect.

    Relies on ``DDPStrategy._ddp_kwargs`` (filled from the strategy's ``**kwargs``, read in ``_setup_model``).
    """
    return strategy._ddp_kwargs


# --- checkpoints ----------------------------------------------------------------------------------------
def save_checkpoint_where_stopped(callback: pl.callbacks.ModelCheckpoint, trainer: pl.Trainer) -> bool:
    """Save, through ``callback``, the checkpoints of a run stopping at the batch it is on: the periodic one when
    nothing is monitored (``save_top_k != 0``) and ``last.ckpt`` (when ``save_last``). Returns whether a save
    happened (not when the callback skips: ``fast_dev_run``, sanity check, already saved at this step).

    Relies on ``ModelCheckpoint._should_skip_saving_checkpoint``, ``_monitor_candidates``,
    ``_save_topk_checkpoint`` and ``_save_last_checkpoint``: the steps ``ModelCheckpoint`` itself takes at an
    epoch's end, called mid-epoch (Lightning 2.4–2.6).
    """
    if callback._should_skip_saving_checkpoint(trainer):
        return False
    candidates = callback._monitor_candidates(trainer)
    if callback.monitor is None and callback.save_top_k != 0:  # the periodic checkpoint of the stop
        callback._save_topk_checkpoint(trainer, candidates)
    callback._save_last_checkpoint(trainer, candidates)
    return True


# --- loop progress --------------------------------------------------------------------------------------
def training_batches_fetched(trainer: pl.Trainer) -> int:
    """Training batches fetched in the whole run so far (restored with a checkpoint's loop state).

    Relies on ``trainer.fit_loop.epoch_loop.batch_progress.total.ready`` (Lightning's ``_BatchProgress``).
    """
    return trainer.fit_loop.epoch_loop.batch_progress.total.ready


def training_epochs_processed(trainer: pl.Trainer) -> int:
    """The training epoch the fit loop is on: epochs processed so far (restored with a checkpoint).

    Relies on ``trainer.fit_loop.epoch_progress.current.processed`` (Lightning's ``_Progress``).
    """
    return trainer.fit_loop.epoch_progress.current.processed


def training_batches_processed_this_epoch(trainer: pl.Trainer) -> int:
    """Batches of the current training epoch the trainer has finished (restored with a checkpoint, so a resumed
    run's sampler skips them).

    Relies on ``trainer.fit_loop.epoch_loop.batch_progress.current.processed`` (Lightning's ``_BatchProgress``).
    """
    return trainer.fit_loop.epoch_loop.batch_progress.current.processed


def training_batch_index(trainer: pl.Trainer) -> int:
    """The index of the training batch within its epoch (for messages).

    Relies on ``trainer.fit_loop.epoch_loop.batch_idx`` (a property of ``_TrainingEpochLoop``).
    """
    return trainer.fit_loop.epoch_loop.batch_idx
