"""CycleGAN and its unpaired data: independent domain streams, train-only statistics, both cycles, frozen players,
translation grids kept in the checkpoint, every config, the real sources (SVHN offline) on small files."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch

from lightning_dl.cli import cli_main
from lightning_dl.data import UnpairedDataModule
from lightning_dl.data.unpaired import SVHN_FILES, class_tints, load_svhn, tint, tint_classes
from lightning_dl.errors import ConfigurationError, DataValidationError, DatasetNotFoundError
from lightning_dl.models import CycleGAN
from lightning_dl.nn import PatchGANDiscriminator, UNetGenerator, WassersteinGradientPenaltyLoss

from conftest import REPO
from test_gans import PhaseSpy, fit, snapshot
from test_sources import write_mnist_like

TINY = {"generator": partial(UNetGenerator, filters=[8, 16]),
        "discriminator": partial(PatchGANDiscriminator, channels=[8, 16], strides=[2, 1]),
        "input_shape": (1, 8, 8), "output_shape": (3, 8, 8), "num_samples": 4}
QUICK = ["--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]


class NumberedDomains(UnpairedDataModule):
    """8×8 domains whose every pixel is the image's index (A grey, B colour), so a batch tells which images it
    holds; validation and test images are all ``held_out_value``."""

    def __init__(self, size_a: int = 64, size_b: int = 64, held_out_value: int = 200, **kwargs) -> None:
        self.size_a, self.size_b, self.held_out_value = size_a, size_b, held_out_value
        super().__init__(**kwargs)

    def raw_shapes(self):
        return (8, 8, 1), (8, 8, 3)

    def load_domains(self):
        def numbered(n: int, channels: int) -> np.ndarray:
            return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, 8, 8, channels)).copy()

        held_out = (np.full((6, 8, 8, 1), self.held_out_value, np.uint8), np.full((6, 8, 8, 3), self.held_out_value,
                                                                                  np.uint8))
        return {"train": (numbered(self.size_a, 1), numbered(self.size_b, 3)), "val": held_out, "test": held_out}


def indices(batch: tuple[torch.Tensor, torch.Tensor], size_a: int, size_b: int) -> tuple[list[int], list[int]]:
    """Which images of each domain a normalised batch holds (inverting the train-fitted [-1, 1] scaling)."""
    a, b = batch
    return (((a[:, 0, 0, 0] + 1) / 2 * (size_a - 1)).round().long().tolist(),
            ((b[:, 0, 0, 0] + 1) / 2 * (size_b - 1)).round().long().tolist())


def epoch_of(data: UnpairedDataModule, epoch: int) -> tuple[list[int], list[int]]:
    loader = data.train_dataloader()
    loader.sampler.set_epoch(epoch)
    seen_a, seen_b = [], []
    for batch in loader:
        assert batch[0].min() >= -1 and batch[0].max() <= 1 and batch[1].min() >= -1 and batch[1].max() <= 1
        a, b = indices(batch, data.size_a, data.size_b)
        seen_a += a
        seen_b += b
    return seen_a, seen_b


# --- the data ----------------------------------------------------------------------------------------
def test_domains_are_shuffled_independently():
    data = NumberedDomains(batch_size=16, seed=3)
    data.setup("fit")
    (a0, b0), (a1, b1) = epoch_of(data, 0), epoch_of(data, 1)
    assert sorted(a0) == sorted(b0) == list(range(64))  # each image once per epoch
    assert a0 != sorted(a0) and b0 != sorted(b0) and a0 != a1  # shuffled, anew each epoch
    # Unpaired: with one shared order the i-th A would always meet the i-th B, and every A its old partner.
    assert sum(a == b for a, b in zip(a0, b0)) <= 6
    partners = [dict(zip(a, b)) for a, b in ((a0, b0), (a1, b1))]
    assert sum(partners[0][i] == partners[1][i] for i in range(64)) <= 6
    again = NumberedDomains(batch_size=16, seed=3)
    again.setup("fit")
    assert epoch_of(again, 1) == (a1, b1)  # the order depends only on (seed, epoch)


def test_the_smaller_domain_cycles_and_samples_per_epoch_walks_through_a_domain():
    data = NumberedDomains(size_a=40, size_b=64, batch_size=16)
    data.setup("fit")
    a, b = epoch_of(data, 0)
    assert len(a) == 64 and sorted(b) == list(range(64))
    assert set(a) == set(range(40)) and max(np.bincount(a)) == 2  # 24 of the 40 twice
    data = NumberedDomains(size_a=48, size_b=48, batch_size=8, samples_per_epoch=16)
    data.setup("fit")
    epochs = [epoch_of(data, e) for e in range(3)]
    assert all(len(a) == 16 for a, _ in epochs)
    assert sorted(a for epoch_a, _ in epochs for a in epoch_a) == list(range(48))  # three short epochs = one pass
    with pytest.raises(ConfigurationError, match="samples_per_epoch"):
        NumberedDomains(samples_per_epoch=0)


def test_a_checkpoint_taken_mid_epoch_resumes_at_the_next_pairs():
    data = NumberedDomains(batch_size=16, seed=3)
    data.setup("fit")
    whole_a, whole_b = epoch_of(data, 1)
    loader = data.train_dataloader()
    loader.sampler.set_epoch(1)
    loader.load_state_dict({"epoch": 1, "samples_done": 32})  # a checkpoint after 2 of the epoch's 4 batches
    rest = [indices(batch, 64, 64) for batch in loader]
    assert [a for a, _ in rest] == [whole_a[32:48], whole_a[48:]] and [b for _, b in rest] == [whole_b[32:48], whole_b[48:]]
    assert [a for batch in loader for a in indices(batch, 64, 64)[0]] == whole_a  # the skip applies once


def test_statistics_are_fitted_per_domain_on_the_train_split_only():
    first, second = NumberedDomains(size_a=32, held_out_value=20), NumberedDomains(size_a=32, held_out_value=250)
    for data in (first, second):
        data.setup("fit")
    assert first.statistics() == second.statistics() == {
        "data/normalization_a/min": [0.0], "data/normalization_a/max": [31.0],
        "data/normalization_b/min": [0.0] * 3, "data/normalization_b/max": [63.0] * 3}
    first_batch, second_batch = first.train_set.__getitems__([0, 5]), second.train_set.__getitems__([0, 5])
    assert all(torch.equal(x, y) for x, y in zip(first_batch, second_batch))
    held_out_a, _ = second.test_set.__getitems__([0])
    assert held_out_a.flatten()[0].item() == pytest.approx((250 - 15.5) / 15.5)  # train statistics on test images
    restored = NumberedDomains(size_a=32, held_out_value=20)
    restored.load_state_dict(first.state_dict())
    assert restored.statistics() == first.statistics()


def test_grey_colour_patches_are_unaligned_and_held_out():
    data = UnpairedDataModule(pair="grey_colour", train_images=64, batch_size=16)
    assert (data.input_shape, data.output_shape) == ((1, 32, 32), (3, 32, 32))
    domains = data.load_domains()
    (a, b, *_), (test_a, test_b, *_) = domains["train"], domains["test"]  # no classes: labels None
    assert a.shape == (64, 32, 32, 1) and b.shape == (64, 32, 32, 3) and len(test_a) == len(test_b) == 500
    luminance = (b.astype(np.float32) @ np.array([0.2125, 0.7154, 0.0721], np.float32))[..., None]
    assert (np.abs(luminance - a).mean(axis=(1, 2, 3)) > 2).mean() > 0.9  # the i-th A is not the i-th B in grey
    assert not set(map(bytes, test_b)) & set(map(bytes, b))  # test patches come from the held-out photo
    data.setup("fit")
    images_a, images_b = next(iter(data.train_dataloader()))
    assert images_a.shape == (16, 1, 32, 32) and images_b.shape == (16, 3, 32, 32)
    assert images_a.min() >= -1 and images_a.max() <= 1 and images_b.min() >= -1 and images_b.max() <= 1


def test_fashion_mnist_rgb_tints_the_other_half_by_class(tmp_path):
    write_mnist_like(tmp_path, n_train=40, n_test=1010)
    data = UnpairedDataModule(pair="fashion_mnist_rgb", data_dir=str(tmp_path), batch_size=8)
    data.prepare_data()
    domains = data.load_domains()
    (a, b, labels_a, labels_b), val, test = domains["train"], domains["val"], domains["test"]
    assert a.shape == (20, 32, 32, 1) and b.shape == (20, 32, 32, 3) and len(val.images_a) == 500
    assert len(test.images_a) == len(test.labels_a) == len(test.images_b) == len(test.labels_b) == 5
    assert not set(map(bytes, a)) & set(map(bytes, b.max(axis=-1, keepdims=True)))  # no image in both domains
    grey = np.random.default_rng(0).integers(1, 256, (10, 4, 4, 1)).astype(np.uint8)
    tinted = tint(grey, np.arange(10))
    assert np.array_equal(tinted.max(axis=-1, keepdims=True), grey)  # B -> A is the brightest channel
    assert tint_classes(tinted).tolist() == list(range(10))  # the colour tells the class back
    assert tint_classes(torch.as_tensor(tinted).permute(0, 3, 1, 2)).tolist() == list(range(10))
    assert torch.equal(tint_classes(b), torch.as_tensor(labels_b).long())  # each B image tinted by its own class
    # the classes travel with each split (for judging translations), never in a batch
    data.setup("fit")
    assert torch.equal(data.test_set.labels_b, torch.as_tensor(test.labels_b).long())
    assert torch.equal(data.train_set.labels_a, torch.as_tensor(labels_a).long())
    assert len(next(iter(data.train_dataloader()))) == 2
    assert len({tuple(c) for c in class_tints().round(3)}) == 10


def test_mnist_svhn_from_local_files(tmp_path):
    from scipy.io import savemat

    write_mnist_like(tmp_path / "MNIST" / "raw", n_train=12, n_test=4)
    (tmp_path / "SVHN").mkdir()
    rng = np.random.default_rng(0)
    for name in SVHN_FILES.values():
        savemat(tmp_path / "SVHN" / name, {"X": rng.integers(0, 256, (32, 32, 3, 10)).astype(np.uint8),
                                           "y": np.arange(1, 11).reshape(-1, 1)})
    assert load_svhn(tmp_path, download=False).train_labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    data = UnpairedDataModule(pair="mnist_svhn", data_dir=str(tmp_path), batch_size=4)
    data.prepare_data()
    data.setup("fit")
    assert (len(data.train_set), data.input_shape, data.output_shape) == (12, (1, 32, 32), (3, 32, 32))
    assert data.train_set.labels_b.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


def test_svhn_offline_names_the_files_and_where_to_put_them(tmp_path, monkeypatch):
    import torchvision.datasets.svhn as tv_svhn

    def refuse(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tv_svhn, "download_url", refuse)
    with pytest.raises(DatasetNotFoundError, match="SVHN not found and downloading failed") as error:
        UnpairedDataModule(pair="mnist_svhn", data_dir=str(tmp_path)).prepare_data()
    assert "train_32x32.mat" in str(error.value) and str(tmp_path / "SVHN") in str(error.value)


# --- the model ---------------------------------------------------------------------------------------
def batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.rand(n, 1, 8, 8) * 2 - 1, torch.rand(n, 3, 8, 8) * 2 - 1


@pytest.mark.parametrize("patch", [True, False])
def test_both_cycles_reconstruct_their_inputs_shape(patch):
    model = CycleGAN(**TINY, patch=patch)
    a, b = batch()
    assert model.translate(a).shape == b.shape and model.translate(b, "b_to_a").shape == a.shape
    assert model.translate(model.translate(a), "b_to_a").shape == a.shape
    assert model.translate(model.translate(b, "b_to_a")).shape == b.shape
    assert model.discriminator["b"](b).shape == ((4, 1, 2, 2) if patch else (4, 1))
    losses = model.generator_losses((a, b))
    assert {"adversarial_loss_a", "adversarial_loss_b", "cycle_loss_a", "cycle_loss_b"} <= set(losses)
    expected = (losses["adversarial_loss_a"] + losses["adversarial_loss_b"]
                + 10 * (losses["cycle_loss_a"] + losses["cycle_loss_b"]))
    assert losses["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_domains_outside_the_generators_range_are_refused():
    with pytest.raises(DataValidationError, match="range from 0 to 0.968.*normalization: symmetric_range"):
        fit(CycleGAN(**TINY), NumberedDomains(batch_size=8, normalization="unit_range"), limit_train_batches=2)


def test_identity_loss_needs_domains_with_the_same_channels():
    with pytest.raises(ConfigurationError, match="identity_weight"):
        CycleGAN(**TINY, identity_weight=0.5)
    model = CycleGAN(**{**TINY, "input_shape": (3, 8, 8)}, identity_weight=5.0,
                     adversarial_loss=WassersteinGradientPenaltyLoss())
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    losses = model.generator_losses((a, b))
    assert losses["identity_loss_a"] > 0 and losses["identity_loss_b"] > 0
    assert {"gradient_penalty_a", "gradient_penalty_b"} <= set(model.discriminator_losses((a, b)))


def test_each_step_trains_both_networks_of_one_player_and_leaves_the_other_player_untouched():
    spy = PhaseSpy()
    model = CycleGAN(**TINY)
    before = snapshot(model)
    fit(model, NumberedDomains(batch_size=16), callbacks=[spy], limit_train_batches=3, limit_val_batches=0)
    assert [name for name, *_ in spy.steps] == ["discriminator", "generator"] * 3
    for name, trained, other_got_gradient, other_unchanged in spy.steps:
        assert trained and not other_got_gradient and other_unchanged, name
    after = model.state_dict()
    for network in ("generator.a_to_b.", "generator.b_to_a.", "discriminator.a.", "discriminator.b."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(network)), network


def test_translation_grids_use_validation_images_kept_in_the_checkpoint(tmp_path):
    model = CycleGAN(**TINY)
    trainer = fit(model, NumberedDomains(batch_size=16), limit_train_batches=2)
    expected = (200 - 31.5) / 31.5  # the held-out images, scaled by the train statistics
    assert bool(model.sample_images_chosen) and torch.allclose(model.sample_images_a, torch.tensor(expected))
    grids = model.sample_grids()
    assert grids["a_to_b"].shape == grids["b_to_a"].shape == (12, 3, 8, 8)  # real, translated, reconstructed rows
    assert all(0 <= grid.min() and grid.max() <= 1 for grid in grids.values())
    assert "val/cycle_loss_a" in trainer.callback_metrics and "val/cycle_loss_b" in trainer.callback_metrics
    trainer.save_checkpoint(tmp_path / "cyclegan.ckpt")
    restored = CycleGAN.load_from_checkpoint(tmp_path / "cyclegan.ckpt", weights_only=False)  # our own file
    assert torch.equal(restored.sample_images_b, model.sample_images_b) and bool(restored.sample_images_chosen)
    assert all(torch.equal(restored.sample_grids()[k], grid) for k, grid in grids.items())
    chosen = torch.full((4, 1, 8, 8), 0.5), torch.full((4, 3, 8, 8), -0.5)
    restored.set_sample_images(*chosen)
    fit(restored, NumberedDomains(batch_size=16), limit_train_batches=1)  # a further fit keeps them
    assert torch.equal(restored.sample_images_a, chosen[0]) and torch.equal(restored.sample_images_b, chosen[1])
    assert restored.sample(6).shape == (6, 3, 8, 8)
    assert restored.predict_step(batch(), 0).shape == (4, 3, 8, 8)


@pytest.mark.parametrize("name", ["cyclegan_grey_colour", "cyclegan_fashion_mnist_rgb"])
def test_every_cyclegan_config_runs_a_fast_dev_run(name, tmp_path):
    config = ["fit", "--config", str(REPO / "configs" / "gans" / f"{name}.yaml"), *QUICK,
              "--data.init_args.train_images", "32", "--data.init_args.batch_size", "8"]
    if name == "cyclegan_fashion_mnist_rgb":
        write_mnist_like(tmp_path / "fashion", n_train=32, n_test=1010)
        config += ["--data.init_args.data_dir", str(tmp_path / "fashion")]
    cli = cli_main(config)
    assert cli.trainer.state.finished and isinstance(cli.model, CycleGAN)
    assert cli.model.input_shape == cli.datamodule.input_shape and cli.model.output_shape == cli.datamodule.output_shape
    assert "test/cycle_loss_a" in cli.trainer.callback_metrics  # tested after fit
    saved = next(c for c in cli.trainer.callbacks if type(c).__name__ == "SampleGrid").saved
    assert {p.parent.name for p in saved} == {"a_to_b", "b_to_a"}


def test_the_cli_passes_the_gan_loops_arguments_and_refuses_the_fixed_ones(capsys):
    """CycleGAN takes the GAN loop's optimisers, EMA and limits through ``**kwargs``: the CLI lists them; the
    arguments CycleGAN fixes (no classes, no noise, one critic step) are not among its options."""
    config = ["--config", str(REPO / "configs" / "gans" / "cyclegan_grey_colour.yaml"), *QUICK,
              "--data.init_args.train_images", "16", "--model.init_args.ema_decay", "0.9",
              "--model.init_args.generator_optimizer", "torch.optim.SGD",
              "--model.init_args.generator_optimizer.init_args.lr", "0.01"]
    model = cli_main(config, run=False).model
    assert model.generator_average is not None and model.generator_average.decay == 0.9
    assert isinstance(model.configure_optimizers()[0]["optimizer"], torch.optim.SGD)
    assert {"num_classes", "latent_dim", "n_critic", "sample_seed"}.isdisjoint(model.hparams)
    for fixed in ("latent_dim", "n_critic"):
        with pytest.raises(SystemExit):
            cli_main([*config, f"--model.init_args.{fixed}", "2"], run=False)
        assert fixed in capsys.readouterr().err


def test_hyperparameters_are_cyclegans_own_arguments():
    """Built in Python too: what CycleGAN fixes for the loop (one critic step) is not a hyperparameter, and the
    hyperparameters rebuild it (``load_from_checkpoint`` passes them back)."""
    model = CycleGAN(**TINY, ema_decay=0.9)
    assert {"num_classes", "latent_dim", "n_critic", "sample_seed", "objective"}.isdisjoint(model.hparams)
    rebuilt = CycleGAN(**model.hparams)
    assert rebuilt.generator_average.decay == 0.9 and rebuilt.n_critic == 1
