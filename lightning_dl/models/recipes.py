"""The parts of a fast training recipe that live in the model rather than in the trainer or the data.

- **Flip test-time augmentation**: validation, test and predict outputs are the mean of the logits of an
  image and of its mirror image (one forward pass over both).
- **channels_last**: the network's weights and every image batch it reads in NHWC memory order, which
  oneDNN's CPU convolutions (and cuDNN's on tensor cores) run faster.
- **torch.compile** of the network (``nn.Module.compile``: the module and its ``state_dict`` are unchanged,
  so checkpoints load with or without it).

The recipe's random crop and flip of training batches are data augmentation and belong to the data: the
DataModule's ``random_crop_padding``, ``padding_mode`` and ``random_flip``
(:mod:`lightning_dl.data.batch_augmentation`). bf16 is the trainer's ``precision: bf16-mixed`` and the optimiser
and its one-cycle schedule are the injected ``optimizer``/``lr_scheduler``: config settings, not model code.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def flip_averaged_logits(network: nn.Module, images: Tensor) -> Tensor:
    """The mean of the network's outputs for ``images`` and for their mirror images, in one forward pass."""
    outputs = network(torch.cat([images, images.flip(-1)]))
    original, mirrored = outputs.chunk(2)
    return (original + mirrored) / 2


class FastRecipeMixin:
    """Flip TTA, channels_last and ``torch.compile`` for a module with a ``network``; each off unless asked for.
    Call :meth:`configure_recipe` after the network is built and compute outputs with :meth:`recipe_outputs`."""

    network: nn.Module
    flip_tta: bool = False
    channels_last: bool = False

    def configure_recipe(self, flip_tta: bool = False, channels_last: bool = False,
                         compile_network: bool = False) -> None:
        """Store the recipe options; put the network in channels_last and compile it where asked."""
        self.flip_tta, self.channels_last = flip_tta, channels_last
        if channels_last:
            self.network.to(memory_format=torch.channels_last)
        if compile_network:
            self.network.compile()

    def recipe_outputs(self, images: Tensor, stage: str) -> Tensor:
        """The network's outputs (image batches in channels_last order where asked), averaged with those of the
        mirror images outside training with flip TTA."""
        if self.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)  # free when already in that order
        if self.flip_tta and stage != "train":
            return flip_averaged_logits(self, images)
        return self(images)
