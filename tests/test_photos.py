"""Real colour data offline: crops of the bundled photographs, each split from its own photographs; CIFAR-10 from
files on disk, with an error naming the file to provide when it cannot be downloaded."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from lightning_dl.data import PhotoCropsDataModule, load_photo, photo_crops
from lightning_dl.data.photos import PHOTOS
from lightning_dl.errors import ConfigurationError


@pytest.fixture(scope="module")
def photo_data():
    dm = PhotoCropsDataModule(train_crops=60, val_crops=12, test_crops=30, label_format="integer", batch_size=16)
    dm.setup()
    return dm


def test_every_bundled_photograph_loads_offline():
    for name in PHOTOS:
        photo = load_photo(name)
        assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8 and min(photo.shape[:2]) >= 300, name


def test_colourisation_train_and_test_never_share_a_photograph(photo_data):
    sources = {stage: set(getattr(photo_data, f"{stage}_set").targets.tolist()) for stage in ("train", "val", "test")}
    assert sources["train"] and sources["val"] and sources["test"]
    assert not sources["train"] & sources["test"]
    assert not sources["train"] & sources["val"] and not sources["val"] & sources["test"]
    names = photo_data.photo_names
    assert not set(names["train"]) & set(names["test"]) and not set(names["val"]) & set(names["test"])
    assert set(names["test"]) <= {"chelsea", "flower"}


def test_a_crop_is_a_piece_of_the_photograph_it_names():
    crops, photos = photo_crops(("coffee", "flower"), 5, 16, seed=3, scale=2)
    names = list(PHOTOS)
    for crop, index in zip(crops, photos):
        photo = load_photo(names[index], scale=2)
        windows = np.lib.stride_tricks.sliding_window_view(photo, (16, 16, 3))[..., 0, :, :, :]
        assert (windows == crop).all(axis=(-3, -2, -1)).any()


def test_a_photograph_in_two_splits_is_refused():
    with pytest.raises(ConfigurationError, match="both the train and the test"):
        PhotoCropsDataModule(train_photos=["astronaut", "chelsea"], test_photos=["chelsea"])
    with pytest.raises(ConfigurationError, match="Unknown"):
        PhotoCropsDataModule(test_photos=["lily"])  # scikit-image downloads it: not offered


def test_crops_are_colour_in_unit_range_and_fixed(photo_data):
    images = photo_data.train_set.inputs
    assert images.shape == (60, 3, 32, 32) and photo_data.input_shape == (3, 32, 32)
    assert images.min() >= 0 and images.max() <= 1
    again = PhotoCropsDataModule(train_crops=60, val_crops=12, test_crops=30, seed=7)
    again.setup()
    assert torch.equal(again.train_set.inputs, images)  # the crops are data, not the shuffling seed's
    assert len(photo_data.val_set) == 12 and len(photo_data.test_set) == 30


def test_crop_larger_than_a_photograph_is_named():
    with pytest.raises(ConfigurationError, match="crop_size"):
        photo_crops(("coffee",), 2, 400, scale=2)
