"""Transfer learning, the notes' three methods, as one classifier with a ``method`` option.

- ``feature_extraction``: the pretrained base runs once over the data and a dense head trains on its cached
  features (with :class:`~lightning_dl.data.transfer.CachedFeaturesDataModule`, whose batches are features;
  image batches still go through the whole network, so the trained model predicts on images).
- ``frozen_base``: the base is frozen (no gradients, evaluation mode) and the new head trains end to end on
  images, with augmentation.
- ``fine_tuning``: as ``frozen_base`` until ``unfreeze_at_epoch``; then the base's last ``unfreeze_blocks``
  blocks train too, at ``fine_tune_lr_factor`` × the head's rate
  (:class:`~lightning_dl.callbacks.UnfreezeLastBlocks`, Lightning's ``BaseFinetuning``).

The base is the network the factory builds (``EfficientNetLite0`` with its ImageNet weights,
``TorchvisionNetwork``, or any project network) with its body loaded from ``base_weights`` when given (a
``state_dict`` saved from a network of the same architecture, e.g. a ResNet trained on other classes); the
head is always new.
"""

from __future__ import annotations

from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import Tensor

from lightning_dl.callbacks.finetuning import UnfreezeLastBlocks
from lightning_dl.errors import ConfigurationError, check_choice
from lightning_dl.models.supervised import Classifier

Method = Literal["feature_extraction", "frozen_base", "fine_tuning"]


class TransferClassifier(Classifier):
    """A classifier on a pretrained base, trained by one of the three transfer methods.

    Args:
        method: ``feature_extraction``, ``frozen_base`` or ``fine_tuning`` (see the module's docs).
        base_weights: A ``state_dict`` file of a network of the same architecture (``torch.save(network.state_dict(),
            path)``); its body (``features.*``) is loaded strictly, its head is dropped.
        unfreeze_blocks: ``fine_tuning``: how many blocks from the end of the base are unfrozen.
        unfreeze_at_epoch: ``fine_tuning``: the epoch (from 0) at which they are unfrozen, once the head has
            converged.
        fine_tune_lr_factor: ``fine_tuning``: the unfrozen blocks' learning rate as a multiple of the head's.
        train_bn: ``fine_tuning``: train the unfrozen blocks' batch-norm layers too; ``False`` (Keras's recipe)
            keeps their pretrained scale, shift and statistics.
        **kwargs: The :class:`~lightning_dl.models.Classifier` arguments (``network``, ``optimizer``,
            ``lr_scheduler``, ``flip_tta``, ...).
    """

    def __init__(self, method: Method = "frozen_base", base_weights: str | None = None, unfreeze_blocks: int = 1,
                 unfreeze_at_epoch: int = 5, fine_tune_lr_factor: float = 0.1, train_bn: bool = False,
                 **kwargs: Any) -> None:
        check_choice("method", method, Method)
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self.method = method
        if base_weights:
            self.load_base(base_weights)
        self.network.freeze_features()
        self.finetuning = (UnfreezeLastBlocks(unfreeze_at_epoch, unfreeze_blocks, fine_tune_lr_factor, train_bn)
                           if method == "fine_tuning" else None)
        if self.finetuning is not None:
            self.finetuning.blocks(self)  # a num_blocks the base does not have fails here, not at the unfreeze

    def load_base(self, path: str) -> None:
        """Load the body of a saved network's ``state_dict`` into this network's body (``strict``)."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        body = {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
        if not body:
            raise ConfigurationError(f"{path} holds no features.* tensors: save the network's state_dict "
                                     "(torch.save(network.state_dict(), path)), not the LightningModule's.")
        try:
            self.network.features.load_state_dict(body, strict=True)
        except RuntimeError as error:
            raise ConfigurationError(f"The base in {path} does not fit this network's body: {error}") from None

    def configure_callbacks(self) -> list[pl.Callback]:
        return [self.finetuning] if self.finetuning is not None else []

    def outputs(self, x: Tensor, stage: str) -> Tensor:
        if self.method == "feature_extraction" and x.ndim == 2 and x.shape[1] == self.network.num_features:
            return self.network.forward_head(x)  # a batch of cached features
        return super().outputs(x, stage)

    def configure_optimizers(self) -> dict[str, Any]:
        trainable = [p for p in self.parameters() if p.requires_grad]  # the head: the base joins when unfrozen
        return self.build_optimization(trainable, self.optimizer, self.lr_scheduler)
