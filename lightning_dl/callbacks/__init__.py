"""Callbacks for training practice: early stopping and checkpoints that follow the model, exact resumption,
sample grids."""

from lightning_dl.callbacks.monitoring import EarlyStopping, ModelCheckpoint
from lightning_dl.callbacks.random_state import RandomStateCheckpoint
from lightning_dl.callbacks.samples import SampleGrid

__all__ = ["EarlyStopping", "ModelCheckpoint", "RandomStateCheckpoint", "SampleGrid"]
