"""The lightning-dl command: every config runs, configs combine, mistakes are reported clearly."""

from __future__ import annotations

import datetime
import functools
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml

from lightning_dl.__main__ import main
from lightning_dl.cli import cli_main
from lightning_dl.data import DigitsDataModule
from lightning_dl.models import Classifier

from conftest import REPO

SNIPPETS = ("trainer", "logger", "optimizers", "augmentation")
#: Every concept config, in any family folder (snippets excluded).
CONFIGS = sorted(c for c in (REPO / "configs").rglob("*.yaml") if c.parent.name not in SNIPPETS)
DIGITS = str(REPO / "configs/classifiers/cnn_digits.yaml")
QUICK = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]


def test_there_are_configs_in_family_folders():
    names = {c.relative_to(REPO / "configs").as_posix() for c in CONFIGS}
    assert {"classifiers/cnn_fashion_mnist.yaml", "classifiers/mlp_fashion_mnist.yaml", "gans/dcgan.yaml",
            "classifiers/rnn_fashion_mnist.yaml", "classifiers/cnn_digits.yaml"} <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.relative_to(REPO / "configs").as_posix())
def test_every_config_runs_a_fast_dev_run(config):
    cli = cli_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true", *QUICK])
    assert cli.trainer.state.finished
    if type(cli.model).test_step is not pl.LightningModule.test_step:
        assert any(k.startswith("test/") for k in cli.trainer.callback_metrics)  # tested after fit


