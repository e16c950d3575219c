"""The GAN loop: frozen players, the n_critic schedule, clipping, counters, EMA, conditions, non-finite losses."""

from __future__ import annotations

from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from lightning_dl.data import ArrayDataModule
from lightning_dl.errors import ConfigurationError, DataValidationError, NonFiniteLossError
from lightning_dl.models import ACGAN, CGAN, GAN, InfoGAN
from lightning_dl.models.gans import NoiseObjective
from lightning_dl.models.gans.base import one_hot
from lightning_dl.nn import (DCGANDiscriminator, DCGANGenerator, LeastSquaresLoss, WassersteinGradientPenaltyLoss,
                             WassersteinLoss)

from conftest import make_images

TINY = {"generator": partial(DCGANGenerator, channels=[16, 8], strides=[2, 1], kernel_size=3),
        "discriminator": partial(DCGANDiscriminator, channels=[8, 16], strides=[2, 2], kernel_size=3, head_hidden=16),
        "input_shape": (1, 8, 8), "num_classes": 4, "latent_dim": 8, "num_samples": 20}


def gan_data(n: int = 64, batch_size: int = 8) -> ArrayDataModule:
    images, labels = make_images(n, num_classes=4)
    test_images, test_labels = make_images(16, num_classes=4, seed=1)
    return ArrayDataModule(images, labels, test_images, test_labels, num_classes=4, batch_size=batch_size,
                           val_fraction=0, normalization="symmetric_range")


def fit(model: GAN, data=None, **kwargs) -> pl.Trainer:
    trainer = pl.Trainer(accelerator="cpu", max_epochs=kwargs.pop("max_epochs", 1), logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, **kwargs)
    trainer.fit(model, data or gan_data())
    return trainer


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def unchanged(before: dict[str, torch.Tensor], module: torch.nn.Module) -> bool:
    return all(torch.equal(before[k], v) for k, v in module.state_dict().items())


class PhaseSpy(pl.Callback):
    """Records, around every optimiser step, whether each player changed and received gradients."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, bool, bool, bool]] = []

    def on_train_batch_start(self, trainer, model, batch, batch_idx):
        generator_optimizer, discriminator_optimizer = model.optimizers()
        for name, optimizer in (("generator", generator_optimizer), ("discriminator", discriminator_optimizer)):
            original = optimizer.optimizer.step

            def step(*args, _name=name, _original=original, **kwargs):
                other = model.discriminator if _name == "generator" else model.generator
                before = snapshot(other)
                got_gradient = any(p.grad is not None for p in other.parameters())
                trained = any(p.grad is not None for p in (model.generator if _name == "generator"
                                                           else model.discriminator).parameters())
                result = _original(*args, **kwargs)
                self.steps.append((_name, trained, got_gradient, unchanged(before, other)))
                return result

            optimizer.optimizer.step = step

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx):
        for optimizer in model.optimizers():
            optimizer.optimizer.__dict__.pop("step", None)


def test_each_step_trains_one_player_and_leaves_the_other_untouched():
    spy = PhaseSpy()
    fit(GAN(**TINY), callbacks=[spy], max_steps=-1, limit_train_batches=4)
    assert [name for name, *_ in spy.steps] == ["discriminator", "generator"] * 4
    for name, trained, other_got_gradient, other_unchanged in spy.steps:
        assert trained, f"the {name} had no gradient at its own step"
        assert not other_got_gradient, f"the other player received a gradient during the {name} step"
        assert other_unchanged, f"the other player's weights changed during the {name} step"


@pytest.mark.parametrize("n_critic", [1, 3])
def test_n_critic_discriminator_steps_per_generator_step(n_critic):
    spy = PhaseSpy()
    model = GAN(**TINY, n_critic=n_critic)
    fit(model, callbacks=[spy], limit_train_batches=7)
    names = [name for name, *_ in spy.steps]
    assert names.count("discriminator") == 7 and names.count("generator") == 7 // n_critic
    # each generator step follows exactly n_critic discriminator steps
    runs = "".join("d" if n == "discriminator" else "g" for n in names).split("g")
    assert all(len(run) == n_critic for run in runs[:-1])
    assert (int(model.discriminator_steps), int(model.generator_steps)) == (7, 7 // n_critic)


def test_the_schedule_continues_across_epochs():
    """Counted by the module's own counters, not the batch index: 3 batches an epoch, n_critic 2."""
    model = GAN(**TINY, n_critic=2)
    fit(model, gan_data(n=24), max_epochs=3)  # 3 batches x 3 epochs = 9 discriminator steps
    assert (int(model.discriminator_steps), int(model.generator_steps)) == (9, 4)


