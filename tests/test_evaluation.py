"""The classifier judge: FID with its features, conditional accuracy, class coverage, code matching."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from conftest import load_script
from lightning_dl.data.sources import FASHION_MNIST_CLASSES
from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.evaluation import (
    ClassifierFeatures,
    class_coverage,
    classifier_fid,
    classifier_fid_metric,
    conditional_accuracy,
    match_codes_to_classes,
    predict_classes,
)
from lightning_dl.nn.base import Network

SHAPE, NUM_CLASSES = (1, 8, 8), 3


class TinyJudge(Network):
    """Dense body with dropout and batch norm (so evaluation mode matters), a head with one hidden layer."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5))
        self.num_features, self.num_outputs = 16, NUM_CLASSES
        self.head = self.build_head(NUM_CLASSES)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, num_outputs))


def synthetic_pixels(n: int, seed: int, classes: tuple[int, ...] = (0, 1, 2)) -> tuple[torch.Tensor, torch.Tensor]:
    """0–255 pixel images: class k is a bright 3×3 square at position k on a noisy background."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor(classes)[torch.randint(len(classes), (n,), generator=generator)]
    pixels = 40 + 20 * torch.randn(n, *SHAPE, generator=generator)
    for k in range(NUM_CLASSES):
        pixels[labels == k, :, 1 + 2 * k:4 + 2 * k, 1 + 2 * k:4 + 2 * k] += 180
    return pixels.clamp(0, 255), labels


@pytest.fixture(scope="module")
def trained():
    """A judge trained on standardised pixels, as a DataModule with ``standardize`` would feed it."""
    torch.manual_seed(0)
    pixels, labels = synthetic_pixels(600, seed=1)
    mean, std = pixels.mean().item(), pixels.std().item()
    judge = TinyJudge()
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        nn.functional.cross_entropy(judge((pixels - mean) / std), labels).backward()
        optimizer.step()
    return SimpleNamespace(judge=judge.eval(), mean=mean, std=std)


def as_generator_output(pixels: torch.Tensor) -> torch.Tensor:
    """Pixels in the [-1, 1] range of a tanh generator trained on ``symmetric_range`` data."""
    return (pixels - 127.5) / 127.5


@pytest.fixture(scope="module")
def judge(trained) -> ClassifierFeatures:
    generator_range = SimpleNamespace(shift=torch.tensor([127.5]), scale=torch.tensor([127.5]))  # like a Normalization
    return ClassifierFeatures(trained.judge, SHAPE, judge_normalization=(trained.mean, trained.std),
                              image_normalization=generator_range)


def test_judge_sees_generator_images_as_it_was_trained_on_them(trained, judge):
    pixels, labels = synthetic_pixels(200, seed=2)
    direct = trained.judge((pixels - trained.mean) / trained.std)
    torch.testing.assert_close(judge.classify(as_generator_output(pixels)), direct)
    assert (direct.argmax(1) == labels).float().mean() > 0.95  # the judge is worth its name
    torch.testing.assert_close(judge.classify(pixels.round().to(torch.uint8)),  # uint8: raw pixels
                               trained.judge((pixels.round() - trained.mean) / trained.std))


def test_judge_is_frozen_in_evaluation_mode_and_out_of_optimisers(trained, judge):
    judge.train()
    assert not judge.training and not judge.judge.training
    images = as_generator_output(synthetic_pixels(8, seed=3)[0])
    torch.testing.assert_close(judge(images), judge(images))  # no dropout
    assert not any(p.requires_grad for p in judge.parameters())
    assert all(p.requires_grad for p in trained.judge.parameters())  # the caller's classifier is untouched
    assert judge(images).shape == (8, judge.num_features) and judge.num_features == 8  # the penultimate layer
    features_only = ClassifierFeatures(trained.judge, SHAPE, layer="features")
    assert features_only.num_features == 16
    with pytest.raises(DataValidationError, match="reads images of shape"):
        judge(torch.zeros(2, 3, 8, 8))


def test_judge_runs_in_float32_under_autocast(judge):
    images = as_generator_output(synthetic_pixels(8, seed=3)[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = judge(images)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, judge(images))


def test_fid_near_zero_for_real_vs_real_and_large_for_noise(judge):
    real = as_generator_output(synthetic_pixels(500, seed=4)[0])
    same_distribution = as_generator_output(synthetic_pixels(500, seed=5)[0])
    noise = torch.rand(500, *SHAPE) * 2 - 1
    identical = classifier_fid(judge, real, real).item()
    fresh = classifier_fid(judge, real, same_distribution).item()
    against_noise = classifier_fid(judge, real, noise).item()
    assert abs(identical) < 1e-3
    assert against_noise > 20 * max(fresh, 1e-3)
    # a missing class is a different distribution too
    two_classes = as_generator_output(synthetic_pixels(500, seed=6, classes=(0, 1))[0])
    assert classifier_fid(judge, real, two_classes).item() > 5 * fresh


def test_fid_metric_streams_updates(judge):
    real = as_generator_output(synthetic_pixels(200, seed=7)[0])
    metric = classifier_fid_metric(judge)
    for chunk in real.split(50):
        metric.update(chunk, real=True)
        metric.update(chunk, real=False)
    assert abs(metric.compute().item()) < 1e-3


def test_conditional_accuracy_on_labelled_real_data_is_the_plain_accuracy(trained, judge):
    pixels, labels = synthetic_pixels(300, seed=8)
    plain = (trained.judge((pixels - trained.mean) / trained.std).argmax(1) == labels).float()
    result = conditional_accuracy(judge, as_generator_output(pixels), labels)
    assert result.accuracy.item() == pytest.approx(plain.mean().item())
    for k in range(NUM_CLASSES):
        assert result.per_class[k].item() == pytest.approx(plain[labels == k].mean().item())
    one_hot = conditional_accuracy(judge, as_generator_output(pixels), torch.eye(NUM_CLASSES)[labels])
    assert one_hot.accuracy.item() == pytest.approx(plain.mean().item())
    # samples that ignore the request score at chance level
    shuffled = conditional_accuracy(judge, as_generator_output(pixels), (labels + 1) % NUM_CLASSES)
    assert shuffled.accuracy < 0.1


def test_conditional_accuracy_marks_unrequested_classes(judge):
    pixels, labels = synthetic_pixels(50, seed=9, classes=(0, 1))
    result = conditional_accuracy(judge, as_generator_output(pixels), labels, num_classes=NUM_CLASSES)
    assert torch.isnan(result.per_class[2]) and not torch.isnan(result.per_class[:2]).any()
    with pytest.raises(DataValidationError, match="requested labels"):
        conditional_accuracy(judge, as_generator_output(pixels), labels[:10])


def test_class_coverage_sums_to_one_and_finds_a_missing_class(judge):
    balanced = class_coverage(judge, as_generator_output(synthetic_pixels(600, seed=10)[0]), NUM_CLASSES)
    assert balanced.sum().item() == pytest.approx(1.0)
    assert balanced.min() > 0.25
    collapsed = class_coverage(judge, as_generator_output(synthetic_pixels(600, seed=11, classes=(0, 2))[0]),
                               NUM_CLASSES)
    assert collapsed.sum().item() == pytest.approx(1.0)
    assert collapsed[1] < 0.03 and collapsed[0] > 0.4 and collapsed[2] > 0.4


def test_bare_network_judge_reads_images_as_given(trained):
    pixels, _ = synthetic_pixels(20, seed=12)
    inputs = (pixels - trained.mean) / trained.std
    torch.testing.assert_close(predict_classes(trained.judge, inputs), trained.judge(inputs).argmax(1))


def test_project_cnn_as_judge():
    from lightning_dl.nn import CNN

    cnn = CNN((1, 8, 8), NUM_CLASSES, channels=[4], hidden_sizes=[32])
    assert ClassifierFeatures(cnn, SHAPE).num_features == 32  # its last hidden dense layer
    assert ClassifierFeatures(cnn, SHAPE, layer="features").num_features == 4 * 4 * 4  # conv maps after pooling
    images = torch.randn(6, *SHAPE)
    assert ClassifierFeatures(cnn, SHAPE)(images).shape == (6, 32)


def test_infogan_codes_are_matched_to_the_classes_they_draw(judge):
    pixels, labels = synthetic_pixels(300, seed=13)
    code_of_class = torch.tensor([2, 0, 1])  # the generator learnt a permutation of the classes
    codes = code_of_class[labels]
    mapping = match_codes_to_classes(judge, as_generator_output(pixels), codes, NUM_CLASSES)
    assert mapping.tolist() == [1, 2, 0]
    assert conditional_accuracy(judge, as_generator_output(pixels), mapping[codes]).accuracy > 0.95


# --- the saved judge --------------------------------------------------------------------------------
def test_load_judge_round_trip(trained, tmp_path):
    from lightning_dl.evaluation import load_judge, save_judge
    from lightning_dl.nn import CNN

    cnn = CNN(SHAPE, NUM_CLASSES, channels=[4], hidden_sizes=[16], batch_norm=True, dropout=0.5)
    pixels, labels = synthetic_pixels(300, seed=14)
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        nn.functional.cross_entropy(cnn((pixels - trained.mean) / trained.std), labels).backward()
        optimizer.step()
    normalization = SimpleNamespace(shift=torch.tensor([trained.mean]), scale=torch.tensor([trained.std]))
    path = save_judge(tmp_path / "judge" / "judge.pt", cnn, normalization, SHAPE, test_accuracy=0.5, epochs=1,
                      init_args={"channels": [4], "hidden_sizes": [16], "batch_norm": True, "dropout": 0.5})
    loaded = load_judge(path)
    assert loaded.image_shape == SHAPE and loaded.info == {"test_accuracy": 0.5, "epochs": 1}
    assert not loaded.network.training and not any(p.requires_grad for p in loaded.network.parameters())
    torch.testing.assert_close(loaded.normalization[0].flatten(), torch.tensor([trained.mean]))
    # the loaded judge reads a generator's [-1, 1] images exactly as the trained CNN reads its own inputs
    features = loaded.features(image_normalization=(127.5, 127.5))
    torch.testing.assert_close(features.classify(as_generator_output(pixels)),
                               cnn.eval()((pixels - trained.mean) / trained.std))
    assert features.num_features == 16
    with pytest.raises(FileNotFoundError, match="train_judge.py"):
        load_judge(tmp_path / "missing.pt")
    torch.save({"something": "else"}, tmp_path / "other.pt")
    with pytest.raises(ConfigurationError, match="not a judge file"):
        load_judge(tmp_path / "other.pt")
    with pytest.raises(ConfigurationError, match="Network"):
        save_judge(tmp_path / "bad.pt", nn.Linear(2, 2), (0.0, 1.0), SHAPE, init_args={})


# --- the evaluation on a generator trained for seconds ------------------------------------------------
@pytest.fixture(scope="module")
def digits_judge():
    """A small CNN trained for a few seconds on scikit-learn's 8×8 digits (standardised), as a judge."""
    from lightning_dl.data import DigitsDataModule
    from lightning_dl.nn import CNN

    data = DigitsDataModule(val_fraction=0, normalization="standardize")
    data.setup("fit")
    data.setup("test")
    torch.manual_seed(0)
    cnn = CNN((1, 8, 8), 10, channels=[16], hidden_sizes=[32])
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-2)
    inputs, targets = data.train_set.inputs, data.train_set.targets
    for _ in range(60):
        optimizer.zero_grad()
        nn.functional.cross_entropy(cnn(inputs), targets).backward()
        optimizer.step()
    test_inputs, test_labels = data.test_set.__getitems__(list(range(len(data.test_set))))
    accuracy = (cnn.eval()(test_inputs).argmax(1) == test_labels).float().mean().item()
    assert accuracy > 0.8
    return SimpleNamespace(network=cnn, normalization=data.normalization)


