"""The lightning_dl benchmark: what the framework costs, how fast its data pipeline is, and how fast it gets
to 0.92, 0.94 and 0.95 Fashion-MNIST test accuracy. One script, one run, ratios side by side; the successor
of ``benchmark_overhead.py`` (whose two comparisons it reuses).

Sections (``--sections``, all by default):

- ``overhead``: lightning_dl against the idealised plain PyTorch loop, same CNN (``cnn_fashion_mnist.yaml``),
  data, seed and threads; the epoch-time ratio of medians (goal <= 1.03).
- ``data``: one pass over the training batches, lightning_dl's in-memory loader against torchvision's
  ``FashionMNIST`` + ``DataLoader`` (PIL, sample by sample), without augmentation and with random crop (pad 2,
  reflect) + horizontal flip: lightning_dl's batched tensor ops against torchvision's per-sample
  ``RandomCrop`` + ``RandomHorizontalFlip`` (goal >= 20x); and the batched augmentation's share of a
  training epoch of the textbook CNN and of the compact net (goal <= 10 %).
- ``ablation``: each option of the fast recipe switched against the fast config (channels_last, torch.compile,
  bf16-mixed, batched crop + flip, flip TTA): median wall and CPU time per training batch over
  ``--ablation-batches`` batches (and the test-pass time for flip TTA). CPU time is the steadier number on a
  shared machine.
- ``time_to_accuracy``: ``lightning-dl fit --config configs/classifiers/fast_fashion_mnist.yaml`` (and the
  0.95 variant with ``--with-095``) run as a subprocess, exactly as a user runs it, plus a callback
  (:class:`TestAccuracyTimer`, added by a second ``--config``) that evaluates the test set after every epoch
  and writes the accuracy with a timestamp; with ``--with-plain-fast``, against the same recipe in a plain
  PyTorch loop (the anchor: the config's net, optimiser, schedule, label smoothing, crop + flip and flip
  TTA), and against the plain PyTorch loop training the textbook CNN (``cnn_fashion_mnist.yaml``'s network,
  Adam 1e-3, batched flips) the same way. The callback's own
  evaluation time is subtracted, so the times are what the run itself takes: from the launch of the
  command (imports, data loading and all) and from the start of ``fit``. Peak memory (RSS) of each run is
  recorded too (goal <= 2 GiB).

The settings of the fast configs were chosen without looking at the test set; the test accuracy per epoch
is recorded to read the crossing times, never to choose settings.

    python scripts/benchmark.py --with-plain-fast                  # everything (about an hour, 2 cores)
    python scripts/benchmark.py --sections overhead,data --epochs 2 --repeats 1 --limit-batches 30   # smoke
    python scripts/benchmark.py --sections time_to_accuracy --fast-epochs 1 --limit-batches 20     # smoke

Results: a Markdown table on stdout and in ``<output-dir>/benchmark.md``, everything in
``<output-dir>/benchmark.json``; the machine's load average before and after each section is recorded,
because absolute seconds on a shared machine mean little without it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import benchmark_overhead as overhead  # the two comparisons this script grew from

from lightning_dl.data import FashionMNISTDataModule
from lightning_dl.models import Classifier
from lightning_dl.data.batch_augmentation import BatchAugmentation, random_crop, random_horizontal_flip
from lightning_dl.results import add_record_argument, make_record, write_record

FAST_CONFIG = REPO / "configs/classifiers/fast_fashion_mnist.yaml"
FAST_095_CONFIG = REPO / "configs/classifiers/fast_fashion_mnist_095.yaml"
THRESHOLDS = (0.92, 0.94, 0.95)
GIB = 1 << 30


def load_average() -> str:
    """The 1, 5 and 15 minute load averages of the machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far: ``VmHWM`` (``getrusage``'s ``ru_maxrss`` would carry the
    launching process's peak over ``fork``/``exec``)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --- the time-to-accuracy callback (loaded by class path by `lightning-dl fit`) ------------------------
class TestAccuracyTimer(pl.Callback):
    """After every training epoch, the test accuracy (with and without flip TTA) and a timestamp, one JSON
    line each in ``path``; the evaluation's own duration is recorded so that it can be subtracted.

    Args:
        path: File the JSON lines are appended to.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def write(self, **record: Any) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps(record) + "\n")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.write(event="fit_start", time=time.time(), threads=torch.get_num_threads())

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        end = time.time()
        accuracy, accuracy_plain = evaluate(pl_module, trainer.datamodule.test_set.inputs,
                                            trainer.datamodule.test_set.targets, trainer.precision_plugin)
        self.write(event="epoch", epoch=trainer.current_epoch, time=end, eval_s=time.time() - end,
                   accuracy=accuracy, accuracy_without_tta=accuracy_plain, peak_rss=peak_rss_bytes())


@torch.no_grad()
def evaluate(model: Classifier | torch.nn.Module, inputs: Tensor, targets: Tensor, precision_plugin: Any = None,
             batch_size: int = 1000, flip_tta: bool | None = None) -> tuple[float, float]:
    """Test accuracy as the model reports it (flip TTA when it has it, or when ``flip_tta``) and without."""
    flip_tta = getattr(model, "flip_tta", False) if flip_tta is None else flip_tta
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    correct = correct_plain = 0
    context = precision_plugin.forward_context() if precision_plugin is not None else torch.autocast("cpu", enabled=False)
    with context:
        for start in range(0, len(targets), batch_size):
            x, y = inputs[start:start + batch_size].to(device), targets[start:start + batch_size].to(device)
            if getattr(model, "channels_last", False):
                x = x.contiguous(memory_format=torch.channels_last)
            logits = model(x).float()
            correct_plain += (logits.argmax(1) == y).sum().item()
            if flip_tta:
                logits = (logits + model(x.flip(-1)).float()) / 2
            correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return correct / len(targets), correct_plain / len(targets)


# --- the plain loop with the textbook CNN ---------------------------------------------------------------
def run_plain_loop(path: Path, dm: FashionMNISTDataModule, build: Callable[[int], tuple[nn.Module, Callable]],
                   epochs: int, limit_batches: int | None, flip_tta: bool = False) -> None:
    """A plain PyTorch training loop over the DataModule's in-memory training tensors (shuffled each epoch,
    batched by its ``batch_size``), testing after every epoch; the same JSON lines as
    :class:`TestAccuracyTimer` (run in a subprocess so its memory and start-up are its own).
    ``build(steps)`` returns the network and ``train_step(x, y, generator)``, given the run's optimiser steps."""
    dm.setup("fit")
    dm.setup("test")
    inputs, targets = dm.train_set.inputs, dm.train_set.targets
    batches = math.ceil(len(targets) / dm.hparams.batch_size)
    if limit_batches:
        batches = min(batches, limit_batches)
    pl.seed_everything(overhead.SEED, verbose=False)
    model, train_step = build(epochs * batches)
    generator = torch.Generator().manual_seed(overhead.SEED)
    timer = TestAccuracyTimer(str(path))
    timer.write(event="fit_start", time=time.time(), threads=torch.get_num_threads())
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(targets), generator=generator)
        for indices in order.split(dm.hparams.batch_size)[:batches]:
            train_step(inputs[indices], targets[indices], generator)
        end = time.time()
        accuracy, plain = evaluate(model, dm.test_set.inputs, dm.test_set.targets, flip_tta=flip_tta)
        timer.write(event="epoch", epoch=epoch, time=end, eval_s=time.time() - end, accuracy=accuracy,
                    accuracy_without_tta=plain, peak_rss=peak_rss_bytes())


