"""The ``lightning-dl`` command: Lightning's CLI with this project's trainer defaults.

    lightning-dl fit --config configs/classifiers/cnn_fashion_mnist.yaml
    lightning-dl fit --config configs/classifiers/cnn_digits.yaml --config configs/trainer/quick.yaml
    lightning-dl test --config configs/classifiers/cnn_digits.yaml --ckpt_path runs/.../last.ckpt
    lightning-dl kfold --config configs/workflow/kfold_diabetes.yaml --folds 4

This module is the bottom of the command line: :class:`LightningDLCLI` and :func:`cli_main`, which the
workflows (k-fold) build on. The console script's entry point, which also dispatches ``kfold``, is
:func:`lightning_dl.__main__.main`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import shlex
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import LearningRateMonitor
from pytorch_lightning.plugins import TorchCheckpointIO
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only
from pytorch_lightning.utilities.exceptions import SIGTERMException
from jsonargparse import Namespace
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_dl import lightning_internals
from lightning_dl.callbacks import EarlyStopping, ModelCheckpoint, RandomStateCheckpoint, RunStopped, StopOnSignal
from lightning_dl.checkpoints import AtomicCheckpointIO, check_model_class, read_checkpoint_lazily


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
    logging, what the data knows linked into the model, a test after ``fit``, atomic checkpoint files, and runs
    that save a checkpoint and exit with 128 + the signal's number on SIGTERM or SIGINT."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        # Not a Lightning callback group: instantiate_trainer adds it, unless checkpointing is switched off.
        parser.add_class_arguments(ModelCheckpoint, "checkpoint", fail_untyped=False, sub_configs=True)
        parser.add_lightning_class_args(RandomStateCheckpoint, "random_state")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="After fit, test the best checkpoint (the last one when nothing is monitored), "
                                 "if the model has a test step.")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then check a ``--ckpt_path`` before Lightning reads the model's settings from it: a file that
        cannot be read, or one of another model class than the config's, is refused with a
        :class:`~lightning_dl.errors.CheckpointError` (Lightning would end in torch's traceback, or silently
        build the checkpoint's model instead of the config's)."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path and Path(path).is_file():
            checkpoint = read_checkpoint_lazily(path)
            model = self.config[subcommand].get("model")
            if isinstance(model, Namespace) and model.get("class_path"):
                check_model_class(checkpoint, path, import_object(model.class_path))

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
        """The trainer with the CLI's checkpoint callback (unless ``enable_checkpointing: false``), signal
        handling, atomic checkpoint files, learning-rate logging, and DDP told about manual optimisation."""
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        trainer_config = config.get("trainer") or {}
        callbacks = kwargs.pop("callbacks", trainer_config.get("callbacks")) or []
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        if trainer_config.get("enable_checkpointing") is not False:
            # Left out when the user switched checkpoints off: Lightning would refuse it ("found
            # ModelCheckpoint in callbacks list").
            callbacks.append(config.get("checkpoint"))
        callbacks.append(StopOnSignal())
        trainer = super().instantiate_trainer(callbacks=[c for c in callbacks if c is not None], **kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default writer, not a user's
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        if needs_unused_parameter_search(trainer, self.model):
            # Manual optimisation (a GAN) leaves one network without gradients in each step: DDP must look for
            # unused parameters, or it fails at the second step.
            rank_zero_info("Manual optimisation under DDP: DDP looks for unused parameters "
                           "(as strategy ddp_find_unused_parameters_true would).")
            lightning_internals.ddp_keyword_arguments(trainer.strategy)["find_unused_parameters"] = True
        if trainer.loggers and not any(isinstance(c, LearningRateMonitor) for c in trainer.callbacks):
            trainer.callbacks.append(LearningRateMonitor())  # only with a logger: it has nowhere else to write
        return trainer

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
            and trainer.world_size > 1
            and not lightning_internals.ddp_keyword_arguments(strategy).get("find_unused_parameters", False))


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
    except RunStopped as stopped:
        finish_wandb_run()
        print_resume_line(stopped, sys.argv[1:] if args is None else args)
        raise
    except SIGTERMException as error:  # Lightning's own handling, outside training: a SystemExit with status 0
        rank_zero_info("Received SIGTERM outside training: nothing to save.")
        raise SystemExit(128 + signal.SIGTERM) from error
    finally:
        if wandb_mode is None:
            os.environ.pop("WANDB_MODE", None)
        else:
            os.environ["WANDB_MODE"] = wandb_mode


def resume_command(args: list[str], checkpoint: str) -> str:
    """The command that resumes the run of ``args`` (``fit ...``) from ``checkpoint``: the same arguments with
    ``--ckpt_path`` set to it."""
    kept, skip = [], False
    for argument in args:
        if skip or argument == "--ckpt_path":
            skip = not skip
            continue
        if not argument.startswith("--ckpt_path="):
            kept.append(argument)
    return shlex.join(["lightning-dl", *kept, "--ckpt_path", str(checkpoint)])


@rank_zero_only
def print_resume_line(stopped: RunStopped, args: list[str]) -> None:
    """The last line of a stopped run: what stopped it, the checkpoint and the command that resumes it."""
    if stopped.checkpoint:
        line = f"{stopped}; resume with: {resume_command(args, stopped.checkpoint)}"
    else:
        line = f"{stopped}, so the run cannot be resumed."
    print(line, file=sys.stderr, flush=True)


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
