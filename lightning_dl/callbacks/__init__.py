"""Callbacks for training practice: early stopping and checkpoints that follow the model, exact resumption,
sample grids, learning curves, convnet activation/filter/Grad-CAM maps."""

from lightning_dl.callbacks.latent_plots import LatentPlots
from lightning_dl.callbacks.convnet_maps import (ConvActivationMaps, FilterPatterns, GradCAMMaps, conv_activations,
                                                 filter_pattern, grad_cam)
from lightning_dl.callbacks.finetuning import UnfreezeLastBlocks
from lightning_dl.callbacks.learning_curves import LearningCurves, turning_point
from lightning_dl.callbacks.monitoring import EarlyStopping, ModelCheckpoint
from lightning_dl.callbacks.random_state import RandomStateCheckpoint
from lightning_dl.callbacks.samples import SampleGrid
from lightning_dl.callbacks.stopping import RunStopped, StopOnSignal

__all__ = ["EarlyStopping", "LatentPlots", "LearningCurves", "ModelCheckpoint", "RandomStateCheckpoint", "RunStopped",
           "SampleGrid", "StopOnSignal", "turning_point", "ConvActivationMaps", "FilterPatterns", "GradCAMMaps",
           "conv_activations", "filter_pattern", "grad_cam", "UnfreezeLastBlocks"]
