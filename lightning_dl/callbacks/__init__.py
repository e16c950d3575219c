"""Callbacks for training practice: early stopping and checkpoints that follow the model, exact resumption,
sample grids, learning curves."""

from lightning_dl.callbacks.finetuning import UnfreezeLastBlocks
from lightning_dl.callbacks.learning_curves import LearningCurves, turning_point
from lightning_dl.callbacks.monitoring import EarlyStopping, ModelCheckpoint
from lightning_dl.callbacks.random_state import RandomStateCheckpoint
from lightning_dl.callbacks.samples import SampleGrid

__all__ = ["EarlyStopping", "LearningCurves", "ModelCheckpoint", "RandomStateCheckpoint", "SampleGrid",
           "turning_point", "UnfreezeLastBlocks"]