def tiny_gan(model_class, **arguments):
    """``model_class`` with DCGAN networks a few channels wide, trained for 20 batches of digits (seconds)."""
    import functools

    import pytorch_lightning as pl

    from lightning_dl.data import DigitsDataModule
    from lightning_dl.nn import DCGANDiscriminator, DCGANGenerator

    data = DigitsDataModule(batch_size=32, val_fraction=0, normalization="symmetric_range")
    pl.seed_everything(0, verbose=False)
    model = model_class(generator=functools.partial(DCGANGenerator, channels=[16, 8], strides=[2, 2]),
                        discriminator=functools.partial(DCGANDiscriminator, channels=[8, 16], strides=[2, 2]),
                        input_shape=(1, 8, 8), num_classes=10, latent_dim=16, **arguments)
    trainer = pl.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=20, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, data)
    data.setup("test")
    return model, data


@pytest.mark.parametrize("variant", ["GAN", "CGAN", "InfoGAN"])
def test_judging_a_generator_trained_for_seconds(variant, digits_judge):
    from lightning_dl import models

    evaluate_gans = load_script("evaluate_gans")
    arguments = {"ema_decay": 0.9} if variant == "GAN" else {}
    model, data = tiny_gan(getattr(models, variant), **arguments)
    judge = ClassifierFeatures(digits_judge.network, (1, 8, 8), judge_normalization=digits_judge.normalization,
                               image_normalization=data.normalization)
    real, _ = evaluate_gans.real_test_images(data, 300, seed=0)
    other_real = data.train_set.__getitems__(list(range(300)))[0]
    scores = evaluate_gans.judge_generator(model, model.sampling_generator, judge, real, 10)
    assert 0 <= classifier_fid(judge, real, other_real).item() < scores["fid"] < float("inf")  # 20 batches: far off
    assert len(scores["class_shares"]) == 10 and sum(scores["class_shares"]) == pytest.approx(1.0, abs=1e-3)
    assert scores["min_class_share"] == pytest.approx(min(scores["class_shares"]), abs=1e-4)
    if variant == "GAN":
        assert "conditional_accuracy" not in scores
        assert model.generator_average is not None  # judged from the average: sampling_generator
        images, labels = evaluate_gans.generate(model, model.generator, 7)
        assert images.shape == (7, 1, 8, 8) and labels is None and model.generator.training
    else:  # every class requested equally often: the overall accuracy is the mean of the classes'
        assert 0 <= scores["conditional_accuracy"] <= 1 and len(scores["class_accuracies"]) == 10
        assert sum(scores["class_accuracies"]) / 10 == pytest.approx(scores["conditional_accuracy"], abs=1e-3)
    if variant == "InfoGAN":
        assert sorted(scores["code_to_class"]) == list(range(10))  # a one-to-one matching
    # the same samples on a second call: the judge's numbers do not depend on the global random state
    torch.manual_seed(123)
    assert evaluate_gans.judge_generator(model, model.sampling_generator, judge, real, 10)["fid"] == scores["fid"]


