"""The learning notes' image processing with NumPy: an image is an ``(H, W, C)`` (or ``(H, W)``) uint8 array, and
each operation is an array expression.

Open/save (:func:`open_image`, :func:`save_image`), rotate, negative, pad, the RGB channels apart, colour
reduction, trim, paste with slices, binarise, flip, blend two images, mask, and a pixel-intensity histogram
(:func:`intensity_histogram`, :func:`plot_intensity_histogram`). Every function returns a new array and leaves
its input alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from lightning_dl.errors import DataValidationError


def open_image(path: str | Path, mode: str | None = "RGB") -> np.ndarray:
    """An image file as a uint8 array: ``(H, W, 3)`` with ``mode="RGB"``, ``(H, W)`` with ``"L"``, as stored with
    ``None``."""
    from PIL import Image

    with Image.open(path) as image:
        return np.array(image.convert(mode) if mode else image)


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Save a uint8 ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` array; the format follows the suffix."""
    from PIL import Image

    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise DataValidationError(f"save_image writes uint8 arrays, got {array.dtype}; scale to 0..255 and "
                                  "cast with .astype(np.uint8) first.")
    Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array).save(path)
    return Path(path)


def rotate(image: np.ndarray, quarter_turns: int = 1) -> np.ndarray:
    """Rotate by ``quarter_turns`` × 90° anticlockwise (negative: clockwise)."""
    return np.rot90(image, quarter_turns, axes=(0, 1)).copy()


def negative(image: np.ndarray, max_value: int = 255) -> np.ndarray:
    """The negative image: ``max_value - image``."""
    return (max_value - image.astype(np.int64)).astype(image.dtype)


def pad(image: np.ndarray, width: int | tuple[int, int, int, int], value: int = 0) -> np.ndarray:
    """A border of ``value`` around the image: ``width`` pixels on every side, or ``(top, bottom, left, right)``."""
    top, bottom, left, right = (width,) * 4 if isinstance(width, int) else width
    padding = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, padding, constant_values=value)


def rgb_channels(image: np.ndarray) -> list[np.ndarray]:
    """Three images, each keeping one of the red, green and blue channels and zeroing the others."""
    if image.ndim != 3 or image.shape[-1] < 3:
        raise DataValidationError(f"rgb_channels needs an (H, W, 3) colour image, got shape {image.shape}.")
    channels = []
    for c in range(3):
        only = np.zeros_like(image[..., :3])
        only[..., c] = image[..., c]
        channels.append(only)
    return channels


def show_rgb_channels(image: np.ndarray) -> Any:
    """A matplotlib figure of the image and its red, green and blue channels side by side."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 4, figsize=(12, 3))
    for axis, part, title in zip(axes, [image[..., :3], *rgb_channels(image)], ["image", "red", "green", "blue"]):
        axis.imshow(part)
        axis.set_title(title)
        axis.axis("off")
    figure.tight_layout()
    return figure


def reduce_colours(image: np.ndarray, step: int = 32) -> np.ndarray:
    """Colour reduction: each value rounded down to a multiple of ``step`` (``image // step * step``): 256 / step
    levels per channel."""
    return (image // step * step).astype(image.dtype)


def trim(image: np.ndarray, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0) -> np.ndarray:
    """Cut ``top``/``bottom`` rows and ``left``/``right`` columns off the edges (a slice)."""
    h, w = image.shape[:2]
    if top + bottom >= h or left + right >= w:
        raise DataValidationError(f"Trimming {top}+{bottom} rows and {left}+{right} columns leaves nothing of a "
                                  f"{h}×{w} image.")
    return image[top:h - bottom, left:w - right].copy()


def paste(background: np.ndarray, patch: np.ndarray, top: int, left: int) -> np.ndarray:
    """``background`` with ``patch`` written over it from row ``top`` and column ``left`` (slice assignment)."""
    h, w = patch.shape[:2]
    if top < 0 or left < 0 or top + h > background.shape[0] or left + w > background.shape[1]:
        raise DataValidationError(f"A {h}×{w} patch at ({top}, {left}) does not fit in a "
                                  f"{background.shape[0]}×{background.shape[1]} image.")
    result = background.copy()
    result[top:top + h, left:left + w] = patch
    return result


def binarise(image: np.ndarray, threshold: int = 128, high: int = 255) -> np.ndarray:
    """``high`` where a value is above ``threshold``, 0 elsewhere (``(image > threshold) * high``)."""
    return ((image > threshold) * high).astype(np.uint8)


def flip(image: np.ndarray, direction: Literal["horizontal", "vertical", "both"] = "horizontal") -> np.ndarray:
    """Mirror left-right (``horizontal``), upside down (``vertical``) or both."""
    axes = {"horizontal": (1,), "vertical": (0,), "both": (0, 1)}
    if direction not in axes:
        raise DataValidationError(f"Unknown flip direction {direction!r}; choose horizontal, vertical or both.")
    return np.flip(image, axes[direction]).copy()


def blend(first: np.ndarray, second: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """``alpha · first + (1 − alpha) · second``, rounded, in ``first``'s dtype; the images must have one shape."""
    if first.shape != second.shape:
        raise DataValidationError(f"blend needs images of one shape, got {first.shape} and {second.shape}; "
                                  "resize or trim one first.")
    mixed = alpha * first.astype(np.float64) + (1 - alpha) * second.astype(np.float64)
    return np.rint(mixed).astype(first.dtype)


def mask(image: np.ndarray, mask_image: np.ndarray, fill: int = 0) -> np.ndarray:
    """Keep the pixels where ``mask_image`` is non-zero, ``fill`` elsewhere. A grey ``(H, W)`` mask applies to
    every channel."""
    keep = np.asarray(mask_image) != 0
    if keep.shape[:2] != image.shape[:2]:
        raise DataValidationError(f"The mask is {keep.shape[:2]} but the image is {image.shape[:2]}.")
    if keep.ndim == 2 and image.ndim == 3:
        keep = keep[..., None]
    return np.where(keep, image, np.asarray(fill, image.dtype))


def intensity_histogram(image: np.ndarray, bins: int = 256, max_value: int = 255) -> np.ndarray:
    """Pixel counts per intensity: ``(C, bins)`` for ``(H, W, C)`` images, ``(1, bins)`` for grey ones, bins of
    equal width over ``0..max_value``."""
    channels = image[..., None] if image.ndim == 2 else image
    return np.stack([np.histogram(channels[..., c], bins=bins, range=(0, max_value + 1))[0]
                     for c in range(channels.shape[-1])])


def plot_intensity_histogram(image: np.ndarray, bins: int = 256) -> Any:
    """A matplotlib figure of the pixel-intensity histogram (one line per colour channel, grey for grey images)."""
    import matplotlib.pyplot as plt

    counts = intensity_histogram(image, bins)
    colours = ["red", "green", "blue", "black"] if len(counts) > 1 else ["grey"]
    figure, axis = plt.subplots(figsize=(6, 3))
    edges = np.linspace(0, 256, bins, endpoint=False)
    for channel, colour in zip(counts, colours):
        axis.plot(edges, channel, color=colour)
    axis.set_xlabel("intensity")
    axis.set_ylabel("pixels")
    figure.tight_layout()
    return figure
