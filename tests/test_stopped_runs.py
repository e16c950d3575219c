"""A ``lightning-dl fit`` run sent SIGTERM or SIGINT in the middle of an epoch saves a checkpoint at the batch it
is on, exits with 128 + the signal's number, ends with the command that resumes it, and that command ends
bit-identical (weights, optimiser states, counters) to a run that was never stopped: a classifier and a GAN."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lightning_dl.cli import cli_main, resume_command
from conftest import REPO
from test_gan_configs import DIGITS as GAN_DIGITS, SMALL_DCGAN

TESTS = Path(__file__).resolve().parent
BATCHES, STOP_AFTER = 8, 4  # batches an epoch; the signal comes after batch STOP_AFTER (index) of epoch 0
COMMON = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
          "--trainer.max_epochs", "2", "--trainer.limit_train_batches", str(BATCHES), "--test_after_fit", "false"]
RUNS = {
    "classifier": ["fit", "--config", str(REPO / "configs/classifiers/cnn_digits.yaml"), *COMMON,
                   "--trainer.limit_val_batches", "2"],
    "gan": ["fit", "--config", str(REPO / "configs/gans/dcgan.yaml"), *COMMON, *GAN_DIGITS, *SMALL_DCGAN],
}


def pause_at(marker: Path, epoch: int = 0, batch: int = STOP_AFTER) -> str:
    """The command-line argument that adds tests/stop_helpers.PauseAtBatch to the trainer's callbacks."""
    callback = {"class_path": "stop_helpers.PauseAtBatch",
                "init_args": {"marker": str(marker), "epoch": epoch, "batch": batch}}
    return f"--trainer.callbacks+={json.dumps(callback)}"