def run_plain_textbook(path: Path, epochs: int, limit_batches: int | None) -> None:
    """The textbook CNN (``cnn_fashion_mnist.yaml``'s network, Adam, the config's flips) in a plain loop, on
    all 60k training images."""
    dm = FashionMNISTDataModule(seed=overhead.SEED, **{**overhead.DATA, "val_fraction": 0.0})

    def build(steps: int) -> tuple[nn.Module, Callable]:
        model = overhead.build_network(dm.input_shape, dm.num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=overhead.LR)

        def train_step(x: Tensor, y: Tensor, generator: torch.Generator) -> None:
            x = random_horizontal_flip(x, generator)  # the config's HorizontalFlip(p=0.5)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        return model, train_step

    run_plain_loop(path, dm, build, epochs, limit_batches)


def run_plain_fast(path: Path, epochs: int, limit_batches: int | None) -> None:
    """The fast recipe of ``fast_fashion_mnist.yaml`` in a plain loop (the issue's anchor): the same compact
    net, SGD-Nesterov with one-cycle, label smoothing, batched crop + flip and flip TTA, read from the config."""
    from lightning_dl.nn import CompactNet

    recipe = yaml.safe_load(FAST_CONFIG.read_text())
    model_args, data_args = recipe["model"]["init_args"], recipe["data"]["init_args"]
    dm = FashionMNISTDataModule(seed=overhead.SEED, **data_args)

    def build(steps: int) -> tuple[nn.Module, Callable]:
        model = CompactNet(dm.input_shape, dm.num_classes, **model_args["network"]["init_args"])
        optimizer = torch.optim.SGD(model.parameters(), **model_args["optimizer"]["init_args"])
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, total_steps=steps,
                                                        **model_args["lr_scheduler"]["init_args"])

        def train_step(x: Tensor, y: Tensor, generator: torch.Generator) -> None:
            x = random_crop(x, data_args["random_crop_padding"], data_args["padding_mode"], generator)
            x = random_horizontal_flip(x, generator)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y, label_smoothing=model_args["label_smoothing"]).backward()
            optimizer.step()
            scheduler.step()
        return model, train_step

    run_plain_loop(path, dm, build, epochs, limit_batches, flip_tta=model_args["flip_tta"])


