"""The one base every LightningModule of the project derives from.

It owns what every family shares, so that each family's module is only its networks, its loss and its
metrics:

- **optimisation injected from the config**: any ``torch.optim`` class as an ``OptimizerCallable`` and any
  scheduler as an ``LRSchedulerCallable`` (one pair per network where a module has several). Schedulers
  counted in steps (those with a ``total_steps`` argument: ``OneCycleLR``, :class:`LinearWarmup`) get
  ``total_steps`` from the trainer and step every batch; the others step once per epoch, ``ReduceLROnPlateau``
  on what the module monitors;
- **what it monitors** (``monitor``, ``monitor_mode``), or ``monitor = None`` for a module that monitors
  nothing (a GAN): the CLI's early stopping, checkpointing and plateau scheduling follow it;
- **the stage machinery**: a running mean per stage and value (torchmetrics ``MeanMetric``), torchmetrics
  metrics fed in chunks of batches, per-step values logged only on the batches the logger writes (counted
  in batches, not optimizer steps, so a GAN's ``n_critic`` does not change the rate), and epoch values
  synchronised across DDP processes.

``self.log`` costs about a millisecond a call in Lightning 2.6 and a torchmetrics update about as much:
paid on every batch, that is several percent of a small network's step. Hence the means, the chunks and
the logging on written steps only.
"""

from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable, Iterable, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from pytorch_lightning.utilities import rank_zero_info
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torchmetrics import MeanMetric, MetricCollection

from lightning_dl import lightning_internals
from lightning_dl.checkpoints import ORIGIN_KEY, check_checkpoint_fits, checkpoint_origin
from lightning_dl.errors import ConfigurationError
from lightning_dl.types import NEVER, MonitorMode, Stage

#: Batches whose predictions are gathered before one torchmetrics update.
METRIC_CHUNK = 32


class LinearWarmup(LambdaLR):
    """Linear warm-up of the learning rate over ``warmup_steps`` batches, then constant, cosine or linear decay
    to ``min_factor`` × the base rate at ``total_steps`` (the trainer's total when left ``None``).

    Args:
        optimizer: The optimiser whose learning rate is scheduled.
        warmup_steps: Batches over which the rate rises linearly from ``start_factor`` × base to base.
        decay: After the warm-up: ``none`` (constant), ``cosine`` or ``linear`` decay.
        total_steps: Length of the whole schedule in batches; filled in from the trainer when ``None``.
        start_factor: Fraction of the base rate at the first batch.
        min_factor: Fraction of the base rate reached at ``total_steps``.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int, decay: Literal["none", "cosine", "linear"]
                 = "none", total_steps: int | None = None, start_factor: float = 0.01, min_factor: float = 0.0) -> None:
        if decay != "none" and not total_steps:
            raise ConfigurationError(f"LinearWarmup with decay={decay!r} needs total_steps (the CLI fills it in).")
        self.warmup_steps, self.decay, self.total_steps = warmup_steps, decay, total_steps
        self.start_factor, self.min_factor = start_factor, min_factor
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        """The multiple of the base learning rate at batch ``step``."""
        if step < self.warmup_steps:
            return self.start_factor + (1 - self.start_factor) * step / self.warmup_steps
        if self.decay == "none":
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        shape = 0.5 * (1 + torch.cos(torch.tensor(progress * torch.pi)).item()) if self.decay == "cosine" else 1 - progress
        return self.min_factor + (1 - self.min_factor) * shape

    def state_dict(self) -> dict[str, Any]:  # LambdaLR skips plain functions, but a bound method would be pickled
        return {k: v for k, v in super().state_dict().items() if k != "lr_lambdas"}


def _target_class(factory: Callable) -> Any:
    """The class a (possibly partial) factory builds: jsonargparse and ``functools.partial`` both wrap it."""
    while isinstance(factory, functools.partial):
        classes = [a for a in (factory.func, *factory.args) if inspect.isclass(a)]
        if classes:
            return classes[0]
        factory = factory.func
    return factory


def counts_steps(scheduler_factory: Callable) -> bool:
    """Whether a scheduler's length is counted in batches (it takes ``total_steps``), so it steps every batch."""
    target = _target_class(scheduler_factory)
    try:
        return "total_steps" in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


