"""Image grids of what a generative model makes, saved as PNG and logged to wandb."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor


def run_directory(trainer: pl.Trainer) -> Path:
    """The folder of this run: the checkpoints' parent, else the logger's folder, else the root folder."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.dirpath:
        return Path(callback.dirpath).parent
    return Path(trainer.log_dir or trainer.default_root_dir)


def save_grid(images: Tensor, path: Path, nrow: int) -> Path:
    """Save ``(N, C, H, W)`` images with values in [0, 1] as one PNG grid of ``nrow`` images per row."""
    from torchvision.utils import save_image

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.detach().float().clamp(0, 1).cpu(), path, nrow=nrow, padding=2, pad_value=1.0)
    return path


class SampleGrid(pl.Callback):
    """Every ``every_n_epochs`` epochs, ask the model for its named image grids (``model.sample_grids()``,
    images in [0, 1]: a GAN's fixed-noise samples, its latent interpolation, InfoGAN's code traversals),
    save each as ``<run>/samples/<name>/epoch=<n>.png`` and log it to wandb as ``samples/<name>``.

    The model's fixed sample noise is part of its checkpoint, so a resumed run draws the same grid.

    Args:
        every_n_epochs: Epochs between grids (the last epoch always gets one).
        nrow: Images per row.
    """

    def __init__(self, every_n_epochs: int = 1, nrow: int = 10) -> None:
        self.every_n_epochs, self.nrow = every_n_epochs, nrow
        self.saved: list[Path] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        last = trainer.current_epoch + 1 >= (trainer.max_epochs or 0) or trainer.should_stop
        if (trainer.current_epoch + 1) % self.every_n_epochs and not last:
            return
        if not hasattr(pl_module, "sample_grids"):
            raise TypeError(f"SampleGrid needs a model with sample_grids(); {type(pl_module).__name__} has none.")
        grids = pl_module.sample_grids()  # on every process: generators may hold DDP-synchronised state
        if not trainer.is_global_zero:
            return
        folder = run_directory(trainer) / "samples"
        for name, images in grids.items():
            path = save_grid(images, folder / name / f"epoch={trainer.current_epoch}.png", self.nrow)
            self.saved.append(path)
            for logger in trainer.loggers:
                if isinstance(logger, WandbLogger):
                    logger.log_image(key=f"samples/{name}", images=[str(path)], step=trainer.global_step)