def test_snippets_combine_with_a_concept_config(tmp_path):
    cli = cli_main(["fit", "--config", DIGITS,
                    "--config", str(REPO / "configs/trainer/quick.yaml"),
                    "--config", str(REPO / "configs/logger/csv.yaml"), "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.current_epoch == 2 and type(cli.trainer.logger).__name__ == "CSVLogger"
    assert isinstance(cli.datamodule, DigitsDataModule) and isinstance(cli.model, Classifier)
    assert cli.model.input_shape == (1, 8, 8)  # linked from the DataModule
    assert (tmp_path / "runs").is_dir()
    assert list((tmp_path / "runs").rglob("last.ckpt"))


def test_validate_test_and_predict_from_a_checkpoint():
    config = ["--config", DIGITS, "--config", str(REPO / "configs/trainer/quick.yaml"),
              "--config", str(REPO / "configs/logger/csv.yaml"), "--trainer.enable_progress_bar", "false"]
    cli_main(["fit", *config, "--test_after_fit", "false"])
    checkpoint = str(next(Path("runs").rglob("last.ckpt")))
    for subcommand in ("validate", "test", "predict"):
        cli = cli_main([subcommand, *config, "--ckpt_path", checkpoint])
        assert cli.trainer.state.finished


def test_print_config_produces_a_config_that_runs(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", DIGITS, "--print_config"])
    assert exit_.value.code == 0
    printed = capsys.readouterr().out
    assert yaml.safe_load(printed)["model"]["init_args"]["network"]["class_path"] == "lightning_dl.nn.CNN"
    (tmp_path / "printed.yaml").write_text(printed)
    cli = cli_main(["fit", "--config", str(tmp_path / "printed.yaml"), "--trainer.fast_dev_run", "true", *QUICK])
    assert cli.trainer.state.finished


def test_unknown_config_key_is_named(tmp_path, capsys):
    config = yaml.safe_load(Path(DIGITS).read_text())
    config["model"]["init_args"]["learning_rate"] = 0.1  # the key is called lr
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--config", str(tmp_path / "typo.yaml")])
    assert exit_.value.code == 2
    assert "learning_rate" in capsys.readouterr().err


def test_unknown_choice_is_named(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", DIGITS, "--data.init_args.layout", "pixels"])
    assert "pixels" in capsys.readouterr().err


def test_python_dash_m_and_console_script_help():
    for command in ([sys.executable, "-m", "lightning_dl", "--help"], [str(Path(sys.executable).parent / "lightning-dl"), "fit", "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "fit" in result.stdout or "--model" in result.stdout


def test_the_console_script_destroys_the_process_group_of_a_finished_run(tmp_path, monkeypatch):
    """Left to the interpreter's exit, Gloo's threads now and then abort a DDP run that succeeded (SIGABRT)."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        monkeypatch.setattr(sys, "argv", ["lightning-dl", "fit", "--config", DIGITS, "--trainer.fast_dev_run", "true",
                                          *QUICK])
        main()
        assert not torch.distributed.is_initialized()
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def test_model_help_shows_docstrings_and_only_the_projects_networks(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--model.help", "lightning_dl.models.Classifier"])
    out = capsys.readouterr().out
    assert "Max-norm constraint" in out
    assert "lightning_dl.nn.CNN" in out and "lightning_dl.nn.RNN" in out
    assert "torch.nn.Identity" not in out and "Quantize" not in out


# --- a CLI that serves every family -------------------------------------------------------------------
@pytest.fixture
def tested_checkpoints(monkeypatch):
    """The ``ckpt_path`` of every ``Trainer.test`` call."""
    calls: list = []
    original = pl.Trainer.test

    def test(self, *args, ckpt_path=None, **kwargs):
        calls.append(ckpt_path)
        return original(self, *args, ckpt_path=ckpt_path, **kwargs)

    monkeypatch.setattr(pl.Trainer, "test", test)
    return calls


def test_fit_tests_the_best_checkpoint(tested_checkpoints):
    cli = cli_main(["fit", "--config", DIGITS, *QUICK, "--trainer.max_epochs", "2", "--trainer.logger", "false"])
    best = cli.trainer.checkpoint_callback.best_model_path
    assert Path(best).name.startswith("best-epoch=") and tested_checkpoints == [best]


def test_test_after_fit_can_be_switched_off(tested_checkpoints):
    cli_main(["fit", "--config", DIGITS, *QUICK, "--trainer.max_epochs", "1", "--trainer.logger", "false",
              "--test_after_fit", "false"])
    assert tested_checkpoints == []


def test_validation_switched_off_trains_checkpoints_and_tests_the_last(tested_checkpoints, caplog):
    caplog.set_level("INFO", logger="pytorch_lightning")  # whatever level an earlier script in this process left
    cli = cli_main(["fit", "--config", str(REPO / "configs/classifiers/cnn_fashion_mnist.yaml"), *QUICK,
                    "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches",
                    "0", "--trainer.limit_test_batches", "2", "--trainer.logger", "false"])
    assert cli.trainer.state.finished and not cli.trainer.early_stopping_callback.active
    assert [Path(path).name for path in tested_checkpoints] == ["last.ckpt"]
    assert Path(tested_checkpoints[0]).is_file()
    assert "Validation is off (limit_val_batches=0): early stopping on val/loss is skipped." in caplog.text


def test_a_model_that_monitors_nothing_trains_checkpoints_and_resumes(tmp_path, tested_checkpoints):
    config = ["--config", DIGITS, *QUICK, "--model", "cli_helpers.Unmonitored", "--trainer.logger", "false",
              "--checkpoint.dirpath", str(tmp_path / "checkpoints"), "--checkpoint.save_top_k", "-1"]
    cli = cli_main(["fit", *config, "--trainer.max_epochs", "2"])
    saved = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert saved == ["epoch=0-step=39.ckpt", "epoch=1-step=78.ckpt", "last.ckpt"], saved  # every epoch, kept
    assert cli.trainer.early_stopping_callback.active is False and tested_checkpoints == []  # no test step
    resumed = cli_main(["fit", *config, "--trainer.max_epochs", "3",
                        "--ckpt_path", str(tmp_path / "checkpoints" / "last.ckpt")])
    assert resumed.trainer.current_epoch == 3 and resumed.trainer.global_step == 117


def test_checkpointing_can_be_switched_off(tmp_path, tested_checkpoints):
    cli = cli_main(["fit", "--config", DIGITS, *QUICK, "--trainer.max_epochs", "1", "--trainer.logger", "false",
                    "--trainer.enable_checkpointing", "false", "--trainer.default_root_dir", str(tmp_path)])
    assert cli.trainer.state.finished and cli.trainer.checkpoint_callback is None
    assert list(tmp_path.rglob("*.ckpt")) == [] and tested_checkpoints == [None]  # the weights in memory


def test_what_the_data_knows_travels_to_the_model():
    cli = cli_main(["--config", DIGITS, *QUICK], run=False)
    assert cli.model.input_shape == (1, 8, 8) and cli.model.num_classes == 10
    assert cli.model.class_names == tuple(str(d) for d in range(10))


def test_a_model_without_an_argument_the_data_provides_still_links():
    """cli_helpers.Unmonitored takes no class_names: the link is skipped, not an error."""
    cli = cli_main(["--config", DIGITS, *QUICK, "--model", "cli_helpers.Unmonitored"], run=False)
    assert cli.model.input_shape == (1, 8, 8)


# --- the CLI's callbacks take every argument of Lightning's --------------------------------------------------
#: A value other than the default for every argument of Lightning's callbacks, in config files (one per group of
#: arguments Lightning allows together).
CALLBACK_CONFIGS = {
    "checkpoint": [
        {"dirpath": "checkpoints", "filename": "f-{epoch}", "monitor": "val/accuracy", "verbose": True,
         "save_last": "link", "save_top_k": 2, "save_on_exception": True, "save_weights_only": True, "mode": "max",
         "auto_insert_metric_name": False, "every_n_train_steps": 7, "save_on_train_epoch_end": True,
         "enable_version_counter": False},
        {"every_n_epochs": 3},
        {"train_time_interval": "0:30:00"},
    ],
    "early_stopping": [
        {"monitor": "val/accuracy", "min_delta": 0.5, "patience": 4, "verbose": True, "mode": "max", "strict": False,
         "check_finite": False, "stopping_threshold": 0.99, "divergence_threshold": 0.01,
         "check_on_train_epoch_end": True, "log_rank_zero_only": True},
    ],
}
LIGHTNING_CALLBACKS = {"checkpoint": pl.callbacks.ModelCheckpoint, "early_stopping": pl.callbacks.EarlyStopping}


@pytest.fixture(scope="module")
def callback_arguments(tmp_path_factory) -> dict[str, dict]:
    """What Lightning's callback constructors received from the CLI's subclasses, per config group and argument."""
    calls: dict[str, dict] = {}
    received: dict[str, dict] = {}
    originals = {group: cls.__init__ for group, cls in LIGHTNING_CALLBACKS.items()}

    def spy(group):
        @functools.wraps(originals[group])  # the CLI reads the same signature
        def init(self, *args, **kwargs):
            assert not args, "passed on by keyword"
            calls[group] = kwargs
            originals[group](self, **kwargs)
        return init

    with pytest.MonkeyPatch.context() as patch:
        for group, cls in LIGHTNING_CALLBACKS.items():
            patch.setattr(cls, "__init__", spy(group))
        for group, configs in CALLBACK_CONFIGS.items():
            for number, settings in enumerate(configs):
                config = tmp_path_factory.mktemp("configs") / f"{group}{number}.yaml"
                config.write_text(yaml.safe_dump({group: settings}))
                cli_main(["--config", DIGITS, "--config", str(config), *QUICK], run=False)
                received[f"{group}{number}"] = calls[group]
    return received


@pytest.mark.parametrize(("group", "argument"), [
    (group, name) for group, cls in LIGHTNING_CALLBACKS.items()
    for name in inspect.signature(cls.__init__).parameters if name != "self"])
def test_every_lightning_callback_argument_can_be_set_from_a_config(group, argument, callback_arguments):
    configs = [(number, settings) for number, settings in enumerate(CALLBACK_CONFIGS[group]) if argument in settings]
    assert configs, f"add {group}.{argument} (new in Lightning's {LIGHTNING_CALLBACKS[group].__name__}) to CALLBACK_CONFIGS"
    number, settings = configs[0]
    received = callback_arguments[f"{group}{number}"][argument]
    expected = settings[argument]
    if argument == "train_time_interval":
        expected = datetime.timedelta(minutes=30)
    assert received == expected


def test_help_shows_the_arguments_lightnings_callbacks_take(capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--help"])
    out = capsys.readouterr().out
    for argument, kind in [("checkpoint.save_weights_only", "bool"), ("checkpoint.save_on_exception", "bool"),
                           ("checkpoint.enable_version_counter", "bool"), ("checkpoint.every_n_epochs", "Optional[int]"),
                           ("early_stopping.log_rank_zero_only", "bool"), ("early_stopping.min_delta", "float")]:
        shown = re.search(rf"\n  --{re.escape(argument)} (.*?)\n  --", out, re.DOTALL)  # its entry, not the usage
        assert shown and f"(type: {kind}" in " ".join(shown.group(1).split()), argument
