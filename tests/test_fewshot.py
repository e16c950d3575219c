"""Few-shot learning: episodes, class separation, train-only normalisation, prototypes, the 95 % interval."""

from __future__ import annotations

import functools
import math
import statistics

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from conftest import REPO
from test_gans_resume import check_resume_is_bit_identical
from torch import nn

from lightning_dl.cli import cli_main
from lightning_dl.data import EpisodeSampler, EpisodicDataModule, sources
from lightning_dl.data.episodes import STREAMS
from lightning_dl.errors import ConfigurationError
from lightning_dl.models import Conv4, EpisodeAccuracy, PrototypicalNetwork
from lightning_dl.models.fewshot import class_prototypes, confidence_interval95
from lightning_dl.nn import CNN
from lightning_dl.nn.base import Network

FASHION_CONFIG = str(REPO / "configs/fewshot/protonet_fashion_mnist.yaml")
TRAIN, TEST = (0, 1, 2, 3, 4, 5), (6, 7, 8, 9)


def digits(**kwargs) -> EpisodicDataModule:
    settings = {"dataset": "digits", "ways": 3, "shots": 2, "queries": 3, "val_fraction": 0.25,
                "episodes_per_epoch": 20, "val_episodes": 5, "test_episodes": 20, "seed": 7}
    data = EpisodicDataModule(**{**settings, **kwargs})
    data.setup()
    return data


@pytest.fixture(scope="module")
def data() -> EpisodicDataModule:
    return digits()


def sampled(data: EpisodicDataModule, stage: str, epoch: int = 0, **kwargs) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The episodes (support, query index tensors) of one stage's loader at ``epoch``."""
    sampler = data.episode_loader(stage).sampler
    for name, value in kwargs.items():
        setattr(sampler, name, value)
    sampler.set_epoch(epoch)
    return list(sampler)


def rows(images: torch.Tensor) -> set[bytes]:
    return {image.numpy().tobytes() for image in images}


# --- episodes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["train", "test"])
def test_an_episode_has_n_k_support_and_n_q_disjoint_queries_from_n_classes(data, stage):
    ways, shots, queries = data.episode_shapes[stage]
    dataset = data.test_set if stage == "test" else data.train_set
    loader = data.episode_loader(stage)
    for (support, query), batch in zip(loader.sampler, loader):
        support_images, support_labels, query_images, query_labels = batch
        assert support_images.shape == (ways * shots, 1, 8, 8) and query_images.shape == (ways * queries, 1, 8, 8)
        assert torch.equal(support_labels, torch.arange(ways).repeat_interleave(shots))
        assert torch.equal(query_labels, torch.arange(ways).repeat_interleave(queries))
        assert torch.equal(support_images, dataset.images[support.flatten()])
        assert torch.equal(query_images, dataset.images[query.flatten()])
        assert not set(support.flatten().tolist()) & set(query.flatten().tolist())  # disjoint
        assert len(set(torch.cat([support, query], 1).flatten().tolist())) == ways * (shots + queries)
        classes = dataset.labels[torch.cat([support, query], 1)]  # original classes, one row per episode class
        assert (classes == classes[:, :1]).all() and len(set(classes[:, 0].tolist())) == ways
        assert not rows(support_images) & rows(query_images)


def test_train_validation_and_test_classes_never_mix(data):
    for stage, allowed in (("train", TRAIN), ("val", TRAIN), ("test", TEST)):
        dataset = {"train": data.train_set, "val": data.val_set, "test": data.test_set}[stage]
        seen = set()
        for epoch in range(5):
            for support, query in sampled(data, stage, epoch):
                seen |= set(dataset.labels[torch.cat([support, query], 1)].flatten().tolist())
        assert seen == set(allowed), stage  # over 100 episodes every class of the stage shows up, no other
    # the images themselves: none of the test classes' images is trained or validated on, nor validated on trained
    assert not rows(data.test_set.images) & rows(data.train_set.images)
    assert set(data.val_set.labels.tolist()) == set(TRAIN) and set(data.test_set.labels.tolist()) == set(TEST)
    arrays = sources.load_digits()  # test classes: all their images, from both official splits
    assert len(data.test_set) == np.isin(arrays.train_labels, TEST).sum() + np.isin(arrays.test_labels, TEST).sum()


