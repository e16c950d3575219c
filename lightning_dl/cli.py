"""The ``lightning-dl`` command: Lightning's CLI with this project's trainer defaults.

    lightning-dl fit --config configs/cnn_fashion_mnist.yaml
    lightning-dl fit --config configs/cnn_digits.yaml --config configs/trainer/quick.yaml
    lightning-dl test --config configs/cnn_digits.yaml --ckpt_path runs/.../last.ckpt
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from lightning_dl.callbacks import RandomStateCheckpoint


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


class LightningDLCLI(LightningCLI):
    """LightningCLI with early stopping, checkpoints (best + last) and learning-rate logging built in,
    the data's shape linked into the model, and a test of the best checkpoint after ``fit``."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val/loss", "early_stopping.patience": 10})
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val/loss", "checkpoint.save_last": True,
                             "checkpoint.filename": "best-{epoch}"})
        parser.add_lightning_class_args(RandomStateCheckpoint, "random_state")
        parser.add_argument("--test_after_fit", type=bool, default=True,
                            help="After fit, evaluate the best checkpoint on the test set.")
        parser.link_arguments("data.input_shape", "model.init_args.input_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        if trainer.loggers and not any(isinstance(c, LearningRateMonitor) for c in trainer.callbacks):
            trainer.callbacks.append(LearningRateMonitor())  # only with a logger: it has nowhere else to write
        return trainer

    def after_fit(self) -> None:
        if self.config_init[self.subcommand].get("test_after_fit", True) and not self.trainer.interrupted:
            best = self.trainer.checkpoint_callback.best_model_path if self.trainer.checkpoint_callback else ""
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best or None)
        finish_wandb_run()

    def after_validate(self) -> None:
        finish_wandb_run()

    def after_test(self) -> None:
        finish_wandb_run()

    def after_predict(self) -> None:
        finish_wandb_run()


def finish_wandb_run() -> None:
    """Close this process's wandb run (if one was started) so its files are complete and the next
    ``cli_main`` in the same process, a notebook's say, starts a run of its own."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def cli_main(args: list[str] | None = None, run: bool = True) -> LightningDLCLI:
    """Run the CLI on ``args`` (the command line when ``None``) and return it, so ``cli.trainer``,
    ``cli.model`` and ``cli.datamodule`` can be inspected."""
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
    )


def main() -> None:
    """Entry point of the ``lightning-dl`` console script."""
    cli_main()


if __name__ == "__main__":
    main()
