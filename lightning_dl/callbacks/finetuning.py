"""Fine-tuning a pretrained base, the notes' third transfer method, with Lightning's ``BaseFinetuning``.

The base is frozen while the new head trains; at ``unfreeze_at_epoch`` (once the head has converged) the
last ``num_blocks`` blocks of the base are unfrozen and join the optimiser as a new parameter group at
``lr_factor`` × the head's current learning rate.

Two traps are handled here:

- **Batch-norm.** Keras-style fine-tuning keeps batch-norm layers frozen (``train_bn=False``): their
  scale/shift are not trained and they keep normalising with the pretrained running statistics. Lightning's
  own ``freeze``/``make_trainable`` do not do that (a frozen BN is set to ``track_running_stats=False``,
  so in training mode it normalises with the batch's statistics, and unfreezing with ``train_bn=False``
  turns the statistics updates back on). Here frozen blocks, and the unfrozen blocks' BN layers with
  ``train_bn=False``, run in evaluation mode at every training epoch and their parameters get no gradient.
- **Schedulers.** A parameter group added mid-training is not followed by most schedulers:
  ``ReduceLROnPlateau`` fails on it, ``OneCycleLR`` raises a ``KeyError``, ``CosineAnnealingLR``,
  ``LambdaLR`` and ``LinearWarmup`` silently leave it at its initial rate. Only schedulers that multiply
  each group's current rate (:data:`UNFREEZE_SAFE_SCHEDULERS`: ``StepLR``, ``MultiStepLR``,
  ``ExponentialLR``) work; any other raises a :class:`~lightning_dl.errors.ConfigurationError` at the start.
"""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import BaseFinetuning
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ExponentialLR, MultiStepLR, StepLR
from torch.nn.modules.batchnorm import _BatchNorm

from lightning_dl.errors import ConfigurationError

#: Schedulers that scale every parameter group's current rate, so they follow a group added later.
UNFREEZE_SAFE_SCHEDULERS = (StepLR, MultiStepLR, ExponentialLR)


def feature_blocks(network: nn.Module) -> list[nn.Module]:
    """The blocks of a network's body from input to output: its ``feature_blocks()`` where it has one
    (EfficientNet-Lite0, torchvision networks), else the children of ``features`` that have parameters
    (a ResNet's stem and three stages)."""
    if hasattr(network, "feature_blocks"):
        return list(network.feature_blocks())
    return [m for m in network.features.children() if any(True for _ in m.parameters())]


class UnfreezeLastBlocks(BaseFinetuning):
    """Freeze the model's ``network.features`` before training; at ``unfreeze_at_epoch`` unfreeze its last
    ``num_blocks`` blocks (see :func:`feature_blocks`) and train them at ``lr_factor`` × the head's rate.

    Args:
        unfreeze_at_epoch: The epoch (counted from 0) at which the blocks are unfrozen.
        num_blocks: How many blocks, from the end of the base, are unfrozen.
        lr_factor: The unfrozen blocks' learning rate as a multiple of the head's at that moment.
        train_bn: Train the unfrozen blocks' batch-norm layers too (scale, shift and running statistics);
            ``False`` keeps them as pretrained, as Keras's fine-tuning recipe does.
    """

    def __init__(self, unfreeze_at_epoch: int = 5, num_blocks: int = 1, lr_factor: float = 0.1,
                 train_bn: bool = False) -> None:
        super().__init__()
        if num_blocks < 1 or unfreeze_at_epoch < 0 or lr_factor <= 0:
            raise ConfigurationError(f"UnfreezeLastBlocks needs num_blocks >= 1, unfreeze_at_epoch >= 0 and "
                                     f"lr_factor > 0; got {num_blocks}, {unfreeze_at_epoch}, {lr_factor}.")
        self.unfreeze_at_epoch, self.num_blocks = unfreeze_at_epoch, num_blocks
        self.lr_factor, self.train_bn = lr_factor, train_bn

    def blocks(self, pl_module: pl.LightningModule) -> list[nn.Module]:
        """The blocks this callback unfreezes."""
        blocks = feature_blocks(pl_module.network)
        if self.num_blocks > len(blocks):
            raise ConfigurationError(f"num_blocks is {self.num_blocks} but the base has only {len(blocks)} blocks.")
        return blocks[-self.num_blocks:]

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        pl_module.network.freeze_features()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_fit_start(trainer, pl_module)
        for config in trainer.lr_scheduler_configs:
            if not isinstance(config.scheduler, UNFREEZE_SAFE_SCHEDULERS):
                raise ConfigurationError(
                    f"{type(config.scheduler).__name__} does not follow the parameter group that fine-tuning adds at "
                    f"epoch {self.unfreeze_at_epoch}; use one of "
                    f"{', '.join(s.__name__ for s in UNFREEZE_SAFE_SCHEDULERS)}, or no scheduler.")

    def unfrozen(self, trainer_epoch: int) -> bool:
        """Whether the blocks are unfrozen at this epoch."""
        return trainer_epoch >= self.unfreeze_at_epoch

    def finetune_function(self, pl_module: pl.LightningModule, epoch: int, optimizer: Optimizer) -> None:
        if not self.unfrozen(epoch):
            return
        blocks = self.blocks(pl_module)
        parameters = [p for block in blocks for m in block.modules() for p in m.parameters(recurse=False)
                      if self.train_bn or not isinstance(m, _BatchNorm)]
        for parameter in parameters:  # every epoch from the unfreeze on, so a resumed run unfreezes them again
            parameter.requires_grad_(True)
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        new = [p for p in parameters if id(p) not in present]
        if new:
            optimizer.add_param_group({"params": new, "lr": optimizer.param_groups[0]["lr"] * self.lr_factor})
        # The body stays in evaluation mode (Network.train keeps a frozen body so) but for what trains now.
        for block in blocks:
            block.train()
            for module in block.modules():
                if isinstance(module, _BatchNorm) and not self.train_bn:
                    module.eval()