def test_episodes_depend_only_on_seed_and_epoch(data):
    again = digits()
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
               for a, b in zip(sampled(data, "train", 3), sampled(again, "train", 3)))
    epoch_3, epoch_4 = sampled(data, "train", 3), sampled(data, "train", 4)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(epoch_3, epoch_4))
    other_seed = sampled(digits(seed=8), "train", 3)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(epoch_3, other_seed))
    # validation and test episodes are the same every epoch
    assert all(torch.equal(a[0], b[0]) for a, b in zip(sampled(data, "test", 0), sampled(data, "test", 5)))


def test_a_checkpoint_taken_mid_epoch_resumes_at_the_next_episode(data):
    loader = data.train_dataloader()
    state = {"epoch": 3, "samples_done": 7}  # what a checkpoint after 7 episodes of epoch 3 holds
    loader.sampler.set_epoch(3)
    loader.load_state_dict(state)
    rest = list(loader.sampler)
    assert len(rest) == 13 and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                                   for a, b in zip(rest, sampled(data, "train", 3)[7:]))
    assert len(list(loader.sampler)) == 20  # once: the next epoch is whole


def test_a_prototypical_network_stopped_mid_epoch_resumes_bit_identical(tmp_path):
    def make_model() -> PrototypicalNetwork:
        return PrototypicalNetwork(network=functools.partial(CNN, channels=[4, 8]), input_shape=(1, 8, 8))

    check_resume_is_bit_identical(tmp_path, make_model, digits, batch=6)  # 20 episodes an epoch