#: Networks a few channels wide for every DCGAN-shaped variant (``--cli-args`` of evaluate_gans.py).
SMALL_GANS = ("--model.init_args.generator lightning_dl.nn.DCGANGenerator "
              "--model.init_args.generator.init_args.channels [4,4,4] "
              "--model.init_args.discriminator lightning_dl.nn.DCGANDiscriminator "
              "--model.init_args.discriminator.init_args.channels [4,4,4,4]")


def tiny_judge(tmp_path) -> str:
    """A small untrained judge saved under ``tmp_path``, the same one on every call (skips where Fashion-MNIST is
    not installed)."""
    from lightning_dl.data.sources import fetch_fashion_mnist
    from lightning_dl.evaluation import save_judge
    from lightning_dl.nn import CNN

    try:
        fetch_fashion_mnist("data", download=False)
    except (FileNotFoundError, OSError):
        pytest.skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        network = CNN((1, 28, 28), 10, channels=[4], hidden_sizes=[16])
    return str(save_judge(tmp_path / "judge.pt", network, (72.9, 90.0), (1, 28, 28), test_accuracy=0.1,
                          init_args={"channels": [4], "hidden_sizes": [16]}))


#: CycleGAN's networks a few channels wide, and 64 images per domain.
SMALL_CYCLEGAN = ("--model.init_args.generator.init_args.filters [4,8] "
                  "--model.init_args.discriminator.init_args.channels [4,8] "
                  "--model.init_args.discriminator.init_args.strides [2,1] --data.init_args.train_images 64")


