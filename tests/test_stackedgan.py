"""StackedGAN: the encoder trained then frozen, both discriminators untouched by the generator step, the
conditional loss wired to the requested classes, the joint phase feeding Generator0 from Generator1."""

from __future__ import annotations

import functools

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from conftest import REPO

from lightning_dl.cli import cli_main
from lightning_dl.data import DigitsDataModule
from lightning_dl.errors import ConfigurationError
from lightning_dl.models import Classifier, StackedGAN
from lightning_dl.nn.stacked_gan import (
    StackedEncoder,
    StackedFeatureDiscriminator,
    StackedFeatureGenerator,
    StackedImageDiscriminator,
    StackedImageGenerator,
)

TINY_ENCODER = functools.partial(StackedEncoder, channels=[8], feature_dim=32)
TINY = {"encoder": TINY_ENCODER, "input_shape": (1, 8, 8), "num_classes": 10, "num_samples": 20,
        "feature_generator": functools.partial(StackedFeatureGenerator, hidden_sizes=[64]),
        "image_generator": functools.partial(StackedImageGenerator, channels=[16, 8], strides=[2, 1]),
        "feature_discriminator": functools.partial(StackedFeatureDiscriminator, hidden_sizes=[32]),
        "image_discriminator": functools.partial(StackedImageDiscriminator, channels=[8, 16], strides=[2, 2])}


def digits(batch_size: int = 32) -> DigitsDataModule:
    return DigitsDataModule(batch_size=batch_size, val_fraction=0, normalization="symmetric_range")


def trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kwargs)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[name], b[name]) for name in a)


@pytest.fixture(scope="module")
def encoder_checkpoint(tmp_path_factory) -> str:
    """A Classifier whose network is a (tiny) StackedEncoder, trained briefly on the digits."""
    pl.seed_everything(0)
    classifier = Classifier(TINY_ENCODER, input_shape=(1, 8, 8), num_classes=10)
    fit = trainer(max_epochs=3, limit_val_batches=0)
    fit.fit(classifier, digits())
    path = tmp_path_factory.mktemp("encoder") / "classifier.ckpt"
    torch.save({"state_dict": classifier.state_dict()}, path)  # weights only: a Python-built module's checkpoint
    return str(path)  # holds its factories (partials), which a weights-only load refuses


def a_batch(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    data = digits(n)
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def test_encoder_trains_in_its_phase_then_stays_frozen(tmp_path):
    pl.seed_everything(0)
    model = StackedGAN(**TINY, encoder_epochs=1, independent_epochs=1)
    states, phases, grads = [], [], []

    class Watch(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            states.append((snapshot(module.encoder), snapshot(module.generator)))
            phases.append(module.training_phase)

        def on_train_batch_end(self, trainer, module, *args):
            if module.training_phase != "encoder":
                grads.append([p.grad for p in module.encoder.parameters()])
                assert not any(p.requires_grad for p in module.encoder.parameters())
                assert not module.encoder.training

    fit = trainer(max_epochs=3, limit_train_batches=3, callbacks=[Watch()])
    fit.fit(model, digits())
    assert phases == ["encoder", "independent", "joint"]
    assert not identical(states[0][0], states[1][0])  # the encoder learned in its phase
    assert identical(states[1][0], snapshot(model.encoder))  # then not a bit changed in both GAN phases
    assert not identical(states[1][1], snapshot(model.generator))  # while the generators did learn
    assert grads and all(g is None for batch in grads for g in batch)
    fit.save_checkpoint(tmp_path / "stackedgan.ckpt")  # its hyperparameters rebuild it: same weights, same sample noise
    assert identical(snapshot(model), snapshot(StackedGAN.load_from_checkpoint(tmp_path / "stackedgan.ckpt",
                                                                               weights_only=False)))


def test_encoder_from_a_classifier_checkpoint(encoder_checkpoint):
    classifier = torch.load(encoder_checkpoint, weights_only=False)["state_dict"]
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint)
    assert model.encoder_epochs == 0 and model.training_phase == "independent"
    for name, value in model.encoder.state_dict().items():
        assert torch.equal(value, classifier[f"network.{name}"])
    assert not any(p.requires_grad for p in model.encoder.parameters())
    with pytest.raises(ConfigurationError, match="does not fit"):
        StackedGAN(**{**TINY, "encoder": functools.partial(StackedEncoder, channels=[8], feature_dim=16)},
                   encoder_checkpoint=encoder_checkpoint)
    with pytest.raises(FileNotFoundError, match="encoder_epochs"):
        StackedGAN(**TINY, encoder_checkpoint="missing.ckpt")
    with pytest.raises(ConfigurationError, match="trained encoder"):
        StackedGAN(**TINY, encoder_epochs=0)


def test_generator_step_leaves_both_discriminators_unchanged(encoder_checkpoint):
    pl.seed_everything(0)
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint, independent_epochs=1)
    before, checked = {}, []
    generator_losses = model.generator_losses

    def spy(batch):  # runs inside the generator step, after this batch's discriminator step
        before["discriminator"], before["generator"] = snapshot(model.discriminator), snapshot(model.generator)
        return generator_losses(batch)

    model.generator_losses = spy

    class Check(pl.Callback):
        def on_train_batch_end(self, trainer, module, *args):
            assert identical(before["discriminator"], snapshot(module.discriminator))
            assert all(p.grad is None for p in module.discriminator.parameters())  # frozen: no gradient either
            assert not identical(before["generator"], snapshot(module.generator))
            checked.append(module.training_phase)

    trainer(max_epochs=2, limit_train_batches=3, callbacks=[Check()]).fit(model, digits())
    assert checked == ["independent"] * 3 + ["joint"] * 3
    assert set(model.discriminator) == set(model.generator) == {"feature", "image"}


