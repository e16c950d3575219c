"""Few-shot accuracy on classes the embedding never saw: 2-/4-way, 1-/5-shot, with 95 % confidence intervals.

Trains one prototypical-network embedding on episodes of the training classes (Fashion-MNIST 0–5 by default),
then evaluates it on episodes of the held-out classes (6–9: shirt, sneaker, bag, ankle boot) in all four
settings, over ``--test-episodes`` episodes each with 15 queries per class, and prints a Markdown table
(accuracy ± 1.96·std/√episodes).

    python scripts/evaluate_fewshot.py --record              # the docs' table (about 4 CPU-minutes of one core in all)
    python scripts/evaluate_fewshot.py --dataset digits --train-episodes 300 --test-episodes 200
"""

from __future__ import annotations

import argparse
import functools
import os
import time
import warnings

import pytorch_lightning as pl
import torch

from lightning_dl.data import EpisodicDataModule
from lightning_dl.models import Conv4, PrototypicalNetwork
from lightning_dl.results import add_record_argument, make_record, write_record

SETTINGS = [(2, 1), (2, 5), (4, 1), (4, 5)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "digits"])
    parser.add_argument("--train-episodes", type=int, default=800, help="training budget, in episodes (steps)")
    parser.add_argument("--train-ways", type=int, default=6)
    parser.add_argument("--train-shots", type=int, default=5)
    parser.add_argument("--train-queries", type=int, default=5)
    parser.add_argument("--channels", type=int, default=32, help="filters of each Conv4 block")
    parser.add_argument("--test-episodes", type=int, default=600)
    parser.add_argument("--test-queries", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    add_record_argument(parser, "fewshot")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("WANDB_MODE", "disabled")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    pl.seed_everything(args.seed, verbose=False)

    per_epoch = 100
    data = EpisodicDataModule(dataset=args.dataset, ways=args.train_ways, shots=args.train_shots,
                              queries=args.train_queries, test_ways=4, test_shots=5, test_queries=args.test_queries,
                              episodes_per_epoch=per_epoch, val_episodes=50, test_episodes=args.test_episodes,
                              val_fraction=0.25 if args.dataset == "digits" else 0.1, seed=args.seed)
    model = PrototypicalNetwork(
        network=functools.partial(Conv4, channels=args.channels), input_shape=data.input_shape,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        lr_scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=max(1, args.train_episodes
                                                                                      // per_epoch // 2), gamma=0.5))
    trainer = pl.Trainer(max_epochs=-(-args.train_episodes // per_epoch), accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    start, cpu = time.perf_counter(), time.process_time()
    trainer.fit(model, datamodule=data)
    train_time, train_cpu = time.perf_counter() - start, time.process_time() - cpu
    validation = trainer.callback_metrics.get("val/accuracy")

    rows = []
    start, cpu = time.perf_counter(), time.process_time()
    for ways, shots in SETTINGS:
        data.episode_shapes["test"] = (ways, shots, args.test_queries)  # same data, same normalisation
        result = trainer.test(model, datamodule=data, verbose=False)[0]
        rows.append((ways, shots, result["test/accuracy"], result["test/accuracy_ci95"]))
    test_time, test_cpu = time.perf_counter() - start, time.process_time() - cpu

    names = ", ".join(data.test_class_names)
    print(f"\nPrototypical network (Conv4, {args.channels} channels, {model.embedding_size}-d embedding) trained on "
          f"{args.dataset} classes {list(data.train_classes)} for {trainer.global_step} episodes of "
          f"{args.train_ways}-way {args.train_shots}-shot {args.train_queries}-query in {train_time:.0f} s "
          f"wall, {train_cpu:.0f} s CPU ({args.threads} thread(s)); validation accuracy (4-way 5-shot, held-out "
          f"images of the training classes) {float(validation):.3f}. "
          f"Test: classes {list(data.test_classes)} ({names}), "
          f"{args.test_episodes} episodes × {args.test_queries} queries per class, {test_time:.0f} s wall, "
          f"{test_cpu:.0f} s CPU.\n")
    print("| setting | accuracy (95 % CI) |")
    print("|---|---|")
    for ways, shots, accuracy, ci in rows:
        print(f"| {ways}-way {shots}-shot | {100 * accuracy:.1f} ± {100 * ci:.1f} % |")

    if args.record:
        for record in records(rows, args, float(validation), train_time):
            write_record(args.record, record)
        print(f"\nRecorded {len(SETTINGS) // 2} rows in {args.record}")


def records(rows: list[tuple[int, int, float, float]], args: argparse.Namespace, validation: float,
            train_seconds: float) -> list[dict]:
    """One ``results/`` record per number of ways, its columns the shots' accuracy and 95 % interval (in %)."""
    table = args.record_table or (f"Prototypical network on {args.dataset}'s unseen classes: {args.train_episodes} "
                                  f"training episodes, {args.test_episodes} test episodes")
    by_ways: dict[int, dict[str, float]] = {}
    for ways, shots, accuracy, ci in rows:
        by_ways.setdefault(ways, {}).update({f"{shots}-shot accuracy %": round(100 * accuracy, 1),
                                             f"{shots}-shot 95 % CI": round(100 * ci, 1)})
    settings = {"arguments": vars(args) | {"record": str(args.record)}, "validation_accuracy": validation,
                "train_seconds": round(train_seconds, 1)}
    return [make_record("fewshot", table, f"{ways}-way", metrics, settings=settings)
            for ways, metrics in by_ways.items()]


if __name__ == "__main__":
    main()