# --- time to accuracy -----------------------------------------------------------------------------------
def crossing_times(records: list[dict[str, Any]], launch: float) -> dict[str, Any]:
    """Per epoch: accuracy and the run's own time (evaluations subtracted) from launch and from fit start;
    the first such time at or above each threshold."""
    start = next(r["time"] for r in records if r["event"] == "fit_start")
    epochs, evaluated = [], 0.0
    for r in (r for r in records if r["event"] == "epoch"):
        epochs.append({"epoch": r["epoch"], "accuracy": r["accuracy"], "accuracy_without_tta": r["accuracy_without_tta"],
                       "from_launch_s": r["time"] - launch - evaluated, "from_fit_start_s": r["time"] - start - evaluated,
                       "peak_rss": r["peak_rss"]})
        evaluated += r["eval_s"]
    reached = {f"{t:.2f}": next(({"epoch": e["epoch"], "from_launch_s": e["from_launch_s"],
                                  "from_fit_start_s": e["from_fit_start_s"]} for e in epochs if e["accuracy"] >= t), None)
               for t in THRESHOLDS}
    return {"start_up_s": start - launch, "epochs": epochs, "reached": reached,
            "final_accuracy": epochs[-1]["accuracy"] if epochs else None,
            "peak_rss": max((e["peak_rss"] for e in epochs), default=None)}