def evaluate_gans_results(tmp_path, *arguments: str, cli_args: str = "") -> dict:
    """Run evaluate_gans.py with a tiny judge and small networks (and ``cli_args``); its JSON results."""
    import json

    output = tmp_path / "eval" / "results.json"
    load_script("evaluate_gans").main([*arguments, "--judge", tiny_judge(tmp_path), "--cli-args",
                                       f"{SMALL_GANS} {cli_args}",
                                       "--cyclegan-args", SMALL_CYCLEGAN, "--output", str(output)])
    return json.loads(output.read_text())


def test_evaluate_gans_script_writes_its_table(tmp_path):
    """The whole script, with networks a few channels wide, 2 batches and 40 samples per variant. The configs'
    generator averages are switched off on the command line, and ``--ema-variants`` gives DCGAN one back (it
    wins over ``--cli-args``), named by its decay."""
    results = evaluate_gans_results(tmp_path, "--batches", "2", "--samples", "40", "--variants", "dcgan", "cgan",
                                    "wgan", "cyclegan", "--curve-every", "1", "--curve-samples", "20",
                                    "--ema-variants", "dcgan", "--ema-decay", "0.99",
                                    cli_args="--model.init_args.ema_decay null")
    rows = {row["variant"]: row for row in results["results"]}
    assert list(rows) == ["real images (reference)", "dcgan", "dcgan + EMA 0.99", "cgan", "wgan", "cyclegan"]
    assert rows["wgan"]["discriminator_steps"] == 2 and rows["wgan"]["generator_steps"] == 0  # n_critic 5
    assert rows["dcgan"]["generator_steps"] == rows["dcgan"]["discriminator_steps"] == 2
    assert len(rows["dcgan"]["curve"]) == 2 and rows["cgan"]["conditional_accuracy"] is not None
    # the curve measures the weight average beside the generator (DCGAN trains with one), on the same noise
    point, plain = rows["dcgan"]["curve"][-1], rows["cgan"]["curve"][-1]
    assert {"fid", "min_class_share", "fid_average", "min_class_share_average"} <= set(point)
    assert point["fid_average"] != point["fid"] and 0 <= point["min_class_share_average"] <= 0.1
    assert "fid_average" not in plain and 0 <= plain["min_class_share"] <= 0.1
    # each class's share along the run (which class a GAN drops), and a conditional GAN's accuracy
    for shares in (point["class_shares"], point["class_shares_average"], plain["class_shares"]):
        assert len(shares) == 10 and sum(shares) == pytest.approx(1, abs=1e-3)
    assert point["min_class_share"] == pytest.approx(min(point["class_shares"]), abs=1e-4)
    assert 0 <= plain["conditional_accuracy"] <= 1 and "conditional_accuracy" not in point
    for name in ("real images (reference)", "cgan"):  # per class, and the weakest one named in the note
        accuracies = rows[name]["class_accuracies"]
        weakest = min(range(10), key=accuracies.__getitem__)
        assert len(accuracies) == 10 and f"weakest class {FASHION_MNIST_CLASSES[weakest]} {accuracies[weakest]:.3f}" in rows[name]["note"]
    assert rows["dcgan"]["class_accuracies"] == [] and "weakest" not in rows["dcgan"]["note"]
    cyclegan = rows["cyclegan"]
    assert cyclegan["discriminator_steps"] == cyclegan["generator_steps"] == 2 and cyclegan["fid"] > 0
    assert {"colour_accuracy", "cycle_l1_a", "cycle_l1_b"} <= set(cyclegan["extra"]) and "cycle L1" in cyclegan["note"]
    assert "| variant | budget |" in results["table"]


