"""A user who installs the wheel (no clone) can list the shipped configs, copy one, and train one by name.

The wheel is built from a copy of the sources and installed with ``--no-deps`` into a fresh virtual environment
whose only other packages are this environment's (a ``.pth`` line naming its site-packages: a folder added that
way does not get its own ``.pth`` files processed, so an editable install of the checkout stays invisible). The
commands then run from an empty folder without ``PYTHONPATH``, so nothing of the checkout can be imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

SOURCES = ["setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md", "lightning_dl", "configs"]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"{command} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A fresh virtual environment with the wheel installed; its python, console script and a clean env."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copyfile
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__", "config_files")}
                                            if (REPO / name).is_dir() else {}))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w",
         str(tmp / "dist")], cwd=tmp)
    wheel = next((tmp / "dist").glob("lightning_dl-*.whl"))
    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    venv_site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         cwd=tmp).stdout.strip())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # Install first: with this environment (or PYTHONPATH) visible, pip would find a lightning-dl and skip it.
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], cwd=tmp,
        env=env)
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (venv_site / "dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    env.update(WANDB_MODE="disabled", NO_ALBUMENTATIONS_UPDATE="1", PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}")
    workdir = tmp / "user"
    workdir.mkdir()
    return {"wheel": wheel, "python": python, "script": venv / "bin" / "lightning-dl", "env": env, "cwd": workdir,
            "venv": venv}


def test_the_wheel_carries_every_config(installed):
    names = {Path(n).relative_to("lightning_dl/config_files").as_posix()
             for n in zipfile.ZipFile(installed["wheel"]).namelist() if n.startswith("lightning_dl/config_files/")}
    shipped = {p.relative_to(REPO / "configs").as_posix() for p in (REPO / "configs").rglob("*.yaml")}
    assert names == shipped


def test_the_installed_package_is_the_wheels_not_the_checkout(installed):
    where = run([str(installed["python"]), "-c", "import lightning_dl.configs as c; print(c.__file__); "
                 "print(c.configs_root())"], cwd=installed["cwd"], env=installed["env"]).stdout.split()
    assert all(Path(path).is_relative_to(installed["venv"]) for path in where), where


def test_lightning_dl_configs_lists_and_copies_them(installed):
    listing = run([str(installed["script"]), "configs"], cwd=installed["cwd"], env=installed["env"]).stdout
    assert "classifiers/cnn_fashion_mnist" in listing and "gans/dcgan" in listing
    run([str(installed["script"]), "configs", "copy", "classifiers/cnn_digits", "--to", "mine"], cwd=installed["cwd"],
        env=installed["env"])
    copied = installed["cwd"] / "mine" / "classifiers" / "cnn_digits.yaml"
    assert copied.read_text() == (REPO / "configs" / "classifiers" / "cnn_digits.yaml").read_text()


def test_a_shipped_config_trains_by_name_from_the_wheel(installed):
    completed = run([str(installed["script"]), "fit", "--config", "classifiers/cnn_digits", "--trainer.fast_dev_run",
                     "true", "--trainer.accelerator", "cpu"], cwd=installed["cwd"], env=installed["env"])
    assert "test/accuracy" in completed.stdout + completed.stderr


# --- the name resolution itself, in this checkout (no wheel needed) ---------------------------------------------
def test_config_names_resolve_to_the_shipped_files(tmp_path, monkeypatch):
    from lightning_dl.configs import config_path, list_configs, resolve_config_arguments

    monkeypatch.chdir(tmp_path)  # no configs/ here: names are looked up among the shipped configs
    shipped = str(REPO / "configs" / "gans" / "dcgan.yaml")
    assert "gans/dcgan" in list_configs() and "trainer/quick" in list_configs()
    for spelling in ("gans/dcgan", "gans/dcgan.yaml", "configs/gans/dcgan.yaml", "./configs/gans/dcgan"):
        assert resolve_config_arguments(["fit", "--config", spelling]) == ["fit", "--config", shipped]
    assert resolve_config_arguments(["--config=gans/dcgan"]) == [f"--config={shipped}"]
    untouched = ["fit", "--config", "{trainer: {max_epochs: 1}}", "--config", "mine/nothing.yaml",
                 "--model.init_args.name", "gans/dcgan"]
    assert resolve_config_arguments(untouched) == untouched  # inline YAML, unknown names, other options
    (tmp_path / "gans").mkdir()
    (tmp_path / "gans" / "dcgan.yaml").write_text("trainer: {}\n")
    assert resolve_config_arguments(["--config", "gans/dcgan.yaml"]) == ["--config", "gans/dcgan.yaml"]  # a file wins
    with pytest.raises(Exception, match="did you mean gans/dcgan"):
        config_path("dcgan")


def test_copy_configs_keeps_family_folders_and_refuses_to_overwrite(tmp_path):
    from lightning_dl.configs import copy_configs
    from lightning_dl.errors import ConfigurationError

    written = copy_configs(["gans/dcgan", "trainer/quick"], tmp_path)
    assert written == [tmp_path / "gans" / "dcgan.yaml", tmp_path / "trainer" / "quick.yaml"]
    with pytest.raises(ConfigurationError, match="--force"):
        copy_configs(["gans/dcgan"], tmp_path)
    copy_configs(["gans/dcgan"], tmp_path, overwrite=True)
