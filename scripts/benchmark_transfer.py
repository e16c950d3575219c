"""Does transfer learning work? The notes' three methods against the same network trained from scratch on the
same few labelled images, offline, over several seeds; writes its raw numbers as JSON
(``runs/benchmark_transfer.json``) and, with ``--record``, one record per task and method (and the base) to
``results/transfer.jsonl`` (:mod:`lightning_dl.results`; the documentation's results page is generated from them).

Two ways:

- *within a domain*: a ResNet v1 (ResNet20; depth 8 in the quick setting) trained on Fashion-MNIST classes 0–4
  (its weights saved) is transferred to classes 5–9 with only ``per_class`` labelled images per class;
- *across domains with real ImageNet weights*: EfficientNet-Lite0 (the ``pretrained`` extra) on scikit-image's
  ``lfw_subset`` (150 training and 50 test images of faces and non-faces) and on Fashion-MNIST with
  ``per_class`` images of each of the 10 classes.

Methods: ``feature_extraction`` (the base once, a dense head on the cached features), ``frozen_base`` (the
head trained end to end on augmented images), ``fine_tuning`` (``frozen_base``, then the last blocks at 0.1 ×
the rate with batch-norm frozen) and ``scratch`` (the whole network from random weights, same images,
augmentation and epochs as ``fine_tuning`` or more). Each is trained for a fixed number of epochs (no
validation split: every labelled image trains) and judged on the test images of its classes.

    python scripts/benchmark_transfer.py --setting quick   # a few minutes on 2 CPU cores
    python scripts/benchmark_transfer.py --setting medium --threads 1 --record   # the recorded setting (2-core CPU)
    python scripts/benchmark_transfer.py --setting full --record   # 5 seeds, Lite0 at 96×96: a faster machine
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lightning_dl.data import FashionMNISTDataModule  # noqa: E402
from lightning_dl.data.transfer import (CachedFeaturesDataModule, FacesDataModule,  # noqa: E402
                                        FashionMNISTClassesDataModule)
from lightning_dl.models import Classifier, TransferClassifier  # noqa: E402
from lightning_dl.nn import EfficientNetLite0, ResNet  # noqa: E402
from lightning_dl.results import (add_record_argument, git_commit, machine_info, make_record,
                                  package_versions, write_record)  # noqa: E402

METHODS = ("feature_extraction", "frozen_base", "fine_tuning", "scratch")
SETTINGS: dict[str, dict[str, Any]] = {
    # quick: minutes on a 2-core CPU shared with other jobs (a depth-8 ResNet, Lite0 at 32×32, short training);
    "quick": {"seeds": 2, "per_class": 100, "test_per_class": 100, "depth": 8, "base_per_class": 600,
              "base_epochs": 3, "size": 32, "unfreeze_at_epoch": 6,
              "epochs": {"feature_extraction": 30, "frozen_base": 8, "fine_tuning": 12, "scratch": 12}},
    # medium: the recorded run on a 2-core CPU, two processes of one thread each (--tasks split between them):
    # ResNet20, Lite0 at 32×32, 3 seeds, the classes' whole test sets; ~20 minutes.
    "medium": {"seeds": 3, "per_class": 100, "test_per_class": 1000, "depth": 20, "base_per_class": 3000,
               "base_epochs": 5, "size": 32, "unfreeze_at_epoch": 15,
               "epochs": {"feature_extraction": 100, "frozen_base": 20, "fine_tuning": 30, "scratch": 30}},
    # full: the record worth quoting on a faster machine (ResNet20, Lite0 at 96×96, 5 seeds).
    "full": {"seeds": 5, "per_class": 100, "test_per_class": 1000, "depth": 20, "base_per_class": 6000,
             "base_epochs": 15, "size": 96, "unfreeze_at_epoch": 20,
             "epochs": {"feature_extraction": 100, "frozen_base": 30, "fine_tuning": 40, "scratch": 40}},
}


def trainer(epochs: int) -> pl.Trainer:
    return pl.Trainer(max_epochs=epochs, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="auto", devices=1, num_sanity_val_steps=0,
                      limit_val_batches=0)


def test_accuracy(model: pl.LightningModule, data: pl.LightningDataModule, fitted: pl.Trainer) -> float:
    return float(fitted.test(model, datamodule=data, verbose=False)[0]["test/accuracy"])


def adam(lr: float):
    return lambda parameters: torch.optim.Adam(parameters, lr=lr)


def train_base(setting: dict[str, Any], path: Path) -> dict[str, Any]:
    """A ResNet v1 (depth 20, or 8 in the quick setting) on Fashion-MNIST classes 0–4; its network's state_dict
    saved to ``path``."""
    start = time.time()
    pl.seed_everything(0, workers=True)
    data = FashionMNISTClassesDataModule(classes=[0, 1, 2, 3, 4], per_class=setting["base_per_class"],
                                         test_per_class=setting["test_per_class"], val_fraction=0.0, batch_size=64,
                                         normalization="unit_range", random_crop_padding=2)
    depth = setting["depth"]
    model = Classifier(lambda shape, outputs: ResNet(shape, outputs, depth=depth), input_shape=(1, 28, 28),
                       num_classes=5, optimizer=adam(1e-3))
    fitted = trainer(setting["base_epochs"])
    fitted.fit(model, datamodule=data)
    accuracy = test_accuracy(model, data, fitted)
    torch.save(model.network.state_dict(), path)
    return {"network": f"ResNet v1 depth {depth}", "classes": [0, 1, 2, 3, 4], "images": 5 * setting["base_per_class"],
            "epochs": setting["base_epochs"],
            "test_accuracy": accuracy, "seconds": round(time.time() - start, 1)}


def task_data(task: str, setting: dict[str, Any], seed: int,
              **augment: Any) -> FashionMNISTDataModule | FacesDataModule:
    """The task's labelled images, with the batch crop/flip settings ``augment`` (none for cached features)."""
    size = setting["size"]
    common = {"val_fraction": 0.0, "batch_size": 16, "seed": seed, **augment}
    if task == "faces_lite0":
        resize = [{"ResizeImage": {"height": size, "width": size}}]
        return FacesDataModule(normalization="unit_range", transforms=resize, **common)
    if task == "fashion_lite0":
        return FashionMNISTClassesDataModule(classes=list(range(10)), per_class=setting["per_class"],
                                             test_per_class=setting["test_per_class"] // 2, normalization="unit_range",
                                             transforms=[{"ResizeImage": {"height": size, "width": size}}], **common)
    return FashionMNISTClassesDataModule(classes=[5, 6, 7, 8, 9], per_class=setting["per_class"],
                                         test_per_class=setting["test_per_class"], normalization="unit_range",
                                         **common)


