"""Supervised learning: a network wired to a loss and metrics, for classes (:class:`Classifier`) or values
(:class:`Regressor`)."""

from __future__ import annotations

from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy

from lightning_dl.data.core import plain_python
from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice
from lightning_dl.models.base import BaseModule, Stage
from lightning_dl.models.recipes import FastRecipeMixin
from lightning_dl.nn.base import NetworkFactory
from lightning_dl.nn.losses import ClassificationLoss, LossName
from lightning_dl.nn.regularizers import apply_max_norm, regularization_loss

Head = Literal["multiclass", "binary"]
RegressionLoss = Literal["mse", "mae", "huber"]


class SupervisedModule(BaseModule):
    """What a classifier and a regressor share: the network, its input check, its penalties and max-norm.

    Subclasses say how outputs and targets make a loss (:meth:`loss_and_metrics`) and what ``predict`` returns.
    """

    def __init__(self, network: NetworkFactory, input_shape: tuple[int, ...], num_outputs: int,
                 optimizer: OptimizerCallable, lr_scheduler: LRSchedulerCallable | None, max_norm: float | None) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.network = network(self.input_shape, num_outputs)
        self.optimizer, self.lr_scheduler, self.max_norm = optimizer, lr_scheduler, max_norm

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataValidationError(
                f"Input batch has samples of shape {tuple(x.shape[1:])} but the network was built for "
                f"{self.input_shape}. Match the DataModule's layout/image size to the model's input_shape.")
        return self.network(x)

    def outputs(self, x: Tensor, stage: str) -> Tensor:
        """The network's outputs for a batch of ``stage`` (``train``, ``val``, ``test`` or ``predict``)."""
        return self(x)

    def loss_and_metrics(self, outputs: Tensor, targets: Tensor, stage: Stage, batch_idx: int) -> Tensor:
        """The data loss of a batch; queue its predictions for the stage's metrics."""
        raise NotImplementedError

    def _step(self, batch: tuple[Tensor, ...], stage: Stage, batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_and_metrics(self.outputs(x, stage), y, stage, batch_idx)
        self.track(stage, "loss", loss, len(x))
        return loss

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        loss = self._step(batch, "train", batch_idx)
        self.log_step("train/loss_step", loss, prog_bar=True)
        penalty = regularization_loss(self.network)
        if isinstance(penalty, Tensor):
            self.log_step("train/regularization", penalty)
            loss = loss + penalty
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.max_norm is not None:
            apply_max_norm(self.network, self.max_norm)

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "val", batch_idx)

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._step(batch, "test", batch_idx)

    def configure_optimizers(self) -> dict[str, Any]:
        return self.build_optimization(self.parameters(), self.optimizer, self.lr_scheduler)