def signalled_run(arguments: list[str], signal_number: int, cwd: Path, pause: str | None = None
                  ) -> subprocess.CompletedProcess:
    """``python -m lightning_dl`` with ``arguments``, sent ``signal_number`` once it pauses after the batch."""
    marker = cwd / "paused"
    # The thread count of this process, whose in-process runs the stopped one is compared with bit for bit.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "WANDB_MODE": "disabled",
           "OMP_NUM_THREADS": str(torch.get_num_threads())}
    process = subprocess.Popen([sys.executable, "-m", "lightning_dl", *arguments, pause or pause_at(marker)],
                               cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        process.send_signal(signal_number)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


_straight: dict[str, object] = {}


def straight_run(name: str, tmp_path_factory: pytest.TempPathFactory):
    """The same run, never stopped (once per model)."""
    if name not in _straight:
        folder = tmp_path_factory.mktemp(f"straight-{name}")
        _straight[name] = cli_main([*RUNS[name], "--checkpoint.dirpath", str(folder)])
    return _straight[name]


def assert_same_training_state(expected, got) -> None:
    """Every weight, buffer, optimiser state and counter equal."""
    assert (got.trainer.current_epoch, got.trainer.global_step) == (expected.trainer.current_epoch,
                                                                     expected.trainer.global_step)
    weights, resumed = expected.model.state_dict(), got.model.state_dict()
    assert weights.keys() == resumed.keys()
    for name in weights:
        assert torch.equal(weights[name], resumed[name]), name
    assert len(expected.trainer.optimizers) == len(got.trainer.optimizers)
    for mine, theirs in zip(expected.trainer.optimizers, got.trainer.optimizers):
        a, b = mine.state_dict()["state"], theirs.state_dict()["state"]
        assert a.keys() == b.keys()
        for index in a:
            for key in a[index]:
                assert torch.equal(torch.as_tensor(a[index][key]), torch.as_tensor(b[index][key])), (index, key)


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_run_saves_where_it_is_exits_nonzero_and_resumes_bit_identical(name, signal_number, tmp_path,
                                                                                   tmp_path_factory):
    checkpoints = tmp_path / "checkpoints"
    arguments = [*RUNS[name], "--checkpoint.dirpath", str(checkpoints)]
    stopped = signalled_run(arguments, signal_number, tmp_path)
    assert stopped.returncode == 128 + signal_number, stopped.stderr[-3000:]
    last_line = stopped.stderr.strip().splitlines()[-1]
    signal_name = signal.Signals(signal_number).name
    assert last_line.startswith(f"Training stopped by {signal_name}: saved {checkpoints / 'last.ckpt'}; resume with: ")
    command = shlex.split(last_line.split("resume with: ", 1)[1])
    assert command[0] == "lightning-dl" and command[-2:] == ["--ckpt_path", str(checkpoints / "last.ckpt")]

    saved = torch.load(checkpoints / "last.ckpt", weights_only=False)
    progress = saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"]
    assert (saved["epoch"], progress) == (0, STOP_AFTER + 1)  # at the batch it was on, not the epoch's end
    assert [p.name for p in checkpoints.iterdir() if p.name.endswith(".tmp")] == []

    resumed = cli_main(command[1:])  # the printed command, run here
    assert_same_training_state(straight_run(name, tmp_path_factory), resumed)


def test_under_ddp_a_signal_to_one_rank_stops_every_rank_at_the_same_batch(tmp_path):
    """SIGTERM to rank 0 only (Lightning's launcher started rank 1): the ranks agree at the batch's end, save
    together (a collective: no hang) and exit 143."""
    checkpoints = tmp_path / "checkpoints"
    arguments = [*RUNS["classifier"], "--config", str(REPO / "configs/trainer/ddp_cpu.yaml"),
                 "--checkpoint.dirpath", str(checkpoints)]
    stopped = signalled_run(arguments, signal.SIGTERM, tmp_path)
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    saved = torch.load(checkpoints / "last.ckpt", weights_only=False)
    progress = saved["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"]
    assert (saved["epoch"], progress) == (0, STOP_AFTER + 1)
    assert "resume with: " in stopped.stderr.strip().splitlines()[-1]


def signal_at(signal_name: str, batch: int, epoch: int = 0) -> str:
    """The command-line argument that adds tests/stop_helpers.SignalAtBatch (the process signals itself)."""
    callback = {"class_path": "stop_helpers.SignalAtBatch",
                "init_args": {"signal_name": signal_name, "epoch": epoch, "batch": batch}}
    return f"--trainer.callbacks+={json.dumps(callback)}"


def test_a_run_signalled_at_an_epochs_last_batch_ends_the_epoch_then_stops(tmp_path, capsys):
    """The epoch's end saves its usual checkpoint (after validation); the run stops there, exit status 143."""
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(SystemExit) as stopped:
        cli_main([*RUNS["classifier"], "--checkpoint.dirpath", str(checkpoints), signal_at("SIGTERM", BATCHES - 1)])
    assert stopped.value.code == 143
    saved = torch.load(checkpoints / "last.ckpt", weights_only=False)
    assert saved["epoch"] == 0 and saved["global_step"] == BATCHES
    loop = saved["loops"]["fit_loop"]
    assert loop["epoch_progress"]["current"]["processed"] == 1  # the epoch's end, as Lightning saves it there
    assert loop["epoch_loop.batch_progress"]["current"]["processed"] == BATCHES
    assert "val/loss" in saved["callbacks"][next(k for k in saved["callbacks"] if k.startswith("ModelCheckpoint"))][
        "monitor"]  # validated, then saved by the monitored checkpoint
    assert "resume with: " in capsys.readouterr().err.strip().splitlines()[-1]


def test_a_run_without_checkpoints_still_exits_nonzero(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli_main([*RUNS["classifier"], "--trainer.enable_checkpointing", "false", signal_at("SIGINT", STOP_AFTER)])
    assert stopped.value.code == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "Training stopped by SIGINT: no checkpoint was saved, so the run cannot be resumed.")
    assert list(tmp_path.rglob("*.ckpt")) == []


def test_the_resume_command_replaces_a_checkpoint_given_before():
    assert resume_command(["fit", "--config", "a b.yaml", "--ckpt_path", "old.ckpt", "--ckpt_path=older.ckpt"],
                          "runs/last.ckpt") == "lightning-dl fit --config 'a b.yaml' --ckpt_path runs/last.ckpt"
