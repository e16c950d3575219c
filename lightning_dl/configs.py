"""The shipped configs: find one by name, list them, copy them out to edit.

The repository keeps its configs in ``configs/`` at the top level; the wheel carries the same files inside the
package (``lightning_dl/config_files/``, copied there by ``setup.py`` at build time). So after a plain
``pip install lightning-dl``:

    lightning-dl configs                                   # every shipped config, one line each
    lightning-dl configs copy gans/dcgan --to my_configs   # a copy to edit (no name: all of them)
    lightning-dl fit --config classifiers/cnn_fashion_mnist   # train one by name

``--config`` takes a file as always; a value that is not a file is looked up among the shipped configs, with or
without ``configs/`` in front and ``.yaml`` behind, so the commands in the documentation
(``--config configs/gans/dcgan.yaml``) work from any folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from lightning_dl.errors import ConfigurationError

#: The configs folder of a checkout (``configs/`` beside the package) and the one a wheel carries.
CHECKOUT_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PACKAGED_CONFIGS = Path(__file__).resolve().parent / "config_files"


def configs_root() -> Path:
    """The folder the shipped configs are in: the checkout's ``configs/``, else the wheel's copy."""
    for root in (CHECKOUT_CONFIGS, PACKAGED_CONFIGS):
        if root.is_dir() and any(root.rglob("*.yaml")):
            return root
    raise ConfigurationError(f"no shipped configs found (looked in {CHECKOUT_CONFIGS} and {PACKAGED_CONFIGS}); "
                             "reinstall lightning-dl, or pass --config a YAML file of your own")


def list_configs() -> list[str]:
    """Every shipped config by name (``family/name``, no ``.yaml``), sorted."""
    root = configs_root()
    return sorted(path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.yaml"))


def describe(name: str) -> str:
    """The first line of a shipped config's leading comment ('' when it has none)."""
    for line in config_path(name).read_text().splitlines():
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        if line:
            break
    return ""


def config_name(value: str) -> str:
    """A ``--config`` value as a shipped config's name: ``configs/gans/dcgan.yaml`` → ``gans/dcgan``."""
    name = value.replace("\\", "/").removesuffix(".yaml").removesuffix(".yml")
    return name.removeprefix("./").removeprefix("configs/")


def config_path(name: str) -> Path:
    """The file of the shipped config ``name`` (``gans/dcgan``, ``configs/gans/dcgan.yaml``, …)."""
    wanted = config_name(name)
    path = configs_root() / f"{wanted}.yaml"
    if not path.is_file():
        known = list_configs()
        close = [n for n in known if n.split("/")[-1] == wanted.split("/")[-1] or wanted in n]
        hint = f"; did you mean {', '.join(close)}?" if close else "; `lightning-dl configs` lists them"
        raise ConfigurationError(f"no shipped config named {name!r}{hint}")
    return path


def resolve_config_arguments(args: Sequence[str]) -> list[str]:
    """``args`` with each ``--config X`` / ``--config=X`` that is not an existing file but names a shipped config
    replaced by that config's path; everything else (files, inline YAML, other options) is left as it is."""
    resolved = list(args)
    for i, arg in enumerate(resolved):
        if arg == "--config" and i + 1 < len(resolved):
            resolved[i + 1] = _resolve_one(resolved[i + 1])
        elif arg.startswith("--config="):
            resolved[i] = "--config=" + _resolve_one(arg.split("=", 1)[1])
    return resolved


def _resolve_one(value: str) -> str:
    if not value.strip() or any(c in value for c in "{}:\n") or Path(value).exists():
        return value  # a file, or inline YAML such as '{trainer: {max_epochs: 1}}'
    try:
        return str(config_path(value))
    except ConfigurationError:
        return value  # not a shipped name either: the CLI's own "file not found" error names it


def copy_configs(names: Sequence[str], destination: str | Path, overwrite: bool = False) -> list[Path]:
    """Copy the named shipped configs (all of them when ``names`` is empty) to ``destination``, keeping their
    family folders; returns the written files. An existing file is an error unless ``overwrite``."""
    destination = Path(destination)
    sources = [config_path(name) for name in names] if names else \
        [config_path(name) for name in list_configs()]
    root = configs_root()
    targets = [destination / source.relative_to(root) for source in sources]
    clashes = [str(t) for t in targets if t.exists()] if not overwrite else []
    if clashes:
        raise ConfigurationError(f"{', '.join(clashes)} already exist; pass --force to overwrite them")
    for source, target in zip(sources, targets):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return targets


def configs_main(argv: Sequence[str] | None = None) -> None:
    """``lightning-dl configs``: list the shipped configs, or ``copy`` some (or all) of them to a folder."""
    parser = argparse.ArgumentParser(prog="lightning-dl configs", description=configs_main.__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("list", help="list the shipped configs (the default)")
    copy = commands.add_parser("copy", help="copy shipped configs to a folder, to edit them")
    copy.add_argument("names", nargs="*", help="configs to copy, e.g. gans/dcgan (default: all)")
    copy.add_argument("--to", default="configs", help="destination folder (default: ./configs)")
    copy.add_argument("--force", action="store_true", help="overwrite files that exist")
    args = parser.parse_args(argv)
    try:
        if args.command == "copy":
            for target in copy_configs(args.names, args.to, overwrite=args.force):
                print(target)
        else:
            names = list_configs()
            width = max(map(len, names))
            for name in names:
                print(f"{name:<{width}}  {describe(name)}")
            print(f"\nTrain one: lightning-dl fit --config {names[0]}   (files in {configs_root()})")
    except ConfigurationError as error:
        print(f"lightning-dl configs: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
