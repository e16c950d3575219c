"""Classes the checkpoint tests load by class path."""

from __future__ import annotations

from pytorch_lightning.plugins import TorchCheckpointIO

from lightning_dl.data import DigitsDataModule


class OtherDigits(DigitsDataModule):
    """scikit-learn's digits, as a DataModule of another class."""


class OwnCheckpointIO(TorchCheckpointIO):
    """A user's own checkpoint writer, which the CLI must keep."""
