"""A callback the two-node test (test_multinode.py) adds to ``lightning-dl fit`` by class path: each process
writes its final weights and where it ran, so the test can compare the nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytorch_lightning as pl
import torch


class SaveFinalWeights(pl.Callback):
    """At the end of fit, write ``rank<global rank>.pt`` (the module's ``state_dict``) and ``rank<global rank>.json``
    (world size, node rank, local rank, global step) to ``dirpath``.

    Args:
        dirpath: Folder the files go to.
    """

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        rank = trainer.global_rank
        torch.save({k: v.detach().cpu() for k, v in pl_module.state_dict().items()}, self.dirpath / f"rank{rank}.pt")
        report = {"world_size": trainer.world_size, "num_nodes": trainer.num_nodes, "node_rank": trainer.node_rank,
                  "local_rank": trainer.local_rank, "global_step": trainer.global_step,
                  "environment": type(trainer.strategy.cluster_environment).__name__}
        (self.dirpath / f"rank{rank}.json").write_text(json.dumps(report))
