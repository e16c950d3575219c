"""Train every GAN variant from its config for the same budget and judge it with the frozen classifier.

Each variant in ``configs/gans/`` is trained in this process through the CLI (``cli_main``) on
Fashion-MNIST for the same number of real batches (``--batches``: discriminator steps; a variant with
``n_critic: 5`` takes a fifth as many generator steps), of generator steps (``--generator-steps``) or of
wall-clock minutes (``--minutes``; also a cap on the other two).
Then the judge of ``scripts/train_judge.py`` scores ``--samples`` generated images against as many real
test images:

- **FID**: torchmetrics' ``FrechetInceptionDistance`` with the judge's penultimate layer as its features
  (lower is better; the first row, real training vs real test images, is the floor);
- **min class share**: each class's share among the judge's predictions for samples drawn without asking
  for a class (random labels for CGAN/ACGAN, random codes for InfoGAN); a collapsed mode shows as a class
  with (almost) no share, a uniform generator gives 0.10 each;
- **conditional accuracy**: how often the judge recognises the requested class (CGAN, ACGAN), or, for
  InfoGAN, the class its discrete code was matched to (codes matched on one half of the samples, scored
  on the other).

CycleGAN trains on Fashion-MNIST ↔ its class-tinted copy and is judged on its translations of held-out
images (:func:`judge_translation`): its tinted → grey translations fill the three columns (the class is
that of the tinted source), and the note gives how often grey → tinted picks the class's colour and the
held-out cycle L1. ``--cyclegan-args`` are its extra CLI arguments (``--cli-args`` go to the others).

A variant whose config keeps an exponential moving average of the generator's weights (``ema_decay``, as
every single-generator config does) is judged twice: with the generator itself and with its average.
``--ema-variants`` gives the variants it names an average of decay ``--ema-decay`` (over their config's).
``--curve-every`` also measures FID (on ``--curve-samples`` images) every so many batches, to see how far a
variant is from converging.
``--resume`` continues each variant from the ``last.ckpt`` an earlier run under the same ``--output`` folder
left (its counters, optimisers and weight average restored), so a long schedule can be measured in pieces: the
budget counts from the start of the schedule, the wall time and the curve from the resumption. A run the budget
stopped mid-epoch was checkpointed there, so it resumes with its next batch.

    python scripts/train_judge.py                                   # first: runs/judge/judge.pt
    python scripts/evaluate_gans.py --batches 200                    # every variant, 200 real batches each
    python scripts/evaluate_gans.py --variants dcgan cgan --batches 20 --samples 500   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.cli import cli_main
from lightning_dl.data import UnpairedDataModule
from lightning_dl.data.unpaired import class_tints, tint_classes
from lightning_dl.errors import ConfigurationError
from lightning_dl.evaluation import (
    ClassifierFeatures,
    Judge,
    class_coverage,
    classifier_fid,
    conditional_accuracy,
    load_judge,
    match_codes_to_classes,
)
from lightning_dl.models import GAN, CycleGAN, InfoGAN
from lightning_dl.models.gans import ConditionalObjective
from lightning_dl.results import add_record_argument, make_record, write_record

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "gans"
VARIANTS = ["dcgan", "wgan", "wgan_gp", "lsgan", "cgan", "acgan", "infogan", "infogan_keras", "stackedgan", "cyclegan"]
#: The config of a variant whose name is not its config's: CycleGAN is judged on Fashion-MNIST ↔ its tinted copy.
CONFIG_NAMES = {"cyclegan": "cyclegan_fashion_mnist_rgb"}


@dataclass
class Result:
    """One row of the table."""

    variant: str
    budget: str
    generator_steps: int
    discriminator_steps: int
    train_seconds: float
    fid: float | None = None
    min_class_share: float | None = None
    conditional_accuracy: float | None = None
    class_shares: list[float] = field(default_factory=list)
    #: Conditional accuracy per requested class (conditional variants; the judge's own on real test images).
    class_accuracies: list[float] = field(default_factory=list)
    curve: list[dict[str, float]] = field(default_factory=list)
    note: str = ""
    #: Measures without a column of their own (CycleGAN's colour accuracy and cycle L1).
    extra: dict[str, Any] = field(default_factory=dict)


# --- sampling ---------------------------------------------------------------------------------------
@torch.no_grad()
def generate(model: GAN, generator: nn.Module, n: int, labels: Tensor | None = None,
             chunk: int = 500) -> tuple[Tensor, Tensor | None]:
    """``n`` images from ``generator`` (in eval mode) and the classes/codes they were drawn for (None for an
    unconditional GAN). ``labels``: the classes (CGAN, ACGAN) or discrete codes (InfoGAN) to ask for."""
    was_training = generator.training
    generator.eval()
    images, drawn = [], []
    for start in range(0, n, chunk):
        part = None if labels is None else labels[start:start + chunk]
        draw = model.objective.condition(min(chunk, n - start), part)
        images.append(model.objective.generate(draw, generator))
        if draw.labels is not None:
            drawn.append(draw.labels)
    generator.train(was_training)
    return torch.cat(images), (torch.cat(drawn) if drawn else None)


def judged_generators(model: GAN) -> dict[str, nn.Module]:
    """The networks a GAN is judged with: its ``"generator"``, and its weight ``"average"`` where it has one."""
    average = {} if model.generator_average is None else {"average": model.generator_average.module}
    return {"generator": model.generator, **average}


def judge_generator(model: GAN, generator: nn.Module, judge: ClassifierFeatures, real: Tensor,
                    num_classes: int) -> dict[str, Any]:
    """FID, class shares and (for conditional variants) conditional accuracy of one generator."""
    n = len(real)
    with torch.random.fork_rng():
        torch.manual_seed(1234)
        free, _ = generate(model, generator, n)
        scores: dict[str, Any] = {"fid": classifier_fid(judge, real, free).item(),
                                  **coverage_scores(judge, free, num_classes)}
        requested = torch.arange(n) % num_classes
        if isinstance(model.objective, ConditionalObjective):  # CGAN, ACGAN, StackedGAN
            images, _ = generate(model, generator, n, requested)
            scores.update(accuracy_scores(judge, images, requested, num_classes))
        elif isinstance(model, InfoGAN):
            images, codes = generate(model, generator, n, requested % model.objective.discrete_codes)
            half = n // 2  # match codes to classes on one half, score on the other
            mapping = match_codes_to_classes(judge, images[:half], codes[:half], num_classes)
            scores.update(accuracy_scores(judge, images[half:], mapping[codes[half:]], num_classes))
            scores["code_to_class"] = mapping.tolist()
    return scores


def coverage_scores(judge: ClassifierFeatures, images: Tensor, num_classes: int) -> dict[str, Any]:
    """The judge's class shares among ``images`` and the smallest, as a result's numbers."""
    shares = class_coverage(judge, images, num_classes)
    return {"class_shares": [round(s, 4) for s in shares.tolist()], "min_class_share": shares.min().item()}


def accuracy_scores(judge: ClassifierFeatures, images: Tensor, requested: Tensor, num_classes: int) -> dict[str, Any]:
    """The judge's accuracy on ``images`` of the ``requested`` classes, overall and per class, as a result's
    numbers."""
    accuracy = conditional_accuracy(judge, images, requested, num_classes)
    return {"conditional_accuracy": accuracy.accuracy.item(),
            "class_accuracies": [round(a, 4) for a in accuracy.per_class.tolist()]}


def weakest_class(class_accuracies: Sequence[float], class_names: Sequence[str]) -> str:
    """The class a conditional generator draws worst, for the table's note ("" without class accuracies)."""
    if not class_accuracies:
        return ""
    worst = min(range(len(class_accuracies)), key=class_accuracies.__getitem__)
    return f"weakest class {class_names[worst]} {class_accuracies[worst]:.3f}"


