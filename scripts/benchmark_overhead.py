"""What lightning_dl costs over plain PyTorch, measured side by side on Fashion-MNIST.

Two comparisons, each reported as a ratio of medians:

1. **Training-loop overhead.** The CNN of ``configs/classifiers/cnn_fashion_mnist.yaml`` is trained with the same
   data, seed, thread count, batch size and optimiser (Adam, lr 1e-3) twice: by lightning_dl
   (``FashionMNISTDataModule`` + ``Classifier`` + ``pl.Trainer``, validation off) and by the idealised
   fastest hand-written loop (the DataModule's normalised tensors, one ``randperm`` per epoch, batches
   by slicing, ``F.cross_entropy``, ``torch.optim.Adam``). lightning_dl's epoch is timed by a callback
   from ``on_train_epoch_start`` to ``on_train_epoch_end`` (its window ends before the module's own
   epoch-end hook, one metric ``compute``); what it pays beyond the plain loop is Lightning's loop, the
   ``DataLoader``, logging and the torchmetrics updates. Goal: ``lightning_dl / plain <= 1.03``.
2. **Data pipeline.** One pass (no model) over the training batches of lightning_dl's in-memory
   ``train_dataloader()`` against torchvision's ``FashionMNIST`` dataset with ``ToTensor`` + ``Normalize``
   in a ``DataLoader``, which builds every batch sample by sample from PIL images. Both iterate the same
   number of batches (torchvision's train set is the full 60k, lightning_dl's train split 90% of it).
   Goal: ``torchvision / lightning_dl >= 10``.

Why ratios measured side by side: the machine is shared and noisy, so absolute seconds drift from run to
run. Each repeat runs both contenders back to back, in alternating order; the first epoch of every
training run is dropped as warm-up (when there are at least two); and the ratio of the medians is
reported. A drift in machine load then moves both numbers together rather than the ratio. On a machine
busy with other work, ``--threads`` below the core count keeps torch's thread pool from oversubscribing the
CPU, which otherwise slows both contenders several-fold, erratically, and swamps the ratio.

    python scripts/benchmark_overhead.py                                          # the full benchmark
    python scripts/benchmark_overhead.py --epochs 2 --repeats 1 --limit-batches 30   # a smoke run
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import logging
import operator
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml
from torch import Tensor, nn
from torch.utils.data import DataLoader

from lightning_dl.data import FashionMNISTDataModule
from lightning_dl.data.sources import IDX_FILES, fetch_fashion_mnist
from lightning_dl.models import Classifier
from lightning_dl.nn import CNN

#: The benchmarked config: its network, data and optimiser settings, read from the file (not copied), less its
#: augmentation and scheduler, which the plain loop does not have.
CONFIG: dict[str, Any] = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/classifiers/cnn_fashion_mnist.yaml")
                                        .read_text())
NETWORK: dict[str, Any] = CONFIG["model"]["init_args"]["network"]["init_args"]
DATA: dict[str, Any] = {k: v for k, v in CONFIG["data"]["init_args"].items() if k != "augmentation"}
LR: float = CONFIG["model"]["init_args"]["optimizer"]["init_args"]["lr"]
SEED = 42

#: Each contender's run: the wall time of each of its epochs, in seconds.
Run = Callable[[], list[float]]


# --- the contenders ---------------------------------------------------------------------------------
def build_network(input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    """The benchmarked CNN; both contenders build it through this factory, right after seeding."""
    return CNN(input_shape, num_outputs, **NETWORK)


class EpochTimer(pl.Callback):
    """Wall time of each training epoch, from ``on_train_epoch_start`` to ``on_train_epoch_end``."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.times.append(time.perf_counter() - self._start)


def train_lightning(dm: FashionMNISTDataModule, epochs: int, limit_batches: int | None) -> list[float]:
    """Train with lightning_dl, validation off; the wall time of each epoch."""
    pl.seed_everything(SEED, verbose=False)
    model = Classifier(build_network, input_shape=dm.input_shape, num_classes=dm.num_classes,
                       optimizer=partial(torch.optim.Adam, lr=LR))
    timer = EpochTimer()
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         limit_val_batches=0, limit_train_batches=limit_batches or 1.0, max_epochs=epochs,
                         callbacks=[timer])
    trainer.fit(model, datamodule=dm)
    return timer.times


def train_plain(inputs: Tensor, targets: Tensor, num_classes: int, epochs: int,
                limit_batches: int | None) -> list[float]:
    """Train with the idealised fastest hand-written loop over in-memory tensors; the wall time of each epoch."""
    pl.seed_everything(SEED, verbose=False)
    model = build_network(tuple(inputs.shape[1:]), num_classes).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(SEED)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(targets), generator=generator)
        for indices in order.split(DATA["batch_size"])[:limit_batches]:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(inputs[indices]), targets[indices]).backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def unpack_for_torchvision(data_dir: str, root: Path) -> None:
    """Put the IDX files lightning_dl reads, uncompressed, where torchvision looks: ``root/FashionMNIST/raw``."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for role, source in fetch_fashion_mnist(data_dir, download=False).items():
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rb") as src, open(raw / IDX_FILES[role], "wb") as dst:
            shutil.copyfileobj(src, dst)


def torchvision_loader(root: Path, mean: float, std: float) -> DataLoader:
    """torchvision's Fashion-MNIST training set the textbook way: PIL images, ``ToTensor``, ``Normalize``."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    dataset = datasets.FashionMNIST(str(root), train=True, download=False, transform=transform)
    return DataLoader(dataset, batch_size=DATA["batch_size"], shuffle=True, num_workers=0,
                      generator=torch.Generator().manual_seed(SEED))