def test_evaluate_gans_stops_a_variant_after_its_minutes(tmp_path):
    """``--minutes`` ends training after the first batch that runs past it (here: the first), before the
    ``--batches`` cap of 3 would."""
    results = evaluate_gans_results(tmp_path, "--batches", "3", "--minutes", "1e-6", "--samples", "20",
                                    "--variants", "dcgan", "--ema-variants")
    rows = {row["variant"]: row for row in results["results"]}
    assert rows["dcgan"]["discriminator_steps"] == 1 and rows["dcgan"]["budget"] == "3 batches or 1e-06 min"


def test_evaluate_gans_resumes_a_variant_where_its_last_run_stopped(tmp_path):
    """``--resume`` continues from the ``last.ckpt`` under the same ``--output`` folder: a 2-batch run resumed
    with a 5-batch budget trains 3 more (the budget counts from the schedule's start); a resumed run whose budget
    is already spent trains no further batch and judges the generator the last run left."""
    arguments = ("--samples", "20", "--variants", "dcgan", "--curve-every", "1", "--curve-samples", "20")
    first = evaluate_gans_results(tmp_path, "--batches", "2", *arguments)["results"]
    resumed = evaluate_gans_results(tmp_path, "--batches", "5", "--resume", *arguments)["results"]
    # dcgan.yaml keeps a generator average: judged beside the generator without being asked for
    assert [row["variant"] for row in first] == ["real images (reference)", "dcgan", "dcgan + EMA 0.999"]
    assert [row["discriminator_steps"] for row in (first[1], resumed[1])] == [2, 5]
    assert "resumed at 2 batches" in resumed[1]["note"] and "resumed" not in first[1]["note"]
    assert [point["batches"] for point in resumed[1]["curve"]] == [3, 4, 5]  # the curve from the resumption
    # the budget's stop is saved where it stopped, in the first epoch (938 batches): the resumed run goes on with
    # that epoch's next batches and ends where a straight 5-batch run does
    checkpoints = {path.name for path in (tmp_path / "eval" / "dcgan" / "checkpoints").glob("epoch=*.ckpt")}
    assert checkpoints == {"epoch=0-step=10.ckpt"}, checkpoints
    (tmp_path / "straight").mkdir()
    straight = evaluate_gans_results(tmp_path / "straight", "--batches", "5", *arguments)["results"]
    assert [row["fid"] for row in straight[1:]] == [row["fid"] for row in resumed[1:]]
    assert [point["fid"] for point in straight[1]["curve"][2:]] == [point["fid"] for point in resumed[1]["curve"]]
    spent = evaluate_gans_results(tmp_path, "--batches", "5", "--resume", *arguments)["results"]
    assert spent[1]["discriminator_steps"] == 5 and spent[1]["curve"] == []
    assert [row["fid"] for row in spent[1:]] == [row["fid"] for row in resumed[1:]]  # the same networks and noise