class BaseModule(pl.LightningModule):
    """The base of every LightningModule here: injected optimisers, a declared monitor, the stage machinery.

    Subclasses declare ``monitor``/``monitor_mode`` (``monitor = None`` for none), return their metrics per
    stage from :meth:`configure_metrics`, and in their steps call :meth:`track` for running means (losses),
    :meth:`update_metrics` for torchmetrics and :meth:`log_step` for per-step values. Epoch values are
    logged by the base at each stage's end as ``val/<name>``, ``test/<name>`` and ``train/<name>_epoch``.
    """

    #: The logged value that early stopping, checkpointing and ReduceLROnPlateau watch; ``None`` for none.
    monitor: str | None = "val/loss"
    #: Whether lower (``min``) or higher (``max``) values of ``monitor`` are better.
    monitor_mode: MonitorMode = "min"

    def __init__(self) -> None:
        super().__init__()
        self.stage_means = nn.ModuleDict()
        self.stage_metrics = nn.ModuleDict()
        self._pending: dict[str, list[tuple[Tensor, Tensor]]] = {}
        self._epoch_schedulers_stepped = False

    # --- running means, metrics and logging --------------------------------------------------------
    def configure_metrics(self, stage: Stage) -> MetricCollection | None:
        """The torchmetrics of one stage (built on first use), or ``None``."""
        return None

    def track(self, stage: Stage, name: str, value: Tensor, weight: int = 1) -> None:
        """Add ``value`` (weighted by ``weight``, e.g. the batch size) to the stage's running mean of ``name``."""
        key = f"{stage}__{name}"
        if key not in self.stage_means:
            # No NaN check per update: it would stop the device on every batch (a NaN mean still shows up).
            self.stage_means[key] = MeanMetric(nan_strategy="disable").to(value.device)
        # With nan_strategy="disable" torchmetrics 1.9 drops the weight argument, so the value is repeated
        # `weight` times instead (a view, no copy): the mean of the repeats is the weighted mean.
        self.stage_means[key].update(value.detach().reshape(()).expand(weight))

    def update_metrics(self, stage: Stage, predictions: Tensor, targets: Tensor) -> None:
        """Queue a batch for the stage's torchmetrics; they are updated once every ``METRIC_CHUNK`` batches."""
        pending = self._pending.setdefault(stage, [])
        pending.append((predictions.detach(), targets))
        if len(pending) >= METRIC_CHUNK:
            self._flush_metrics(stage)

    def _flush_metrics(self, stage: Stage) -> None:
        pending = self._pending.pop(stage, [])
        if not pending:
            return
        key = f"{stage}_metrics"  # ModuleDict keys must not shadow Module attributes such as train()
        if key not in self.stage_metrics:
            metrics = self.configure_metrics(stage)
            if metrics is None:
                return
            self.stage_metrics[key] = metrics.to(pending[0][0].device)
        predictions, targets = (torch.cat(tensors) for tensors in zip(*pending))
        self.stage_metrics[key].update(predictions, targets)

    def should_log_step(self) -> bool:
        """True on the training batches whose values the logger writes (every ``log_every_n_steps`` batches).

        Counted in batches, not optimizer steps: under manual optimisation ``global_step`` counts every
        optimizer step (a GAN's generator step and its ``n_critic`` discriminator steps).
        """
        trainer = self.attached_trainer()
        return trainer is not None and trainer.training and lightning_internals.logger_writes_this_step(trainer)

    def log_step(self, name: str, value: Tensor, prog_bar: bool = False) -> None:
        """Log a per-batch training value, on the batches the logger writes only."""
        if self.should_log_step():
            self.log(name, value.detach(), prog_bar=prog_bar)

    def epoch_values(self, stage: Stage) -> dict[str, Tensor]:
        """The stage's epoch means and metrics, computed (and synchronised across processes) by torchmetrics."""
        self._flush_metrics(stage)
        suffix = "_epoch" if stage == "train" else ""
        values = {f"{stage}/{key.split('__', 1)[1]}{suffix}": mean.compute()
                  for key, mean in self.stage_means.items() if key.startswith(f"{stage}__") and mean.update_called}
        metrics = self.stage_metrics[f"{stage}_metrics"] if f"{stage}_metrics" in self.stage_metrics else None
        if metrics is not None and any(metric.update_called for metric in metrics.values()):
            values.update(metrics.compute())
        return values

    def log_stage(self, stage: Stage) -> dict[str, Tensor]:
        """Log the stage's epoch values and reset them; return what was logged."""
        values = self.epoch_values(stage)
        shown = {f"{stage}/loss", "train/loss_epoch", f"{stage}/accuracy"}
        # The values are already equal on every process: sync_dist's mean leaves them as they are and tells
        # Lightning they are global.
        for prog_bar in (True, False):
            chosen = {k: v for k, v in values.items() if (k in shown) == prog_bar}
            if chosen:
                self.log_dict(chosen, prog_bar=prog_bar, sync_dist=True)
        for key, mean in self.stage_means.items():
            if key.startswith(f"{stage}__"):
                mean.reset()
        if f"{stage}_metrics" in self.stage_metrics:
            self.stage_metrics[f"{stage}_metrics"].reset()
        return values

    def attached_trainer(self) -> pl.Trainer | None:
        """The trainer this module is attached to, or ``None`` (``self.trainer`` raises when there is none)."""
        try:
            return self.trainer
        except RuntimeError:
            return None

    # --- checkpoints: where they came from, refused when they belong elsewhere ---------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the classes of this model and of the trainer's DataModule, so a resume can check them."""
        trainer = self.attached_trainer()
        checkpoint[ORIGIN_KEY] = checkpoint_origin(self, None if trainer is None else trainer.datamodule)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse (:class:`~lightning_dl.errors.CheckpointError`) a checkpoint of another model class, other
        weights, or another DataModule, naming the file and what does not match."""
        trainer = self.attached_trainer()
        path = trainer.ckpt_path if trainer is not None and trainer.ckpt_path else "The checkpoint"
        if getattr(self, "strict_loading", True):
            check_checkpoint_fits(checkpoint, path, self, None if trainer is None else trainer.datamodule)

    def on_fit_start(self) -> None:
        # Estimating the total steps (OneCycleLR) makes Lightning build the training iterator in
        # configure_optimizers, before it restores a checkpoint's loop state: that iterator would start the
        # resumed run at epoch 0's first batch. Remember it, to rebuild it once the state is restored.
        self._train_iterator_built_early = lightning_internals.training_iterator_built(self.trainer)

    def on_train_start(self) -> None:
        if getattr(self, "_train_iterator_built_early", False) and self.trainer.ckpt_path is not None:
            # with the restored epoch and the loader's mid-epoch position
            lightning_internals.rebuild_training_iterator(self.trainer)

    def on_train_epoch_start(self) -> None:
        self._epoch_schedulers_stepped = False

    def on_train_epoch_end(self) -> None:
        values = self.log_stage("train")
        if not self._epoch_schedulers_stepped:  # no validation at this epoch's end
            self.step_epoch_schedulers(values)

    def on_validation_epoch_end(self) -> None:
        values = self.log_stage("val")
        trainer = self.trainer
        if trainer.state.fn == "fit" and not trainer.sanity_checking and trainer.is_last_batch:
            self.step_epoch_schedulers(values)

    def on_test_epoch_end(self) -> None:
        self.log_stage("test")

    # --- optimisation ------------------------------------------------------------------------------
    def build_optimization(self, parameters: Iterable, optimizer: OptimizerCallable,
                           lr_scheduler: LRSchedulerCallable | None = None,
                           steps_per_batch: float = 1.0) -> dict[str, Any]:
        """An optimiser over ``parameters`` and its scheduler, as Lightning's ``configure_optimizers`` wants them.

        Schedulers that take ``total_steps`` (OneCycleLR, :class:`LinearWarmup`) get the trainer's estimate of
        this optimiser's steps (its batches × ``steps_per_batch``, e.g. ``1 / n_critic`` for a GAN's
        generator) unless the config gives one, and step every batch. The others step at the
        end of each epoch, stepped here (see :meth:`step_epoch_schedulers`) so that the checkpoint written
        at the epoch's end already holds the step and a resumed run continues the same schedule.
        """
        built = optimizer(parameters)
        if lr_scheduler is None:
            return {"optimizer": built}
        if counts_steps(lr_scheduler):
            keywords = getattr(lr_scheduler, "keywords", {})
            total = keywords.get("total_steps") or math.ceil(self.trainer.estimated_stepping_batches * steps_per_batch)
            scheduler = lr_scheduler(built, total_steps=total)
            return {"optimizer": built, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = lr_scheduler(built)
        if isinstance(scheduler, ReduceLROnPlateau) and self.monitor is None:
            raise ConfigurationError(f"ReduceLROnPlateau watches what the model monitors, but {type(self).__name__} "
                                     "monitors nothing; choose a scheduler that does not need a metric.")
        # Lightning only stores and restores it: its own epoch-end step comes after the checkpoint is written
        # and is skipped on restart, so this module steps it (a frequency Lightning never reaches).
        config = {"scheduler": scheduler, "interval": "epoch", "frequency": NEVER, "strict": False}
        if isinstance(scheduler, ReduceLROnPlateau):
            config["monitor"] = self.monitor
        return {"optimizer": built, "lr_scheduler": config}

    def step_epoch_schedulers(self, values: dict[str, Tensor]) -> None:
        """Step the per-epoch schedulers once, ReduceLROnPlateau with the monitored value when it was computed."""
        if self._epoch_schedulers_stepped or self.trainer.sanity_checking:
            return
        self._epoch_schedulers_stepped = True
        for scheduler in self.epoch_schedulers():
            if not isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step()
            elif self.monitor in values:
                scheduler.step(values[self.monitor].item())
            elif not getattr(self, "_plateau_note_shown", False):
                self._plateau_note_shown = True
                rank_zero_info(f"ReduceLROnPlateau is not stepped: {self.monitor} was not computed (validation is off).")

    def epoch_schedulers(self) -> list[Any]:
        """The schedulers that step once per epoch."""
        return [c.scheduler for c in self.trainer.lr_scheduler_configs if c.interval == "epoch"]

