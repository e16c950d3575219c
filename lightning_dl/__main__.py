"""The ``lightning-dl`` console script (``python -m lightning_dl`` is the same command).

    lightning-dl fit --config configs/classifiers/cnn_digits.yaml
    lightning-dl kfold --config configs/workflow/kfold_diabetes.yaml --folds 4
    lightning-dl configs                      # the configs the package ships, by name

It sits above both :mod:`lightning_dl.cli` (Lightning's subcommands) and :mod:`lightning_dl.workflow` (``kfold``),
which itself builds on the CLI: nothing below imports this module.
"""

from __future__ import annotations

import sys

import torch

from lightning_dl.callbacks import RunStopped
from lightning_dl.cli import cli_main
from lightning_dl.cli_errors import user_errors_reported
from lightning_dl.configs import configs_main, resolve_config_arguments
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
    if sys.argv[1:2] == ["configs"]:  # list or copy the shipped configs
        configs_main(sys.argv[2:])
        return
    with user_errors_reported():  # a user's mistake: one `error:` line, status 2 (lightning_dl.cli_errors)
        sys.argv[1:] = resolve_config_arguments(sys.argv[1:])  # a shipped config by name: classifiers/cnn_digits
        try:
            if sys.argv[1:2] == ["kfold"]:
                kfold_main(sys.argv[2:])
            else:
                cli_main()
        except RunStopped:  # stopped by a signal: every rank stopped at the same batch
            _destroy_process_group()
            raise
    _destroy_process_group()


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