def test_evaluate_gans_generator_step_budget_is_the_models_own_limit(tmp_path):
    """``--generator-steps 1`` becomes the model's ``max_generator_steps``: a WGAN (n_critic 5) stops after its
    first generator step, five real batches in (the minute cap only ends a run that ignores the limit)."""
    results = evaluate_gans_results(tmp_path, "--generator-steps", "1", "--minutes", "0.25", "--samples", "20",
                                    "--variants", "wgan")
    rows = {row["variant"]: row for row in results["results"]}
    assert (rows["wgan"]["generator_steps"], rows["wgan"]["discriminator_steps"]) == (1, 5)
    assert rows["wgan"]["budget"] == "1 G steps or 0.25 min"


def test_train_judge_saves_a_judge_that_loads(tmp_path):
    """The script trains its config through the CLI, tests it and saves a judge with the test accuracy."""
    from lightning_dl.data.sources import fetch_fashion_mnist
    from lightning_dl.evaluation import load_judge

    try:
        fetch_fashion_mnist("data", download=False)
    except (FileNotFoundError, OSError):
        pytest.skip("Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)")
    load_script("train_judge").main([
        "--epochs", "1", "--output", str(tmp_path / "judge.pt"),
        "--cli-args", "--model.init_args.network.init_args.width 0.25 --trainer.limit_train_batches 2 "
                      "--trainer.limit_test_batches 2"])
    judge = load_judge(tmp_path / "judge.pt")
    assert judge.image_shape == (1, 28, 28) and judge.info["epochs"] == 1
    assert judge.info["config"].endswith("fast_fashion_mnist.yaml") and 0 <= judge.info["test_accuracy"] <= 1
    assert judge.features().num_features == judge.network.num_features