def run(task: str, method: str, seed: int, setting: dict[str, Any], base_file: Path) -> dict[str, Any]:
    """Train one method on one task with one seed; its test accuracy and wall time."""
    start = time.time()
    pl.seed_everything(seed, workers=True)
    lite0 = task != "within_fashion_resnet"
    augment = {} if method == "feature_extraction" else {"random_crop_padding": 4 if lite0 else 2, "random_flip": True}
    data = task_data(task, setting, seed, **augment)
    if lite0:
        network = lambda shape, outputs: EfficientNetLite0(shape, outputs, pretrained=method != "scratch")  # noqa: E731
    else:
        network = lambda shape, outputs: ResNet(shape, outputs, depth=setting["depth"])  # noqa: E731
    epochs = setting["epochs"][method]
    if method == "scratch":
        model = Classifier(network, input_shape=data.input_shape, num_classes=data.num_classes, optimizer=adam(1e-3))
    else:
        model = TransferClassifier(
            method=method, base_weights=None if lite0 else str(base_file), network=network,
            input_shape=data.input_shape, num_classes=data.num_classes, optimizer=adam(1e-3),
            unfreeze_blocks=3 if lite0 else 1, unfreeze_at_epoch=setting["unfreeze_at_epoch"],
            fine_tune_lr_factor=0.1)
        if method == "feature_extraction":
            data = CachedFeaturesDataModule(data)
    fitted = trainer(epochs)
    fitted.fit(model, datamodule=data)
    return {"task": task, "method": method, "seed": seed, "epochs": epochs,
            "test_accuracy": test_accuracy(model, data, fitted), "seconds": round(time.time() - start, 1)}


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean, standard deviation, min and max of the test accuracy per task and method."""
    table: dict[str, dict[str, Any]] = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        table[task] = {}
        for method in METHODS:
            values = np.array([r["test_accuracy"] for r in runs if r["task"] == task and r["method"] == method])
            if len(values):
                table[task][method] = {"mean": round(float(values.mean()), 4), "std": round(float(values.std(ddof=1))
                                       if len(values) > 1 else 0.0, 4), "min": round(float(values.min()), 4),
                                       "max": round(float(values.max()), 4), "seeds": len(values)}
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", choices=SETTINGS, default="quick")
    parser.add_argument("--tasks", nargs="+", default=["within_fashion_resnet", "faces_lite0", "fashion_lite0"])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--out", default=str(REPO / "runs/benchmark_transfer.json"), help="raw numbers, JSON")
    parser.add_argument("--work-dir", default=str(REPO / "runs/transfer"))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    add_record_argument(parser, "transfer")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    setting = SETTINGS[args.setting]
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    record: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "commit": git_commit() or "unknown",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine_info(),
        "versions": package_versions(),
        "setting": args.setting, "settings": setting}
    base_file = work / "resnet20_fashion_classes_0_4.pt"
    if "within_fashion_resnet" in args.tasks:
        record["base"] = train_base(setting, base_file)
        print("base:", record["base"], flush=True)
    runs: list[dict[str, Any]] = []
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    for task in args.tasks:
        for seed in range(setting["seeds"]):
            for method in args.methods:
                runs.append(run(task, method, seed, setting, base_file))
                print(runs[-1], flush=True)
                # Written after every run, so a run cut short still leaves what it measured.
                record.update(runs=runs, summary=summarise(runs), seconds=round(time.time() - started, 1))
                Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record.get("summary", {}), indent=2))
    if args.record:
        rows = records(record, args.record_table)
        for row in rows:
            write_record(args.record, row)
        print(f"Recorded {len(rows)} rows in {args.record}")


#: The results table of each task (the setting's numbers are filled in).
TASK_TABLES = {
    "within_fashion_resnet": "Within a domain: Fashion-MNIST classes 5–9 ({per_class} labelled images per class) from "
                             "a ResNet v1 of depth {depth} trained on classes 0–4, test accuracy",
    "faces_lite0": "Across domains: lfw_subset faces against non-faces (150 training images) from EfficientNet-Lite0's "
                   "ImageNet weights at {size}×{size}, test accuracy",
    "fashion_lite0": "Across domains: Fashion-MNIST, 10 classes ({per_class} labelled images per class), from "
                     "EfficientNet-Lite0's ImageNet weights at {size}×{size}, test accuracy",
}


def records(record: dict[str, Any], table: str | None = None, note: str = "", **fixed: Any) -> list[dict[str, Any]]:
    """The ``results/`` records of one run (``record``, as :func:`main` writes it): per task, a row per method
    with the mean, standard deviation, min and max test accuracy over its seeds, the seeds and the epochs, then
    (within a domain) the base's row, its test accuracy on its own classes. A row with fewer seeds than the
    setting's says so in its note; ``table`` prefixes each task's table name; ``fixed`` (command, commit, date,
    machine, versions) overrides what :func:`~lightning_dl.results.make_record` reads now."""
    setting = record["settings"]
    rows = []
    for task, methods in record.get("summary", {}).items():
        name = TASK_TABLES.get(task, task).format(**setting) + f" ({record['setting']} setting)"
        name = f"{table}: {name}" if table else name
        settings = {"task": task, "setting": record["setting"], **setting}
        for method, numbers in methods.items():
            metrics = {"test accuracy": numbers["mean"], "std": numbers["std"], "min": numbers["min"],
                       "max": numbers["max"], "seeds": numbers["seeds"], "epochs": setting["epochs"][method]}
            short = (f"{numbers['seeds']} of the setting's {setting['seeds']} seeds finished."
                     if numbers["seeds"] < setting["seeds"] else "")
            rows.append(make_record("transfer", name, method, metrics, settings=settings,
                                    note=" ".join(filter(None, [short, note])), **fixed))
        if task == "within_fashion_resnet" and "base" in record:
            base = record["base"]
            rows.append(make_record(
                "transfer", name, f"base: {base['network']} on classes 0–4 (its own test images)",
                {"test accuracy": round(base["test_accuracy"], 4), "seeds": 1, "epochs": base["epochs"]},
                settings={**settings, "base": base}, note=note, **fixed))
    return rows


if __name__ == "__main__":
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    main()
