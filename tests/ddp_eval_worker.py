"""A 2-process DDP evaluation on the CPU, launched by test_ddp_data.py as its own script.

Lightning's ``ddp`` strategy starts rank 1 by re-running this command line, which is why this is a
script and not a test function. It loads the weights the test saved, validates, tests and predicts on
odd-sized sets, and each rank writes what it saw.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from data_helpers import TinyClassifier
from lightning_dl.data import TabularDataModule


def odd_table() -> TabularDataModule:
    """61 training rows (13 validate), 41 test rows: no set divides by 2 processes."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(102, 5)).astype(np.float32)
    features[:, 0] = np.arange(102)  # a unique id per row, to see which rows each process evaluated
    targets = (features[:, 1] + 0.5 * rng.normal(size=102) > 0).astype(np.int64)
    return TabularDataModule(features=features[:61], targets=targets[:61], test_features=features[61:],
                             test_targets=targets[61:], val_fraction=0.2, batch_size=8)


def main(out_dir: Path) -> None:
    dm = odd_table()
    model = TinyClassifier(5, 2)
    model.load_state_dict(torch.load(out_dir / "weights.pt"))
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    metrics = {}
    for run in (trainer.validate, trainer.test):
        run(model, datamodule=dm, verbose=False)
        metrics.update({k: v.item() for k, v in trainer.callback_metrics.items()})
    predictions = trainer.predict(model, datamodule=dm)
    report = {"rank": trainer.global_rank, "world_size": trainer.world_size, "metrics": metrics,
              "val_ids": model.seen["val"][-1], "test_ids": model.seen["test"][-1],
              "predicted": int(sum(len(p) for p in predictions))}
    (out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    torch.distributed.destroy_process_group()  # as lightning_dl.__main__.main does: a clean exit for Gloo's threads
