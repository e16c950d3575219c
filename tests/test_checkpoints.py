"""Checkpoint files are whole or refused: written atomically (a save killed midway leaves the previous file), and a
file that cannot be read, or that belongs to another model or DataModule, gives a CheckpointError naming it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from lightning_dl.checkpoints import AtomicCheckpointIO, write_atomically
from lightning_dl.cli import cli_main
from lightning_dl.errors import CheckpointError
from conftest import REPO

DIGITS = str(REPO / "configs/classifiers/cnn_digits.yaml")
QUICK = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
         "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
         "--test_after_fit", "false"]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- atomic writes ---------------------------------------------------------------------------------------
def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_and_no_partial_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)

    def dies_midway(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_midway)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    assert torch.equal(io.load_checkpoint(path)["state_dict"]["w"], torch.ones(3))  # the previous one, whole
    assert leftovers(tmp_path) == []


KILLED_MIDWAY = """
import os, signal, sys
from lightning_dl.checkpoints import write_atomically

def write(file):
    file.write(b"PK\\x03\\x04 the first half of a checkpoint")
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of the save

write_atomically(sys.argv[1], write)
"""


def test_a_save_killed_with_sigkill_leaves_the_previous_checkpoint_whole(tmp_path):
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILLED_MIDWAY, str(path)], env=env, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert path.read_bytes() == before  # the final name never held the partial file
    assert [name.startswith(".last.ckpt.") for name in leftovers(tmp_path)] == [True]  # hidden, not last.ckpt


def test_write_atomically_replaces_the_file_only_when_the_write_is_complete(tmp_path):
    path = tmp_path / "sub" / "file.bin"
    write_atomically(path, lambda file: file.write(b"one"))
    write_atomically(path, lambda file: file.write(b"two"))
    assert path.read_bytes() == b"two" and leftovers(path.parent) == []
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as an ordinary new file, not mkstemp's owner-only


@pytest.mark.parametrize("strategy", ["auto", "ddp", "ddp_spawn"])
def test_the_cli_writes_checkpoints_atomically_with_every_strategy(strategy):
    cli = cli_main(["--config", DIGITS, *QUICK, "--trainer.strategy", strategy,
                    "--trainer.devices", "1" if strategy == "auto" else "2"], run=False)
    assert type(cli.trainer.strategy.checkpoint_io) is AtomicCheckpointIO


def test_a_users_own_checkpoint_io_is_kept():
    cli = cli_main(["--config", DIGITS, *QUICK, "--trainer.plugins", "checkpoint_helpers.OwnCheckpointIO"], run=False)
    assert type(cli.trainer.strategy.checkpoint_io).__name__ == "OwnCheckpointIO"


# --- checkpoints that are refused ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """last.ckpt of a short digits run."""
    folder = tmp_path_factory.mktemp("digits")
    cli_main(["fit", "--config", DIGITS, *QUICK, "--checkpoint.dirpath", str(folder)])
    return folder / "last.ckpt"


def resume(checkpoint: Path, *arguments: str):
    return cli_main(["fit", "--config", DIGITS, *QUICK, "--trainer.max_epochs", "2", *arguments,
                     "--ckpt_path", str(checkpoint)])


def test_a_truncated_checkpoint_is_refused_naming_the_file(checkpoint, tmp_path):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=rf"{truncated}.* cannot be read as a checkpoint .*truncated"):
        resume(truncated)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    other = tmp_path / "notes.ckpt"
    torch.save({"weights": torch.ones(2)}, other)
    with pytest.raises(CheckpointError, match=rf"{other} is not a Lightning checkpoint"):
        AtomicCheckpointIO().load_checkpoint(other)


def test_a_checkpoint_of_another_model_is_refused(checkpoint):
    """Through the CLI: refused before Lightning would build the checkpoint's model in place of the config's."""
    with pytest.raises(CheckpointError, match=rf"{checkpoint} belongs to another model: it was written by "
                                              r"lightning_dl\.models\.(supervised\.)?Classifier.*Unmonitored"):
        resume(checkpoint, "--model", "cli_helpers.Unmonitored")


def fit_in_python(checkpoint: Path, *arguments: str) -> None:
    """A model and DataModule built from the digits config and ``arguments``, fitted by a Trainer of one's own."""
    cli = cli_main(["--config", DIGITS, *QUICK, *arguments], run=False)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_progress_bar=False,
                         enable_checkpointing=False)
    trainer.fit(cli.model, cli.datamodule, ckpt_path=str(checkpoint), weights_only=False)


def test_a_checkpoint_of_another_model_is_refused_in_python(checkpoint):
    with pytest.raises(CheckpointError, match=rf"{checkpoint} belongs to another model: it was written by "
                                              r"lightning_dl\.models\.(supervised\.)?Classifier.*Unmonitored"):
        fit_in_python(checkpoint, "--model", "cli_helpers.Unmonitored")


def test_a_checkpoint_of_another_datamodule_is_refused(checkpoint):
    with pytest.raises(CheckpointError, match=rf"{checkpoint} was trained on other data: its DataModule is "
                                              r"lightning_dl\.data\..*DigitsDataModule, this run's is "
                                              r"checkpoint_helpers\.OtherDigits"):
        resume(checkpoint, "--data", "checkpoint_helpers.OtherDigits")


def test_a_checkpoint_of_another_network_size_is_refused(checkpoint):
    """(Through the CLI, Lightning builds the model with the checkpoint's settings.)"""
    with pytest.raises(CheckpointError, match=rf"{checkpoint} does not fit .*Classifier: network\..* has shape"):
        fit_in_python(checkpoint, "--model.init_args.network.init_args.channels", "[8, 32]")


def test_a_matching_checkpoint_resumes(checkpoint):
    assert resume(checkpoint).trainer.current_epoch == 2
