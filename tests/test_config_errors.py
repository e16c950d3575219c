"""A mistake in a config ends in one ``error:`` line naming the key and the value, with exit status 2;
``LIGHTNING_DL_DEBUG=1`` keeps the traceback; a bug keeps its traceback and status 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

from lightning_dl.cli_errors import describe_parser_error, user_errors_reported
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError

#: (override, the key the error line must name, the value it must name): the three mistakes of issue 18.
BAD_VALUES = {
    "negative learning rate": ("--model.init_args.optimizer.init_args.lr=-0.1",
                               "model.init_args.optimizer.init_args.lr", "-0.1"),
    "batch_size 0": ("--data.init_args.batch_size=0", "data.init_args.batch_size", "0"),
    "unknown network class": ("--model.init_args.network=lightning_dl.nn.NoSuchNetwork",
                              "model.init_args.network", "lightning_dl.nn.NoSuchNetwork"),
}


def run_fit(tmp_path, override: str, debug: bool = False) -> subprocess.CompletedProcess:
    """``python -m lightning_dl fit`` on the digits CNN for one batch, with ``override``."""
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("LIGHTNING_DL_DEBUG", None)
    if debug:
        env["LIGHTNING_DL_DEBUG"] = "1"
    command = [sys.executable, "-m", "lightning_dl", "fit", "--config", str(REPO / "configs/classifiers/cnn_digits.yaml"),
               "--config", str(REPO / "configs/trainer/quick.yaml"), "--trainer.logger", "false",
               "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path),
               "--trainer.limit_train_batches", "1", "--trainer.max_epochs", "1", override]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


@pytest.mark.parametrize("mistake", list(BAD_VALUES))
def test_a_bad_config_value_is_one_error_line_with_status_2(mistake, tmp_path):
    override, key, value = BAD_VALUES[mistake]
    result = run_fit(tmp_path, override)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"{key}=" in errors[0] or f"{key}:" in errors[0], errors[0]
    assert value in errors[0].split(key, 1)[1], errors[0]
    assert "LIGHTNING_DL_DEBUG=1" in errors[0]  # the hint says how to see more
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr


def test_a_checkpoint_that_cannot_be_read_is_one_error_line_naming_the_file(tmp_path):
    broken = tmp_path / "last.ckpt"
    broken.write_bytes(b"PK\x03\x04 half a checkpoint")  # what a save killed midway used to leave
    result = run_fit(tmp_path, f"--ckpt_path={broken}")
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(errors) == 1 and str(broken) in errors[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(BAD_VALUES))
def test_the_debug_switch_keeps_the_traceback(mistake, tmp_path):
    override, _, value = BAD_VALUES[mistake]
    result = run_fit(tmp_path, override, debug=True)
    assert result.returncode == 1, result.stderr[-3000:]
    traceback = result.stderr.split("Traceback (most recent call last)", 1)
    assert len(traceback) == 2 and value in traceback[1]
    assert not any(line.startswith("error:") for line in result.stderr.splitlines())


# --- in process: which errors are the user's ---------------------------------------------------------
@pytest.mark.parametrize("error", [ConfigurationError("width=0 must be\npositive."),
                                   DataValidationError("labels out of range"),
                                   DatasetNotFoundError("No file digits.csv: put it in data/")])
def test_project_errors_are_one_line_with_status_2(error, capsys, monkeypatch):
    monkeypatch.delenv("LIGHTNING_DL_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        with user_errors_reported():
            raise error
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and " ".join(str(error).split()) in lines[0]


@pytest.mark.parametrize("error", [RuntimeError("a bug"), ValueError("Invalid learning rate: -1"), KeyError("x")])
def test_bugs_keep_their_traceback(error, monkeypatch):
    """Anything that is not the user's mistake propagates (Python prints its traceback, status 1); so does a
    torch-looking message that was not raised by a torch optimiser."""
    monkeypatch.delenv("LIGHTNING_DL_DEBUG", raising=False)
    with pytest.raises(type(error)):
        with user_errors_reported():
            raise error


def test_debug_switch_lets_project_errors_propagate(monkeypatch):
    monkeypatch.setenv("LIGHTNING_DL_DEBUG", "1")
    with pytest.raises(ConfigurationError):
        with user_errors_reported():
            raise ConfigurationError("width=0 must be positive.")


def test_a_nested_parser_message_becomes_key_value_and_reason():
    message = """Parser key "data":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'pytorch_lightning.core.datamodule.LightningDataModule'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'lightning_dl.data.DigitsDataModule':
        Parser key "batch_size":
          Expected a <class 'int'>. Got value: abc
    - Expected a <class 'NoneType'>
  Given value type: <class 'jsonargparse._util.NestedArg'>
  Given value: NestedArg(key='batch_size', val='abc')"""
    assert describe_parser_error(message) == "data.init_args.batch_size=abc: expected a value of type int"


def test_a_class_path_in_a_yaml_file_is_named_by_its_key():
    message = """Parser key "model":
  Does not validate against any of the Union subtypes
  Subtypes: [<class 'pytorch_lightning.core.module.LightningModule'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'lightning_dl.models.Classifier':
        Parser key "network":
          Type typing.Callable[[tuple[int, ...], int], lightning_dl.nn.base.Network] expects a function or a callable class: module 'lightning_dl.nn' has no attribute 'NoSuchNet'. Got value: Namespace(class_path='lightning_dl.nn.NoSuchNet', init_args=Namespace(width=2))
    - Expected a <class 'NoneType'>
  Given value type: <class 'dict'>
  Given value: {'init_args': {'network': {'class_path': 'lightning_dl.nn.NoSuchNet', 'init_args': {'width': 2}}}}"""
    assert describe_parser_error(message) == ("model.init_args.network=lightning_dl.nn.NoSuchNet: "
                                              "module 'lightning_dl.nn' has no attribute 'NoSuchNet'")


def test_an_unknown_data_class_names_the_data_key():
    message = """Parser key "data":

  - Expected a path but lightning_dl.data.Nope either not accessible or invalid
  - Does not validate against any of the Union subtypes
  Subtypes: [<class 'pytorch_lightning.core.datamodule.LightningDataModule'>, <class 'NoneType'>]
  Errors:
    - Problem with given class_path 'lightning_dl.data.Nope':
        module 'lightning_dl.data' has no attribute 'Nope'
    - Expected a <class 'NoneType'>
  Given value type: <class 'str'>
  Given value: lightning_dl.data.Nope"""
    assert describe_parser_error(message) == "data=lightning_dl.data.Nope: module 'lightning_dl.data' has no attribute 'Nope'"


def test_a_reason_on_the_key_line_is_kept():
    message = """Parser key "config": File does not exist: '/nowhere.yaml'"""
    assert describe_parser_error(message) == "config: File does not exist: '/nowhere.yaml'"