def judge_translation(model: CycleGAN, judge: ClassifierFeatures, data: UnpairedDataModule, n: int
                      ) -> dict[str, Any]:
    """CycleGAN on Fashion-MNIST ↔ its class-tinted copy, on ``n`` held-out images of each domain.

    B→A (tinted → grey) makes Fashion-MNIST images, judged like a conditional GAN's samples at the judge's
    28×28: FID against the held-out A images, class shares, and "conditional accuracy" = the judge finds the
    class of the tinted source image (the garment survived translation). A→B must recognise the garment to
    pick its colour: ``colour_accuracy`` is how often the translation's colour is its class's tint. Plus the
    held-out cycle L1 distances ``|F(G(a)) - a|`` and ``|G(F(b)) - b|`` (in the [-1, 1] data range)."""
    if data.hparams.pair != "fashion_mnist_rgb":
        raise ConfigurationError(f"CycleGAN is judged on the fashion_mnist_rgb pair (the judge knows Fashion-MNIST, "
                                 f"and the tints tell the classes), not on {data.hparams.pair!r}.")
    test, num_classes = data.test_set, len(class_tints())
    n = min(n, len(test.images_a), len(test.images_b))
    real_a, real_b = (images.to(model.device) for images in test.__getitems__(list(range(n))))
    to_b, to_a = model.translate(real_a, "a_to_b"), model.translate(real_b, "b_to_a")
    judged_real_a, judged_to_a = (F.interpolate(images, size=judge.image_shape[1:], mode="bilinear", antialias=True,
                                                align_corners=False) for images in (real_a, to_a))  # 32² -> 28²
    colours = tint_classes(data.normalization_b.inverse(to_b.cpu()))
    return {"fid": classifier_fid(judge, judged_real_a, judged_to_a).item(),
            **coverage_scores(judge, judged_to_a, num_classes),
            **accuracy_scores(judge, judged_to_a, test.labels_b[:n], num_classes),
            "colour_accuracy": (colours == test.labels_a[:n]).float().mean().item(),
            "cycle_l1_a": F.l1_loss(model.translate(to_b, "b_to_a"), real_a).item(),
            "cycle_l1_b": F.l1_loss(model.translate(to_a, "a_to_b"), real_b).item()}


