"""A GAN run interrupted in the middle of an epoch resumes exactly: same batches, same critic/generator
schedule, same optimiser, scheduler and weight-average states, bit-identical final weights."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch

from lightning_dl.callbacks import RandomStateCheckpoint
from lightning_dl.models import GAN
from lightning_dl.nn import NonSaturatingLoss, WassersteinGradientPenaltyLoss
from test_gans import TINY, gan_data

VARIANTS = {
    "dcgan": {"adversarial_loss": NonSaturatingLoss(), "n_critic": 1},
    "wgan_gp": {"adversarial_loss": WassersteinGradientPenaltyLoss(), "n_critic": 3},
}


class SaveAt(pl.Callback):
    """Writes a checkpoint after batch ``batch`` of epoch ``epoch``, as a run stopped there would have."""

    def __init__(self, path, epoch: int, batch: int) -> None:
        self.path, self.epoch, self.batch = path, epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            trainer.save_checkpoint(self.path)


def train(variant: str, callbacks=(), ckpt_path=None) -> GAN:
    model = GAN(**TINY, **VARIANTS[variant], ema_decay=0.9,
                generator_lr_scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1e-3),
                discriminator_lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))
    trainer = pl.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[RandomStateCheckpoint(), *callbacks])
    # Python objects (partials, losses) among the hyperparameters: the checkpoint is ours, so load it fully.
    trainer.fit(model, gan_data(n=64, batch_size=8), ckpt_path=ckpt_path, weights_only=False)  # 8 batches an epoch
    return model


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_run_stopped_mid_epoch_resumes_bit_identical(tmp_path, variant):
    checkpoint = tmp_path / "stopped.ckpt"
    straight = train(variant, callbacks=[SaveAt(checkpoint, epoch=0, batch=4)])
    resumed = train(variant, ckpt_path=str(checkpoint))
    stopped = torch.load(checkpoint, weights_only=False)["state_dict"]
    assert int(stopped["discriminator_steps"]) == 5  # it really stopped in the middle of the first epoch
    assert int(resumed.discriminator_steps) == 16 and int(resumed.generator_steps) == 16 // VARIANTS[variant]["n_critic"]
    expected, got = straight.state_dict(), resumed.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name
