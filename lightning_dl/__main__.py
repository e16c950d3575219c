"""The ``lightning-dl`` console script (``python -m lightning_dl`` is the same command).

    lightning-dl fit --config configs/classifiers/cnn_digits.yaml
    lightning-dl kfold --config configs/workflow/kfold_diabetes.yaml --folds 4

It sits above both :mod:`lightning_dl.cli` (Lightning's subcommands) and :mod:`lightning_dl.workflow` (``kfold``),
which itself builds on the CLI: nothing below imports this module.
"""

from __future__ import annotations

import sys

import torch

from lightning_dl.callbacks import RunStopped
from lightning_dl.cli import cli_main
from lightning_dl.workflow.command import kfold_main


def main() -> None:
    """Entry point of the ``lightning-dl`` console script; ``lightning-dl kfold ...`` runs k-fold cross-validation
    (:mod:`lightning_dl.workflow.command`), every other subcommand is Lightning's.

    A finished DDP run destroys its process group before the interpreter exits: left to the interpreter's
    shutdown, Gloo's worker threads now and then abort a run that succeeded (SIGABRT, "terminate called without
    an active exception"; pytorch/pytorch#179291). So does a run stopped by a signal (every rank stopped at the
    same batch), which exits with 128 + the signal's number. A run that failed keeps its group, since destroying
    it while another rank may still be in a collective can hang.
    """
    try:
        if sys.argv[1:2] == ["kfold"]:
            kfold_main(sys.argv[2:])
        else:
            cli_main()
    except RunStopped:
        _destroy_process_group()
        raise
    _destroy_process_group()


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