# --- training under a budget ------------------------------------------------------------------------
class Budget(pl.Callback):
    """Stops training after ``batches`` real batches or ``minutes`` of training, whichever comes first (a
    generator-step budget is the model's own ``max_generator_steps``), and measures the generator's FID and
    class shares (and, for conditional variants, conditional accuracy) on ``len(real)`` images every
    ``curve_every`` batches: every score of :func:`judge_generator`, and its weight average's beside them
    (the same keys ending in ``_average``) where it has one (RNG forked: the run itself is unchanged)."""

    def __init__(self, batches: int | None, judge: ClassifierFeatures, real: Tensor | None, curve_every: int | None,
                 minutes: float | None, num_classes: int) -> None:
        self.batches, self.judge, self.real, self.num_classes = batches, judge, real, num_classes
        self.curve_every, self.minutes = curve_every, minutes
        self.curve: list[dict[str, float]] = []
        self.start = time.perf_counter()
        self.device = torch.device("cpu")  # where the model trained (Lightning hands it back on the CPU)
        self.resumed_at = 0  # real batches a resumed run had already trained

    def on_train_start(self, trainer: pl.Trainer, pl_module: GAN) -> None:
        self.start, self.device = time.perf_counter(), pl_module.device
        self.resumed_at = int(pl_module.discriminator_steps)  # restored from the checkpoint by now
        if trainer.ckpt_path:
            print(f"  resumed from {trainer.ckpt_path} at {self.resumed_at} batches", flush=True)
        if self.batches and self.resumed_at >= self.batches:  # a finished schedule takes no further batch
            trainer.should_stop = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: GAN, outputs: Any, batch: Any, batch_idx: int) -> None:
        batches, steps = int(pl_module.discriminator_steps), int(pl_module.generator_steps)
        due = self.curve_every and batches and batches % self.curve_every == 0
        if due and (not self.curve or self.curve[-1]["batches"] != batches):  # StackedGAN's encoder epochs: no steps
            point: dict[str, float] = {"batches": batches, "generator_steps": steps}
            for name, generator in judged_generators(pl_module).items():  # the same noise for both
                suffix = "" if name == "generator" else f"_{name}"
                scores = judge_generator(pl_module, generator, self.judge, self.real, self.num_classes)
                point.update({f"{key}{suffix}": round(value, 4) if isinstance(value, float) else value
                              for key, value in scores.items()})
            point["seconds"] = round(time.perf_counter() - self.start, 1)
            self.curve.append(point)
            accuracy = (f", conditional accuracy {point['conditional_accuracy']:.3f}"
                        if "conditional_accuracy" in point else "")
            average = (f"; its average's {point['fid_average']:.1f} ({point['min_class_share_average']:.3f})"
                       if "fid_average" in point else "")
            print(f"  {batches} batches, {steps} generator steps: FID {point['fid']:.1f} (smallest class "
                  f"{point['min_class_share']:.3f}{accuracy}){average} on {len(self.real)} samples", flush=True)
        out_of_time = self.minutes and time.perf_counter() - self.start >= 60 * self.minutes
        if (self.batches and batches >= self.batches) or out_of_time:
            trainer.should_stop = True


