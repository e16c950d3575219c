"""Every mistake a user can make with data gets an error that says what was wrong and how to fix it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_dl.data import ArrayDataModule
from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.models import Classifier
from lightning_dl.nn import CNN, MLP, RNN


def setup(*arrays, **kwargs) -> ArrayDataModule:
    dm = ArrayDataModule(*arrays, **kwargs)
    dm.setup("fit")
    return dm


def test_nan_in_images(arrays):
    train_images = arrays[0].astype(np.float32)
    train_images[17, 2, 3, 0] = np.nan
    with pytest.raises(DataValidationError, match=r"NaN.*1 samples \(first at index 17\)"):
        setup(train_images, *arrays[1:])


def test_labels_outside_num_classes(arrays):
    with pytest.raises(DataValidationError, match=r"labels range over \[0, 3\] but num_classes is 3"):
        setup(*arrays, num_classes=3)


def test_labels_must_be_integer_classes(arrays):
    with pytest.raises(DataValidationError, match="integer class indices"):
        setup(arrays[0], arrays[1].astype(np.float32), *arrays[2:], num_classes=4)


def test_images_and_labels_must_pair_up(arrays):
    with pytest.raises(DataValidationError, match="200 images but 199 labels"):
        setup(arrays[0], arrays[1][:-1], *arrays[2:], num_classes=4)


def test_test_images_of_another_size(arrays):
    with pytest.raises(DataValidationError, match=r"test images are \(9, 9, 1\)"):
        setup(*arrays[:2], np.zeros((4, 9, 9, 1), np.uint8), np.zeros(4, np.int64))


def test_batch_shape_that_does_not_match_the_network():
    model = Classifier(MLP, input_shape=(64,), num_classes=4)
    with pytest.raises(DataValidationError, match=r"shape \(1, 8, 8\).*built for \(64,\)"):
        model(torch.zeros(2, 1, 8, 8))


def test_network_that_does_not_fit_the_layout():
    with pytest.raises(ConfigurationError, match="layout to 'image'"):
        CNN((64,), 4)
    with pytest.raises(ConfigurationError, match="layout to 'sequence'"):
        RNN((1, 8, 8), 4)


def test_bad_config_values():
    with pytest.raises(ConfigurationError, match="val_fraction"):
        setup(np.zeros((8, 4, 4), np.uint8), np.arange(8) % 2, np.zeros((2, 4, 4), np.uint8), np.arange(2),
              val_fraction=1.5)


@pytest.mark.parametrize("option, value", [("layout", "pixels"), ("label_format", "onehot")])
def test_unknown_data_options(arrays, option, value):
    with pytest.raises(ConfigurationError, match=value):
        ArrayDataModule(*arrays, **{option: value})
