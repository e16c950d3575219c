"""The notes' NumPy image operations, each against a result worked out by hand on a tiny array."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from lightning_dl import imageops
from lightning_dl.errors import DataValidationError

#: A 2×3 grey image.
GREY = np.array([[0, 100, 200], [50, 150, 255]], np.uint8)
#: A 1×2 colour image: an orange and a teal pixel.
COLOUR = np.array([[[250, 120, 10], [20, 130, 240]]], np.uint8)


def test_open_and_save_round_trip(tmp_path):
    imageops.save_image(COLOUR, tmp_path / "c.png")
    assert np.array_equal(imageops.open_image(tmp_path / "c.png"), COLOUR)
    imageops.save_image(GREY[..., None], tmp_path / "g.png")
    assert np.array_equal(imageops.open_image(tmp_path / "g.png", mode="L"), GREY)
    assert imageops.open_image(tmp_path / "g.png").shape == (2, 3, 3)
    with pytest.raises(DataValidationError, match="uint8"):
        imageops.save_image(GREY.astype(float), tmp_path / "f.png")


def test_rotate_negative_pad():
    assert imageops.rotate(GREY).tolist() == [[200, 255], [100, 150], [0, 50]]  # 90° anticlockwise
    assert imageops.rotate(GREY, -1).tolist() == [[50, 0], [150, 100], [255, 200]]
    assert imageops.negative(GREY).tolist() == [[255, 155, 55], [205, 105, 0]]
    assert imageops.pad(np.array([[7]], np.uint8), 1, value=1).tolist() == [[1, 1, 1], [1, 7, 1], [1, 1, 1]]
    assert imageops.pad(COLOUR, (0, 1, 1, 0)).shape == (2, 3, 3)


def test_rgb_channels_keep_one_channel_each():
    red, green, blue = imageops.rgb_channels(COLOUR)
    assert red.tolist() == [[[250, 0, 0], [20, 0, 0]]]
    assert green.tolist() == [[[0, 120, 0], [0, 130, 0]]]
    assert blue.tolist() == [[[0, 0, 10], [0, 0, 240]]]
    assert len(imageops.show_rgb_channels(COLOUR).axes) == 4


def test_colour_reduction_and_trim():
    assert imageops.reduce_colours(GREY, 128).tolist() == [[0, 0, 128], [0, 128, 128]]
    assert imageops.reduce_colours(GREY, 32).tolist() == [[0, 96, 192], [32, 128, 224]]
    assert imageops.trim(GREY, left=1, right=1).tolist() == [[100], [150]]
    assert imageops.trim(GREY, top=1).tolist() == [[50, 150, 255]]
    with pytest.raises(DataValidationError, match="leaves nothing"):
        imageops.trim(GREY, top=1, bottom=1)


def test_paste_with_slices():
    background = np.zeros((3, 3), np.uint8)
    pasted = imageops.paste(background, np.array([[1, 2]], np.uint8), top=2, left=1)
    assert pasted.tolist() == [[0, 0, 0], [0, 0, 0], [0, 1, 2]] and background.sum() == 0
    with pytest.raises(DataValidationError, match="does not fit"):
        imageops.paste(background, np.ones((2, 2), np.uint8), top=2, left=2)


def test_binarise_flip_blend_mask():
    assert imageops.binarise(GREY).tolist() == [[0, 0, 255], [0, 255, 255]]
    assert imageops.binarise(GREY, threshold=50, high=1).tolist() == [[0, 1, 1], [0, 1, 1]]
    assert imageops.flip(GREY).tolist() == [[200, 100, 0], [255, 150, 50]]
    assert imageops.flip(GREY, "vertical").tolist() == [[50, 150, 255], [0, 100, 200]]
    assert imageops.flip(GREY, "both").tolist() == [[255, 150, 50], [200, 100, 0]]
    assert imageops.blend(GREY, np.full_like(GREY, 100), alpha=0.25).tolist() == [[75, 100, 125], [88, 112, 139]]
    keep = np.array([[1, 0]], np.uint8)
    assert imageops.mask(COLOUR, keep).tolist() == [[[250, 120, 10], [0, 0, 0]]]
    assert imageops.mask(GREY, GREY > 120, fill=9).tolist() == [[9, 9, 200], [9, 150, 255]]
    with pytest.raises(DataValidationError, match="one shape"):
        imageops.blend(GREY, COLOUR)


def test_intensity_histogram_counts_pixels():
    counts = imageops.intensity_histogram(GREY, bins=4)  # bins of 64: [0, 64) [64, 128) [128, 192) [192, 256)
    assert counts.tolist() == [[2, 1, 1, 2]]
    colour = imageops.intensity_histogram(COLOUR, bins=4)  # red 250, 20; green 120, 130; blue 10, 240
    assert colour.tolist() == [[1, 0, 0, 1], [0, 1, 1, 0], [1, 0, 0, 1]]
    figure = imageops.plot_intensity_histogram(COLOUR)
    assert len(figure.axes[0].lines) == 3