class Classifier(FastRecipeMixin, SupervisedModule):
    """A network with a classification head, its loss, metrics and optimiser.

    Heads: ``multiclass`` (``num_classes`` units, softmax cross-entropy; integer or one-hot labels) and
    ``binary`` (1 unit, sigmoid binary cross-entropy). Logged: ``train/loss_step``, ``train/loss_epoch``,
    ``val/loss``, ``test/loss`` and per stage ``stage/accuracy`` and ``stage/top1_error`` (plus
    ``stage/top5_error`` with more than five classes), synchronised across DDP processes. Monitors
    ``val/loss``. Every batch's labels are checked (without stopping the device) and a label outside the
    head raises :class:`~lightning_dl.errors.DataValidationError` naming the batch. The fast recipe's model
    side is ``flip_tta``, ``channels_last`` and ``compile_network``; its random crop and flip of training batches
    are the DataModule's (``random_crop_padding``, ``padding_mode``, ``random_flip`` of an image DataModule).

    Args:
        network: Builds the network from ``(input_shape, num_outputs)``, e.g. ``lightning_dl.nn.CNN``.
        input_shape: Shape of one input; the CLI links it from the DataModule.
        num_classes: Number of classes; the CLI links it from the DataModule.
        class_names: Names of the classes (linked from the DataModule), for plots and reports.
        head: ``multiclass`` or ``binary``.
        optimizer: Any ``torch.optim`` optimiser, e.g. ``{class_path: torch.optim.SGD, init_args: {lr: 0.1}}``.
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler or ``lightning_dl.models.LinearWarmup``.
        label_smoothing: Share of each label's probability spread over the other classes (multiclass).
        max_norm: Max-norm constraint on each unit's incoming weights, applied after every step.
        flip_tta: Validation, test and predict outputs are the mean of the logits of each image and its mirror.
        channels_last: Network weights and image batches in channels_last (NHWC) memory order.
        compile_network: ``torch.compile`` the network (the first batches of each shape pay the compilation).
        loss: ``cross_entropy`` or ``focal`` (see :class:`~lightning_dl.nn.ClassificationLoss`).
        class_weights: One loss weight per class (binary: negative, positive), e.g. inverse class frequencies.
        focal_alpha: Focal loss's α.
        focal_gamma: Focal loss's γ.
    """

    def __init__(
        self,
        network: NetworkFactory,
        input_shape: tuple[int, ...] = (1, 28, 28),
        num_classes: int = 10,
        class_names: Sequence[str] | None = None,
        head: Head = "multiclass",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        label_smoothing: float = 0.0,
        max_norm: float | None = None,
        flip_tta: bool = False,
        channels_last: bool = False,
        compile_network: bool = False,
        loss: LossName = "cross_entropy",
        class_weights: list[float] | None = None,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
    ) -> None:
        check_choice("head", head, Head)
        # Plain Python values before save_hyperparameters() reads them: numpy ones cannot go in a config.
        input_shape = plain_python(tuple(input_shape))
        class_names = None if class_names is None else tuple(str(c) for c in plain_python(list(class_names)))
        if head == "multiclass" and num_classes < 2:
            raise ConfigurationError(f"A multiclass head needs num_classes >= 2, got {num_classes}; "
                                     "for two classes in one unit use head: binary.")
        super().__init__(network, input_shape, 1 if head == "binary" else num_classes, optimizer, lr_scheduler, max_norm)
        self.save_hyperparameters()
        self.num_classes, self.head, self.label_smoothing = num_classes, head, label_smoothing
        self.class_names = class_names if class_names else tuple(str(c) for c in range(num_classes))
        self.configure_recipe(flip_tta, channels_last, compile_network)
        # Label smoothing stays multiclass-only, as it was before the loss option existed.
        smoothing = label_smoothing if head == "multiclass" else 0.0
        self.loss_function = ClassificationLoss(loss, head == "binary", class_weights, smoothing, focal_alpha, focal_gamma)
        self.loss_function.check_classes(2 if head == "binary" else num_classes)
        # The first batch with a label outside the head, and that batch's smallest and largest label; kept on
        # the device and looked at only on logged steps and at the epoch's end, so checking costs no sync.
        self._bad_labels: dict[str, Tensor] = {}

    def configure_metrics(self, stage: Stage) -> MetricCollection:
        # Labels are checked in _checked_labels; torchmetrics need not check every batch again.
        if self.head == "binary":
            metrics = {"accuracy": BinaryAccuracy(validate_args=False)}
        else:
            metrics = {"accuracy": MulticlassAccuracy(self.num_classes, average="micro", validate_args=False)}
            if self.num_classes > 5:
                metrics["top5_accuracy"] = MulticlassAccuracy(self.num_classes, top_k=5, average="micro",
                                                              validate_args=False)
        return MetricCollection(metrics, prefix=f"{stage}/")

    # --- labels ------------------------------------------------------------------------------------
    def _checked_labels(self, y: Tensor, stage: Stage, batch_idx: int) -> Tensor:
        """Record (without a host sync) whether this batch has labels outside the head; return safe labels."""
        n = 2 if self.head == "binary" else self.num_classes
        if y.is_floating_point() and self.head == "multiclass":  # one-hot (or probability) vectors
            if y.ndim != 2 or y.shape[1] != n:
                raise DataValidationError(
                    f"{stage} labels have shape {tuple(y.shape)}, which does not fit a multiclass head with {n} "
                    f"classes: labels must be integers in [0, {n - 1}] or one-hot vectors of length {n}.")
            return y
        bad = ((y != 0) & (y != 1)) if y.is_floating_point() else ((y < 0) | (y >= n))
        record = torch.stack([torch.tensor(batch_idx, device=y.device, dtype=y.dtype), y.min(), y.max()])
        seen = self._bad_labels.get(stage)
        first = bad.any() if seen is None else bad.any() & (seen[0] < 0)
        fresh = torch.full_like(record, -1)
        self._bad_labels[stage] = torch.where(first, record, fresh if seen is None else seen)
        return y.clamp(0, 1) if y.is_floating_point() else y.clamp(0, n - 1)

    def check_labels(self, stage: Stage) -> None:
        """Raise if a batch of this stage had a label outside the head (this is where the host syncs)."""
        record = self._bad_labels.pop(stage, None)
        if record is None or record[0] < 0:
            return
        batch, low, high = record.tolist()
        n = 2 if self.head == "binary" else self.num_classes
        raise DataValidationError(
            f"{stage} batch {int(batch)} has labels in [{low}, {high}], which do not fit a {self.head} head with "
            f"{n} classes: labels must be integers in [0, {n - 1}] or one-hot vectors of length {n}.")

    def loss_and_metrics(self, outputs: Tensor, y: Tensor, stage: Stage, batch_idx: int) -> Tensor:
        y = self._checked_labels(y, stage, batch_idx)
        if stage == "train" and self.should_log_step():
            self.check_labels(stage)
        if self.head == "binary":
            logits, y = outputs.squeeze(-1), y.float().view(-1)
            self.update_metrics(stage, logits.sigmoid(), y.long())
            return self.loss_function(logits, y)
        loss = self.loss_function(outputs, y)
        self.update_metrics(stage, outputs, y.argmax(-1) if y.is_floating_point() else y)
        return loss

    def epoch_values(self, stage: Stage) -> dict[str, Tensor]:
        self.check_labels(stage)
        values = super().epoch_values(stage)
        for name in [n for n in values if n.endswith("accuracy")]:  # top-k error: the textbook's 1 - accuracy
            values[name.replace("top5_accuracy", "top5_error").replace("accuracy", "top1_error")] = 1 - values[name]
        values.pop(f"{stage}/top5_accuracy", None)
        return values

    def outputs(self, x: Tensor, stage: str) -> Tensor:
        return self.recipe_outputs(x, stage)

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Class probabilities (averaged over each image and its mirror with ``flip_tta``)."""
        outputs = self.outputs(batch[0], "predict")
        return outputs.softmax(-1) if self.head == "multiclass" else torch.sigmoid(outputs)


class Regressor(SupervisedModule):
    """A network with linear outputs for one or several real-valued targets.

    Logged per stage: ``stage/loss``, ``stage/mse``, ``stage/rmse`` and ``stage/mae`` (over all outputs),
    synchronised across DDP processes. Monitors ``val/loss``.

    Args:
        network: Builds the network from ``(input_shape, num_outputs)``, e.g. ``lightning_dl.nn.MLP``.
        input_shape: Shape of one input; the CLI links it from the DataModule.
        num_outputs: Number of targets; the CLI links it from the DataModule.
        loss: ``mse`` (mean squared error), ``mae`` (mean absolute error) or ``huber``.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler or ``lightning_dl.models.LinearWarmup``.
        max_norm: Max-norm constraint on each unit's incoming weights, applied after every step.
    """

    def __init__(
        self,
        network: NetworkFactory,
        input_shape: tuple[int, ...] = (10,),
        num_outputs: int = 1,
        loss: RegressionLoss = "mse",
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        max_norm: float | None = None,
    ) -> None:
        check_choice("loss", loss, RegressionLoss)
        input_shape, num_outputs = plain_python(tuple(input_shape)), plain_python(num_outputs)
        super().__init__(network, input_shape, num_outputs, optimizer, lr_scheduler, max_norm)
        self.save_hyperparameters()
        self.num_outputs = num_outputs
        self.loss_function = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[loss]

    def configure_metrics(self, stage: Stage) -> MetricCollection:
        return MetricCollection({"mse": MeanSquaredError(), "rmse": MeanSquaredError(squared=False),
                                 "mae": MeanAbsoluteError()}, prefix=f"{stage}/")

    def loss_and_metrics(self, outputs: Tensor, y: Tensor, stage: Stage, batch_idx: int) -> Tensor:
        if y.numel() != outputs.numel():
            raise DataValidationError(f"{stage} targets have shape {tuple(y.shape)} but the network predicts "
                                      f"{tuple(outputs.shape)}: set num_outputs to the number of target columns.")
        y = y.to(outputs.dtype).view_as(outputs)
        self.update_metrics(stage, outputs.flatten(), y.flatten())
        return self.loss_function(outputs, y)

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Predicted values."""
        return self(batch[0])
