"""The two pictures of a 2-D latent space: the test images' codes, coloured by class, and the images decoded
over a grid of the latent plane. Saved as PNG and logged to wandb."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import Tensor

from lightning_dl.callbacks.samples import run_directory, save_grid
from lightning_dl.errors import ConfigurationError


def latent_scatter(codes: Tensor | np.ndarray, labels: Tensor | np.ndarray | None = None,
                   class_names: Sequence[str] | None = None, title: str = "test-set latent codes") -> Any:
    """A matplotlib figure with one point per code ``(N, 2)``, coloured by its label (legend: the class names).

    Built without pyplot (no global backend or figure manager touched): save it with ``figure.savefig`` or show
    it in a notebook with ``display(figure)``."""
    from matplotlib.figure import Figure

    codes = np.asarray(codes, dtype=np.float32)
    figure = Figure(figsize=(7, 6))
    axis = figure.subplots()
    if labels is None:
        axis.scatter(codes[:, 0], codes[:, 1], s=2, alpha=0.6)
    else:
        labels = np.asarray(labels)
        points = axis.scatter(codes[:, 0], codes[:, 1], c=labels, s=2, alpha=0.6, cmap="tab10",
                              vmin=-0.5, vmax=max(9.5, labels.max() + 0.5))
        classes = np.unique(labels)
        bar = figure.colorbar(points, ax=axis, ticks=classes)
        if class_names:
            bar.ax.set_yticklabels([class_names[c] for c in classes])
    axis.set(xlabel="z[0]", ylabel="z[1]", title=f"{title} ({len(codes)} points)")
    figure.tight_layout()
    return figure


@torch.no_grad()
def decoded_latent_grid(decode: Any, grid_size: int = 30, extent: float = 4.0, device: Any = "cpu") -> Tensor:
    """Images decoded at ``grid_size × grid_size`` points evenly spaced over ``[-extent, extent]²``: ``z[0]``
    grows along each row from left to right, ``z[1]`` from the bottom row to the top one."""
    axis = torch.linspace(-extent, extent, grid_size, device=device)
    z1, z0 = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    return decode(torch.stack([z0.reshape(-1), z1.reshape(-1)], dim=1))


class LatentPlots(pl.Callback):
    """After testing a model with a 2-D latent space (``latent_dim: 2``; an
    :class:`~lightning_dl.models.Autoencoder` or a :class:`~lightning_dl.models.VariationalAutoencoder`), draw
    the scatter of every test image's latent code coloured by its label, and the images decoded over a
    ``grid_size × grid_size`` grid of ``[-extent, extent]²``. Both go to ``<run>/latent/scatter.png`` and
    ``<run>/latent/decoded_grid.png`` and to wandb as ``latent/scatter`` and ``latent/decoded_grid``.

    The model needs ``latent_codes(images)`` (or ``encode``), ``decode(z)`` and ``latent_dim``.

    Args:
        grid_size: Images per side of the decoded grid.
        extent: The grid covers ``[-extent, extent]`` on both axes.
    """

    def __init__(self, grid_size: int = 30, extent: float = 4.0) -> None:
        if grid_size < 2 or extent <= 0:
            raise ConfigurationError(f"LatentPlots needs grid_size >= 2 and extent > 0; got {grid_size}, {extent}.")
        self.grid_size, self.extent = grid_size, extent
        self.codes: list[Tensor] = []
        self.labels: list[Tensor] = []
        self.saved: list[Path] = []
        #: Points in the last scatter drawn.
        self.points = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if getattr(pl_module, "latent_dim", None) != 2:
            raise ConfigurationError(f"LatentPlots draws a 2-D latent space, but {type(pl_module).__name__} has "
                                     f"latent_dim={getattr(pl_module, 'latent_dim', None)}; set latent_dim: 2.")

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.codes, self.labels = [], []

    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        encode = getattr(pl_module, "latent_codes", None) or pl_module.encode
        with torch.no_grad():
            self.codes.append(encode(batch[0]).float().cpu())
        if len(batch) > 1 and batch[1].dim() == 1:
            self.labels.append(batch[1].cpu())

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.codes or not trainer.is_global_zero:
            return
        codes = torch.cat(self.codes)
        labels = torch.cat(self.labels) if len(self.labels) == len(self.codes) else None
        folder = run_directory(trainer) / "latent"
        folder.mkdir(parents=True, exist_ok=True)
        figure = latent_scatter(codes, labels, getattr(pl_module, "class_names", None))
        self.points = sum(len(collection.get_offsets()) for collection in figure.axes[0].collections)
        scatter = folder / "scatter.png"
        figure.savefig(scatter, dpi=100)
        grid = decoded_latent_grid(pl_module.decode, self.grid_size, self.extent, pl_module.device)
        decoded = save_grid(pl_module.to_display(grid) if hasattr(pl_module, "to_display") else grid,
                            folder / "decoded_grid.png", self.grid_size)
        self.saved += [scatter, decoded]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for name, path in (("scatter", scatter), ("decoded_grid", decoded)):
                    logger.log_image(key=f"latent/{name}", images=[str(path)], step=trainer.global_step)
