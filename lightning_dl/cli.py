"""The ``lightning-dl`` command: Lightning's CLI with this project's trainer defaults.

    lightning-dl fit --config configs/cnn_fashion_mnist.yaml
    lightning-dl fit --config configs/cnn_digits.yaml --config configs/trainer/quick.yaml
    lightning-dl test --config configs/cnn_digits.yaml --ckpt_path runs/.../last.ckpt
    lightning-dl kfold --config configs/workflow/kfold_diabetes.yaml --folds 4

This module is the bottom of the command line: :class:`LightningDLCLI` and :func:`cli_main`, which the
workflows (k-fold) build on. The console script's entry point, which also dispatches ``kfold``, is
:func:`lightning_dl.__main__.main`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities import rank_zero_info
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_dl.callbacks import EarlyStopping, ModelCheckpoint, RandomStateCheckpoint


def wandb_offline_by_default() -> bool:
    """wandb runs offline unless the user chose: ``WANDB_MODE`` (online/offline/disabled) is obeyed as set,
    and a user who ran ``wandb login`` (or set ``WANDB_API_KEY``) goes online."""
    if os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"):
        return False
    netrc = Path.home() / ".netrc"
    return not (netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"))


def trainer_defaults() -> dict[str, Any]:
    """One Trainer for every concept: any accelerator, all its devices (DDP when there are several), wandb."""
    return {
        "accelerator": "auto",
        "devices": "auto",
        "default_root_dir": "runs",
        "logger": {
            "class_path": "pytorch_lightning.loggers.WandbLogger",
            "init_args": {"project": "lightning-dl", "save_dir": "runs", "offline": wandb_offline_by_default()},
        },
    }


#: What a DataModule may know that a model is built for; each travels when the DataModule has it and the
#: model's constructor takes it.
LINKED_ATTRIBUTES = ("input_shape", "output_shape", "num_classes", "num_outputs", "class_names", "vocab_size")


class LightningDLCLI(LightningCLI):
    """LightningCLI with early stopping and checkpoints that follow what the model monitors, learning-rate
    logging, what the data knows linked into the model, and a test after ``fit``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(RandomStateCheckpoint, "random_state")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="After fit, test the best checkpoint (the last one when nothing is monitored), "
                                 "if the model has a test step.")

    def instantiate_classes(self) -> None:
        """Build the DataModule first, then give the model what the data knows, then the rest as usual."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        data_config = config.get("data")
        if isinstance(data_config, Namespace) and isinstance(config.get("model"), Namespace):
            config.data = instantiate(data_config)  # jsonargparse keeps an instance it is given
            link_data_to_model(config.data, config.model)
        with warnings.catch_warnings():  # jsonargparse notes, harmlessly, that it cannot print the instance
            warnings.filterwarnings("ignore", message=r"\s*Unable to serialize instance")
            super().instantiate_classes()
        if isinstance(data_config, Namespace):
            config.data = data_config  # the saved config.yaml records the DataModule's settings, not the object

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if needs_unused_parameter_search(trainer, self.model):
            # Manual optimisation (a GAN) leaves one network without gradients in each step: DDP must look for
            # unused parameters, or it fails at the second step.
            rank_zero_info("Manual optimisation under DDP: DDP looks for unused parameters "
                           "(as strategy ddp_find_unused_parameters_true would).")
            trainer.strategy._ddp_kwargs["find_unused_parameters"] = True  # read when DDP wraps the model in fit
        if trainer.loggers and not any(isinstance(c, LearningRateMonitor) for c in trainer.callbacks):
            trainer.callbacks.append(LearningRateMonitor())  # only with a logger: it has nowhere else to write
        return trainer

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[pl.Callback]) -> pl.Trainer:
        if config.get("enable_checkpointing") is False:
            # The user switched checkpoints off: leave out the CLI's own ModelCheckpoint, which Lightning
            # would otherwise refuse ("found ModelCheckpoint in callbacks list").
            callbacks = [callback for callback in callbacks if not isinstance(callback, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)

    def after_fit(self) -> None:
        has_test_step = type(self.model).test_step is not pl.LightningModule.test_step
        if self.config_init[self.subcommand].get("test_after_fit", True) and has_test_step and not self.trainer.interrupted:
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=checkpoint_to_test(self.trainer))
        finish_wandb_run()

    def after_validate(self) -> None:
        finish_wandb_run()

    def after_test(self) -> None:
        finish_wandb_run()

    def after_predict(self) -> None:
        finish_wandb_run()


def import_object(path: str) -> Any:
    """The object a dotted path names, e.g. ``lightning_dl.data.DigitsDataModule``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def instantiate(value: Any) -> Any:
    """An object from its ``class_path``/``init_args`` config (recursively); other values as they are."""
    if isinstance(value, Namespace) and "class_path" in value:
        arguments = {k: instantiate(v) for k, v in vars(value.get("init_args") or Namespace()).items()}
        return import_object(value.class_path)(**arguments)
    if isinstance(value, list):
        return [instantiate(v) for v in value]
    return value.as_dict() if isinstance(value, Namespace) else value


