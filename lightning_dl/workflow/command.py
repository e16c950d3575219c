"""``lightning-dl kfold``: k-fold cross-validation from the command line.

    lightning-dl kfold --config configs/workflow/kfold_diabetes.yaml --folds 4
    lightning-dl kfold --config configs/classifiers/cnn_digits.yaml --folds 5 --ema 0.6 --trainer.max_epochs 20

The k-fold options are read here; every other argument (``--config`` files, ``--trainer.*``, ``--model.*``,
``--data.*`` overrides) goes, in its order, to ``lightning-dl fit`` for each fold.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lightning_dl.workflow.cross_validation import KFoldError, run_kfold

#: The options of ``kfold`` itself; everything else is passed to ``fit``.
OWN_OPTIONS = ("--folds", "--output", "--ema", "--metric", "--mode", "--early_stopping")


def kfold_parser() -> argparse.ArgumentParser:
    """The parser of the ``kfold`` options (``--config`` and overrides are listed for ``--help`` only)."""
    parser = argparse.ArgumentParser(
        prog="lightning-dl kfold",
        description="K-fold cross-validation of a config: a fresh model per fold (stratified folds for classes, "
                    "shuffled for regression targets), the folds' validation curves averaged and smoothed with an "
                    "exponential moving average, the best epoch of that curve chosen, then a final model trained "
                    "on the whole training set for that many epochs and tested. Writes summary.json and curves.png; "
                    "rerunning with the same --output resumes at the first unfinished fold.",
        epilog="Any other argument (--trainer.max_epochs 50, --model.init_args.optimizer.init_args.lr 0.01, ...) "
               "is passed to `lightning-dl fit` for every fold, in order with the --config files.")
    parser.add_argument("--config", action="append", metavar="X.yaml",
                        help="A config of `lightning-dl fit` (repeatable); its model must monitor a validation value.")
    parser.add_argument("--folds", type=int, default=5, help="Number of folds (default 5).")
    parser.add_argument("--output", default=None,
                        help="Results folder (default runs/kfold/<config name>); the same folder resumes a run.")
    parser.add_argument("--ema", type=float, default=0.6,
                        help="Smoothing factor of the exponential moving average of the averaged curve (default 0.6).")
    parser.add_argument("--metric", default=None, help="Validation key to choose the epoch by (default: the model's "
                                                       "monitor, e.g. val/loss).")
    parser.add_argument("--mode", choices=("min", "max"), default=None,
                        help="Whether lower or higher --metric is better (default: the model's monitor_mode).")
    parser.add_argument("--early_stopping", action="store_true",
                        help="Keep the config's early stopping in the folds (default: every fold trains max_epochs).")
    return parser


def split_arguments(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(kfold options, arguments for fit)``, each in its original order."""
    own, passed = [], []
    tokens = iter(argv)
    for token in tokens:
        name = token.split("=", 1)[0]
        if name not in OWN_OPTIONS:
            passed.append(token)
            continue
        own.append(token)
        if "=" not in token and name != "--early_stopping":
            own.append(next(tokens, ""))
    return own, passed


def kfold_main(argv: Sequence[str] | None = None) -> dict:
    """Run ``lightning-dl kfold`` on ``argv`` (the command line after ``kfold`` when ``None``); return the summary.

    Exits with status 2 on a usage error and 1 when folds failed (the finished ones are kept).
    """
    argv = list(sys.argv[2:] if argv is None else argv)
    parser = kfold_parser()
    if "-h" in argv or "--help" in argv:
        parser.print_help()
        raise SystemExit(0)
    own, passed = split_arguments(argv)
    options = parser.parse_args(own)
    if not any(a == "--config" or a.startswith(("--config=", "--model")) for a in passed):
        parser.error("give the config to cross-validate: --config X.yaml")
    try:
        return run_kfold(passed, options.folds, options.output, options.ema, options.metric, options.mode,
                         options.early_stopping)
    except KFoldError as error:
        print(f"lightning-dl kfold: {error}", file=sys.stderr)
        raise SystemExit(1) from None
