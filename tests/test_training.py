"""Training end to end: it learns, it logs to wandb offline, and it resumes exactly."""

from __future__ import annotations

import glob
import json
import os
import struct
import time
from pathlib import Path

import pytest
import torch

from lightning_dl.cli import cli_main

from conftest import REPO

DIGITS = ["--config", str(REPO / "configs/classifiers/cnn_digits.yaml"), "--trainer.enable_progress_bar", "false",
          "--trainer.accelerator", "cpu", "--trainer.devices", "1"]


@pytest.mark.slow
def test_cnn_learns_the_digits():
    """The digits config as shipped reaches 0.90 test accuracy (its time is a benchmark's business, not a test's)."""
    cli = cli_main(["fit", *DIGITS, "--trainer.logger", "false"])
    accuracy = cli.trainer.callback_metrics["test/accuracy"].item()
    assert accuracy >= 0.90, f"test accuracy {accuracy:.3f}"


def read_wandb_run(run_file: str) -> tuple[dict[str, list], bool]:
    """Metrics from an offline run's ``.wandb`` file (a LevelDB-style log of protobuf records), and
    whether the run's closing ``exit`` record has been written yet."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(run_file).read_bytes()
    assert data[:4] == b":W&B"
    history: dict[str, list] = {}
    finished = False
    position, block, record = 7, 32768, b""
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position:position + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # block trailer or padding
            position += left
            continue
        record += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            parsed = pb.Record()
            parsed.ParseFromString(record)
            record = b""
            finished |= parsed.WhichOneof("record_type") == "exit"
            for item in parsed.history.item if parsed.WhichOneof("record_type") == "history" else []:
                history.setdefault(item.key or "/".join(item.nested_key), []).append(json.loads(item.value_json))
    return history, finished


def test_wandb_offline_run_holds_the_metrics(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cli_main(["fit", *DIGITS, "--config", str(REPO / "configs/trainer/quick.yaml")])
    runs = glob.glob(str(tmp_path / "runs/wandb/offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    deadline = time.monotonic() + 30  # wandb's service may still be writing the file it was told to close
    while not (run := read_wandb_run(runs[0]))[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    history, finished = run
    assert finished, "the run never wrote its exit record"
    assert len(history.get("val/loss", [])) == 2 and len(history.get("val/accuracy", [])) == 2, sorted(history)
    assert 0 <= history["test/accuracy"][-1] <= 1 and "lr-Adam" in history


def final_weights(tmp_path: Path, name: str, *extra: str) -> dict[str, torch.Tensor]:
    run = tmp_path / name
    arguments = [*DIGITS, "--trainer.logger", "false", "--trainer.default_root_dir", str(run),
                 "--checkpoint.dirpath", str(run / "checkpoints"), "--test_after_fit", "false",
                 # dropout and augmentation draw random numbers: the resumed run must draw the same ones
                 "--model.init_args.network.init_args.dropout", "0.3",
                 "--data.init_args.augmentation", '[{"Affine": {"translate_percent": [-0.1, 0.1], "p": 0.5}}]',
                 # a plateau scheduler that acts every epoch: its step must not be lost at the restart
                 "--model.init_args.lr_scheduler", '{"class_path": "torch.optim.lr_scheduler.ReduceLROnPlateau", '
                 '"init_args": {"patience": 0, "factor": 0.5, "threshold": 10.0}}']
    cli = cli_main(["fit", *arguments, *extra])
    rates = torch.tensor([group["lr"] for group in cli.trainer.optimizers[0].param_groups])
    return {"lr": rates, **{k: v.clone() for k, v in cli.model.state_dict().items()}}


def test_resuming_from_last_checkpoint_is_exact(tmp_path):
    uninterrupted = final_weights(tmp_path, "straight", "--trainer.max_epochs", "3")
    final_weights(tmp_path, "stopped", "--trainer.max_epochs", "1")
    resumed = final_weights(tmp_path, "resumed", "--trainer.max_epochs", "3",
                            "--ckpt_path", str(tmp_path / "stopped" / "checkpoints" / "last.ckpt"))
    assert uninterrupted.keys() == resumed.keys()
    for name in uninterrupted:
        assert torch.equal(uninterrupted[name], resumed[name]), name
    once = final_weights(tmp_path, "once", "--trainer.max_epochs", "1")  # (its checkpoint is the 'stopped' one's)
    assert not all(torch.equal(once[k], uninterrupted[k]) for k in once)  # the test can tell runs apart


def test_wandb_is_offline_by_default_and_leaves_the_environment_as_it_was(monkeypatch, tmp_path):
    """No WANDB_MODE, no API key, no ``wandb login``: the run is written offline; afterwards WANDB_MODE is unset
    again, so the next run in the same process (a notebook's) is not forced offline by this one."""
    for variable in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc with wandb credentials
    cli = cli_main(["fit", *DIGITS, "--config", str(REPO / "configs/trainer/quick.yaml"), "--test_after_fit", "false"])
    assert type(cli.trainer.logger).__name__ == "WandbLogger" and cli.trainer.logger._offline
    # An offline run's folder (an online one is named run-*). Its .wandb file may land in the folder of the
    # process's first wandb run, which wandb's per-process setup remembers; the other wandb test reads one.
    assert len(glob.glob(str(tmp_path / "runs/wandb/offline-run-*"))) == 1
    assert "WANDB_MODE" not in os.environ