def test_processes_share_the_episodes_test_without_repeats_training_padded(data):
    def shards(stage: str, world: int) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        dataset = data.test_set if stage == "test" else data.train_set
        return [list(EpisodeSampler(dataset, *data.episode_shapes[stage], episodes=20, seed=7, stream=STREAMS[stage],
                                    num_replicas=world, rank=rank, fixed=stage == "test", pad=stage == "train"))
                for rank in range(world)]

    single = sampled(data, "test")
    test_shards = shards("test", 3)
    assert [len(s) for s in test_shards] == [7, 7, 6]  # every episode exactly once: 20 in all
    by_position = [test_shards[i % 3][i // 3] for i in range(20)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(single, by_position))
    assert [len(s) for s in shards("train", 3)] == [7, 7, 7]  # as many steps on every process


def test_normalisation_is_fitted_on_the_training_classes_training_images_only(data, monkeypatch):
    arrays = sources.load_digits()
    seen = np.isin(arrays.train_labels, TRAIN)
    train_part = data._splits["train"][0]
    assert np.allclose(data.normalization.shift, train_part.mean(), atol=1e-4)
    assert np.allclose(data.normalization.scale, train_part.std(), atol=1e-4)
    assert len(train_part) + len(data.val_set) == seen.sum()

    def changed(test_scale: float = 1.0, train_scale: float = 1.0):
        train_images = arrays.train_images.copy()
        test_images = arrays.test_images * np.float32(test_scale)
        train_images[~seen] *= np.float32(test_scale)  # the test classes' images
        train_images[seen] *= np.float32(train_scale)
        return sources.ImageArrays(train_images, arrays.train_labels, test_images, arrays.test_labels,
                                   arrays.class_names)

    monkeypatch.setattr(sources, "load_digits", lambda: changed(test_scale=5.0))
    assert digits().statistics() == data.statistics()  # test-class images changed: statistics unchanged
    monkeypatch.setattr(sources, "load_digits", lambda: changed(train_scale=2.0))
    assert digits().statistics() != data.statistics()  # the check can fail


def test_a_checkpoint_restores_the_normalisation(data):
    fresh = EpisodicDataModule(dataset="digits", ways=3, shots=2, queries=3, val_fraction=0.25, seed=7,
                               normalization="unit_range")
    fresh.setup()
    assert fresh.statistics() != data.statistics()
    fresh.load_state_dict(data.state_dict())
    assert fresh.statistics() == data.statistics()
    assert torch.equal(fresh.test_set.images, data.test_set.images)  # rebuilt with what was restored


def test_settings_that_cannot_work_are_named():
    with pytest.raises(ConfigurationError, match=r"\[5\]"):
        EpisodicDataModule(dataset="digits", train_classes=[0, 1, 5], test_classes=[5, 6])
    with pytest.raises(ConfigurationError, match="5-way"):
        digits(test_ways=5)
    with pytest.raises(ConfigurationError, match="shots \\+ queries"):
        digits(val_fraction=0.05, test_shots=5, test_queries=10)


# --- the prototypical network -----------------------------------------------------------------------
class Pixels(Network):
    """The identity embedding (flattened pixels), so distances can be computed by hand."""

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int) -> None:
        super().__init__()
        self.features, self.num_features = nn.Flatten(), math.prod(input_shape)
        self.head = self.build_head(num_outputs)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Linear(self.num_features, num_outputs)


def test_prototypes_are_the_class_means_and_logits_negative_squared_distances():
    generator = torch.Generator().manual_seed(0)
    support, query = torch.randn(6, 1, 2, 2, generator=generator), torch.randn(4, 1, 2, 2, generator=generator)
    labels = torch.tensor([1, 0, 2, 1, 0, 2])
    flat = support.flatten(1)
    by_hand = torch.stack([(flat[1] + flat[4]) / 2, (flat[0] + flat[3]) / 2, (flat[2] + flat[5]) / 2])
    assert torch.allclose(class_prototypes(flat, labels, 3), by_hand)
    model = PrototypicalNetwork(network=Pixels, input_shape=(1, 2, 2))
    logits = model(support, labels, query)
    expected = [[-sum((query.flatten(1)[i] - by_hand[j]) ** 2) for j in range(3)] for i in range(4)]
    assert torch.allclose(logits, torch.tensor(expected), atol=1e-5)


@pytest.mark.parametrize("network", [Conv4, functools.partial(CNN, channels=[8, 16])], ids=["Conv4", "CNN"])
def test_a_query_equal_to_a_prototype_is_classified_as_its_class(data, network):
    torch.manual_seed(0)
    model = PrototypicalNetwork(network=network, input_shape=(1, 8, 8)).eval()
    assert model.embedding_size == 64 and not any("head" in name for name, _ in model.named_parameters())  # body only
    support_images, support_labels, _, _ = data.example_episode("test")
    one_shot = support_images[::2]  # shots=2: one image of each class is the prototype
    order = torch.tensor([2, 0, 1])
    with torch.no_grad():
        logits = model(one_shot, torch.arange(3), one_shot[order])
    assert torch.equal(logits.argmax(1), order) and torch.allclose(logits.max(1).values, torch.zeros(3), atol=1e-4)
    pixels = PrototypicalNetwork(network=Pixels, input_shape=(1, 8, 8))
    means = torch.stack([support_images[support_labels == j].mean(0) for j in range(3)])
    assert torch.equal(pixels(support_images, support_labels, means[order]).argmax(1), order)


def test_test_accuracy_is_the_mean_over_episodes_with_its_95_percent_interval(data):
    model = PrototypicalNetwork(network=Pixels, input_shape=(1, 8, 8))
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    result = trainer.test(model, datamodule=data, verbose=False)[0]
    accuracies = [(model(s, sl, q).argmax(1) == ql).float().mean().item() for s, sl, q, ql in data.test_dataloader()]
    assert len(accuracies) == 20 and len(set(accuracies)) > 1
    assert result["test/accuracy"] == pytest.approx(statistics.mean(accuracies), abs=1e-6)
    half_width = 1.96 * statistics.stdev(accuracies) / math.sqrt(20)
    assert result["test/accuracy_ci95"] == pytest.approx(half_width, abs=1e-6)
    assert confidence_interval95(torch.tensor(accuracies)) == pytest.approx(half_width)


def test_episode_accuracy_weights_every_episode_once():
    metric = EpisodeAccuracy()
    metric.update(torch.tensor([3, 10]), torch.tensor([4, 10]))  # 0.75 and 1.0, whatever the query counts
    metric.update(torch.tensor([1]), torch.tensor([2]))
    values = metric.compute()
    assert values["accuracy"].item() == pytest.approx(0.75)
    assert values["accuracy_ci95"].item() == pytest.approx(1.96 * statistics.stdev([0.75, 1.0, 0.5]) / math.sqrt(3))


def test_the_config_runs_a_fast_dev_run_on_digits():
    cli = cli_main(["fit", "--config", FASHION_CONFIG, "--data.init_args.dataset", "digits",
                    "--data.init_args.val_fraction", "0.3", "--data.init_args.test_queries", "5",
                    "--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu",
                    "--trainer.enable_progress_bar", "false"])
    assert isinstance(cli.model, PrototypicalNetwork) and cli.model.input_shape == (1, 8, 8)  # linked
    assert cli.trainer.state.finished and cli.model.monitor == "val/accuracy"
    assert {"test/accuracy", "test/accuracy_ci95", "test/loss"} <= set(cli.trainer.callback_metrics)
