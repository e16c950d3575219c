"""Train every autoencoder variant from its config for a fixed wall-clock budget and measure it on held-out data.

Each variant of ``configs/autoencoders/`` is built in this process through the CLI (``cli_main``), trained
until this process has used its budget of **CPU time** (``--cpu-minutes``: ``time.process_time``, so a busy
shared machine stretches the wall time, not the training; a wall-clock cap of ``--wall-factor`` × the budget
stops it anyway), without validation (nothing is early-stopped: the budget is the schedule), then tested on
the whole test set:

- reconstruction PSNR (dB) of every variant on the Fashion-MNIST test set (colourisation: on the crops of
  the held-out photographs);
- the denoiser's PSNR gain over its noisy input;
- the classifier autoencoder's test accuracy, beside the plain CNN (``configs/classifiers/cnn_fashion_mnist.yaml``)
  trained for a budget of its own (``--cnn-minutes``; 0 skips it);
- colourisation PSNR against the trivial "grey in, grey out" baseline (the grey input repeated over R, G, B);
- the VAE's test ELBO in nats per image, and ``--samples`` of its prior samples judged with the project's
  Fashion-MNIST judge (FID on the judge's penultimate features and each class's share), beside DCGAN
  (``configs/gans/dcgan.yaml``) trained for ``--dcgan-minutes`` of CPU and judged the same way. The judge is
  ``--judge`` if it exists, else trained first with ``scripts/train_judge.py --epochs --judge-epochs``
  (0: no judging).

The raw numbers go to ``--output`` (JSON: command, commit, date, machine, versions, budgets, numbers; rewritten
after every step, so a run cut short keeps what it measured); ``--record`` appends one record per measured row
to ``results/autoencoders.jsonl`` (:mod:`lightning_dl.results`; the docs' results tables) and the pictures (reconstruction grids, the 2-D
latent plots, VAE prior samples, DCGAN samples) to ``--images``.

Budget: the defaults add up to about 6.5 CPU-minutes of training (the variants 5, the judge's 100 batches
about 1, the CNN 0.6; DCGAN off) plus data loading and testing, well under the 25 CPU-minutes this benchmark
may take on a shared machine: on a 2-core machine loaded 6-7 times over, that is ~50 minutes of wall time. On a 2-core machine loaded by others, ``--threads 1`` is the efficient choice: two threads
spin-wait for each other (measured at load 13: 0.84 CPU-s a batch at 2 threads, 0.20 at 1).

    python scripts/benchmark_autoencoders.py --threads 1 --record    # the defaults: a quick look
    python scripts/benchmark_autoencoders.py --threads 1 --budget-scale 3 --cnn-minutes 1.8 --dcgan-minutes 5 \
        --judge-epochs 3 --judge-batches 0 --record    # the recorded run: ~30 minutes on one core
    python scripts/benchmark_autoencoders.py --variants denoising --cpu-minutes 0.5 --cnn-minutes 0 --judge-epochs 0
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

from lightning_dl.callbacks import LatentPlots
from lightning_dl.callbacks.samples import save_grid
from lightning_dl.cli import cli_main
from lightning_dl.data import load_fashion_mnist
from lightning_dl.results import (PACKAGES, add_record_argument, git_commit, machine_info, make_record,
                                  package_versions, write_record)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "autoencoders"
VARIANTS = ["autoencoder", "autoencoder_2d", "denoising", "classifier_autoencoder", "vae", "colourisation"]
#: CPU-minutes of training per variant.
MINUTES = {"autoencoder": 0.6, "autoencoder_2d": 0.6, "denoising": 0.6, "classifier_autoencoder": 0.6, "vae": 0.8,
           "colourisation": 1.2}
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu",
         "--trainer.enable_model_summary", "false", "--trainer.limit_val_batches", "0"]


class CPUTimeLimit(pl.Callback):
    """Stop training once this process has used ``minutes`` of CPU time since training started."""

    def __init__(self, minutes: float) -> None:
        self.seconds, self.start, self.used = minutes * 60, 0.0, 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.process_time()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self.used = time.process_time() - self.start
        if self.used >= self.seconds:
            trainer.should_stop = True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    parser.add_argument("--cpu-minutes", type=float, default=None, help="CPU-minutes of training of every variant "
                        f"(default per variant: {MINUTES})")
    parser.add_argument("--budget-scale", type=float, default=1.0, help="multiplies every default per-variant "
                        "budget (ignored with --cpu-minutes)")
    parser.add_argument("--wall-factor", type=float, default=10.0, help="wall-clock cap: this many times the budget")
    parser.add_argument("--cnn-minutes", type=float, default=0.6, help="the plain CNN's CPU budget (0: skip)")
    parser.add_argument("--dcgan-minutes", type=float, default=0.0, help="DCGAN's CPU budget (0: skip; its "
                        "samples need far more than this benchmark's budget to be worth judging)")
    parser.add_argument("--judge", type=Path, default=Path("runs/judge_autoencoders/judge.pt"))
    parser.add_argument("--judge-epochs", type=int, default=1, help="epochs of a judge trained when --judge is "
                        "missing (0: no judging)")
    parser.add_argument("--judge-batches", type=int, default=100, help="training batches per epoch of that judge "
                        "(0: the whole epoch)")
    parser.add_argument("--samples", type=int, default=5000, help="generated and real images the judge compares")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--cli-args", default="", help="extra CLI arguments for every run, one string")
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmark_autoencoders"))
    parser.add_argument("--output", type=Path, default=Path("runs/benchmark_autoencoders/numbers.json"),
                        help="the raw numbers as JSON")
    add_record_argument(parser, "autoencoders")
    parser.add_argument("--images", type=Path, default=REPO / "docs" / "images" / "autoencoders")
    return parser.parse_args(argv)


def budget(minutes: float) -> str:
    """Lightning's ``max_time`` (``DD:HH:MM:SS``) of a number of minutes."""
    seconds = int(round(minutes * 60))
    return f"00:{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def train(config: Path, minutes: float, wall_factor: float, folder: Path, extra: list[str]) -> tuple[Any, dict[str, Any]]:
    """Fit ``config`` for ``minutes`` of CPU time, then test it (if it has a test step); the CLI and its numbers."""
    start = time.perf_counter()
    cli = cli_main(["--config", str(config), "--trainer.max_time", budget(minutes * wall_factor), *QUIET,
                    "--trainer.default_root_dir", str(folder), *extra], run=False)
    limit = CPUTimeLimit(minutes)
    cli.trainer.callbacks.append(limit)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    train_seconds = time.perf_counter() - start
    numbers = {"cpu_minutes_budget": minutes, "cpu_seconds_training": round(limit.used, 1),
               "wall_seconds_training": round(train_seconds, 1), "batches": cli.trainer.fit_loop.epoch_loop.total_batch_idx + 1}
    numbers["epochs"] = round(numbers["batches"] / max(1, cli.trainer.num_training_batches), 2)
    if type(cli.model).test_step is not pl.LightningModule.test_step:
        cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
        numbers.update({key: round(float(value), 4) for key, value in cli.trainer.callback_metrics.items()
                        if key.startswith("test/")})
    return cli, numbers