def test_feature_conditional_loss_teaches_generator1_the_requested_classes(encoder_checkpoint):
    torch.manual_seed(0)
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint)
    batch = a_batch(64)
    optimizer = torch.optim.Adam(model.generator.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        terms = model.generator_losses(batch)
        losses.append(terms["feature_conditional_loss"].item())
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
    assert losses[-1] < 0.3 * losses[0]
    labels = torch.arange(10).repeat(20)  # classes the batch did not ask for in this order
    features = model.generator["feature"](torch.randn(200, 50) * 0.5, F.one_hot(labels, 10).float())
    accuracy = (model.encoder.head(features).argmax(1) == labels).float().mean()
    assert accuracy > 0.9


@pytest.mark.parametrize("joint", [False, True])
def test_joint_phase_feeds_generator0_with_generator1_features(encoder_checkpoint, joint):
    torch.manual_seed(0)
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint, independent_epochs=0 if joint else None)
    assert model.training_phase == ("joint" if joint else "independent")
    images, _ = batch = a_batch(16)
    made, read = [], []
    model.generator["feature"].register_forward_hook(lambda module, args, output: made.append(output))
    model.generator["image"].register_forward_pre_hook(lambda module, args: read.append(args[1]))
    model.discriminator_losses(batch)
    terms = model.generator_losses(batch)
    sum(value for name, value in terms.items() if name.startswith("image_")).backward()
    real_features = model.encoder.features(images)
    for features, fed in zip(made, read):  # discriminator step, then generator step
        if joint:
            assert fed is features
        else:
            torch.testing.assert_close(fed, real_features)
    generator1_gradient = [p.grad for p in model.generator["feature"].parameters()]
    if joint:  # end to end: the image level's losses reach Generator1
        assert all(g is not None for g in generator1_gradient) and any(g.abs().sum() > 0 for g in generator1_gradient)
    else:
        assert all(g is None for g in generator1_gradient)


def test_samples_of_requested_classes_and_grids_by_class(encoder_checkpoint):
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint)
    asked = []
    model.generator["feature"].register_forward_pre_hook(lambda module, args: asked.append(args[1].argmax(1)))
    labels = torch.tensor([3, 1, 4, 1, 5])
    images = model.sample(5, labels)
    assert images.shape == (5, 1, 8, 8) and torch.equal(asked[-1], labels)
    grids = model.sample_grids()
    assert set(grids) == {"samples", "feature_noise", "image_noise"}
    for grid in grids.values():
        assert grid.shape == (100, 1, 8, 8) and 0 <= grid.min() and grid.max() <= 1
    assert torch.equal(asked[-1], torch.arange(10).repeat_interleave(10))  # one row per class
    torch.testing.assert_close(model.sample_grids()["samples"], grids["samples"])  # fixed noise


