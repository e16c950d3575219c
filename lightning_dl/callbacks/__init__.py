"""Callbacks for training practice: exact resumption (more to come: curves, sample grids, maps)."""

from lightning_dl.callbacks.random_state import RandomStateCheckpoint

__all__ = ["RandomStateCheckpoint"]