def build(variant: str, args: argparse.Namespace) -> Any:
    """The CLI of one variant from its config, instantiated but not run; its DataModule set up."""
    command = ["--config", str(CONFIGS / f"{CONFIG_NAMES.get(variant, variant)}.yaml"), "--trainer.accelerator", "cpu",
               "--trainer.devices", "1", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
               "--trainer.max_epochs", "1000", "--trainer.default_root_dir", str(args.output.parent / variant),
               "--data.init_args.data_dir", args.data_dir, "--seed_everything", str(args.seed)]
    if args.generator_steps:
        command += ["--model.init_args.max_generator_steps", str(args.generator_steps)]
    command += shlex.split(args.cyclegan_args if variant == "cyclegan" else args.cli_args)
    if variant in args.ema_variants:  # named for an average: after --cli-args, which cannot take it away
        command += ["--model.init_args.ema_decay", str(args.ema_decay)]
    cli = cli_main(command, run=False)
    cli.datamodule.setup("fit")
    return cli


def real_test_images(datamodule: pl.LightningDataModule, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` random test images, normalised as the generator's training data was, and their labels."""
    datamodule.setup("test")
    order = torch.randperm(len(datamodule.test_set), generator=torch.Generator().manual_seed(seed))[:n]
    images, labels = datamodule.test_set.__getitems__(order.tolist())
    return images, labels


def evaluate(variant: str, args: argparse.Namespace, saved_judge: Judge) -> list[Result]:
    """Train one variant under the budget and judge it (with and without the weight average for EMA variants)."""
    print(f"{variant}: training for {describe_budget(args)}", flush=True)
    cli = build(variant, args)
    model, data = cli.model, cli.datamodule
    translation = isinstance(model, CycleGAN)
    judge = saved_judge.features(image_normalization=data.normalization_a if translation else data.normalization)
    real, _ = (None, None) if translation else real_test_images(data, args.samples, args.seed)
    budget = Budget(args.batches, judge, None if translation else real[:args.curve_samples],  # no FID curve for
                    None if translation else args.curve_every, args.minutes, data.num_classes)  # a translation
    cli.trainer.callbacks.insert(0, budget)  # before the checkpoint, which then saves a stop where it is
    start = time.perf_counter()  # "last": the newest last.ckpt of the config's ModelCheckpoint (none: from scratch)
    cli.trainer.fit(model, data, ckpt_path="last" if args.resume else None)
    seconds = time.perf_counter() - start
    model.to(budget.device)  # judge where it trained: generating thousands of images is the costly part
    common = {"budget": describe_budget(args), "generator_steps": int(model.generator_steps),
              "discriminator_steps": int(model.discriminator_steps), "train_seconds": round(seconds, 1)}
    if translation:
        scores = judge_translation(model, judge, data, args.samples)
        extra = {name: scores.pop(name) for name in ("colour_accuracy", "cycle_l1_a", "cycle_l1_b")}
        note = (f"B→A judged; A→B colour accuracy {extra['colour_accuracy']:.3f}; held-out cycle L1 "
                f"A {extra['cycle_l1_a']:.3f} / B {extra['cycle_l1_b']:.3f}")
        return [Result(variant, **common, **scores, note=note, extra=extra)]
    resumed = f"resumed at {budget.resumed_at} batches" if budget.resumed_at else ""
    real = real.to(budget.device)
    results = []
    for role, generator in judged_generators(model).items():
        name = variant if role == "generator" else f"{variant} + EMA {model.generator_average.decay:g}"
        scores = judge_generator(model, generator, judge, real, data.num_classes)
        note = f"codes -> classes {scores.pop('code_to_class')}" if "code_to_class" in scores else ""
        if hasattr(model, "training_phase"):  # StackedGAN: labels -> features -> image in every phase
            note = f"ended in the {model.training_phase} phase (epoch {model.current_epoch})"
        curve = budget.curve if role == "generator" else []  # one curve, on the generator's row: its average's beside
        weakest = weakest_class(scores.get("class_accuracies", []), data.class_names)
        note = "; ".join(part for part in (resumed, note, weakest) if part)
        results.append(Result(name, **common, **scores, curve=curve, note=note))
        print(f"  {format_row(results[-1])}", flush=True)
    return results


def real_reference(args: argparse.Namespace, saved_judge: Judge) -> Result:
    """The row a perfect generator would reach: real training images judged against the real test images
    (FID), and the judge's class shares and accuracy on the real test images."""
    data = build(next((v for v in args.variants if v != "cyclegan"), "dcgan"), args).datamodule  # Fashion-MNIST
    judge = saved_judge.features(image_normalization=data.normalization)
    real, labels = real_test_images(data, args.samples, args.seed)
    train_images = data.train_set.__getitems__(list(range(args.samples)))[0]
    accuracies = accuracy_scores(judge, real, labels, data.num_classes)
    return Result("real images (reference)", "–", 0, 0, 0.0, fid=classifier_fid(judge, real, train_images).item(),
                  **coverage_scores(judge, real, data.num_classes), **accuracies,
                  note="FID: training vs test images; accuracy: the judge's on test images, "
                       + weakest_class(accuracies["class_accuracies"], data.class_names))


# --- the report -------------------------------------------------------------------------------------
def describe_budget(args: argparse.Namespace) -> str:
    parts = {"batches": args.batches, "G steps": args.generator_steps, "min": args.minutes}
    return " or ".join(f"{value:g} {unit}" for unit, value in parts.items() if value)


def number(value: float | None, digits: int) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def format_row(r: Result) -> str:
    if r.budget == "–":
        steps, wall = "–", "–"
    else:
        steps = f"{r.budget} ({r.generator_steps} G / {r.discriminator_steps} D steps)" if r.train_seconds else r.budget
        wall = f"{r.train_seconds / 60:.1f} min"
    return (f"| {r.variant} | {steps} | {wall} | {number(r.fid, 1)} | {number(r.min_class_share, 3)} | "
            f"{number(r.conditional_accuracy, 3)} | {r.note} |")


def table(results: list[Result]) -> str:
    lines = ["| variant | budget | wall time | FID ↓ | min class share | conditional accuracy | note |",
             "|---|---|---|---|---|---|---|"]
    return "\n".join(lines + [format_row(r) for r in results])


def records(results: list[Result], args: argparse.Namespace, judge_info: dict[str, Any],
            argv: list[str] | None = None) -> list[dict[str, Any]]:
    """One ``results/`` record per row of the table (:mod:`lightning_dl.results`); the curve, class shares and
    judge go into its settings."""
    command = None if argv is None else shlex.join(["python", "scripts/evaluate_gans.py", *argv])
    table_name = args.record_table or f"evaluate_gans.py, {describe_budget(args)}, {args.samples} samples"
    rows = []
    for r in results:
        metrics = {"FID ↓": r.fid, "min class share": r.min_class_share,
                   "conditional accuracy": r.conditional_accuracy}
        if r.train_seconds:
            metrics.update({"generator steps": r.generator_steps, "discriminator steps": r.discriminator_steps,
                            "minutes": round(r.train_seconds / 60, 1)})
        settings = {"budget": r.budget, "class_shares": r.class_shares, "class_accuracies": r.class_accuracies,
                    "curve": r.curve, "extra": r.extra, "judge": judge_info,
                    "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
        rows.append(make_record("gans", table_name, r.variant, metrics, command=command, settings=settings,
                                note=r.note))
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--batches", type=int, help="real batches (discriminator steps) per variant")
    budget.add_argument("--generator-steps", type=int, help="generator steps per variant")
    parser.add_argument("--minutes", type=float, help="training minutes per variant (alone, or a cap on the others)")
    parser.add_argument("--variants", nargs="+", default=VARIANTS,
                        help=f"config names in configs/gans (default: {' '.join(VARIANTS)})")
    parser.add_argument("--judge", type=Path, default=Path("runs/judge/judge.pt"), help="made by train_judge.py")
    parser.add_argument("--samples", type=int, default=5000, help="generated and real images per measurement")
    parser.add_argument("--ema-variants", nargs="*", default=[],
                        help="given a generator average of --ema-decay (judged with and without it)")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--curve-every", type=int, default=None, help="also measure FID every this many batches")
    parser.add_argument("--curve-samples", type=int, default=1000, help="images per curve point")
    parser.add_argument("--cli-args", default="", help="extra CLI arguments for every variant but CycleGAN, one string")
    parser.add_argument("--cyclegan-args", default="", help="extra CLI arguments for CycleGAN (other networks)")
    parser.add_argument("--resume", action="store_true",
                        help="continue each variant from its last.ckpt under the --output folder, where there is one")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (a shared machine: 1)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", default="data", help="the DataModule's data_dir (falls back to the system copy)")
    parser.add_argument("--output", type=Path, default=Path("runs/gan_eval/results.json"), help="JSON results")
    add_record_argument(parser, "gans")
    args = parser.parse_args(argv)
    if not (args.batches or args.generator_steps or args.minutes):
        parser.error("give a budget: --batches, --generator-steps or --minutes")
    if args.minutes is not None and args.minutes <= 0:
        parser.error(f"--minutes must be positive, got {args.minutes}")
    for name in ("batches", "generator_steps", "samples", "curve_every", "curve_samples", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.samples < 2 or (args.curve_every and args.curve_samples > args.samples):
        parser.error("--samples must be at least 2 and at least --curve-samples")
    return args


def quiet_lightning() -> None:
    """Keep the report readable: no Trainer banners or advice about workers for in-memory data."""
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    for message in (".*does not have many workers.*", ".*val_dataloader.*", ".*Unable to serialize.*",
                    ".*LeafSpec.*", ".*args parameter is intended.*"):
        warnings.filterwarnings("ignore", message=message)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_lightning()
    torch.set_num_threads(args.threads)
    saved_judge = load_judge(args.judge)
    start = time.perf_counter()
    results: list[Result] = [real_reference(args, saved_judge)]
    for variant in args.variants:
        results.extend(evaluate(variant, args, saved_judge))
    print()
    print(table(results))
    print(f"\nJudge: {Path(saved_judge.info.get('config', '?')).name}, {saved_judge.info.get('epochs', '?')} epochs, "
          f"test accuracy {number(saved_judge.info.get('test_accuracy'), 4)}. {args.samples} generated vs "
          f"{args.samples} real test images per measurement; {args.threads} thread(s); "
          f"{(time.perf_counter() - start) / 60:.1f} min in all.")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "judge": saved_judge.info, "results": [asdict(r) for r in results],
        "table": table(results)}, indent=2) + "\n")
    print(f"Written to {args.output}")
    if args.record:
        for record in records(results, args, saved_judge.info, argv):
            write_record(args.record, record)
        print(f"Recorded {len(results)} rows in {args.record}")


if __name__ == "__main__":
    main()