def run_timed(name: str, command: list[str], records_path: Path, cwd: Path, threads: int) -> dict[str, Any]:
    """Run ``command`` and read the accuracy/timestamp lines it wrote."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join(
        [str(SCRIPTS), str(REPO), os.environ.get("PYTHONPATH", "")]), "NO_ALBUMENTATIONS_UPDATE": "1"}
    env.setdefault("WANDB_MODE", "offline")
    before = load_average()
    print(f"[time to accuracy] {name}: {' '.join(command)}", file=sys.stderr, flush=True)
    log = records_path.with_suffix(".log")
    with log.open("w") as output:
        launch = time.time()
        completed = subprocess.run(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
        total = time.time() - launch
    if completed.returncode != 0:
        raise RuntimeError(f"{name} failed ({completed.returncode}); its output is in {log}:\n{log.read_text()[-4000:]}")
    records = [json.loads(line) for line in records_path.read_text().splitlines()]
    result = {"name": name, "command": " ".join(command), "total_s": total, "load_before": before,
              "load_after": load_average(), **crossing_times(records, launch)}
    evaluated = sum(r["eval_s"] for r in records if r["event"] == "epoch")
    result["total_without_evaluation_s"] = total - evaluated
    for e in result["epochs"]:
        print(f"  epoch {e['epoch']}: accuracy {e['accuracy']:.4f} (no TTA {e['accuracy_without_tta']:.4f}) at "
              f"{e['from_launch_s']:.1f} s", file=sys.stderr, flush=True)
    return result


def benchmark_time_to_accuracy(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """The fast config(s) through ``lightning-dl fit`` and the plain loop with the textbook CNN."""
    results = []
    configs = [("lightning-dl fit fast_fashion_mnist.yaml", FAST_CONFIG, args.fast_epochs)]
    if args.with_095:
        configs.append(("lightning-dl fit fast_fashion_mnist_095.yaml", FAST_095_CONFIG, args.fast_095_epochs))
    for name, config, epochs in configs:
        records = workdir / f"{config.stem}.jsonl"
        timer_config = workdir / f"{config.stem}_timer.yaml"
        timer_config.write_text(yaml.safe_dump({"trainer": {"callbacks": [
            {"class_path": "benchmark.TestAccuracyTimer", "init_args": {"path": str(records)}}]}}))
        command = [str(Path(sys.executable).parent / "lightning-dl"), "fit", "--config", str(config),
                   "--config", str(timer_config), "--trainer.enable_progress_bar", "false"]
        if epochs is not None:
            command += ["--trainer.max_epochs", str(epochs)]
        if args.limit_batches:
            command += ["--trainer.limit_train_batches", str(args.limit_batches)]
        results.append(run_timed(name, command, records, workdir, args.threads))
    fast_epochs = args.fast_epochs or yaml.safe_load(FAST_CONFIG.read_text())["trainer"]["max_epochs"]
    plain_runs = [("plain PyTorch, fast recipe (the anchor)", "plain_fast", "--plain-fast-run", fast_epochs)] \
        if args.with_plain_fast else []
    plain_runs.append(("plain PyTorch, textbook CNN", "plain_textbook", "--plain-textbook-run", args.plain_epochs))
    for name, stem, flag, epochs in plain_runs:
        records = workdir / f"{stem}.jsonl"
        command = [sys.executable, str(Path(__file__).resolve()), flag, str(records), "--plain-epochs", str(epochs)]
        if args.limit_batches:
            command += ["--limit-batches", str(args.limit_batches)]
        results.append(run_timed(name, command, records, workdir, args.threads))
    return results


# --- data pipeline with augmentation and its share of an epoch --------------------------------------------
def time_augmented_pass(loader: Any, num_batches: int, seed: int = overhead.SEED) -> list[float]:
    """One pass over ``num_batches`` of lightning_dl's loader with the batched crop + flip of the fast recipe."""
    start = time.perf_counter()
    for i, (x, _) in zip(range(num_batches), loader):
        generator = torch.Generator().manual_seed(seed + i)
        random_horizontal_flip(random_crop(x, 2, "reflect", generator), generator).contiguous()
    return [time.perf_counter() - start]


def time_augmentation_only(loader: Any, num_batches: int) -> float:
    """The time the batched crop + flip alone takes over ``num_batches`` batches (fetching excluded)."""
    batches = [x for _, (x, _) in zip(range(num_batches), loader)]
    start = time.perf_counter()
    for i, x in enumerate(batches):
        generator = torch.Generator().manual_seed(i)
        random_horizontal_flip(random_crop(x, 2, "reflect", generator), generator).contiguous()
    return time.perf_counter() - start


def benchmark_data_augmented(dm: FashionMNISTDataModule, args: argparse.Namespace) -> overhead.Comparison:
    """Crop + flip: lightning_dl's batched tensor ops after the in-memory loader against torchvision's
    per-sample transforms in a DataLoader."""
    from torchvision import datasets, transforms

    ours = dm.train_dataloader()
    mean, std = dm.normalization.shift.item() / 255, dm.normalization.scale.item() / 255
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as root:
        overhead.unpack_for_torchvision(args.data_dir, Path(root))
        transform = transforms.Compose([transforms.RandomCrop(28, padding=2, padding_mode="reflect"),
                                        transforms.RandomHorizontalFlip(), transforms.ToTensor(),
                                        transforms.Normalize((mean,), (std,))])
        dataset = datasets.FashionMNIST(root, train=True, download=False, transform=transform)
        theirs = torch.utils.data.DataLoader(dataset, batch_size=overhead.DATA["batch_size"], shuffle=True,
                                             generator=torch.Generator().manual_seed(overhead.SEED))
        num_batches = min(len(ours), len(theirs), args.limit_batches or len(ours))
        runs = overhead.interleave("data + augmentation", {
            "lightning_dl": lambda: time_augmented_pass(ours, num_batches),
            "torchvision": lambda: overhead.time_pass(theirs, num_batches),
        }, args.repeats)
    return overhead.compare(f"data pass + crop/flip ({num_batches} batches)", runs, "torchvision", "lightning_dl",
                            (">=", 20.0))


