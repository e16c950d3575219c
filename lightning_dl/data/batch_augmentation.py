"""Augmentation of whole training batches on the device: a random crop and a random horizontal flip.

The per-image albumentations ``augmentation`` of the data core (:mod:`lightning_dl.data.transforms`) runs on
the CPU while a batch is assembled; what is cheap as tensor ops over a whole batch runs here instead, after
the batch reached the device, in the DataModule's ``on_after_batch_transfer`` (the way torchgeo augments
per split). Both belong to the data and touch the **train split only**; validation, test and predict
batches are left as they are. Every family whose DataModule is built on the data core gets it.

- **Random crop**: pad ``(N, C, H, W)`` images by a few pixels on every side (reflected or with zeros) and cut
  the original size back out at a random offset per image, in one gather for the whole batch.
- **Random horizontal flip**: mirror each image left to right with probability 0.5.

Each batch's random stream is seeded by the run's seed (``seed_everything``), the process rank and the
number of training batches fetched before it in the run (the training loop's progress, which checkpoints
restore), so a run is reproducible and a resumed run, mid-epoch included, draws the same crops and flips.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice

PaddingMode = Literal["reflect", "zeros"]


def random_crop(images: Tensor, padding: int, padding_mode: PaddingMode, generator: torch.Generator) -> Tensor:
    """Pad ``(N, C, H, W)`` images by ``padding`` pixels on every side and cut an ``H × W`` window back out at
    a random offset per image (one gather for the whole batch). Returns an NHWC-strided (channels_last) tensor."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4, mode="reflect" if padding_mode == "reflect" else "constant")
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator).to(images.device)
    rows = offsets[0, :, None] + torch.arange(h, device=images.device)  # (N, H): the rows each image keeps
    columns = offsets[1, :, None] + torch.arange(w, device=images.device)  # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], columns[:, None, :]].permute(0, 3, 1, 2)


def random_horizontal_flip(images: Tensor, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """Mirror each image of a ``(N, C, H, W)`` batch left to right with probability ``p``."""
    flip = (torch.rand(len(images), generator=generator) < p).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class BatchAugmentation:
    """Random crop and flip of whole ``(N, C, H, W)`` image batches; each part off unless asked for.

    Args:
        random_crop_padding: Pad by this many pixels and crop back at a random offset; 0 is off.
        padding_mode: ``reflect`` or ``zeros``: how the random crop pads.
        random_flip: Mirror each image left to right with probability 0.5.
    """

    def __init__(self, random_crop_padding: int = 0, padding_mode: PaddingMode = "reflect",
                 random_flip: bool = False) -> None:
        check_choice("padding_mode", padding_mode, PaddingMode)
        if random_crop_padding < 0:
            raise ConfigurationError(f"random_crop_padding must be 0 (off) or positive, got {random_crop_padding}.")
        self.random_crop_padding, self.padding_mode, self.random_flip = random_crop_padding, padding_mode, random_flip

    @property
    def active(self) -> bool:
        """Whether batches are cropped or flipped at all."""
        return self.random_crop_padding > 0 or self.random_flip

    def __call__(self, images: Tensor, seed: int) -> Tensor:
        """Crop and flip a batch with the random stream of ``seed``; a contiguous ``(N, C, H, W)`` tensor."""
        if images.ndim != 4:
            raise DataValidationError(f"Random crop and flip need image batches (N, C, H, W), got shape "
                                      f"{tuple(images.shape)}; use the data's layout: image.")
        generator = torch.Generator().manual_seed(seed)
        if self.random_crop_padding > 0:
            images = random_crop(images, self.random_crop_padding, self.padding_mode, generator)
        if self.random_flip:
            images = random_horizontal_flip(images, generator)
        return images.contiguous()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(random_crop_padding={self.random_crop_padding}, "
                f"padding_mode={self.padding_mode!r}, random_flip={self.random_flip})")
