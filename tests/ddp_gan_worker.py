"""A 2-process DDP GAN run on the CPU, launched by test_gans_distributed.py as its own script.

Usage: ``python ddp_gan_worker.py OUT_DIR LOSS`` with LOSS ``bce`` (DCGAN) or ``gp`` (WGAN-GP). Each rank
writes its players' weights and counters, and the labels of its first batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightning_dl.models import GAN
from lightning_dl.nn import NonSaturatingLoss, WassersteinGradientPenaltyLoss
from test_gans import TINY, gan_data


def main(out_dir: Path, loss: str) -> None:
    pl.seed_everything(7)
    adversarial = NonSaturatingLoss() if loss == "bce" else WassersteinGradientPenaltyLoss()
    model = GAN(**TINY, adversarial_loss=adversarial, n_critic=1 if loss == "bce" else 2, ema_decay=0.9)
    data = gan_data(n=64, batch_size=8)
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_epochs=2,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, data)
    first_labels = next(iter(trainer.train_dataloader))[1].tolist()
    weights = {name: torch.cat([p.detach().flatten() for p in module.parameters()]).double()
               for name, module in (("generator", model.generator), ("discriminator", model.discriminator),
                                    ("average", model.generator_average.module))}
    report = {"rank": trainer.global_rank, "world_size": trainer.world_size,
              "sums": {k: [w.sum().item(), w.abs().sum().item()] for k, w in weights.items()},
              "steps": [int(model.discriminator_steps), int(model.generator_steps)],
              "batches": trainer.num_training_batches, "first_labels": first_labels}
    (out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
    torch.distributed.destroy_process_group()  # as lightning_dl.__main__.main does: a clean exit for Gloo's threads
