"""Deterministic transforms reach every split; random augmentation reaches the train split only, with a random
stream of its own per (seed, epoch, process, batch), and resuming replays it exactly, with workers too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from conftest import make_images
from data_helpers import TinyClassifier, quiet_trainer
from lightning_dl.data import ArrayDataModule, EpochShuffleSampler
from lightning_dl.errors import ConfigurationError

FLIP = [{"HorizontalFlip": {"p": 0.5}}]
TO_RGB_12 = [{"Resize": {"height": 12, "width": 12}}, {"ToRGB": {}}]


def datamodule(arrays, **kwargs) -> ArrayDataModule:
    dm = ArrayDataModule(*arrays, **{"batch_size": 16, **kwargs})
    dm.setup("fit")
    return dm


def flip_pattern(dm: ArrayDataModule, plain: ArrayDataModule, seed: int, epoch: int, rank: int) -> list[bool]:
    """Which samples of one process's training epoch came out flipped, position by position."""
    sampler = EpochShuffleSampler(dm.train_set, num_replicas=2, rank=rank, seed=seed)
    sampler.set_epoch(epoch)
    items = list(sampler)
    pattern = []
    for start in range(0, len(items), 16):
        batch = items[start:start + 16]
        augmented = dm.train_set.__getitems__(batch)[0]
        originals = plain.train_set.inputs[[item[3] for item in batch]]
        for x, original in zip(augmented, originals):
            assert torch.equal(x, original) or torch.equal(x, original.flip(-1))
            pattern.append(not torch.equal(x, original))
    return pattern


def test_each_process_seed_and_epoch_draws_its_own_augmentation(arrays):
    """Reseeding every process with seed + epoch flipped the i-th sample of each process alike, and seed 42 at
    epoch 1 repeated seed 43 at epoch 0."""
    plain = datamodule(arrays)
    dm = datamodule(arrays, augmentation=FLIP)
    rank0, rank1 = flip_pattern(dm, plain, 42, 1, 0), flip_pattern(dm, plain, 42, 1, 1)
    assert 0.2 < np.mean(rank0) < 0.8
    assert rank0 != rank1
    assert flip_pattern(dm, plain, 42, 1, 0) == rank0  # ...yet reproducible
    assert flip_pattern(dm, plain, 43, 0, 0) != rank0
    assert flip_pattern(dm, plain, 42, 2, 0) != rank0


def test_augmentation_never_reaches_validation_or_test(arrays):
    plain, augmented = datamodule(arrays), datamodule(arrays, augmentation=[{"HorizontalFlip": {"p": 1.0}}])
    x_aug = augmented.train_set.__getitems__(list(range(8)))[0]
    assert torch.equal(x_aug, plain.train_set.inputs[:8].flip(-1))
    for loader in ("val_dataloader", "test_dataloader", "predict_dataloader"):
        for ours, theirs in zip(getattr(augmented, loader)(), getattr(plain, loader)()):
            assert torch.equal(ours[0], theirs[0]), loader


def test_deterministic_transforms_reach_every_split(arrays):
    dm = datamodule(arrays, transforms=TO_RGB_12, layout="image")
    assert dm.input_shape == (3, 12, 12)
    for loader in (dm.train_dataloader, dm.val_dataloader, dm.test_dataloader, dm.predict_dataloader):
        x = next(iter(loader()))[0]
        assert x.shape[1:] == (3, 12, 12)
        assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])  # grey copied to R, G and B
    # statistics are those of the transformed train images (resizing smooths: the std shrinks)
    plain = datamodule(arrays)
    assert dm.normalization.statistics()["std"][0] < plain.normalization.statistics()["std"][0]
    flat = ArrayDataModule(*arrays, transforms=TO_RGB_12, layout="flat")
    assert flat.input_shape == (12 * 12 * 3,)  # known before setup, for the model


def test_inputs_too_big_to_precompute_are_transformed_per_batch(arrays):
    precomputed = datamodule(arrays, transforms=TO_RGB_12)
    per_batch = ArrayDataModule(*arrays, batch_size=16, transforms=TO_RGB_12)
    per_batch.precompute_limit_bytes = 0
    per_batch.setup("fit")
    assert per_batch.test_set.inputs.dtype == torch.uint8 or per_batch.test_set.inputs.dtype == np.uint8
    assert per_batch.test_set.inputs.shape[1:] == (8, 8, 1)  # held as loaded
    for name in ("mean", "std"):
        assert per_batch.normalization.statistics()[name] == pytest.approx(precomputed.normalization.statistics()[name])
    for ours, theirs in zip(per_batch.test_dataloader(), precomputed.test_dataloader()):
        assert torch.allclose(ours[0], theirs[0], atol=1e-5)


@pytest.mark.parametrize("spec, message", [
    ([{"NoSuchTransform": {}}], "Unknown transform"),
    ([{"Resize": {"size": 12}}], "Resize"),
])
def test_bad_transforms_are_errors(arrays, spec, message):
    with pytest.raises(ConfigurationError, match=message):
        ArrayDataModule(*arrays, transforms=spec)


def fingerprints(arrays, tmp_path, name: str, max_epochs: int, num_workers: int, resume: str | None = None):
    """What the model was fed, epoch by epoch: each sample's sum, in order (order and augmentation)."""
    dm = ArrayDataModule(*arrays, batch_size=32, layout="flat", augmentation=FLIP, num_workers=num_workers)
    torch.manual_seed(0)
    model = TinyClassifier(64, 4)
    trainer = quiet_trainer(max_epochs=max_epochs, enable_checkpointing=True, limit_val_batches=0,
                            callbacks=[ModelCheckpoint(dirpath=tmp_path / name, save_last=True)])
    trainer.fit(model, dm, ckpt_path=resume)
    return model.seen["train"]


def test_resuming_with_workers_replays_the_order_and_augmentation_exactly(arrays, tmp_path):
    """Lightning builds a resumed run's first iterator before it calls set_epoch; with workers the indices are
    fetched right away, so without reading the epoch from the trainer the resumed epoch replayed epoch 0."""
    straight = fingerprints(arrays, tmp_path, "straight", 2, num_workers=2)
    assert straight[0] != straight[1]
    assert fingerprints(arrays, tmp_path, "no_workers", 2, num_workers=0) == straight  # workers change nothing
    fingerprints(arrays, tmp_path, "stopped", 1, num_workers=2)
    resumed = fingerprints(arrays, tmp_path, "resumed", 2, num_workers=2, resume=str(tmp_path / "stopped/last.ckpt"))
    assert resumed == [straight[1]]


@pytest.mark.parametrize("split", ["stratified", "shuffled"])
def test_shuffling_happens_before_the_split(split):
    images, labels = make_images(200)
    order = np.argsort(labels, kind="stable")  # sorted by class: a split of the tail would hold one class
    dm = datamodule((images[order], labels[order], images[:8], labels[:8]), split=split)
    assert sorted(np.unique(dm.val_set.targets.numpy()).tolist()) == [0, 1, 2, 3]