# --- ablation -------------------------------------------------------------------------------------------
class BatchTimer(pl.Callback):
    """Wall and CPU time of every training batch (from one batch's end to the next one's)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._last: tuple[float, float] | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        now = (time.perf_counter(), time.process_time())
        if self._last is not None:
            self.wall.append(now[0] - self._last[0])
            self.cpu.append(now[1] - self._last[1])
        self._last = now


def factory(spec: Any) -> Any:
    """A factory (not an object: see :func:`lightning_dl.cli.instantiate` for that) from a
    ``class_path``/``init_args`` dict: ``partial(cls, **init_args)``."""
    from lightning_dl.cli import import_object

    return partial(import_object(spec["class_path"]), **spec.get("init_args", {}))


def fast_model(config: dict[str, Any], dm: FashionMNISTDataModule, **changes: Any) -> Classifier:
    """The fast config's Classifier with some options changed."""
    init = dict(config["model"]["init_args"])
    for key in ("network", "optimizer", "lr_scheduler"):
        init[key] = factory(init[key])
    init.update(changes)
    return Classifier(input_shape=dm.input_shape, num_classes=dm.num_classes, **init)


def time_batches(config: dict[str, Any], dm: FashionMNISTDataModule, batches: int, precision: str,
                 **changes: Any) -> dict[str, float]:
    """Median wall/CPU time per training batch of the fast config with ``changes``, after two warm-up batches."""
    augmentation = dm.batch_augmentation
    crop_and_flip = {k: changes.pop(k) for k in ("random_crop_padding", "random_flip") if k in changes}
    if crop_and_flip:  # the recipe's crop + flip are the DataModule's
        dm.batch_augmentation = BatchAugmentation(**{"random_crop_padding": augmentation.random_crop_padding,
                                                     "padding_mode": augmentation.padding_mode,
                                                     "random_flip": augmentation.random_flip, **crop_and_flip})
    try:
        return _time_batches(config, dm, batches, precision, **changes)
    finally:
        dm.batch_augmentation = augmentation


def _time_batches(config: dict[str, Any], dm: FashionMNISTDataModule, batches: int, precision: str,
                  **changes: Any) -> dict[str, float]:
    pl.seed_everything(overhead.SEED, verbose=False)
    model, timer = fast_model(config, dm, **changes), BatchTimer()
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         limit_train_batches=batches + 3, max_epochs=1, precision=precision, callbacks=[timer])
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    kept = slice(2, None)
    return {"wall_ms": 1000 * statistics.median(timer.wall[kept]), "cpu_ms": 1000 * statistics.median(timer.cpu[kept]),
            "fit_s": time.perf_counter() - start}


def time_test_pass(config: dict[str, Any], dm: FashionMNISTDataModule, flip_tta: bool, batches: int) -> float:
    """Wall time of evaluating ``batches`` test batches of 1000 images, with or without flip TTA."""
    model = fast_model(config, dm, flip_tta=flip_tta).eval()
    inputs, targets = dm.test_set.inputs[:1000 * batches], dm.test_set.targets[:1000 * batches]
    start = time.perf_counter()
    evaluate(model, inputs, targets)
    return time.perf_counter() - start


