"""GANs where users run them: two DDP processes on the CPU, and bf16 mixed precision."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from conftest import run_two_processes
from test_gans import TINY, gan_data

from lightning_dl.models import GAN

WORKER = Path(__file__).with_name("ddp_gan_worker.py")
CLI_WORKER = Path(__file__).with_name("ddp_cli_worker.py")


@pytest.mark.parametrize("loss", ["bce", "gp"], ids=["dcgan", "wgan_gp"])
def test_two_process_ddp_keeps_the_players_identical(tmp_path, loss):
    ranks = run_two_processes(WORKER, tmp_path, loss)
    for name in ("generator", "discriminator", "average"):  # gradients are averaged: the replicas agree
        assert ranks[0]["sums"][name] == pytest.approx(ranks[1]["sums"][name], rel=1e-9), name
    n_critic = 1 if loss == "bce" else 2
    batches = ranks[0]["batches"]
    assert batches == 4  # 64 images, 2 processes, batches of 8: each process trains on its own half
    assert all(r["steps"] == [2 * batches, 2 * batches // n_critic] for r in ranks)
    assert ranks[0]["first_labels"] != ranks[1]["first_labels"]


@pytest.mark.parametrize("config", ["cgan", "acgan", "infogan", "stackedgan"])
def test_every_gan_config_trains_under_plain_ddp_through_the_cli(tmp_path, config):
    """The CLI notices manual optimisation under DDP and has DDP look for unused parameters (each step leaves
    one player without gradients); the replicas stay identical. (CycleGAN: tests/test_cyclegan.py.)"""
    ranks = run_two_processes(CLI_WORKER, tmp_path, str(WORKER.parents[1] / "configs" / "gans" / f"{config}.yaml"))
    assert ranks[0]["find_unused"]["find_unused_parameters"]
    assert ranks[0]["steps"] == ranks[1]["steps"] and ranks[0]["steps"][1] > 0
    for name in ("generator", "discriminator"):
        assert ranks[0]["sums"][name] == pytest.approx(ranks[1]["sums"][name], rel=1e-9), name


def test_bf16_mixed_precision_trains_on_the_cpu():
    model = GAN(**TINY)
    trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", max_epochs=1, limit_train_batches=3, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, gan_data())
    assert int(model.generator_steps) == 3
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model.sample(4).dtype == torch.float32 and torch.isfinite(trainer.callback_metrics["train/generator_loss_epoch"])
