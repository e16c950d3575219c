"""The notes' deterministic transforms (colour → grey, MNIST-style → SVHN-style, resize) by hand, and by name in a
DataModule's transforms."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_dl.data import ArrayDataModule
from lightning_dl.data.image_transforms import grey_to_svhn_style, resize_image, to_grey
from lightning_dl.data.transforms import apply_transforms, build_transforms
from lightning_dl.errors import ConfigurationError, DataValidationError


def test_colour_to_grey_by_hand():
    image = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [100, 100, 100]]], np.uint8)
    assert to_grey(image)[..., 0].tolist() == [[76, 150, 29, 100]]  # 0.299·255, 0.587·255, 0.114·255
    assert to_grey(image, channels=3).shape == (1, 4, 3)
    with pytest.raises(DataValidationError, match="3 channels"):
        to_grey(np.zeros((2, 2, 1), np.uint8))


def test_mnist_style_to_svhn_style_by_hand():
    image = np.arange(1, 5, dtype=np.uint8).reshape(2, 2, 1)
    padded = grey_to_svhn_style(image, size=4)
    assert padded.shape == (4, 4, 3) and (padded[..., 0] == padded[..., 2]).all()
    assert padded[..., 0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]
    assert grey_to_svhn_style(np.zeros((5, 28, 28, 1), np.uint8)).shape == (5, 32, 32, 3)
    assert grey_to_svhn_style(np.zeros((28, 28), np.uint8), channels=1).shape == (32, 32, 1)
    with pytest.raises(DataValidationError, match="larger"):
        grey_to_svhn_style(np.zeros((40, 40, 1), np.uint8))


def test_resize_averages_when_shrinking_and_keeps_the_channel_axis():
    image = np.array([[0, 100], [200, 100]], np.uint8)[..., None]
    assert resize_image(image, 1, 1).tolist() == [[[100]]]  # the mean of the four pixels
    assert resize_image(np.zeros((3, 5, 3), np.uint8), 6, 10).shape == (6, 10, 3)


def test_the_transforms_work_by_name_in_a_datamodule():
    spec = [{"GreyToSVHNStyle": {"size": 32}}, {"ResizeImage": {"height": 16, "width": 16}}, {"ToGrey": {}}]
    images = np.random.default_rng(0).integers(0, 255, (6, 28, 28, 1), dtype=np.uint8)
    out = apply_transforms(build_transforms(spec, what="transform"), images)
    assert out.shape == (6, 16, 16, 1)
    dm = ArrayDataModule(images, np.arange(6) % 2, images[:2], np.arange(2), val_fraction=0.0,
                         transforms=[{"GreyToSVHNStyle": {"size": 32}}])
    assert dm.input_shape == (3, 32, 32)
    with pytest.raises(ConfigurationError, match="Bad arguments for transform ToGrey"):
        build_transforms([{"ToGrey": {"colour": True}}], what="transform")


def test_the_shift_flip_snippet_is_a_valid_augmentation_of_the_standard_values():
    import yaml

    from conftest import REPO
    from lightning_dl.data.transforms import build_augmentation

    spec = yaml.safe_load((REPO / "configs/augmentation/shift_flip.yaml").read_text())["data"]["init_args"]
    pipeline = build_augmentation(spec["augmentation"], seed=0)  # strict: unknown or renamed arguments raise
    affine, flip = pipeline.transforms
    assert type(affine).__name__ == "Affine" and type(flip).__name__ == "HorizontalFlip" and flip.p == 0.5
    assert affine.translate_percent == {"x": (-0.1, 0.1), "y": (-0.1, 0.1)} and affine.p == 1.0
    shifted = pipeline(image=np.tile(np.arange(32, dtype=np.uint8), (32, 1))[..., None])["image"]
    assert shifted.shape == (32, 32, 1)