def time_pass(loader: Iterable, num_batches: int) -> list[float]:
    """The wall time of fetching ``num_batches`` batches from a fresh iterator, as a one-epoch run."""
    start = time.perf_counter()
    for _ in itertools.islice(loader, num_batches):
        pass
    return [time.perf_counter() - start]


# --- measuring side by side -------------------------------------------------------------------------
def interleave(label: str, contenders: dict[str, Run], repeats: int) -> dict[str, list[list[float]]]:
    """Run every contender ``repeats`` times, reversing their order every other repeat; each one's runs."""
    runs: dict[str, list[list[float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            runs[name].append(contenders[name]())
            epochs = ", ".join(f"{t:.3f}" for t in runs[name][-1])
            print(f"[{label} {repeat + 1}/{repeats}] {name}: {epochs} s", file=sys.stderr, flush=True)
    return runs


@dataclass(frozen=True)
class Comparison:
    """Two contenders' kept epoch times, their medians and the ratio of the medians against a goal."""

    title: str
    ratio_name: str
    goal: str
    runs: dict[str, list[list[float]]]
    kept: dict[str, list[float]]
    median_s: dict[str, float]
    ratio: float
    met: bool


GOALS = {"<=": operator.le, ">=": operator.ge}


def compare(title: str, runs: dict[str, list[list[float]]], numerator: str, denominator: str,
            goal: tuple[str, float], warmup_epochs: int = 0) -> Comparison:
    """The ratio ``median(numerator) / median(denominator)`` over the epochs after the warm-up ones."""
    kept = {name: [t for run in name_runs for t in run[warmup_epochs:]] for name, name_runs in runs.items()}
    medians = {name: statistics.median(times) for name, times in kept.items()}
    ratio = medians[numerator] / medians[denominator]
    relation, bound = goal
    return Comparison(title, f"{numerator} / {denominator}", f"{relation} {bound:g}", runs, kept, medians, ratio,
                      GOALS[relation](ratio, bound))


def benchmark_training(dm: FashionMNISTDataModule, args: argparse.Namespace) -> Comparison:
    """Training-epoch time of lightning_dl against the plain loop."""
    inputs, targets = dm.train_set.inputs, dm.train_set.targets
    runs = interleave("training", {
        "lightning_dl": lambda: train_lightning(dm, args.epochs, args.limit_batches),
        "plain PyTorch": lambda: train_plain(inputs, targets, dm.num_classes, args.epochs, args.limit_batches),
    }, args.repeats)
    return compare("training epoch", runs, "lightning_dl", "plain PyTorch", ("<=", 1.03),
                   warmup_epochs=1 if args.epochs >= 2 else 0)


def benchmark_data(dm: FashionMNISTDataModule, args: argparse.Namespace) -> Comparison:
    """One pass over the training batches: lightning_dl's loader against torchvision's."""
    ours = dm.train_dataloader()
    # Normalization is fitted on raw 0..255 pixels; ToTensor scales them to 0..1 first.
    mean, std = dm.normalization.shift.item() / 255, dm.normalization.scale.item() / 255
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as root:
        unpack_for_torchvision(args.data_dir, Path(root))
        theirs = torchvision_loader(Path(root), mean, std)
        num_batches = min(len(ours), len(theirs), args.limit_batches or len(ours))
        runs = interleave("data", {
            "lightning_dl": lambda: time_pass(ours, num_batches),
            "torchvision": lambda: time_pass(theirs, num_batches),
        }, args.repeats)
    return compare(f"data pass ({num_batches} batches)", runs, "torchvision", "lightning_dl", (">=", 10.0))


# --- the report -------------------------------------------------------------------------------------
def report(comparisons: list[Comparison], settings: dict[str, Any]) -> str:
    """A small table: the median epoch time of each contender and the ratio against its goal."""
    limit = settings["limit_batches"] or "all"
    lines = [f"lightning_dl overhead benchmark (threads={settings['threads']}, batch_size={DATA['batch_size']}, "
             f"epochs={settings['epochs']}, repeats={settings['repeats']}, batches={limit})",
             f"{'':28}{'median s':>10}{'kept':>8}"]
    for c in comparisons:
        for i, (name, median) in enumerate(c.median_s.items()):
            lines.append(f"{c.title if i == 0 else '':<28}{median:>10.3f}{len(c.kept[name]):>8}  {name}")
        verdict = "met" if c.met else "MISSED"
        lines.append(f"{'':28}{c.ratio:>10.3f}{'':8}  {c.ratio_name} (goal {c.goal}: {verdict})")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training run (the first is warm-up)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each contender, interleaved")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads")
    parser.add_argument("--limit-batches", type=int, default=None,
                        help="train and iterate only this many batches per epoch (a quick smoke run)")
    parser.add_argument("--data-dir", default="data", help="the DataModule's data_dir (falls back to the system copy)")
    parser.add_argument("--output", type=Path, default=None, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    for name in ("epochs", "repeats", "threads", "limit_batches"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return args


def quiet_lightning() -> None:
    """Keep the report readable: no Trainer banners, no advice about DataLoader workers for in-memory data."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_lightning()
    torch.set_num_threads(args.threads)
    dm = FashionMNISTDataModule(data_dir=args.data_dir, seed=SEED, **DATA)
    dm.setup("fit")
    comparisons = [benchmark_training(dm, args), benchmark_data(dm, args)]
    if torch.get_num_threads() != args.threads:
        print(f"warning: torch now uses {torch.get_num_threads()} threads, not {args.threads}", file=sys.stderr)
    settings = {"epochs": args.epochs, "repeats": args.repeats, "threads": args.threads,
                "limit_batches": args.limit_batches, "torch": torch.__version__, "pytorch_lightning": pl.__version__}
    print(report(comparisons, settings))
    if args.output is not None:
        results = {"settings": settings, "comparisons": [asdict(c) for c in comparisons]}
        args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
