"""Measurements as data: one record per measured result, appended to a JSON-lines file under ``results/``.

A record says what was measured and how to measure it again: the ``command`` that produced it, the git
``commit`` it ran at, the ``date``, the ``machine`` (CPU model and the flags that decide precision defaults,
torch's thread count, the GPU if any), the ``versions`` of the packages that matter, and the ``metrics``.
``scripts/results_tables.py`` turns the records into the documentation's results tables, so a table never
disagrees with its records. Scripts that measure something take ``--record`` and call :func:`write_record`.

Record fields (``REQUIRED_FIELDS``): ``family`` (the docs page it belongs to: ``gans``, ``classifiers``,
``fewshot``, ``workflow``, ``benchmark``, ``autoencoders``, ``sequences``, ``convnets``), ``table`` (the table
it is a row of), ``row`` (the row's label), ``command``, ``commit``, ``date``, ``machine``, ``versions``,
``metrics`` (column name → number or text, in column order); optional ``settings`` (anything else worth
keeping) and ``note``.

Importing this module has no side effects; :func:`machine_info` and :func:`git_commit` read the system only
when called.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lightning_dl.errors import ConfigurationError

#: Every record has these keys.
REQUIRED_FIELDS = ("family", "table", "row", "command", "commit", "date", "machine", "versions", "metrics")
#: CPU flags that decide what runs fast (bf16 autocast is 12x slower without ``avx512_bf16``).
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
#: Packages whose versions a record keeps.
PACKAGES = ("lightning-dl", "torch", "pytorch-lightning", "torchmetrics", "torchvision", "numpy", "albumentations")
#: Where records live in a checkout (the repository's ``results/``).
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def cpu_info(cpuinfo: str | Path = "/proc/cpuinfo") -> dict[str, Any]:
    """The CPU's model name and which of :data:`CPU_FLAGS` it has (from ``/proc/cpuinfo`` where there is one)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            model = value.strip()
        elif key.strip() == "flags":
            flags = set(value.split())
        if model and flags:
            break
    return {"cpu": model, "cpu_flags": [flag for flag in CPU_FLAGS if flag in flags]}


def machine_info() -> dict[str, Any]:
    """The machine a measurement ran on: CPU model and flags, logical CPUs, torch's threads, GPUs if any."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    return {**cpu_info(), "cpus": os.cpu_count(), "threads": torch.get_num_threads(), "gpus": gpus,
            "platform": platform.platform()}


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (None for one that is not installed), and Python's."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(directory: str | Path | None = None) -> str | None:
    """The commit checked out in ``directory`` (the package's checkout by default), with ``-dirty`` when tracked
    files differ from it; None outside a git checkout."""
    cwd = Path(directory) if directory is not None else RESULTS_DIR.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def command_line(argv: Iterable[str] | None = None) -> str:
    """The command as a user would type it again: ``python scripts/x.py --a 1`` (``sys.argv`` by default)."""
    argv = list(sys.argv if argv is None else argv)
    if argv and argv[0].endswith(".py"):
        script = Path(argv[0])
        try:
            script = script.resolve().relative_to(RESULTS_DIR.parent)
        except ValueError:
            pass
        argv = ["python", str(script), *argv[1:]]
    return shlex.join(argv)


def make_record(family: str, table: str, row: str, metrics: Mapping[str, Any], *, command: str | None = None,
                settings: Mapping[str, Any] | None = None, note: str = "", commit: str | None = None,
                date: str | None = None, machine: Mapping[str, Any] | None = None,
                versions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A record of one measured row; what is not given is read from this process and machine now."""
    if not metrics:
        raise ConfigurationError(f"record {table!r} / {row!r} has no metrics: give at least one measured value")
    record = {
        "family": family, "table": table, "row": row,
        "command": command if command is not None else command_line(),
        "commit": commit if commit is not None else git_commit(),
        "date": date if date is not None else datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": dict(machine) if machine is not None else machine_info(),
        "versions": dict(versions) if versions is not None else package_versions(),
        "metrics": dict(metrics),
    }
    if settings:
        record["settings"] = dict(settings)
    if note:
        record["note"] = note
    return record


def write_record(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Append ``record`` to the JSON-lines file ``path`` (created with its folders); returns the path."""
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise ConfigurationError(f"a record needs {', '.join(missing)}; build it with make_record()")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return path


def read_records(*paths: str | Path) -> list[dict[str, Any]]:
    """Every record in the given JSON-lines files or folders of ``*.jsonl`` files, in file then line order."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    records = []
    for file in files:
        for number, line in enumerate(file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigurationError(f"{file}:{number} is not a JSON record ({error.msg}); fix or delete "
                                         "the line") from None
            missing = [name for name in REQUIRED_FIELDS if name not in record]
            if missing:
                raise ConfigurationError(f"{file}:{number} lacks {', '.join(missing)}")
            records.append(record)
    return records


def add_record_argument(parser: Any, family: str) -> None:
    """Give a script's ``argparse`` parser ``--record [FILE]``: append its results as records to FILE
    (``results/<family>.jsonl`` when FILE is left out), and ``--record-table NAME`` for the table they fill."""
    parser.add_argument("--record", nargs="?", type=Path, default=None, const=Path("results") / f"{family}.jsonl",
                        metavar="FILE", help=f"append the results as records to FILE (default results/{family}.jsonl)")
    parser.add_argument("--record-table", default=None, metavar="NAME",
                        help="the results table the records are rows of (default: named after the script's settings)")
