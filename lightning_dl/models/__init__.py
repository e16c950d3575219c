"""LightningModules, one file per family."""

from lightning_dl.models.classifiers import Classifier

__all__ = ["Classifier"]
