"""One GAN config through the CLI under 2-process DDP on the CPU (``configs/trainer/ddp_cpu.yaml``: plain
``ddp``), launched by test_gans_distributed.py as its own script. Each rank writes its players' weights.

Usage: ``python ddp_cli_worker.py OUT_DIR CONFIG``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from lightning_dl.cli import cli_main
from test_gan_configs import DIGITS, QUICK, SMALL, model_settings

from conftest import REPO


def main(out_dir: Path, config: Path) -> None:
    class_path, _ = model_settings(config)
    cli = cli_main(["fit", "--config", str(config), "--config", str(REPO / "configs/trainer/ddp_cpu.yaml"),
                    *QUICK, *DIGITS, *SMALL[class_path], "--trainer.limit_train_batches", "3",
                    "--trainer.default_root_dir", str(out_dir), "--trainer.callbacks", "[]"])
    trainer, model = cli.trainer, cli.model
    sums = {name: torch.cat([p.detach().flatten() for p in module.parameters()]).double().sum().item()
            for name, module in (("generator", model.generator), ("discriminator", model.discriminator))}
    report = {"world_size": trainer.world_size, "sums": sums, "find_unused": trainer.strategy._ddp_kwargs,
              "steps": [int(model.discriminator_steps), int(model.generator_steps)]}
    (out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
    torch.distributed.destroy_process_group()  # as lightning_dl.__main__.main does: a clean exit for Gloo's threads
