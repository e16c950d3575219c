"""The parts of a fast training recipe that live in the model rather than in the trainer or the data.

- **Batched augmentation**: a random crop (pad by a few pixels, reflected or with zeros, and cut the
  original size back out at a random offset per image) and a random horizontal flip, applied to whole
  training batches as tensor ops after they reach the device (``on_after_batch_transfer``), never sample
  by sample through PIL. Validation, test and predict batches are left as they are. Each batch's random
  stream is seeded by the run's seed (``seed_everything``), the process rank and the batch's number in the
  run, so a run is reproducible and a resumed run continues the same stream.
- **Flip test-time augmentation**: validation, test and predict outputs are the mean of the logits of an
  image and of its mirror image (one forward pass over both).
- **channels_last**: the network's weights and every image batch in NHWC memory order, which oneDNN's CPU
  convolutions (and cuDNN's on tensor cores) run faster.
- **torch.compile** of the network (``nn.Module.compile``: the module and its ``state_dict`` are unchanged,
  so checkpoints load with or without it).

bf16 is the trainer's ``precision: bf16-mixed`` and the optimiser and its one-cycle schedule are the
injected ``optimizer``/``lr_scheduler``: both are config settings, not model code.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.data.transforms import stream_seed
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


def flip_averaged_logits(network: nn.Module, images: Tensor) -> Tensor:
    """The mean of the network's outputs for ``images`` and for their mirror images, in one forward pass."""
    outputs = network(torch.cat([images, images.flip(-1)]))
    original, mirrored = outputs.chunk(2)
    return (original + mirrored) / 2


class FastRecipeMixin:
    """Batched crop/flip of training batches, flip TTA, channels_last and ``torch.compile`` for a module with
    a ``network``; each off unless asked for. Call :meth:`configure_recipe` after the network is built and
    compute outputs with :meth:`recipe_outputs`."""

    network: nn.Module
    random_crop_padding: int = 0
    padding_mode: PaddingMode = "reflect"
    random_flip: bool = False
    flip_tta: bool = False
    channels_last: bool = False

    def configure_recipe(self, random_crop_padding: int = 0, padding_mode: PaddingMode = "reflect",
                         random_flip: bool = False, flip_tta: bool = False, channels_last: bool = False,
                         compile_network: bool = False) -> None:
        """Check and store the recipe options; put the network in channels_last and compile it where asked."""
        check_choice("padding_mode", padding_mode, PaddingMode)
        if random_crop_padding < 0:
            raise ConfigurationError(f"random_crop_padding must be 0 (off) or positive, got {random_crop_padding}.")
        self.random_crop_padding, self.padding_mode, self.random_flip = random_crop_padding, padding_mode, random_flip
        self.flip_tta, self.channels_last = flip_tta, channels_last
        if channels_last:
            self.network.to(memory_format=torch.channels_last)
        if compile_network:
            self.network.compile()

    @property
    def augments_batches(self) -> bool:
        """Whether training batches are cropped or flipped."""
        return self.random_crop_padding > 0 or self.random_flip

    def augment_batch(self, images: Tensor, seed: int) -> Tensor:
        """Crop and flip a batch of images with the random stream of ``seed``."""
        if images.ndim != 4:
            raise DataValidationError(f"Random crop and flip need image batches (N, C, H, W), got shape "
                                      f"{tuple(images.shape)}; use the data's layout: image.")
        generator = torch.Generator().manual_seed(seed)
        if self.random_crop_padding > 0:
            images = random_crop(images, self.random_crop_padding, self.padding_mode, generator)
        if self.random_flip:
            images = random_horizontal_flip(images, generator)
        return images

    def batch_seed(self) -> int:
        """The seed of the training batch being transferred: the run's seed, this process's rank and the
        number of training batches fetched before it in the run (restored with the loop's progress)."""
        trainer = self.trainer
        fetched = trainer.fit_loop.epoch_loop.batch_progress.total.ready
        return stream_seed(torch.initial_seed() if self._run_seed is None else self._run_seed,
                           trainer.global_rank, fetched) >> 1

    _run_seed: int | None = None

    def on_fit_start(self) -> None:
        self._run_seed = torch.initial_seed()  # the seed_everything of this run, before anything reseeds
        super().on_fit_start()

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        batch = super().on_after_batch_transfer(batch, dataloader_idx)
        if not (self.augments_batches or self.channels_last) or not isinstance(batch, (tuple, list)):
            return batch
        images, *rest = batch
        trainer = self._trainer
        if self.augments_batches and trainer is not None and trainer.training:
            images = self.augment_batch(images, self.batch_seed())
        if images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last if self.channels_last
                                       else torch.contiguous_format)
        return type(batch)([images, *rest]) if isinstance(batch, list) else (images, *rest)

    def recipe_outputs(self, images: Tensor, stage: str) -> Tensor:
        """The network's outputs, averaged with those of the mirror images outside training with flip TTA."""
        if self.flip_tta and stage != "train":
            return flip_averaged_logits(self, images)
        return self(images)