def test_wgan_critic_weights_stay_within_the_clip():
    model = GAN(**TINY, adversarial_loss=WassersteinLoss(clip_value=0.01), n_critic=2,
                discriminator_optimizer=partial(torch.optim.RMSprop, lr=0.05))
    fit(model, limit_train_batches=4)
    weights = torch.cat([p.detach().flatten() for p in model.discriminator.parameters()])
    assert weights.abs().max() <= 0.01 + 1e-7
    assert weights.abs().max() == pytest.approx(0.01)  # a large learning rate drives weights to the bound


def test_gradient_penalty_is_added_for_wgan_gp():
    model = GAN(**TINY, adversarial_loss=WassersteinGradientPenaltyLoss(penalty_weight=10.0))
    model.trainer = None
    losses = model.discriminator_losses(next(iter(_loader())))
    assert losses["gradient_penalty"] > 0
    assert losses["loss"].item() == pytest.approx((losses["adversarial_loss"] + losses["gradient_penalty"]).item())


def _loader():
    dm = gan_data()
    dm.setup("fit")
    return dm.train_dataloader()


def test_counters_limit_the_run_and_travel_in_the_checkpoint():
    model = GAN(**TINY, max_generator_steps=3)
    fit(model, max_epochs=5)
    assert int(model.generator_steps) == 3 and int(model.discriminator_steps) == 3  # 3 of the first epoch's 8 batches
    state = model.state_dict()
    assert {"discriminator_steps", "generator_steps", "sample_latent"} <= set(state)


def test_generator_average_follows_the_generator_and_is_sampled():
    model = GAN(**TINY, ema_decay=0.5)
    fit(model, limit_train_batches=3)
    average, live = model.generator_average.module, model.generator
    assert not all(torch.equal(a, b) for a, b in zip(average.parameters(), live.parameters()))
    assert model.sampling_generator is average
    assert not any(p.requires_grad for p in average.parameters())
    assert int(model.generator_average.n_averaged) == 3


def test_the_weight_average_warms_up():
    """The first update copies; early on the average follows the generator closely; later it decays at the
    configured rate."""
    from lightning_dl.models.gans import GeneratorAverage

    generator = nn.Linear(1, 1, bias=False)
    average = GeneratorAverage(generator, decay=0.999)
    weight = average.module.weight
    for value, expected in [(4.0, 4.0), (0.0, 4.0 * 2 / 11)]:  # a copy, then decay (1 + 1) / (10 + 1)
        generator.weight.data.fill_(value)
        average.update_parameters(generator)
        assert weight.item() == pytest.approx(expected)
    average.n_averaged.fill_(100_000)
    generator.weight.data.fill_(1.0)
    before = weight.item()
    average.update_parameters(generator)
    assert weight.item() == pytest.approx(before + 0.001 * (1 - before))  # decay 0.999
    assert int(average.n_averaged) == 100_001


def test_the_weight_average_never_waits_for_the_device(monkeypatch):
    """No host sync in an update: on a GPU each one would stall the generator step (AveragedModel's own
    update reads its counter on the host, a decay computed from it stalled once per parameter)."""
    model = GAN(**TINY, ema_decay=0.999)
    syncs = []
    for name in ("item", "tolist", "__bool__", "__int__", "__float__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda self, *a, _o=original, _n=name: syncs.append(_n) or _o(self, *a))
    for _ in range(3):
        model.generator_average.update_parameters(model.generator)
    monkeypatch.undo()
    assert syncs == []


@pytest.mark.parametrize("variant", [CGAN, InfoGAN])
def test_conditions_given_elsewhere_move_to_the_model(variant):
    """Labels (and InfoGAN's continuous codes) made on the CPU work with a model on another device (here the
    meta device, standing in for a GPU)."""
    model = variant(**TINY).to("meta")
    codes = {"continuous": torch.zeros(5, model.objective.continuous_codes)} if variant is InfoGAN else {}
    draw = model.objective.condition(5, torch.tensor([0, 1, 2, 3, 0]), **codes)
    assert draw.condition.device.type == draw.labels.device.type == draw.latent.device.type == "meta"


def test_cgan_generator_receives_the_requested_classes():
    model = CGAN(**TINY)
    seen = []
    model.generator.register_forward_hook(lambda module, inputs, output: seen.append(inputs))
    labels = torch.tensor([3, 0, 2, 1, 3])
    images = model.sample(5, labels)
    assert images.shape == (5, 1, 8, 8)
    latent, condition = seen[-1]
    assert torch.equal(condition, one_hot(labels, 4))


def test_cgan_discriminator_reads_the_real_labels():
    model = CGAN(**TINY)
    seen = []
    model.discriminator.condition_embedding.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0]))
    images, labels = next(iter(_loader()))
    model.discriminator_losses((images, labels))
    assert torch.equal(seen[0], one_hot(labels, 4))  # real images with their own classes


