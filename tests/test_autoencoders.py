"""The autoencoder family: every config runs, the networks' shapes, encode/decode on their own, the
denoiser beats its noisy input, the latent scatter has a point per test image, the VAE's KL and ELBO,
the classifier autoencoder's joint loss, and the errors a user can cause.

The configs run through the CLI on small data (command-line overrides only; the configs are untouched):
Fashion-MNIST configs on scikit-learn's 8×8 digits with narrow networks, colourisation on few photo crops.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import REPO
from data_helpers import quiet_trainer

from lightning_dl.callbacks import LatentPlots, SampleGrid
from lightning_dl.cli import cli_main
from lightning_dl.data import ArrayDataModule, DigitsDataModule
from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.models import Autoencoder, Classifier, ClassifierAutoencoder, VariationalAutoencoder
from lightning_dl.models.vae import gaussian_kl
from lightning_dl.nn import ConvEncoder, GaussianNoise, Greyscale, Network

CONFIGS = sorted((REPO / "configs" / "autoencoders").glob("*.yaml"))
QUICK = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.fast_dev_run", "true"]
DIGITS = ["--data", "lightning_dl.data.DigitsDataModule", "--data.init_args.normalization", "unit_range",
          "--model.init_args.layer_filters", "[4, 8]"]
FEW_CROPS = ["--data.init_args.train_crops", "32", "--data.init_args.val_crops", "8", "--data.init_args.test_crops", "8",
             "--model.init_args.layer_filters", "[4, 8, 8]", "--model.init_args.latent_dim", "8"]


def config_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_every_variant_has_a_config():
    assert {c.stem for c in CONFIGS} >= {"autoencoder", "autoencoder_2d", "denoising", "colourisation",
                                         "classifier_autoencoder", "vae"}


def test_the_configs_have_the_issues_settings():
    settings = {c.stem: config_of(c)["model"]["init_args"] for c in CONFIGS}
    assert settings["autoencoder"]["latent_dim"] == 16 and settings["autoencoder"]["layer_filters"] == [32, 64]
    assert settings["autoencoder_2d"]["latent_dim"] == 2 and settings["vae"]["latent_dim"] == 2
    assert settings["denoising"]["corruption"]["init_args"] == {"mean": 0.5, "std": 0.5, "clip": True}
    colour = settings["colourisation"]
    assert colour["latent_dim"] == 256 and colour["layer_filters"] == [64, 128, 256]
    assert colour["corruption"]["class_path"] == "lightning_dl.nn.Greyscale"
    assert config_of(REPO / "configs/autoencoders/colourisation.yaml")["data"]["class_path"].endswith("PhotoCropsDataModule")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.stem)
def test_config_runs_a_fast_dev_run(config, tmp_path):
    data = config_of(config)["data"]["class_path"]
    small = FEW_CROPS if data.endswith("PhotoCropsDataModule") else DIGITS
    cli = cli_main(["fit", "--config", str(config), *QUICK, *small, "--trainer.default_root_dir", str(tmp_path)])
    assert cli.trainer.state.finished
    metrics = cli.trainer.callback_metrics
    assert {"test/loss", "test/mse", "test/psnr"} <= set(metrics)  # tested after fit
    if "corruption" in config_of(config)["model"]["init_args"]:
        assert "test/input_psnr" in metrics
    grids = [c for c in cli.trainer.callbacks if isinstance(c, SampleGrid)]
    assert grids and any(path.parent.name == "reconstruction" and path.is_file() for path in grids[0].saved)
    for callback in cli.trainer.callbacks:
        if isinstance(callback, LatentPlots):
            assert [p.name for p in callback.saved] == ["scatter.png", "decoded_grid.png"]
            assert all(p.is_file() for p in callback.saved)


# --- networks and the two halves ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 13, 17)])
@pytest.mark.parametrize("model_class", [Autoencoder, VariationalAutoencoder])
def test_shapes_and_the_encode_decode_round_trip(shape, model_class):
    torch.manual_seed(0)
    model = model_class(shape, latent_dim=3, layer_filters=[4, 8]).eval()
    images = torch.rand(5, *shape)
    latent = model.encode(images)
    assert latent.shape == (5, 3)
    decoded = model.decode(latent)
    assert decoded.shape == images.shape and decoded.min() >= 0 and decoded.max() <= 1  # sigmoid output
    assert torch.allclose(model(images), decoded)  # forward is decode(encode(x))


def test_the_decoder_mirrors_the_encoder():
    model = Autoencoder((1, 28, 28), layer_filters=[32, 64])
    encoder_convs = [m for m in model.encoder.features if isinstance(m, torch.nn.Conv2d)]
    decoder_convs = [m for m in model.decoder.layers if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in encoder_convs] == [32, 64] and [c.stride for c in encoder_convs] == [(2, 2)] * 2
    assert [c.out_channels for c in decoder_convs] == [64, 32] and [c.stride for c in decoder_convs] == [(2, 2)] * 2
    assert isinstance(model.decoder.layers[-1], torch.nn.Sigmoid)


def test_the_vae_has_its_own_encode_decode_and_sample():
    torch.manual_seed(0)
    model = VariationalAutoencoder((1, 8, 8), latent_dim=2, layer_filters=[4, 8]).eval()
    images = torch.rand(4, 1, 8, 8)
    mean, log_var = model.posterior(images)
    assert torch.equal(model.encode(images), mean) and log_var.shape == (4, 2)
    assert model.sample(6).shape == (6, 1, 8, 8)
    z = torch.randn(3, 2)
    assert torch.equal(model.sample(3, z), model.decode(z))


def test_the_encoder_is_a_network_body_to_reuse():
    torch.manual_seed(0)
    autoencoder = Autoencoder((1, 8, 8), latent_dim=6, layer_filters=[4, 8])
    encoder = autoencoder.encoder
    assert isinstance(encoder, Network) and encoder.num_features == 6
    images = torch.rand(3, 1, 8, 8)
    assert torch.equal(encoder.forward_features(images), autoencoder.encode(images))
    classifier = Classifier(partial(ConvEncoder, layer_filters=[4, 8], latent_dim=6), input_shape=(1, 8, 8), num_classes=4)
    classifier.network.features.load_state_dict(encoder.features.state_dict())  # the trained body, a new head
    classifier.network.freeze_features()
    assert classifier(images).shape == (3, 4)
    assert torch.equal(classifier.network.forward_features(images), autoencoder.encode(images))
    assert not any(p.requires_grad for p in classifier.network.features.parameters())
    encoder.reset_head(5)
    assert encoder(images).shape == (3, 5)


# --- training ---------------------------------------------------------------------------------------
def digits(label_format: str = "none", batch_size: int = 64) -> DigitsDataModule:
    return DigitsDataModule(normalization="unit_range", label_format=label_format, batch_size=batch_size)


def test_the_denoiser_raises_psnr_over_its_noisy_input():
    torch.manual_seed(0)
    model = Autoencoder((1, 8, 8), latent_dim=16, layer_filters=[16, 32], corruption=GaussianNoise(0.5, 0.5),
                        optimizer=partial(torch.optim.Adam, lr=3e-3))
    trainer = quiet_trainer(max_epochs=15)
    trainer.fit(model, digits())
    metrics = trainer.test(model, digits(), verbose=False)[0]
    assert metrics["test/input_psnr"] < 8  # mean 0.5, std 0.5 noise, clipped: a very noisy input
    assert metrics["test/psnr"] > metrics["test/input_psnr"] + 4


def test_psnr_and_input_psnr_equal_those_computed_by_hand(arrays):
    dm = ArrayDataModule(*arrays, normalization="unit_range", label_format="none", batch_size=7)
    torch.manual_seed(0)
    model = Autoencoder((1, 8, 8), latent_dim=4, layer_filters=[4, 8], corruption=GaussianNoise(0.5, 0.5))
    torch.manual_seed(1)
    metrics = quiet_trainer().test(model, dm, verbose=False)[0]
    images = dm.test_set.inputs
    torch.manual_seed(1)  # the same noise, batch by batch
    with torch.no_grad():
        pairs = [(model.corruption(chunk), chunk) for chunk in images.split(7)]
        outputs = torch.cat([model(noisy) for noisy, _ in pairs])
    noisy = torch.cat([noisy for noisy, _ in pairs])
    mse = F.mse_loss(outputs, images)
    assert metrics["test/mse"] == pytest.approx(mse.item(), rel=1e-5)
    assert metrics["test/psnr"] == pytest.approx(10 * torch.log10(1 / mse).item(), rel=1e-5)
    assert metrics["test/input_psnr"] == pytest.approx(10 * torch.log10(1 / F.mse_loss(noisy, images)).item(), rel=1e-5)


def test_the_latent_scatter_has_one_point_per_test_sample(arrays, tmp_path):
    dm = ArrayDataModule(*arrays, normalization="unit_range", batch_size=7)  # 40 test images, batches of 7
    model = Autoencoder((1, 8, 8), latent_dim=2, layer_filters=[4, 8])
    plots = LatentPlots(grid_size=5, extent=2.0)
    quiet_trainer(callbacks=[plots], default_root_dir=str(tmp_path)).test(model, dm, verbose=False)
    assert plots.points == len(dm.test_set) == 40
    assert torch.cat(plots.codes).shape == (40, 2) and torch.cat(plots.labels).tolist() == dm.test_set.targets.tolist()
    scatter, grid = plots.saved
    assert scatter.name == "scatter.png" and grid.name == "decoded_grid.png"
    from PIL import Image

    assert Image.open(grid).size == (5 * (8 + 2) + 2,) * 2  # 5 × 5 decoded 8×8 images with 2-pixel padding


def test_latent_plots_need_a_2d_latent_space(arrays):
    dm = ArrayDataModule(*arrays, normalization="unit_range", batch_size=8)
    with pytest.raises(ConfigurationError, match="latent_dim: 2"):
        quiet_trainer(callbacks=[LatentPlots()]).test(Autoencoder((1, 8, 8), latent_dim=3, layer_filters=[4]), dm)


def test_the_vaes_kl_is_zero_when_the_posterior_equals_the_prior():
    zeros = torch.zeros(4, 3)
    assert torch.equal(gaussian_kl(zeros, zeros), torch.zeros(4))
    mean, log_var = torch.randn(4, 3), torch.randn(4, 3)
    posterior = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    prior = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1)
    assert torch.allclose(gaussian_kl(mean, log_var), expected, atol=1e-5) and (expected > 0).all()


def test_the_vae_elbo_is_its_likelihood_less_its_kl_and_warms_up():
    torch.manual_seed(0)
    model = VariationalAutoencoder((1, 8, 8), latent_dim=2, layer_filters=[4, 8], kl_weight=0.5, kl_warmup_steps=10)
    metrics = quiet_trainer().test(model, digits("integer"), verbose=False)[0]
    assert metrics["test/elbo"] == pytest.approx(-(metrics["test/reconstruction_nll"] + metrics["test/kl"]), rel=1e-5)
    assert metrics["test/loss"] == pytest.approx(metrics["test/reconstruction_nll"] + 0.5 * metrics["test/kl"], rel=1e-5)
    assert metrics["test/reconstruction_nll"] > 0 and metrics["test/kl"] >= 0
    for step, weight in ((0, 0.0), (5, 0.25), (10, 0.5), (50, 0.5)):
        with mock.patch.object(VariationalAutoencoder, "global_step", new_callable=mock.PropertyMock, return_value=step):
            assert model.current_kl_weight() == pytest.approx(weight)
    assert VariationalAutoencoder.monitor == "val/elbo" and VariationalAutoencoder.monitor_mode == "max"


def test_the_vae_trains_and_its_elbo_rises():
    torch.manual_seed(0)
    model = VariationalAutoencoder((1, 8, 8), latent_dim=2, layer_filters=[8, 16], optimizer=partial(torch.optim.Adam, lr=3e-3))
    before = quiet_trainer().test(model, digits("integer"), verbose=False)[0]["test/elbo"]
    quiet_trainer(max_epochs=5).fit(model, digits("integer"))
    after = quiet_trainer().test(model, digits("integer"), verbose=False)[0]["test/elbo"]
    assert after > before + 5
    assert set(model.sample_grids()) == {"reconstruction", "prior_samples"}
    assert model.sample_grids()["prior_samples"].shape == (100, 1, 8, 8)


def test_the_classifier_autoencoder_learns_both_tasks():
    torch.manual_seed(0)
    model = ClassifierAutoencoder((1, 8, 8), num_classes=10, latent_dim=16, layer_filters=[16, 32],
                                  classification_weight=1.0, reconstruction_weight=2.0,
                                  optimizer=partial(torch.optim.Adam, lr=3e-3))
    trainer = quiet_trainer(max_epochs=8)
    trainer.fit(model, digits("integer"))
    metrics = trainer.test(model, digits("integer"), verbose=False)[0]
    assert metrics["test/accuracy"] > 0.8
    expected = metrics["test/classification_loss"] + 2.0 * metrics["test/reconstruction_loss"]
    assert metrics["test/loss"] == pytest.approx(expected, rel=1e-4)
    assert metrics["test/reconstruction_loss"] == pytest.approx(metrics["test/mse"], rel=1e-4)
    probabilities = trainer.predict(model, digits("integer"))[0]
    assert probabilities.shape[1] == 10 and torch.allclose(probabilities.sum(1), torch.ones(len(probabilities)))


def test_the_reconstruction_grid_has_input_target_and_output_rows():
    torch.manual_seed(0)
    model = Autoencoder((3, 8, 8), latent_dim=4, layer_filters=[4], corruption=Greyscale(), num_samples=5)
    images = torch.rand(5, 3, 8, 8)
    model.grid_images = (model.corruption(images), images)
    grid = model.sample_grids()["reconstruction"]
    assert grid.shape == (15, 3, 8, 8)
    grey = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    assert torch.allclose(grid[:5], grey[:, None].expand(-1, 3, -1, -1), atol=1e-6)  # input row: grey, shown in 3
    assert torch.equal(grid[5:10], images)  # target row
    with torch.no_grad():
        assert torch.allclose(grid[10:], model(model.corruption(images)))  # output row


# --- mistakes a user can make ----------------------------------------------------------------------
def test_wrong_image_shapes_are_named():
    model = Autoencoder((1, 28, 28), latent_dim=4, layer_filters=[4, 8])
    with pytest.raises(DataValidationError, match=r"\(N, 1, 28, 28\)"):
        model.encode(torch.rand(2, 1, 27, 28))
    with pytest.raises(DataValidationError, match="latent_dim 4"):
        model.decode(torch.rand(2, 5))
    with pytest.raises(DataValidationError, match="layout: image"):
        model.encode(torch.rand(2, 784))
    with pytest.raises(ConfigurationError, match="too small"):
        Autoencoder((1, 4, 4), layer_filters=[4, 8, 16])
    with pytest.raises(ConfigurationError, match="colour"):
        Autoencoder((1, 28, 28), corruption=Greyscale())


def test_data_outside_the_sigmoids_range_is_named(arrays):
    dm = ArrayDataModule(*arrays, normalization="standardize", label_format="none", batch_size=16)
    with pytest.raises(DataValidationError, match="normalization: unit_range"):
        quiet_trainer().test(Autoencoder((1, 8, 8), latent_dim=4, layer_filters=[4]), dm, verbose=False)


def test_the_classifier_autoencoder_needs_labels(arrays):
    dm = ArrayDataModule(*arrays, normalization="unit_range", label_format="none", batch_size=16)
    with pytest.raises(DataValidationError, match="label_format: integer"):
        quiet_trainer().test(ClassifierAutoencoder((1, 8, 8), num_classes=4, latent_dim=4, layer_filters=[4]), dm)


def test_the_noise_has_the_asked_mean_and_std_and_is_clipped():
    torch.manual_seed(0)
    images = torch.full((64, 1, 28, 28), 0.25)
    unclipped = GaussianNoise(0.5, 0.5, clip=False)(images) - images
    assert unclipped.mean().item() == pytest.approx(0.5, abs=0.01) and unclipped.std().item() == pytest.approx(0.5, abs=0.01)
    clipped = GaussianNoise(0.5, 0.5)(images)
    assert clipped.min() == 0 and clipped.max() == 1
    assert not torch.equal(GaussianNoise()(images), GaussianNoise()(images))  # drawn anew every call