def benchmark_ablation(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each option of the fast recipe switched against the fast config: time per training batch."""
    config = yaml.safe_load(FAST_CONFIG.read_text())
    data = config["data"]["init_args"]
    dm = FashionMNISTDataModule(data_dir=args.data_dir, seed=overhead.SEED, **{**data, "val_fraction": 0.1})
    dm.setup("fit")
    precision = str(config["trainer"].get("precision", "32-true"))
    options = config["model"]["init_args"]
    arms: list[tuple[str, str, dict[str, Any]]] = [("fast config as it is", precision, {})]
    arms.append(("channels_last " + ("off" if options.get("channels_last") else "on"), precision,
                 {"channels_last": not options.get("channels_last")}))
    arms.append(("crop + flip off", precision, {"random_crop_padding": 0, "random_flip": False}))
    arms.append(("torch.compile " + ("off" if options.get("compile_network") else "on"), precision,
                 {"compile_network": not options.get("compile_network")}))
    arms.append(("bf16-mixed" if "bf16" not in precision else "32-true", "32-true" if "bf16" in precision
                 else "bf16-mixed", {}))
    def arm_batches(arm_precision: str) -> int:  # bf16 on a CPU without bf16 units is ~12x slower: fewer batches
        return max(3, args.ablation_batches // 4) if arm_precision == "bf16-mixed" else args.ablation_batches

    timings: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in arms}
    loads: dict[str, list[str]] = {name: [] for name, _, _ in arms}
    for repeat in range(args.repeats):  # the arms in turn, reversed every other repeat; medians over repeats
        for name, arm_precision, changes in arms if repeat % 2 == 0 else arms[::-1]:
            loads[name].append(load_average())
            timing = time_batches(config, dm, arm_batches(arm_precision), arm_precision, **changes)
            timings[name].append(timing)
            print(f"[ablation {repeat + 1}/{args.repeats}] {name}: {timing['wall_ms']:.0f} ms wall, "
                  f"{timing['cpu_ms']:.0f} ms CPU per batch (whole fit {timing['fit_s']:.1f} s)", file=sys.stderr, flush=True)
    results = []
    for name, arm_precision, _ in arms:
        median = {key: statistics.median(t[key] for t in timings[name]) for key in timings[name][0]}
        results.append({"option": name, "precision": arm_precision, "batches": arm_batches(arm_precision), **median,
                        "runs": timings[name], "load_before": loads[name][0], "load_after": load_average()})
    for flip_tta in (False, True):
        results.append({"option": f"test pass, flip TTA {'on' if flip_tta else 'off'}",
                        "test_pass_s": time_test_pass(config, dm, flip_tta, args.ablation_test_batches),
                        "test_images": 1000 * args.ablation_test_batches, "load_before": load_average()})
    return results


# --- the report -----------------------------------------------------------------------------------------
def markdown(results: dict[str, Any]) -> str:
    """All results as Markdown tables."""
    s = results["settings"]
    lines = [(f"## lightning_dl benchmark ({s['date']}, threads={s['threads']}, torch {s['torch']}, "
              f"Lightning {s['pytorch_lightning']}, CPU capability {s['cpu_capability']})"), ""]
    comparisons = results.get("comparisons", [])
    if comparisons:
        lines += ["| comparison | contender | median s | kept | ratio | goal | load before → after |",
                  "|---|---|---:|---:|---:|---|---|"]
        for c in comparisons:
            names = list(c["median_s"])
            for i, name in enumerate(names):
                ratio = f"{c['ratio']:.3f} ({c['ratio_name']})" if i == 0 else ""
                goal = f"{c['goal']}: {'met' if c['met'] else 'MISSED'}" if i == 0 else ""
                load = f"{c.get('load_before', '')} → {c.get('load_after', '')}" if i == 0 else ""
                lines.append(f"| {c['title'] if i == 0 else ''} | {name} | {c['median_s'][name]:.3f} | "
                             f"{len(c['kept'][name])} | {ratio} | {goal} | {load} |")
        lines.append("")
    for share in results.get("augmentation_share", []):
        lines.append(f"- batched crop + flip: {share['augmentation_s']:.3f} s per {share['batches']} batches = "
                     f"{100 * share['share']:.1f} % of a {share['network']} training epoch (goal <= 10 %: "
                     f"{'met' if share['share'] <= 0.10 else 'MISSED'})")
    if results.get("augmentation_share"):
        lines.append("")
    if results.get("ablation"):
        lines += [("| option (against the fast config) | precision | ms per batch (wall) | ms per batch (CPU) | "
                   "whole fit s (warm-up, compilation) | load before → after |"), "|---|---|---:|---:|---:|---|"]
        for a in results["ablation"]:
            if "test_pass_s" in a:
                lines.append(f"| {a['option']} ({a['test_images']} images) | | {1000 * a['test_pass_s']:.0f} (whole pass) "
                             f"| | | {a['load_before']} |")
            else:
                lines.append(f"| {a['option']} | {a['precision']} | {a['wall_ms']:.0f} | {a['cpu_ms']:.0f} | "
                             f"{a['fit_s']:.1f} | {a['load_before']} → {a['load_after']} |")
        lines.append("")
    if results.get("time_to_accuracy"):
        header = " | ".join(f"to {t:.2f} (launch / fit)" for t in THRESHOLDS)
        lines += [f"| run | {header} | final accuracy | epochs | start-up s | peak RSS | load before → after |",
                  "|---|" + "---|" * len(THRESHOLDS) + "---:|---:|---:|---:|---|"]
        for r in results["time_to_accuracy"]:
            cells = []
            for t in THRESHOLDS:
                hit = r["reached"][f"{t:.2f}"]
                cells.append(f"{hit['from_launch_s'] / 60:.2f} / {hit['from_fit_start_s'] / 60:.2f} min (ep {hit['epoch'] + 1})"
                             if hit else "not reached")
            rss = f"{r['peak_rss'] / GIB:.2f} GiB" if r["peak_rss"] else "n/a"
            final = f"{r['final_accuracy']:.4f}" if r["final_accuracy"] is not None else "n/a"
            lines.append(f"| {r['name']} | {' | '.join(cells)} | {final} | {len(r['epochs'])} | {r['start_up_s']:.1f} | "
                         f"{rss} | {r['load_before']} → {r['load_after']} |")
        lines.append("")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default="overhead,data,ablation,time_to_accuracy",
                        help="comma-separated: overhead, data, ablation, time_to_accuracy")
    parser.add_argument("--epochs", type=int, default=2, help="overhead: epochs per training run (the first is warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="overhead and data: runs of each contender, interleaved")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (and OMP_NUM_THREADS "
                        "of the time-to-accuracy runs)")
    parser.add_argument("--limit-batches", type=int, default=None, help="train/iterate only this many batches per "
                        "epoch everywhere (a smoke run)")
    parser.add_argument("--ablation-batches", type=int, default=20, help="timed training batches per ablation arm")
    parser.add_argument("--ablation-test-batches", type=int, default=2, help="test batches of 1000 for flip TTA")
    parser.add_argument("--fast-epochs", type=int, default=None, help="override the fast config's max_epochs")
    parser.add_argument("--with-095", action="store_true", help="also time the 0.95 config (long)")
    parser.add_argument("--fast-095-epochs", type=int, default=None, help="override the 0.95 config's max_epochs")
    parser.add_argument("--plain-epochs", type=int, default=10, help="epochs of the plain loop with the textbook CNN")
    parser.add_argument("--data-dir", default="data", help="the DataModule's data_dir (falls back to the system copy)")
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks"), help="benchmark.md and benchmark.json")
    parser.add_argument("--plain-textbook-run", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plain-fast-run", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--with-plain-fast", action="store_true",
                        help="also time the fast recipe in a plain PyTorch loop (the anchor), as many epochs")
    add_record_argument(parser, "benchmark")
    args = parser.parse_args(argv)
    for name in ("epochs", "repeats", "threads", "limit_batches", "plain_epochs", "fast_epochs", "ablation_batches"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    unknown = set(args.sections.split(",")) - {"overhead", "data", "ablation", "time_to_accuracy"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    overhead.quiet_lightning()
    torch.set_num_threads(args.threads)
    if args.plain_fast_run is not None:
        run_plain_fast(args.plain_fast_run, args.plain_epochs, args.limit_batches)
        return {}
    if args.plain_textbook_run is not None:
        run_plain_textbook(args.plain_textbook_run, args.plain_epochs, args.limit_batches)
        return {}
    sections = args.sections.split(",")
    results: dict[str, Any] = {"settings": {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": args.threads,
        "limit_batches": args.limit_batches, "epochs": args.epochs, "repeats": args.repeats, "torch": torch.__version__,
        "pytorch_lightning": pl.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "argv": sys.argv[1:] if argv is None else argv}}
    if "overhead" in sections or "data" in sections:
        dm = FashionMNISTDataModule(data_dir=args.data_dir, seed=overhead.SEED, **overhead.DATA)
        dm.setup("fit")
        comparisons = []
        if "overhead" in sections:
            before = load_average()
            training = overhead.benchmark_training(dm, args)
            comparisons.append({**asdict(training), "load_before": before, "load_after": load_average()})
        if "data" in sections:
            before = load_average()
            plain = overhead.benchmark_data(dm, args)
            plain = overhead.compare(plain.title, plain.runs, "torchvision", "lightning_dl", (">=", 20.0))
            augmented = benchmark_data_augmented(dm, args)
            after = load_average()
            comparisons += [{**asdict(c), "load_before": before, "load_after": after} for c in (plain, augmented)]
            num_batches = min(len(dm.train_dataloader()), args.limit_batches or len(dm.train_dataloader()))
            augmentation_s = time_augmentation_only(dm.train_dataloader(), num_batches)
            shares = []
            if "overhead" in sections:  # the textbook CNN's epoch, over the same number of batches
                epoch_s = training.median_s["lightning_dl"]
                shares.append({"network": "textbook CNN (batch 128)", "augmentation_s": augmentation_s,
                               "batches": num_batches, "epoch_s": epoch_s, "share": augmentation_s / epoch_s})
            results["augmentation_share"] = shares
        results["comparisons"] = comparisons
    if "ablation" in sections:
        results["ablation"] = benchmark_ablation(args)
    if "time_to_accuracy" in sections:
        workdir = args.output_dir / "time_to_accuracy"  # kept: the per-epoch records, the runs' logs and checkpoints
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        results["time_to_accuracy"] = benchmark_time_to_accuracy(args, workdir.resolve())
    report = markdown(results)
    print(report)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "benchmark.md").write_text(report + "\n")
    (args.output_dir / "benchmark.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.record:
        rows = records(results, args.record_table, None if argv is None else ["python", "scripts/benchmark.py", *argv])
        for record in rows:
            write_record(args.record, record)
        print(f"Recorded {len(rows)} rows in {args.record}")
    return results


def records(results: dict[str, Any], table: str | None = None, argv: list[str] | None = None) -> list[dict[str, Any]]:
    """The benchmark's rows as ``results/`` records (:mod:`lightning_dl.results`): one per comparison, ablation
    arm and time-to-accuracy run, in tables named after the section (``table`` prefixes them)."""
    command = None if argv is None else shlex.join(argv)
    prefix = f"{table}: " if table else ""
    threads = {"threads": results["settings"]["threads"], "limit_batches": results["settings"]["limit_batches"]}
    rows = []
    for c in results.get("comparisons", []):
        (first, first_s), (second, second_s) = list(c["median_s"].items())[:2]
        metrics = {"contenders": f"{first} / {second}", "median s": first_s, "against, median s": second_s,
                   "ratio": round(c["ratio"], 3), "goal": c["goal"], "met": "yes" if c["met"] else "no"}
        rows.append(make_record("benchmark", prefix + "overhead and data pipeline", c["title"], metrics,
                                command=command, settings={**threads, "load": [c.get("load_before"),
                                                                                c.get("load_after")]}))
    for a in results.get("ablation", []):
        metrics = ({"test pass ms": round(1000 * a["test_pass_s"])} if "test_pass_s" in a else
                   {"ms per batch, wall": round(a["wall_ms"]), "ms per batch, CPU": round(a["cpu_ms"])})
        rows.append(make_record("benchmark", prefix + "ablation of the fast recipe", a["option"], metrics,
                                command=command, settings={**threads, "load_before": a["load_before"]}))
    for r in results.get("time_to_accuracy", []):
        metrics: dict[str, Any] = {}
        for t in THRESHOLDS:
            hit = r["reached"][f"{t:.2f}"]
            metrics[f"to {t:.2f}, min"] = round(hit["from_launch_s"] / 60, 1) if hit else "not reached"
        metrics["final test accuracy"] = r["final_accuracy"]
        metrics["epochs"] = len(r["epochs"])
        metrics["peak RSS GiB"] = round(r["peak_rss"] / GIB, 2) if r["peak_rss"] else None
        rows.append(make_record("benchmark", prefix + "time to accuracy", r["name"], metrics, command=command,
                                settings={**threads, "run_command": r["command"], "epochs": r["epochs"]}))
    return rows


if __name__ == "__main__":
    main()