def test_acgan_class_loss_uses_the_requested_and_the_real_classes():
    model = ACGAN(**TINY)
    batch = next(iter(_loader()))
    losses = model.discriminator_losses(batch)
    assert "class_loss" in losses and losses["class_loss"] > 0
    assert "class_loss" in model.generator_losses(batch)


def test_conditional_gans_need_labels():
    model = CGAN(**TINY)
    with pytest.raises(Exception, match="label_format to integer"):
        model.discriminator_losses((torch.zeros(4, 1, 8, 8),))


def test_infogan_codes_are_recovered_in_both_phases():
    model = InfoGAN(**{**TINY, "latent_dim": 6}, discrete_codes=4, continuous_codes=2)
    batch = next(iter(_loader()))
    for losses in (model.discriminator_losses(batch), model.generator_losses(batch)):
        assert {"discrete_code_loss", "continuous_code_loss"} <= set(losses)
    grids = model.sample_grids()
    assert grids["discrete_code"].shape == (40, 1, 8, 8) and {"continuous_code_0", "continuous_code_1"} <= set(grids)
    assert all(0 <= grid.min() and grid.max() <= 1 for grid in grids.values())


@pytest.mark.parametrize("real_code_labels", [False, True])
def test_infogan_learns_the_classes_of_real_images_only_when_asked(real_code_labels):
    """With ``real_code_labels`` the discriminator's discrete-code loss also scores the real images against
    their labels (relabelling them changes it); without, real labels play no part."""
    model = InfoGAN(**{**TINY, "latent_dim": 6}, discrete_codes=4, continuous_codes=2, real_code_labels=real_code_labels)
    images, labels = next(iter(_loader()))
    losses = []
    for relabelled in (labels, (labels + 1) % 4):
        torch.manual_seed(0)  # the same draw of fake images and codes
        losses.append(model.discriminator_losses((images, relabelled))["discrete_code_loss"])
    assert bool(losses[0] != losses[1]) is real_code_labels
    if real_code_labels:
        with pytest.raises(DataValidationError, match="label_format to integer"):
            model.discriminator_losses((images,))
        with pytest.raises(ConfigurationError, match="discrete_codes"):
            InfoGAN(**TINY, discrete_codes=3, real_code_labels=True)


def test_a_non_finite_loss_stops_the_run_naming_phase_and_step():
    model = GAN(**TINY, adversarial_loss=LeastSquaresLoss())
    original = model.generator_losses

    def poisoned(batch):
        losses = original(batch)
        if int(model.generator_steps) == 2:
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    model.generator_losses = poisoned
    with pytest.raises(NonFiniteLossError, match=r"generator loss is nan at generator step 3 \(epoch 0, batch 2\)"):
        fit(model, limit_train_batches=5)


@pytest.mark.parametrize("normalization, shown", [("standardize", "range from -1.83 to 1.83"), ("unit_range", "range from 0 to 1")])
def test_real_images_outside_the_generators_range_are_refused_before_any_step(normalization, shown):
    """Standardised images (beyond 1) or 0–1 images (tanh's upper half) would let the discriminator tell real
    from generated by their range; the first batch is refused before either player changes."""
    images, labels = make_images(64, num_classes=4)
    data = ArrayDataModule(images, labels, images[:8], labels[:8], num_classes=4, batch_size=8, val_fraction=0,
                           normalization=normalization)
    model = GAN(**TINY)
    before = snapshot(model)
    with pytest.raises(DataValidationError, match=rf"{shown}.*normalization: symmetric_range"):
        fit(model, data)
    assert unchanged(before, model) and int(model.discriminator_steps) == 0


def test_raw_integer_pixels_are_refused_before_any_step():
    """A DataModule of one's own that hands the GAN raw uint8 pixels is told to normalise them, before a step."""
    images, labels = make_images(16, num_classes=4)
    pixels = torch.as_tensor(images).permute(0, 3, 1, 2)  # NHWC -> NCHW, still uint8
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(pixels, torch.as_tensor(labels)), batch_size=8)
    assert loader.dataset.tensors[0].dtype == torch.uint8 and loader.dataset.tensors[0].ndim == 4
    model = GAN(**TINY)
    before = snapshot(model)
    with pytest.raises(DataValidationError, match="are torch.uint8 .*normalization: symmetric_range"):
        fit(model, loader)
    assert unchanged(before, model) and int(model.discriminator_steps) == 0