class Tint(nn.Module):
    """An oracle A→B generator: colours each held-out grey image (domain A's, or the grey of one of B's) with its
    own class's tint, found by the image; ``shift=1`` colours every image with the next class's tint instead."""

    def __init__(self, data, shift: int = 0) -> None:
        super().__init__()
        self.shift = shift
        test = data.test_set
        images_a, images_b = test.__getitems__(list(range(len(test.images_a))))
        pairs = [*zip(images_a, test.labels_a), *zip(BrightestChannel(data)(images_b), test.labels_b)]
        self.classes = {image.numpy().tobytes(): int(c) for image, c in pairs}
        self.data = data

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from lightning_dl.data.unpaired import class_tints

        labels = torch.tensor([(self.classes[image.numpy().tobytes()] + self.shift) % 10 for image in images])
        grey = self.data.normalization_a.inverse(images)
        tinted = (grey * torch.as_tensor(class_tints())[labels][:, :, None, None]).round().clamp(0, 255)
        return self.data.normalization_b(tinted.to(torch.uint8))


class BrightestChannel(nn.Module):
    """An oracle B→A generator: the grey image is the brightest channel of the tinted one."""

    def __init__(self, data) -> None:
        super().__init__()
        self.data = data

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pixels = self.data.normalization_b.inverse(images).amax(dim=1, keepdim=True).round().clamp(0, 255)
        return self.data.normalization_a(pixels.to(torch.uint8))


def test_judging_a_translation_scores_an_oracle_cyclegan_perfectly(tmp_path):
    """With generators that invert the tint exactly, the translation is judged as real: the judge finds each
    tinted source's class as often as in the real grey images, every colour is right, both cycles close. With the
    colours one class off, the colour accuracy drops to 0 and the B cycle opens."""
    from test_sources import write_mnist_like

    from lightning_dl.data import UnpairedDataModule
    from lightning_dl.evaluation import load_judge
    from lightning_dl.models import CycleGAN

    evaluate_gans = load_script("evaluate_gans")
    write_mnist_like(tmp_path, n_train=40, n_test=1100)
    data = UnpairedDataModule(pair="fashion_mnist_rgb", data_dir=str(tmp_path), batch_size=8)
    data.prepare_data()
    data.setup("test")
    judge = load_judge(tiny_judge(tmp_path)).features(image_normalization=data.normalization_a)
    model = CycleGAN(input_shape=(1, 32, 32), output_shape=(3, 32, 32))
    model.generator = nn.ModuleDict({"a_to_b": Tint(data), "b_to_a": BrightestChannel(data)})
    scores = evaluate_gans.judge_translation(model, judge, data, 1000)
    _, real_b = data.test_set.__getitems__(list(range(50)))
    grey_b = nn.functional.interpolate(BrightestChannel(data)(real_b), size=(28, 28), mode="bilinear", antialias=True)
    assert scores["conditional_accuracy"] == pytest.approx(
        conditional_accuracy(judge, grey_b, data.test_set.labels_b, 10).accuracy.item())
    assert scores["colour_accuracy"] == 1.0 and scores["cycle_l1_a"] < 1e-6 and scores["cycle_l1_b"] < 1e-6
    model.generator["a_to_b"] = Tint(data, shift=1)
    wrong = evaluate_gans.judge_translation(model, judge, data, 1000)
    assert wrong["colour_accuracy"] == 0.0 and wrong["cycle_l1_b"] > 0.01 and wrong["cycle_l1_a"] < 1e-6
    photos = UnpairedDataModule(pair="grey_colour", train_images=8)
    photos.setup("test")
    with pytest.raises(ConfigurationError, match="fashion_mnist_rgb pair"):  # no classes to judge by
        evaluate_gans.judge_translation(model, judge, photos, 10)
