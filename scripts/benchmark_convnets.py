"""Fashion-MNIST test accuracy of the deep convnet family, each model under a stated budget, recorded.

Models (``--models``, all by default):

- ``resnet20_v1``, ``resnet29_v2`` and ``densenet_bc`` (depth ``--densenet-depth``, 40 by default: the small
  DenseNet-BC for a CPU) with the modern recipe of ``configs/convnets/resnet20_v1_modern.yaml`` (SGD Nesterov,
  one-cycle, label smoothing 0.1, batched random crop + flip, flip TTA) on Fashion-MNIST padded to 32×32×3;
- ``ynetwork`` (``configs/convnets/ynetwork_fashion_mnist.yaml``) against ``cnn``, the plain CNN of
  ``configs/classifiers/cnn_fashion_mnist.yaml``, each with its own config's recipe, on 28×28 grey.

Each model trains for ``--epochs`` epochs (the one-cycle schedule is laid over them) or until ``--minutes`` of
training have passed (Lightning's ``max_time``), whichever comes first, with ``val_fraction: 0`` (all 60k
training images), then is tested on the 10k test images. The record says which limit stopped each run.

    python scripts/benchmark_convnets.py --epochs 30 --minutes 60 --record         # the benchmark, recorded
    python scripts/benchmark_convnets.py --epochs 1 --limit-batches 5 --output /tmp/smoke.json   # a smoke run

The raw numbers (``--output``, ``runs/benchmark_convnets.json`` by default) hold the command, commit, date,
machine (``lightning_dl.results.machine_info``: CPU model and flags, threads), versions, and per model:
parameters, epochs run, wall time of ``fit`` and the test accuracy. ``--record`` appends one record per model to ``results/convnets.jsonl``
(:mod:`lightning_dl.results`; the docs' results tables).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lightning_dl.results import (add_record_argument, git_commit, machine_info, make_record,
                                  package_versions, write_record)  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODERN = REPO / "configs/convnets/resnet20_v1_modern.yaml"
YNETWORK = REPO / "configs/convnets/ynetwork_fashion_mnist.yaml"
CNN = REPO / "configs/classifiers/cnn_fashion_mnist.yaml"
MODELS = ("resnet20_v1", "resnet29_v2", "densenet_bc", "ynetwork", "cnn")


def config_for(name: str, densenet_depth: int) -> dict[str, Any]:
    """The config a model trains with (see the module docstring)."""
    if name == "ynetwork":
        return yaml.safe_load(YNETWORK.read_text())
    if name == "cnn":
        return yaml.safe_load(CNN.read_text())
    config = yaml.safe_load(MODERN.read_text())
    networks = {
        "resnet20_v1": {"class_path": "lightning_dl.nn.ResNet", "init_args": {"depth": 20, "version": 1, "l2": 0.0}},
        "resnet29_v2": {"class_path": "lightning_dl.nn.ResNet", "init_args": {"depth": 29, "version": 2, "l2": 0.0}},
        "densenet_bc": {"class_path": "lightning_dl.nn.DenseNetBC",
                        "init_args": {"depth": densenet_depth, "growth_rate": 12}},
    }
    config["model"]["init_args"]["network"] = networks[name]
    return config


def run(name: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Train and test one model with the budget; return its numbers."""
    from lightning_dl.cli import cli_main

    config = copy.deepcopy(config_for(name, args.densenet_depth))
    config.pop("early_stopping", None)
    config["seed_everything"] = args.seed
    trainer = config.setdefault("trainer", {})
    seconds = int(args.minutes * 60)
    budget = f"00:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"  # DD:HH:MM:SS
    trainer.update({"max_epochs": args.epochs, "max_time": budget, "accelerator": args.accelerator,
                    "devices": 1, "enable_progress_bar": False, "logger": False, "enable_checkpointing": False})
    if args.limit_batches:
        trainer.update({"limit_train_batches": args.limit_batches, "limit_test_batches": args.limit_batches})
    config["data"]["init_args"]["val_fraction"] = 0.0
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    start = time.perf_counter()
    cli = cli_main(["fit", "--config", str(path), "--early_stopping.patience", "1000000"])
    wall = time.perf_counter() - start
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
    epochs = cli.trainer.current_epoch
    return {"config": config, "parameters": sum(p.numel() for p in cli.model.network.parameters()),
            "epochs_run": epochs, "stopped_by": "epochs" if epochs >= args.epochs else "time budget",
            "fit_and_test_seconds": round(wall, 1), "test_accuracy": metrics.get("test/accuracy"),
            "test_loss": metrics.get("test/loss")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per model (the one-cycle length)")
    parser.add_argument("--minutes", type=float, default=60.0, help="training time budget per model")
    parser.add_argument("--densenet-depth", type=int, default=40)
    parser.add_argument("--limit-batches", type=int, default=None, help="batches per epoch and in the test (smoke)")
    parser.add_argument("--accelerator", default="auto")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--output", type=Path, default=Path("runs/benchmark_convnets.json"), help="raw numbers, JSON")
    add_record_argument(parser, "convnets")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(models) - set(MODELS)
    if unknown:
        raise SystemExit(f"Unknown models {sorted(unknown)}; choose from {', '.join(MODELS)}.")
    record = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": git_commit() or "unknown",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": machine_info(), "versions": package_versions(),
              "budget": {"epochs": args.epochs, "minutes_per_model": args.minutes,
                         "limit_batches": args.limit_batches, "smoke": bool(args.limit_batches)},
              "models": {}}
    with tempfile.TemporaryDirectory() as workdir:
        for name in models:
            record["models"][name] = run(name, args, Path(workdir))
            print(f"{name}: {json.dumps({k: v for k, v in record['models'][name].items() if k != 'config'})}",
                  flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print("| model | parameters | epochs | fit + test (s) | test accuracy |\n|---|---|---|---|---|")
    for name, numbers in record["models"].items():
        print(f"| {name} | {numbers['parameters']:,} | {numbers['epochs_run']} | {numbers['fit_and_test_seconds']} | "
              f"{numbers['test_accuracy']:.4f} |")
    if args.record:
        for row in records(record, args.record_table):
            write_record(args.record, row)
        print(f"Recorded {len(record['models'])} rows in {args.record}")
    return record


def records(record: dict[str, Any], table: str | None = None, note: str = "", **fixed: Any) -> list[dict[str, Any]]:
    """The ``results/`` records of one run (``record``, as :func:`main` returns it): one row per model, its
    parameters, epochs, wall time and test accuracy; the note says which budget stopped it. ``fixed`` (command,
    commit, date, machine, versions) overrides what :func:`~lightning_dl.results.make_record` reads now."""
    budget = record["budget"]
    table = table or ("Fashion-MNIST test accuracy, each model under the budget in its row: epochs (the one-cycle "
                      "length) or minutes of training, whichever came first (all 60k training images)"
                      + (f", smoke run of {budget['limit_batches']} batches" if budget.get("limit_batches") else ""))
    rows = []
    for name, numbers in record["models"].items():
        metrics = {"parameters": numbers["parameters"], "epochs budget": budget["epochs"],
                   "minutes budget": budget["minutes_per_model"], "threads": record["machine"]["threads"],
                   "epochs": numbers["epochs_run"],
                   "fit + test s": numbers["fit_and_test_seconds"], "test accuracy": round(numbers["test_accuracy"], 4)}
        rows.append(make_record("convnets", table, name, metrics, settings={"budget": budget, "config": numbers["config"]},
                                note=" ".join(filter(None, [f"stopped by: {numbers['stopped_by']}.", note])),
                                **fixed))
    return rows


if __name__ == "__main__":
    main()