def test_a_gan_with_another_output_range_names_its_own_normalization():
    class SigmoidGAN(GAN):
        data_range = (0.0, 1.0)

    images, labels = make_images(64, num_classes=4)
    data = {mode: ArrayDataModule(images, labels, images[:8], labels[:8], num_classes=4, batch_size=8, val_fraction=0,
                                  normalization=mode) for mode in ("unit_range", "symmetric_range")}
    with pytest.raises(DataValidationError, match="range from -1 to 1.*normalization: unit_range"):
        fit(SigmoidGAN(**TINY), data["symmetric_range"])
    assert fit(SigmoidGAN(**TINY), data["unit_range"], limit_train_batches=2).state.finished


def test_bad_settings_are_refused():
    with pytest.raises(ConfigurationError, match="n_critic"):
        GAN(**TINY, n_critic=0)
    with pytest.raises(ConfigurationError, match="ema_decay"):
        GAN(**TINY, ema_decay=1.5)


def test_sample_grid_callback_writes_pngs(tmp_path):
    from lightning_dl.callbacks import SampleGrid

    grid = SampleGrid()
    fit(GAN(**TINY), callbacks=[grid], limit_train_batches=2, default_root_dir=str(tmp_path))
    assert {p.parent.name for p in grid.saved} == {"samples", "interpolation"}
    assert all(p.suffix == ".png" and p.stat().st_size > 100 for p in grid.saved)


def test_the_weight_average_matches_the_formula_on_a_dcgan_generator():
    """Public ``lerp_`` gives what ``average += (1 - decay) * (current - average)`` gives, within float rounding,
    for every weight and buffer of a generator with batch norm, along warmed-up and late updates."""
    from lightning_dl.models.gans import GeneratorAverage

    torch.manual_seed(0)
    generator = TINY["generator"](image_shape=(1, 8, 8), latent_dim=8)
    average = GeneratorAverage(generator, decay=0.999)
    expected = [t.detach().clone() for t in (*generator.parameters(), *generator.buffers())]
    for step in range(6):
        if step == 4:
            average.n_averaged.fill_(5000)  # late: the configured decay
        decay = min(0.999, (1 + int(average.n_averaged)) / (10 + int(average.n_averaged))) if step else 0.0
        with torch.no_grad():
            for tensor in (*generator.parameters(), *generator.buffers()):
                tensor.add_(torch.randn_like(tensor.float()).to(tensor.dtype) if tensor.is_floating_point() else 1)
        currents = [t.detach() for t in (*generator.parameters(), *generator.buffers())]
        expected = [e + (1 - decay) * (c - e) if c.is_floating_point() else c.clone() for e, c in zip(expected, currents)]
        average.update_parameters(generator)
        got = [*average.module.parameters(), *average.module.buffers()]
        for e, g in zip(expected, got):
            torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-6)


class FeatureMatching(NoiseObjective):
    """A variant written as an objective only: the generator also matches the discriminator's mean features."""

    def generator_losses(self, batch):
        losses = super().generator_losses(batch)
        body = self.gan.discriminator.forward_features
        fake = self.generate(self.condition(len(batch[0])), self.gan.generator)
        matching = (body(batch[0]).mean(0) - body(fake).mean(0)).pow(2).mean()
        return {**losses, "loss": losses["loss"] + matching, "feature_matching": matching}


def test_a_new_variant_is_an_objective_composed_with_the_loop():
    """The loop trains any objective it is given: frozen players, counters and logging come with it."""
    spy = PhaseSpy()
    model = GAN(**TINY, objective=FeatureMatching)  # the objective a variant module would pass
    trainer = fit(model, callbacks=[spy], limit_train_batches=3)
    assert [name for name, *_ in spy.steps] == ["discriminator", "generator"] * 3
    assert all(trained and not other_got_gradient and other_unchanged
               for _, trained, other_got_gradient, other_unchanged in spy.steps)
    assert "train/generator_feature_matching_epoch" in trainer.callback_metrics
    assert int(model.generator_steps) == 3


@pytest.mark.parametrize("variant", [GAN, CGAN, ACGAN, InfoGAN])
def test_hyperparameters_are_the_arguments_given_and_rebuild_the_model(variant):
    """What a variant passes to its base (its objective, settings it fixes) is not a hyperparameter, so the
    hyperparameters rebuild the same model (as ``load_from_checkpoint`` does)."""
    model = variant(**TINY, ema_decay=0.9)
    assert "objective" not in model.hparams or variant is GAN
    assert {"ema_decay", "latent_dim", "num_samples"} <= set(model.hparams)
    rebuilt = variant(**model.hparams)
    assert type(rebuilt.objective) is type(model.objective)
    assert model.state_dict().keys() == rebuilt.state_dict().keys()
    assert all(a.shape == b.shape for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()))
