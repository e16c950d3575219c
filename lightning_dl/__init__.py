"""lightning_dl: the concepts of classic deep learning as tested PyTorch Lightning components.

Importing it has no side effects: no network, no wandb run, no files, no global torch settings.
"""

__version__ = "0.1.0"
