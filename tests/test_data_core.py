"""The data hygiene of the shared DataModule machinery: split, normalise, augment, arrange."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_dl.data import ArrayDataModule, EpochShuffleSampler, EvaluationSampler, InMemoryDataset
from lightning_dl.data import Normalization, arrange, stratified_split
from lightning_dl.errors import ConfigurationError

from data_helpers import TinyClassifier, quiet_trainer


def datamodule(arrays, **kwargs) -> ArrayDataModule:
    dm = ArrayDataModule(*arrays, **{"batch_size": 16, **kwargs})
    dm.setup("fit")
    return dm


def test_split_is_stratified_seeded_and_shuffled():
    labels = np.repeat(np.arange(4), 50)  # sorted labels: an unshuffled tail split would be all class 3
    train, val = stratified_split(labels, 0.2, None, 0, seed=1)
    assert len(val) == 40 and len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 200
    assert np.bincount(labels[val]).tolist() == [10, 10, 10, 10]
    assert np.array_equal(val, stratified_split(labels, 0.2, None, 0, seed=1)[1])
    assert not np.array_equal(val, stratified_split(labels, 0.2, None, 0, seed=2)[1])


def test_folds_partition_the_training_set():
    labels = np.repeat(np.arange(4), 25)
    folds = [stratified_split(labels, 0.1, 5, k, seed=0)[1] for k in range(5)]
    assert sorted(np.concatenate(folds).tolist()) == list(range(100))
    assert all(np.bincount(labels[f]).tolist() == [5, 5, 5, 5] for f in folds)
    with pytest.raises(ConfigurationError, match="fold"):
        stratified_split(labels, 0.1, 5, 5, seed=0)


def test_datamodule_uses_fold_as_validation(arrays):
    dm = datamodule(arrays, num_folds=4, fold=1)
    assert len(dm.val_set) == 50 and len(dm.train_set) == 150


def test_statistics_come_from_the_train_split_only(arrays):
    train_images, train_labels, test_images, test_labels = arrays
    dm = datamodule(arrays, seed=3)
    train_idx, _ = stratified_split(train_labels, 0.1, None, 0, seed=3)
    expected = train_images[train_idx].astype(np.float64)
    assert dm.normalization.statistics()["mean"][0] == pytest.approx(expected.mean(), rel=1e-5)
    assert dm.normalization.statistics()["std"][0] == pytest.approx(expected.std(), rel=1e-5)
    # The whole training set (train + validation) gives different statistics: validation is not used.
    assert dm.normalization.statistics()["mean"][0] != pytest.approx(train_images.astype(np.float64).mean(), rel=1e-6)


def test_changing_validation_or_test_data_leaves_statistics_alone(arrays):
    train_images, train_labels, test_images, test_labels = arrays
    before = datamodule(arrays, seed=3).normalization.statistics()
    _, val_idx = stratified_split(train_labels, 0.1, None, 0, seed=3)
    poisoned = train_images.copy()
    poisoned[val_idx] = 255  # change every validation image
    after = datamodule((poisoned, train_labels, np.full_like(test_images, 255), test_labels), seed=3)
    assert after.normalization.statistics() == before
    # ...and validation/test are normalised with the train statistics, not their own.
    assert torch.allclose(after.val_set.inputs, (255 - after.normalization.shift) / after.normalization.scale)


@pytest.mark.parametrize("mode, low, high", [("unit_range", 0.0, 1.0), ("symmetric_range", -1.0, 1.0)])
def test_range_scaling_maps_train_extremes(arrays, mode, low, high):
    """The darkest and brightest pixels sit in validation images only: fitted on train + validation, the train
    split would not reach the ends of the range, and validation would not leave it."""
    train_images, train_labels, test_images, test_labels = arrays
    images = np.clip(train_images, 20, 200)
    _, val_idx = stratified_split(train_labels, 0.1, None, 0, seed=42)
    images[val_idx[0], 0, 0, 0], images[val_idx[1], 0, 0, 0] = 0, 255
    dm = datamodule((images, train_labels, test_images, test_labels), normalization=mode)
    assert dm.normalization.statistics() == {"min": [20.0], "max": [200.0]}
    assert dm.train_set.inputs.min().item() == pytest.approx(low, abs=1e-6)
    assert dm.train_set.inputs.max().item() == pytest.approx(high, abs=1e-6)
    assert dm.val_set.inputs.min().item() < low and dm.val_set.inputs.max().item() > high


def test_normalization_rejects_unknown_mode():
    with pytest.raises(ConfigurationError, match="standardize"):
        Normalization("zscore")


def test_augmentation_touches_train_batches_only(arrays):
    flip = [{"HorizontalFlip": {"p": 1.0}}]
    plain, augmented = datamodule(arrays), datamodule(arrays, augmentation=flip)
    indices = list(range(8))
    x_plain, _ = plain.train_set.__getitems__(indices)
    x_aug, _ = augmented.train_set.__getitems__(indices)
    assert torch.equal(x_aug, x_plain.flip(-1))
    for stage in ("val_set", "test_set"):
        assert getattr(augmented, stage).transform is None
        assert torch.equal(getattr(augmented, stage).inputs, getattr(plain, stage).inputs)
    val_batch = next(iter(augmented.val_dataloader()))[0]
    assert torch.equal(val_batch, next(iter(plain.val_dataloader()))[0])


def test_augmentation_is_reseeded_per_epoch(arrays):
    dm = datamodule(arrays, augmentation=[{"Affine": {"translate_percent": (-0.25, 0.25), "p": 1.0}}])
    batches = []
    for epoch in (0, 1, 0):
        dm.train_set.set_epoch(epoch)
        batches.append(dm.train_set.__getitems__(list(range(8)))[0])
    assert torch.equal(batches[0], batches[2]) and not torch.equal(batches[0], batches[1])


@pytest.mark.parametrize("spec, message", [
    ([{"NoSuchTransform": {}}], "Unknown augmentation"),
    ([{"HorizontalFlip": {"probability": 0.5}}], "probability"),
    (["HorizontalFlip"], "mapping"),
])
def test_bad_augmentation_is_an_error(arrays, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        ArrayDataModule(*arrays, augmentation=spec)


@pytest.mark.parametrize("layout, shape", [("image", (1, 8, 8)), ("flat", (64,)), ("sequence", (8, 8))])
def test_layouts_have_the_right_shapes(arrays, layout, shape):
    dm = datamodule(arrays, layout=layout)
    x, _ = next(iter(dm.train_dataloader()))
    assert dm.input_shape == shape and tuple(x.shape) == (16, *shape)


def test_sequence_layout_reads_rows_with_channels_interleaved():
    images = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)  # N, C, H, W
    sequence = arrange(images, "sequence")
    assert sequence.shape == (2, 4, 15)
    assert torch.equal(sequence[1, 2], images[1, :, 2, :].T.reshape(-1))  # row 2: pixel by pixel, all channels


@pytest.mark.parametrize("label_format", ["integer", "one_hot"])
def test_label_formats(arrays, label_format):
    dm = datamodule(arrays, label_format=label_format)
    _, y = next(iter(dm.val_dataloader()))
    if label_format == "integer":
        assert y.dtype == torch.long and y.shape == (16,)
    else:
        assert y.dtype == torch.float32 and y.shape == (16, 4) and torch.all(y.sum(1) == 1)


def test_float_targets_for_regression(arrays):
    train_images, train_labels, test_images, test_labels = arrays
    values = np.stack([train_labels * 1.5, -train_labels], axis=1).astype(np.float32)  # two outputs
    dm = datamodule((train_images, values, test_images, np.zeros((40, 2), np.float32)), label_format="float")
    x, y = next(iter(dm.train_dataloader()))
    assert y.dtype == torch.float32 and y.shape == (16, 2) and dm.num_outputs == 2 and dm.num_classes is None
    assert len(dm.val_set) == 20  # a shuffled split: float targets cannot be stratified


def test_no_targets_give_one_tuples_and_all_data_trains(arrays):
    """GANs and autoencoders: the batch is ``(inputs,)``; val_fraction 0 trains on everything."""
    dm = datamodule((arrays[0], None, arrays[2], None), val_fraction=0)
    assert len(dm.train_set) == 200 and len(dm.val_set) == 0 and list(dm.val_dataloader()) == []
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, tuple) and len(batch) == 1 and batch[0].shape == (16, 1, 8, 8)
    labelled = datamodule(arrays, label_format="none")
    assert len(next(iter(labelled.test_dataloader()))) == 1 and len(labelled.val_set) == 20


@pytest.mark.parametrize("n, world", [(41, 2), (40, 3), (7, 4)])
def test_process_shards_are_disjoint_and_cover_the_set(n, world):
    """Evaluation shards: each sample on exactly one process. Training shards cover every sample and repeat
    only the few that pad the last round, so every process gets as many."""
    dataset = InMemoryDataset(torch.arange(n), torch.arange(n))
    eval_shards = [list(EvaluationSampler(dataset, world, rank)) for rank in range(world)]
    assert sorted(sum(eval_shards, [])) == list(range(n))
    train_shards = [list(EpochShuffleSampler(dataset, world, rank, seed=1)) for rank in range(world)]
    assert len({len(shard) for shard in train_shards}) == 1
    everything = sum(train_shards, [])
    assert set(everything) == set(range(n)) and len(everything) - n == -n % world


def test_an_empty_validation_set_is_skipped_by_training(arrays, tmp_path):
    dm = ArrayDataModule(*arrays, batch_size=32, layout="flat", val_fraction=0)
    model = TinyClassifier(64, 4)
    quiet_trainer(max_epochs=1, default_root_dir=tmp_path).fit(model, dm)
    assert len(model.seen["train"][0]) == 200 and model.seen["val"] == []


def test_batches_are_sliced_from_memory(arrays):
    dm = datamodule(arrays)
    x, y = next(iter(dm.val_dataloader()))
    assert torch.equal(x, dm.val_set.inputs[:16]) and torch.equal(y, dm.val_set.targets[:16])
    assert len(InMemoryDataset(torch.zeros(5, 2), torch.zeros(5))) == 5


def test_train_order_depends_only_on_seed_and_epoch(arrays):
    def first_labels(epoch: int, seed: int) -> list[int]:
        loader = datamodule(arrays, seed=seed).train_dataloader()
        loader.sampler.set_epoch(epoch)
        return next(iter(loader))[1].tolist()

    assert first_labels(0, 1) == first_labels(0, 1)
    assert first_labels(0, 1) != first_labels(1, 1)
    assert first_labels(1, 42) != first_labels(0, 43)  # torch's DistributedSampler seeds with seed + epoch


def test_state_dict_round_trips_the_statistics(arrays):
    source = datamodule(arrays, seed=3)
    state = source.state_dict()
    other = datamodule((arrays[0] // 2, *arrays[1:]), seed=3)  # would fit different statistics
    other.load_state_dict(state)
    assert other.normalization.statistics() == source.normalization.statistics()
    # Lightning restores after setup(): the datasets are rebuilt with the restored statistics.
    expected = (torch.as_tensor(arrays[2]).permute(0, 3, 1, 2).float() - source.normalization.shift) \
        / source.normalization.scale
    assert torch.allclose(other.test_set.inputs, expected)


def test_a_checkpoint_restores_its_statistics_and_logs_them(arrays, tmp_path):
    """``test --ckpt_path`` with a DataModule that would fit other statistics: the checkpoint's are used for the
    test inputs and they are the ones logged (the fresh fit used to be logged, then replaced)."""
    import yaml
    from pytorch_lightning.loggers import CSVLogger

    original = ArrayDataModule(*arrays, batch_size=32, layout="flat")
    model = TinyClassifier(64, 4)
    trainer = quiet_trainer(max_epochs=1, default_root_dir=tmp_path)
    trainer.fit(model, original)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)
    assert torch.equal(torch.load(path, weights_only=False)["ArrayDataModule"]["normalization"]["shift"],
                       original.normalization.shift)

    other = ArrayDataModule(arrays[0] // 2, *arrays[1:], batch_size=32, layout="flat")
    refitted = ArrayDataModule(arrays[0] // 2, *arrays[1:], layout="flat")
    refitted.setup("test")
    assert refitted.normalization.statistics() != original.normalization.statistics()
    logger = CSVLogger(tmp_path / "logs")
    quiet_trainer(logger=logger).test(model, other, ckpt_path=str(path), verbose=False)
    assert other.normalization.statistics() == original.normalization.statistics()
    expected = (torch.as_tensor(arrays[2]).permute(0, 3, 1, 2).float().flatten(1) - original.normalization.shift) \
        / original.normalization.scale
    assert model.seen["test"][-1] == pytest.approx(expected[:, 0].tolist(), abs=1e-6)  # what the model was fed
    logged = yaml.unsafe_load((Path(logger.log_dir) / "hparams.yaml").read_text())
    assert logged["data/normalization/mean"] == pytest.approx(original.normalization.statistics()["mean"])


def test_fitted_statistics_are_logged_as_hyperparameters(arrays, tmp_path):
    import yaml
    from pytorch_lightning.loggers import CSVLogger

    dm = ArrayDataModule(*arrays, batch_size=32, layout="flat")
    logger = CSVLogger(tmp_path)
    quiet_trainer(max_epochs=1, logger=logger).fit(TinyClassifier(64, 4), dm)
    logged = yaml.unsafe_load((Path(logger.log_dir) / "hparams.yaml").read_text())  # our own file
    assert logged["data/normalization/mean"] == pytest.approx(dm.normalization.statistics()["mean"])
