"""A run interrupted in the middle of an epoch resumes exactly: same batches, same critic/generator schedule,
same optimiser, scheduler and weight-average states, bit-identical final weights (GANs, CycleGAN's unpaired
streams; the episodes of few-shot learning in test_fewshot)."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch

from lightning_dl.callbacks import ModelCheckpoint, RandomStateCheckpoint
from lightning_dl.models import GAN, CycleGAN
from lightning_dl.nn import NonSaturatingLoss, WassersteinGradientPenaltyLoss
from test_cyclegan import TINY as CYCLE_TINY, NumberedDomains
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


def fit_two_epochs(model: pl.LightningModule, data: pl.LightningDataModule, callbacks=(), ckpt_path=None
                   ) -> pl.LightningModule:
    """Two epochs; checkpoints only where ``callbacks`` has a ModelCheckpoint."""
    checkpointing = any(isinstance(callback, pl.callbacks.ModelCheckpoint) for callback in callbacks)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_checkpointing=checkpointing,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[RandomStateCheckpoint(), *callbacks])
    # Python objects (partials, losses) among the hyperparameters: the checkpoint is ours, so load it fully.
    trainer.fit(model, data, ckpt_path=ckpt_path, weights_only=False)
    return model


def check_resume_is_bit_identical(tmp_path, make_model, make_data, batch: int = 4) -> pl.LightningModule:
    """Train two epochs straight, saving a checkpoint after ``batch + 1`` batches of the first; train again from
    that checkpoint; every weight, buffer and counter of both runs must be equal. Returns the resumed model."""
    checkpoint = tmp_path / "stopped.ckpt"
    straight = fit_two_epochs(make_model(), make_data(), callbacks=[SaveAt(checkpoint, epoch=0, batch=batch)])
    resumed = fit_two_epochs(make_model(), make_data(), ckpt_path=str(checkpoint))
    stopped = torch.load(checkpoint, weights_only=False)
    assert stopped["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"] == batch + 1  # mid-epoch
    assert_bit_identical(straight, resumed)
    return resumed


def assert_bit_identical(expected: pl.LightningModule, got: pl.LightningModule) -> None:
    """Every weight, buffer and counter equal."""
    expected, got = expected.state_dict(), got.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_run_stopped_mid_epoch_resumes_bit_identical(tmp_path, variant):
    def make_model() -> GAN:
        return GAN(**TINY, **VARIANTS[variant], ema_decay=0.9,
                   generator_lr_scheduler=partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1e-3),
                   discriminator_lr_scheduler=partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5))

    resumed = check_resume_is_bit_identical(tmp_path, make_model, lambda: gan_data(n=64, batch_size=8))  # 8 batches
    assert int(resumed.discriminator_steps) == 16 and int(resumed.generator_steps) == 16 // VARIANTS[variant]["n_critic"]


def test_a_cyclegan_stopped_mid_epoch_resumes_bit_identical(tmp_path):
    """Two unpaired domain streams: the resumed run must go on with the epoch's next pairs of images."""
    resumed = check_resume_is_bit_identical(tmp_path, lambda: CycleGAN(**CYCLE_TINY, ema_decay=0.9),
                                            lambda: NumberedDomains(batch_size=8), batch=3)  # 8 batches an epoch
    assert int(resumed.generator_steps) == 16


def test_a_run_stopped_by_its_generator_step_limit_resumes_with_the_epochs_next_batch(tmp_path):
    """``max_generator_steps`` stops a run mid-epoch; the CLI's checkpoint saves it there (Lightning alone would
    save it as a finished epoch, and a resumed run would skip the epoch's other batches). Resumed without the
    limit, it ends bit-identical to a run that never stopped."""
    def make_model(**limit) -> GAN:
        torch.manual_seed(0)  # the same weights and, below, the same shuffles for both runs
        return GAN(**TINY, **VARIANTS["dcgan"], ema_decay=0.9, **limit)

    straight = fit_two_epochs(make_model(), gan_data(n=64, batch_size=8))  # 8 batches an epoch
    fit_two_epochs(make_model(max_generator_steps=3), gan_data(n=64, batch_size=8),
                   callbacks=[ModelCheckpoint(dirpath=str(tmp_path))])
    assert sorted(path.name for path in tmp_path.glob("*.ckpt")) == ["epoch=0-step=6.ckpt", "last.ckpt"]
    resumed = fit_two_epochs(make_model(), gan_data(n=64, batch_size=8), ckpt_path=str(tmp_path / "last.ckpt"))
    assert int(resumed.generator_steps) == 16
    assert_bit_identical(straight, resumed)
