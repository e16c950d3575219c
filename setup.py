"""Packaging. The metadata is in setup.cfg; this file only makes the wheel carry the configs.

The repository keeps its configs in ``configs/`` at the top level; a wheel built from it holds a copy inside
the package, ``lightning_dl/config_files/``, where :mod:`lightning_dl.configs` finds them after a plain
``pip install lightning-dl``. An editable install reads the checkout's ``configs/`` directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithConfigs(build_py):
    """``build_py`` that also copies every YAML file of ``configs/`` into ``lightning_dl/config_files/``."""

    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "configs"
        target = Path(self.build_lib) / "lightning_dl" / "config_files"
        for path in source.rglob("*.yaml"):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


setup(cmdclass={"build_py": BuildWithConfigs})
