"""The lightning-dl command: every config runs, configs combine, mistakes are reported clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lightning_dl.cli import cli_main
from lightning_dl.data import DigitsDataModule
from lightning_dl.models import Classifier

from conftest import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
QUICK = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]


def test_there_are_configs():
    assert {"cnn_fashion_mnist.yaml", "mlp_fashion_mnist.yaml", "rnn_fashion_mnist.yaml",
            "cnn_digits.yaml"} <= {c.name for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_every_config_runs_a_fast_dev_run(config):
    cli = cli_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true", *QUICK])
    assert cli.trainer.state.finished
    assert "test/accuracy" in cli.trainer.callback_metrics  # tested after fit


def test_snippets_combine_with_a_concept_config(tmp_path):
    cli = cli_main(["fit", "--config", str(REPO / "configs/cnn_digits.yaml"),
                    "--config", str(REPO / "configs/trainer/quick.yaml"),
                    "--config", str(REPO / "configs/logger/csv.yaml"), "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.current_epoch == 2 and type(cli.trainer.logger).__name__ == "CSVLogger"
    assert isinstance(cli.datamodule, DigitsDataModule) and isinstance(cli.model, Classifier)
    assert cli.model.input_shape == (1, 8, 8)  # linked from the DataModule
    assert (tmp_path / "runs").is_dir()
    assert list((tmp_path / "runs").rglob("last.ckpt"))


def test_validate_test_and_predict_from_a_checkpoint():
    config = ["--config", str(REPO / "configs/cnn_digits.yaml"), "--config", str(REPO / "configs/trainer/quick.yaml"),
              "--config", str(REPO / "configs/logger/csv.yaml"), "--trainer.enable_progress_bar", "false"]
    cli_main(["fit", *config, "--test_after_fit", "false"])
    checkpoint = str(next(Path("runs").rglob("last.ckpt")))
    for subcommand in ("validate", "test", "predict"):
        cli = cli_main([subcommand, *config, "--ckpt_path", checkpoint])
        assert cli.trainer.state.finished


def test_print_config_produces_a_config_that_runs(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(REPO / "configs/cnn_digits.yaml"), "--print_config"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert yaml.safe_load(printed)["model"]["init_args"]["network"]["class_path"] == "lightning_dl.nn.CNN"
    (tmp_path / "printed.yaml").write_text(printed)
    cli = cli_main(["fit", "--config", str(tmp_path / "printed.yaml"), "--trainer.fast_dev_run", "true", *QUICK])
    assert cli.trainer.state.finished


def test_unknown_config_key_is_named(tmp_path, capsys):
    config = yaml.safe_load((REPO / "configs/cnn_digits.yaml").read_text())
    config["model"]["init_args"]["learning_rate"] = 0.1  # the key is called lr
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(tmp_path / "typo.yaml")])
    assert exit_.value.code != 0
    assert "learning_rate" in capsys.readouterr().err


def test_unknown_choice_is_named(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", str(REPO / "configs/cnn_digits.yaml"), "--data.init_args.layout", "pixels"])
    assert "pixels" in capsys.readouterr().err


def test_python_dash_m_and_console_script_help():
    for command in ([sys.executable, "-m", "lightning_dl", "--help"], [str(Path(sys.executable).parent / "lightning-dl"), "fit", "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "fit" in result.stdout or "--model" in result.stdout


def test_model_help_shows_docstrings(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--model.help", "lightning_dl.models.Classifier"])
    assert "Max-norm constraint" in capsys.readouterr().out
