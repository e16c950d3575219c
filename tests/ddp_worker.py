"""A 2-process DDP run on the CPU, launched by test_ddp.py as its own script.

Lightning's ``ddp`` strategy starts rank 1 by re-running this command line, which is why this is a
script and not a test function (inside pytest it would re-run pytest). Each rank writes what it saw.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightning_dl.data import DigitsDataModule
from lightning_dl.models import Classifier
from lightning_dl.nn import CNN


def main(out_dir: Path) -> None:
    pl.seed_everything(7)
    dm = DigitsDataModule(batch_size=32)
    model = Classifier(partial(CNN, channels=[8, 16], hidden_sizes=[32], dropout=0.1), input_shape=(1, 8, 8))
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, dm)
    fit_metrics = {k: v.item() for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    first_batch_labels = next(iter(trainer.train_dataloader))[1].tolist()
    trainer.test(model, dm, verbose=False)
    test_metrics = {k: v.item() for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    report = {
        "rank": trainer.global_rank, "world_size": trainer.world_size,
        "metrics": {**fit_metrics, **test_metrics},
        "weights_sum": weights.double().sum().item(), "weights_abs_sum": weights.double().abs().sum().item(),
        "train_batches": trainer.num_training_batches, "train_samples": len(dm.train_set),
        "first_batch_labels": first_batch_labels,
    }
    (out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
    torch.distributed.destroy_process_group()  # as lightning_dl.__main__.main does: a clean exit for Gloo's threads