def accepted_arguments(cls: type) -> set[str]:
    """The keyword arguments ``cls`` accepts, following ``**kwargs`` up through its base classes."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(vars(klass)["__init__"]).parameters.values()
        names |= {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in parameters):
            break
    return names


def link_data_to_model(data: Any, model_config: Namespace) -> None:
    """Copy into the model's arguments each of :data:`LINKED_ATTRIBUTES` that the DataModule has (not None)
    and the model's constructor takes: a DataModule without one, or a model without one, is no error."""
    accepted = accepted_arguments(import_object(model_config.class_path))
    if model_config.get("init_args") is None:
        model_config.init_args = Namespace()
    for name in LINKED_ATTRIBUTES:
        value = getattr(data, name, None)
        if value is not None and name in accepted:
            model_config.init_args[name] = tuple(value) if isinstance(value, list) else value


def needs_unused_parameter_search(trainer: pl.Trainer, model: pl.LightningModule | None) -> bool:
    """Whether DDP must be told to look for unused parameters: several processes, a model that optimises
    its networks by hand, and a DDP strategy that does not look."""
    strategy = trainer.strategy
    return (model is not None and not model.automatic_optimization and isinstance(strategy, DDPStrategy)
            and trainer.world_size > 1 and not strategy._ddp_kwargs.get("find_unused_parameters", False))


def checkpoint_to_test(trainer: pl.Trainer) -> str | None:
    """The best checkpoint where one was monitored, else the last; ``None`` (the weights in memory) without any."""
    callback = trainer.checkpoint_callback
    if callback is None:
        return None
    if callback.monitor is not None and callback.best_model_path:
        return callback.best_model_path
    return callback.last_model_path or callback.best_model_path or None


def finish_wandb_run() -> None:
    """Close this process's wandb run (if one was started) so its files are complete and the next
    ``cli_main`` in the same process, a notebook's say, starts a run of its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def cli_main(args: list[str] | None = None, run: bool = True) -> LightningDLCLI:
    """Run the CLI on ``args`` (the command line when ``None``) and return it, so ``cli.trainer``,
    ``cli.model`` and ``cli.datamodule`` can be inspected.

    ``WandbLogger(offline=True)`` sets ``WANDB_MODE`` for the whole process; it is put back as it was, so the
    next run in the same process (a notebook's) is offline or online by its own config.
    """
    wandb_mode = os.environ.get("WANDB_MODE")
    try:
        return _cli(args, run)
    finally:
        if wandb_mode is None:
            os.environ.pop("WANDB_MODE", None)
        else:
            os.environ["WANDB_MODE"] = wandb_mode


def _cli(args: list[str] | None, run: bool) -> LightningDLCLI:
    return LightningDLCLI(
        pl.LightningModule,
        pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=args,
        run=run,
        seed_everything_default=42,
        trainer_defaults=trainer_defaults(),
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        parser_kwargs={"epilog": "Also: lightning-dl kfold --config X.yaml --folds 5 (k-fold cross-validation; "
                                 "lightning-dl kfold --help)."},
    )
