"""The Classifier: any network wired to an output head, its loss, torchmetrics metrics and an optimiser."""

from __future__ import annotations

from typing import Any, Callable, Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy

from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice
from lightning_dl.nn.regularizers import apply_max_norm, regularization_loss

#: Builds a network from the shape of one input and the number of outputs: ``CNN``, ``MLP``, ``RNN``, ...
NetworkFactory = Callable[[tuple[int, ...], int], nn.Module]
Head = Literal["multiclass", "binary", "regression"]
OptimizerName = Literal["adam", "rmsprop", "sgd"]

_STAGES = ("train", "val", "test")
#: Batches whose predictions are gathered before one torchmetrics update (see ``_update_metrics``).
METRIC_CHUNK = 32


class Classifier(pl.LightningModule):
    """A network with an output head, its loss, metrics and optimiser.

    Heads: ``multiclass`` (``num_classes`` units, softmax cross-entropy; integer or one-hot labels),
    ``binary`` (1 unit, sigmoid binary cross-entropy) and ``regression`` (``num_classes`` linear units,
    mean squared error). Logged: ``val/loss`` and ``test/loss``; ``train/loss_epoch`` (the epoch mean) and
    ``train/loss_step`` (every ``log_every_n_steps``); per stage ``stage/accuracy``, ``stage/top1_error``
    and ``stage/top5_error`` (regression: ``stage/mse``, ``stage/mae``), synchronised across DDP processes.

    Args:
        network: Builds the network from ``(input_shape, num_outputs)``, e.g. ``lightning_dl.nn.CNN``.
        input_shape: Shape of one input; the CLI links it from the DataModule.
        num_classes: Classes (or regression targets); the CLI links it from the DataModule.
        head: ``multiclass``, ``binary`` or ``regression``.
        optimizer: ``adam``, ``rmsprop`` or ``sgd``.
        lr: Learning rate.
        momentum: Momentum of SGD and RMSprop.
        weight_decay: Weight decay of the optimiser, decoupled (AdamW) for adam (layer-wise penalties live
            in the network).
        reduce_lr_on_plateau: Divide the learning rate by 10 when validation loss stalls.
        lr_patience: Epochs without improvement before ReduceLROnPlateau lowers the learning rate.
        max_norm: Max-norm constraint on each unit's incoming weights, applied after every step.
    """

    def __init__(
        self,
        network: NetworkFactory,
        input_shape: tuple[int, ...] = (1, 28, 28),
        num_classes: int = 10,
        head: Head = "multiclass",
        optimizer: OptimizerName = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        reduce_lr_on_plateau: bool = False,
        lr_patience: int = 5,
        max_norm: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_choice("head", head, Head)
        check_choice("optimizer", optimizer, OptimizerName)
        if head == "multiclass" and num_classes < 2:
            raise ConfigurationError(f"A multiclass head needs num_classes >= 2, got {num_classes}; "
                                     "for two classes in one unit use head: binary.")
        self.input_shape = tuple(input_shape)
        self.network = network(self.input_shape, 1 if head == "binary" else num_classes)
        self.train_metrics, self.val_metrics, self.test_metrics = (self._metrics(stage) for stage in _STAGES)
        self.train_loss, self.val_loss, self.test_loss = (MeanMetric() for _ in _STAGES)
        self._checked_labels: set[str] = set()
        self._pending_metrics: dict[str, list[tuple[Tensor, Tensor]]] = {}

    def _metrics(self, stage: str) -> MetricCollection:
        head, n = self.hparams.head, self.hparams.num_classes
        # Labels are validated once (_check_labels) and by the DataModule; torchmetrics need not re-check
        # every batch, which would cost more than the update itself.
        if head == "regression":
            metrics = {"mse": MeanSquaredError(), "mae": MeanAbsoluteError()}
        elif head == "binary":
            metrics = {"accuracy": BinaryAccuracy(validate_args=False)}
        else:
            metrics = {"accuracy": MulticlassAccuracy(n, average="micro", validate_args=False)}
            if n > 5:
                metrics["top5_accuracy"] = MulticlassAccuracy(n, top_k=5, average="micro", validate_args=False)
        return MetricCollection(metrics, prefix=f"{stage}/")

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataValidationError(
                f"Input batch has samples of shape {tuple(x.shape[1:])} but the network was built for "
                f"{self.input_shape}. Match the DataModule's layout/image size to the model's input_shape.")
        return self.network(x)

    # --- loss and metrics per head -----------------------------------------------------------------
    def _check_labels(self, y: Tensor, stage: str) -> None:
        """Labels outside the head's range fail with a message, not a CUDA assert (checked once per stage)."""
        if stage in self._checked_labels or self.hparams.head == "regression":
            return
        n = 2 if self.hparams.head == "binary" else self.hparams.num_classes
        if not y.is_floating_point():  # class indices
            ok = bool(((y >= 0) & (y < n)).all())
        elif self.hparams.head == "multiclass":  # one-hot (or probability) vectors
            ok = y.ndim == 2 and y.shape[1] == n
        else:  # binary labels as floats
            ok = bool(((y == 0) | (y == 1)).all())
        if not ok:
            raise DataValidationError(
                f"{stage} labels do not fit a {self.hparams.head} head with {n} classes (got values in "
                f"[{y.min().item()}, {y.max().item()}], shape {tuple(y.shape)}): labels must be integers in "
                f"[0, {n - 1}] or one-hot vectors of length {n}.")
        self._checked_labels.add(stage)

    def _loss_and_update(self, outputs: Tensor, y: Tensor, stage: str) -> Tensor:
        head = self.hparams.head
        if head == "regression":
            y = y.float().view_as(outputs)
            self._update_metrics(stage, outputs, y)
            return F.mse_loss(outputs, y)
        if head == "binary":
            logits, y = outputs.squeeze(-1), y.float().view(-1)
            self._update_metrics(stage, logits.sigmoid(), y.long())
            return F.binary_cross_entropy_with_logits(logits, y)
        loss = F.cross_entropy(outputs, y)  # integer class indices or one-hot/probability vectors
        self._update_metrics(stage, outputs, y.argmax(-1) if y.is_floating_point() else y)
        return loss

    def _update_metrics(self, stage: str, predictions: Tensor, targets: Tensor) -> None:
        """Queue a batch for the stage's metrics; they are updated once per ``METRIC_CHUNK`` batches.

        Each torchmetrics update runs a dozen small tensor ops plus argument handling, about a
        millisecond on a CPU: a few percent of a small network's step if paid on every batch.
        """
        pending = self._pending_metrics.setdefault(stage, [])
        pending.append((predictions.detach(), targets))
        if len(pending) >= METRIC_CHUNK:
            self._flush_metrics(stage)

    def _flush_metrics(self, stage: str) -> None:
        pending = self._pending_metrics.pop(stage, [])
        if pending:
            predictions, targets = (torch.cat(tensors) for tensors in zip(*pending))
            getattr(self, f"{stage}_metrics").update(predictions, targets)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        self._check_labels(y, stage)
        loss = self._loss_and_update(self(x), y, stage)
        getattr(self, f"{stage}_loss").update(loss.detach(), len(x))
        return loss

    def _log_step(self, name: str, value: Tensor) -> None:
        """Log a per-step training value on the steps the logger writes (every ``log_every_n_steps``).

        ``self.log`` costs about a millisecond a call in Lightning 2.6, several percent of a small
        network's step; epoch means are accumulated in torchmetrics instead (see ``_log_epoch_metrics``).
        """
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log(name, value.detach(), prog_bar=name.endswith("loss_step"))

    def _log_epoch_metrics(self, stage: str) -> None:
        """Log the epoch's loss and metrics, which torchmetrics synchronises across DDP processes."""
        self._flush_metrics(stage)
        loss, metrics = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_metrics")
        loss_name = "train/loss_epoch" if stage == "train" else f"{stage}/loss"
        values = {loss_name: loss.compute(), **metrics.compute()}
        for name in [n for n in values if n.endswith("accuracy")]:  # top-k error: the textbook's 1 - accuracy
            values[name.replace("top5_accuracy", "top5_error").replace("accuracy", "top1_error")] = 1 - values[name]
        values.pop(f"{stage}/top5_accuracy", None)
        shown = {loss_name, f"{stage}/accuracy"}
        # The values are already equal on every process: sync_dist's mean leaves them as they are and
        # tells Lightning they are global.
        self.log_dict({k: v for k, v in values.items() if k in shown}, prog_bar=True, sync_dist=True)
        self.log_dict({k: v for k, v in values.items() if k not in shown}, sync_dist=True)
        loss.reset()
        metrics.reset()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train")
        self._log_step("train/loss_step", loss)
        penalty = regularization_loss(self.network)
        if isinstance(penalty, Tensor):
            self._log_step("train/regularization", penalty)
            loss = loss + penalty
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.hparams.max_norm is not None:
            apply_max_norm(self.network, self.hparams.max_norm)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """Class probabilities (multiclass/binary) or predicted values (regression)."""
        outputs = self(batch[0])
        if self.hparams.head == "multiclass":
            return outputs.softmax(-1)
        return torch.sigmoid(outputs) if self.hparams.head == "binary" else outputs

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    # --- optimisation ------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        if hp.optimizer == "adam":
            optimizer = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay) \
                if hp.weight_decay else torch.optim.Adam(self.parameters(), lr=hp.lr)
        elif hp.optimizer == "rmsprop":
            optimizer = torch.optim.RMSprop(self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
        else:
            optimizer = torch.optim.SGD(self.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay)
        if not hp.reduce_lr_on_plateau:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=hp.lr_patience)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
