"""Train, freeze and save the classifier that judges the GANs (``lightning_dl.evaluation``).

No Inception weights can be downloaded here, so generated Fashion-MNIST images are judged by the project's
best Fashion-MNIST classifier: the compact net of ``configs/classifiers/fast_fashion_mnist.yaml`` (the fast
recipe: ~0.94 test accuracy after its 12 epochs). It is trained through the CLI like any config, tested on
the 10,000 test images (the best-validation checkpoint where the config validates, else the last), then
saved with the normalisation its inputs had, so ``load_judge(path).features(image_normalization)`` reads
generated images correctly. The judge classifies single images: the recipe's flip test-time augmentation is
in the reported test accuracy, not in the judge.

    python scripts/train_judge.py                                   # the config's 12 epochs, runs/judge/judge.pt
    python scripts/train_judge.py --epochs 3 --threads 2            # a quicker, weaker judge
    python scripts/train_judge.py --config configs/classifiers/cnn_fashion_mnist.yaml   # another classifier
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

import torch

from lightning_dl.cli import cli_main
from lightning_dl.evaluation import save_judge

CONFIG = Path(__file__).resolve().parents[1] / "configs/classifiers/fast_fashion_mnist.yaml"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the config's)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (a shared machine: 1)")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the classifier's config")
    parser.add_argument("--output", type=Path, default=Path("runs/judge/judge.pt"), help="where the judge goes")
    parser.add_argument("--cli-args", default="", help="extra CLI arguments, one string (e.g. '--trainer.accelerator gpu')")
    parser.add_argument("--data-dir", default="data", help="the DataModule's data_dir (falls back to the system copy)")
    args = parser.parse_args(argv)
    if (args.epochs is not None and args.epochs < 1) or args.threads < 1:
        parser.error("--epochs and --threads must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    extra = shlex.split(args.cli_args)
    epochs = [] if args.epochs is None else ["--trainer.max_epochs", str(args.epochs)]
    cli = cli_main(["fit", "--config", str(args.config), *epochs, *extra,
                    "--trainer.default_root_dir", str(args.output.parent), "--trainer.logger", "false",
                    "--trainer.enable_progress_bar", "false", "--data.init_args.data_dir", args.data_dir])
    seconds = time.perf_counter() - start
    accuracy = float(cli.trainer.callback_metrics["test/accuracy"])  # after fit, the best checkpoint is tested
    model, data = cli.model, cli.datamodule
    network_config = cli.config["fit"]["model"]["init_args"]["network"]  # class_path + init_args: what builds it
    save_judge(args.output, model.network, data.normalization, model.input_shape,
               init_args=network_config.init_args.as_dict() if network_config.get("init_args") else {}, dataset=type(data).__name__,
               config=str(args.config), epochs=cli.trainer.current_epoch, test_accuracy=accuracy, train_seconds=round(seconds, 1),
               threads=args.threads, class_names=list(model.class_names))
    print(f"judge: {args.config.name}, {cli.trainer.current_epoch} epochs, {seconds / 60:.1f} min on {args.threads} thread(s), "
          f"test accuracy {accuracy:.4f} -> {args.output}")


if __name__ == "__main__":
    main()
