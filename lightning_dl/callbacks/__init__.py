"""Callbacks for training practice: early stopping and checkpoints that follow the model, exact resumption."""

from lightning_dl.callbacks.monitoring import EarlyStopping, ModelCheckpoint
from lightning_dl.callbacks.random_state import RandomStateCheckpoint

__all__ = ["EarlyStopping", "ModelCheckpoint", "RandomStateCheckpoint"]
