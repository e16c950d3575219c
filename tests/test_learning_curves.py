"""LearningCurves: the smoothing, the turning point of synthetic curves (and none where the curves never part),
the epoch values it records in a real fit, the PNG it writes and what it logs to wandb."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import REPO
from pytorch_lightning.loggers import WandbLogger

from lightning_dl.callbacks import LearningCurves, turning_point
from lightning_dl.callbacks.learning_curves import exponential_moving_average
from lightning_dl.cli import cli_main
from lightning_dl.errors import ConfigurationError

DIGITS = str(REPO / "configs/classifiers/cnn_digits.yaml")
EPOCHS = np.arange(40)
#: Training loss that keeps falling; validation loss with its minimum at epoch 20, rising after.
TRAIN = list(1 / (1 + EPOCHS))
OVERFITTING = list(1 + (EPOCHS - 20) ** 2 / 100)
PNG = b"\x89PNG\r\n\x1a\n"


def test_exponential_moving_average_by_hand():
    assert exponential_moving_average([1.0, 3.0, 3.0], 0.5) == [1.0, 2.0, 2.5]
    assert exponential_moving_average([4.0, 1.0, 7.0], 0.0) == [4.0, 1.0, 7.0]
    with pytest.raises(ConfigurationError, match="smoothing factor"):
        exponential_moving_average([1.0], 1.0)


def test_the_turning_point_is_where_validation_turns_while_training_falls():
    assert turning_point(TRAIN, OVERFITTING, ema=0, patience=3) == 20
    assert 20 <= turning_point(TRAIN, OVERFITTING, ema=0.6, patience=3) <= 23  # smoothing lags a little
    accuracy_train, accuracy_val = [-v for v in TRAIN], [-v for v in OVERFITTING]
    assert turning_point(accuracy_train, accuracy_val, ema=0, patience=3, mode="max") == 20


@pytest.mark.parametrize("val, train", [
    (list(2 / (1 + EPOCHS)), TRAIN),  # validation keeps improving: never turns
    (OVERFITTING, list(1 + EPOCHS / 10)),  # both rise (diverging, not overfitting): no turn against training
    ([1.0, 0.9, 0.95, 0.97, 0.8, 0.7, 0.6, 0.5], TRAIN[:8]),  # a two-epoch bump is shorter than the patience
])
def test_curves_that_never_turn_give_none(val, train):
    assert turning_point(train, val, ema=0, patience=3) is None


def test_patience_must_be_positive():
    with pytest.raises(ConfigurationError, match="patience"):
        turning_point(TRAIN, OVERFITTING, patience=0)


def test_a_real_fit_records_each_epochs_values_and_writes_the_png(tmp_path):
    cli = cli_main(["fit", "--config", DIGITS, "--trainer.max_epochs", "3", "--trainer.limit_train_batches", "3",
                    "--trainer.limit_val_batches", "2", "--trainer.accelerator", "cpu", "--test_after_fit", "false",
                    "--trainer.enable_progress_bar", "false", "--config", str(REPO / "configs/logger/csv.yaml"),
                    "--checkpoint.dirpath", str(tmp_path / "run" / "checkpoints"),
                    '--trainer.callbacks+={"class_path": "lightning_dl.callbacks.LearningCurves", "init_args": {"ema": 0.5}}'])
    curves, = [c for c in cli.trainer.callbacks if isinstance(c, LearningCurves)]
    assert curves.ema == 0.5
    assert sorted(curves.history["train/loss_epoch"]) == sorted(curves.history["val/loss"]) == [0, 1, 2]
    assert "train/loss_step" not in curves.history and "val/accuracy" in curves.history
    # The values of each epoch are the ones the logger wrote for that epoch (not the epoch before or after).
    with open(Path(cli.trainer.logger.log_dir) / "metrics.csv") as f:
        rows = [row for row in csv.DictReader(f) if row.get("train/loss_epoch")]
    assert {int(r["epoch"]): float(r["train/loss_epoch"]) for r in rows} == pytest.approx(curves.history["train/loss_epoch"])
    assert (tmp_path / "run" / "learning_curves.png").read_bytes()[:8] == PNG


class RecordingWandbLogger(WandbLogger):
    """A WandbLogger that keeps what it is asked to log instead of starting a run."""

    def __init__(self) -> None:
        self.images, self.metrics = [], []

    def log_image(self, key, images, step=None, **kwargs):
        self.images.append((key, images, step))

    def log_metrics(self, metrics, step=None):
        self.metrics.append((metrics, step))


def test_the_turning_point_is_marked_saved_and_logged_to_wandb(tmp_path):
    curves = LearningCurves(ema=0, patience=3, filename="curves.png")
    curves.history = {"train/loss_epoch": dict(enumerate(TRAIN)), "val/loss": dict(enumerate(OVERFITTING))}
    logger = RecordingWandbLogger()
    trainer = SimpleNamespace(is_global_zero=True, loggers=[logger], global_step=7,
                              checkpoint_callback=SimpleNamespace(dirpath=str(tmp_path / "checkpoints")))
    path = curves.draw(trainer)
    assert curves.turning_epoch == 20 and path == tmp_path / "curves.png" and path.read_bytes()[:8] == PNG
    assert logger.images == [("learning_curves", [str(path)], 7)]
    assert logger.metrics == [({"learning_curves/turning_epoch": 20}, 7)]


def test_the_history_survives_a_checkpoint():
    curves = LearningCurves()
    curves.history = {"val/loss": {0: 1.0, 1: 0.5}}
    restored = LearningCurves()
    restored.load_state_dict(curves.state_dict())
    assert restored.history == {"val/loss": {0: 1.0, 1: 0.5}} and restored.curve("val/loss") == ([0, 1], [1.0, 0.5])