def fixed_test_images(datamodule: Any, count: int = 10) -> torch.Tensor:
    """``count`` test images, one per class where the test set has labels."""
    test = datamodule.test_set
    if test.targets is None or test.targets.dim() != 1:
        return test.inputs[:count]
    labels = test.targets.numpy()
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)[:count]]
    return test.inputs[firsts]


@torch.no_grad()
def save_pictures(variant: str, cli: Any, images: Path) -> list[str]:
    """The variant's test-image reconstruction grid, its latent plots and prior samples, as PNGs."""
    model = cli.model.eval()
    clean = fixed_test_images(cli.datamodule).to(model.device)
    torch.manual_seed(0)
    model.grid_images = (model.corruption(clean), clean)
    saved = []
    for name, grid in model.sample_grids().items():
        saved.append(save_grid(grid, images / f"{variant}_{name}.png", nrow=len(clean)))
    for callback in cli.trainer.callbacks:
        if isinstance(callback, LatentPlots):
            for path in callback.saved[-2:]:
                saved.append(Path(shutil.copy(path, images / f"{variant}_latent_{path.name}")))
    return [str(path.relative_to(REPO) if path.is_relative_to(REPO) else path) for path in saved]


def judge_samples(judge_path: Path, samples: dict[str, tuple[torch.Tensor, tuple[float, float]]], n: int
                  ) -> dict[str, Any]:
    """FID and class shares of each set of generated images (with the normalisation they are in) against ``n``
    real test images; the first row is real training against real test images."""
    from lightning_dl.evaluation import class_coverage, classifier_fid, load_judge

    judge = load_judge(judge_path)
    arrays = load_fashion_mnist("data", download=False)
    pixels = {split: torch.as_tensor(images[:n]).float().permute(0, 3, 1, 2)
              for split, images in (("train", arrays.train_images), ("test", arrays.test_images))}
    rows = {"real training vs real test images": (pixels["train"] / 255, (0.0, 255.0))}
    rows.update(samples)
    results = {"judge": str(judge_path), "judge_test_accuracy": judge.info.get("test_accuracy"),
               "judge_epochs": judge.info.get("epochs"), "images": n}
    for name, (images, (shift, scale)) in rows.items():
        features = judge.features((shift, scale))
        real = (pixels["test"] - shift) / scale
        shares = class_coverage(features, images, 10)
        results[name] = {"fid": round(float(classifier_fid(features, real, images)), 3),
                         "class_shares": [round(float(s), 4) for s in shares],
                         "min_class_share": round(float(shares.min()), 4)}
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    command = [Path(sys.argv[0]).name if argv is None else "benchmark_autoencoders.py", *(sys.argv[1:] if argv is None else argv)]
    sys.argv = sys.argv[:1]  # the CLI runs below read their own arguments, not this script's
    torch.set_num_threads(args.threads)
    extra = shlex.split(args.cli_args)
    args.images.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    record: dict[str, Any] = {
        "command": shlex.join(["python", "scripts/benchmark_autoencoders.py", *command[1:]]),
        "commit": git_commit() or "unknown", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(), "versions": package_versions((*PACKAGES, "scikit-image", "scikit-learn")), "results": {}}

    def write() -> None:
        record["total_wall_seconds"] = round(time.perf_counter() - start, 1)
        record["total_cpu_seconds"] = round(time.process_time(), 1)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(record, indent=2) + "\n")

    def run(name: str, config: Path, minutes: float) -> Any:
        cli, numbers = train(config, minutes, args.wall_factor, args.runs / name, extra)
        record["results"][name] = numbers
        print(f"{name}: {json.dumps(numbers)}", flush=True)
        return cli

    models = {}
    for variant in args.variants:
        cli = run(variant, CONFIGS / f"{variant}.yaml", args.cpu_minutes or round(MINUTES[variant] * args.budget_scale, 3))
        numbers = record["results"][variant]
        numbers["pictures"] = save_pictures(variant, cli, args.images)
        if "test/input_psnr" in numbers:
            numbers["psnr_gain_over_input"] = round(numbers["test/psnr"] - numbers["test/input_psnr"], 3)
        models[variant] = cli.model
        write()
    judging = args.judge.exists() or args.judge_epochs > 0
    if judging and not args.judge.exists():
        sys.path.insert(0, str(REPO / "scripts"))
        import train_judge  # noqa: E402  (a script beside this one)

        judge_start, judge_cpu = time.perf_counter(), time.process_time()
        limit = ["--cli-args", f"--trainer.limit_train_batches {args.judge_batches}"] if args.judge_batches else []
        train_judge.main(["--epochs", str(args.judge_epochs), "--threads", str(args.threads), "--output", str(args.judge),
                          *limit])
        record["judge_training"] = {"epochs": args.judge_epochs, "batches_per_epoch": args.judge_batches, "wall_seconds": round(time.perf_counter() - judge_start, 1),
                                    "cpu_seconds": round(time.process_time() - judge_cpu, 1)}
    samples: dict[str, tuple[torch.Tensor, tuple[float, float]]] = {}
    if "vae" in models:
        torch.manual_seed(0)
        with torch.no_grad():
            samples["VAE prior samples"] = (torch.cat([models["vae"].eval().sample(500)
                                                       for _ in range(args.samples // 500)]), (0.0, 255.0))
    if judging and samples:
        record["judged"] = judge_samples(args.judge, samples, args.samples)
        write()
    if args.cnn_minutes > 0:
        run("cnn_classifier", REPO / "configs/classifiers/cnn_fashion_mnist.yaml", args.cnn_minutes)
        write()
    if args.dcgan_minutes > 0:
        sys.path.insert(0, str(REPO / "scripts"))
        from evaluate_gans import generate  # noqa: E402  (a script beside this one)

        cli = run("dcgan", REPO / "configs/gans/dcgan.yaml", args.dcgan_minutes)
        generated, _ = generate(cli.model, cli.model.generator, args.samples)
        save_grid((generated[:100] + 1) / 2, args.images / "dcgan_samples.png", nrow=10)
        if judging:
            record.setdefault("judged", {}).update({k: v for k, v in judge_samples(
                args.judge, {"DCGAN samples": (generated, (127.5, 127.5))}, args.samples).items()
                if k.startswith("DCGAN")})
        write()
    write()
    print(json.dumps(record, indent=2))
    if args.record:
        for row in records(record, args.record_table, command=record["command"]):
            write_record(args.record, row)
        print(f"Recorded the rows in {args.record}")
    return record


#: Row labels of the variants (the config each one trains).
ROWS = {"autoencoder": "plain (autoencoder.yaml, latent 16)", "autoencoder_2d": "2-D latent (autoencoder_2d.yaml)",
        "denoising": "denoising (denoising.yaml), noisy input → clean",
        "classifier_autoencoder": "classifier autoencoder (classifier_autoencoder.yaml)",
        "vae": "VAE (vae.yaml, latent 2), posterior mean decoded",
        "colourisation": "colourisation (colourisation.yaml), held-out photographs",
        "cnn_classifier": "plain CNN (classifiers/cnn_fashion_mnist.yaml), for comparison",
        "dcgan": "DCGAN (gans/dcgan.yaml)"}
#: Metric columns: name in the table ← key of a variant's numbers.
COLUMNS = {"CPU-min budget": "cpu_minutes_budget", "batches": "batches", "epochs": "epochs", "test MSE": "test/mse",
           "test PSNR dB": "test/psnr", "input's PSNR dB": "test/input_psnr", "gain dB": "psnr_gain_over_input",
           "test accuracy": "test/accuracy", "test ELBO nats": "test/elbo"}


def records(record: dict[str, Any], table: str | None = None, note: str = "", **fixed: Any) -> list[dict[str, Any]]:
    """The ``results/`` records of one run's numbers (``record``, as :func:`main` returns it): one row per trained
    variant, and one per judged set of images. ``fixed`` (command, commit, date, machine, versions) overrides what
    :func:`~lightning_dl.results.make_record` would read from this process; ``note`` is added to every row's."""
    table = table or ("Each variant after its CPU-time budget (training only, no validation), tested on the "
                      "whole test set")
    rows = []
    for name, numbers in record["results"].items():
        metrics = {column: round(numbers[key], 4) if isinstance(numbers[key], float) else numbers[key]
                   for column, key in COLUMNS.items() if numbers.get(key) is not None}
        settings = {key: numbers[key] for key in ("cpu_seconds_training", "wall_seconds_training", "pictures")
                    if key in numbers}
        budget = (f"trained until the process had used {numbers['cpu_minutes_budget']:g} CPU-minutes "
                  f"({numbers['epochs']} epochs)")
        rows.append(make_record("autoencoders", table, ROWS.get(name, name), metrics, settings=settings,
                                note=" ".join(filter(None, [budget + ".", note])), **fixed))
    judged = record.get("judged") or {}
    if judged:
        judge_table = (f"Generated images judged by a Fashion-MNIST judge ({judged['judge_epochs']} epoch(s), test "
                       f"accuracy {judged['judge_test_accuracy']:.3f}), {judged['images']} against "
                       f"{judged['images']} real test images")
        for name, numbers in judged.items():
            if isinstance(numbers, dict):
                metrics = {"FID ↓": numbers["fid"], "smallest class share": numbers["min_class_share"],
                           "each class's share (T-shirt … Ankle boot)": ", ".join(map(str, numbers["class_shares"]))}
                rows.append(make_record("autoencoders", judge_table, name, metrics,
                                        settings={"judge": judged["judge"], **record.get("judge_training", {})},
                                        note=note, **fixed))
    return rows


if __name__ == "__main__":
    main()