QUICK = ["--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]


def test_config_runs_a_fast_dev_run():
    cli = cli_main(["fit", "--config", str(REPO / "configs/gans/stackedgan.yaml"), "--trainer.fast_dev_run", "true",
                    *QUICK])
    assert cli.trainer.state.finished and isinstance(cli.model, StackedGAN)
    assert cli.model.input_shape == (1, 28, 28) and cli.model.training_phase == "encoder"


def test_config_runs_every_phase(tmp_path):
    phases = []
    cli = cli_main(["--config", str(REPO / "configs/gans/stackedgan.yaml"), *QUICK, "--trainer.max_epochs", "3",
                    "--trainer.limit_train_batches", "2", "--trainer.logger", "false",
                    "--data.init_args.batch_size", "16", "--model.init_args.encoder_epochs", "1",
                    "--model.init_args.independent_epochs", "1"], run=False)
    cli.trainer.callbacks.append(type("Phases", (pl.Callback,), {
        "on_train_epoch_end": lambda self, trainer, module: phases.append(module.training_phase)})())
    cli.trainer.fit(cli.model, cli.datamodule)
    assert phases == ["encoder", "independent", "joint"]
    assert int(cli.model.generator_steps) == 4 and int(cli.model.discriminator_steps) == 4
    grids = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert len(grids) == 9 and any("samples/feature_noise/epoch=2.png" in g for g in grids)


class LeavesAMark:
    """Unpickled, it would run code: it writes ``path`` (what a crafted checkpoint could do to any file)."""

    def __init__(self, path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').write('ran')",)


def test_an_encoder_checkpoint_carrying_code_is_refused_not_run(tmp_path, encoder_checkpoint):
    """The encoder file is read as weights only: a pickle that would run code is refused, naming the file, and
    its code never runs; so is a full checkpoint of a module built in Python (its factories are objects)."""
    mark = tmp_path / "ran.txt"
    crafted = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": torch.load(encoder_checkpoint)["state_dict"], "payload": LeavesAMark(mark)}, crafted)
    with pytest.raises(ConfigurationError, match=rf"{crafted}.*cannot be read as weights only.*Unsupported global: GLOBAL exec"):
        StackedGAN(**TINY, encoder_checkpoint=str(crafted))
    assert not mark.exists()
    classifier = Classifier(TINY_ENCODER, input_shape=(1, 8, 8), num_classes=10)
    python_built = tmp_path / "python_built.ckpt"
    fit = trainer(max_steps=1, limit_val_batches=0)
    fit.fit(classifier, digits())
    fit.save_checkpoint(python_built)
    with pytest.raises(ConfigurationError, match=rf"{python_built}.*torch.save\(\{{'state_dict'"):
        StackedGAN(**TINY, encoder_checkpoint=str(python_built))


def test_a_checkpoint_of_lightning_dl_fit_gives_the_encoder(tmp_path):
    """What the error advises: a Classifier trained through the CLI holds its configuration as plain values, so
    its checkpoint reads as weights only."""
    cli = cli_main(["fit", "--model", "lightning_dl.models.Classifier",
                    "--model.network", "lightning_dl.nn.stacked_gan.StackedEncoder",
                    "--model.network.init_args.channels", "[8]", "--model.network.init_args.feature_dim", "32",
                    "--data", "lightning_dl.data.DigitsDataModule", "--data.init_args.normalization", "symmetric_range",
                    "--trainer.fast_dev_run", "true", "--trainer.logger", "false", *QUICK])
    path = tmp_path / "classifier.ckpt"
    cli.trainer.save_checkpoint(path)
    model = StackedGAN(**TINY, encoder_checkpoint=str(path))
    assert identical(snapshot(cli.model.network), snapshot(model.encoder))


def test_hyperparameters_are_stackedgans_own_arguments(encoder_checkpoint):
    """The networks it hands the GAN base (its image generator and discriminator, the summed noise size) are not
    hyperparameters of its own; its hyperparameters rebuild it."""
    model = StackedGAN(**TINY, encoder_checkpoint=encoder_checkpoint)
    assert {"generator", "discriminator", "latent_dim", "objective"}.isdisjoint(model.hparams)
    rebuilt = StackedGAN(**model.hparams)
    assert identical(snapshot(model.encoder), snapshot(rebuilt.encoder)) and rebuilt.encoder_frozen
    assert snapshot(model).keys() == snapshot(rebuilt).keys()
