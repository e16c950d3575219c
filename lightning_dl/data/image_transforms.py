"""The learning notes' deterministic image transforms, as albumentations transforms a DataModule's ``transforms``
list can name next to albumentations' own:

- ``ToGrey``: colour → grey, ``0.299 R + 0.587 G + 0.114 B`` (the notes' ``rgb2gray``, ITU-R 601);
- ``GreyToSVHNStyle``: an MNIST-style 28×28 grey image → an SVHN-style 32×32×3 one (zero-padded evenly on
  every side, the grey channel repeated three times; ``channels: 1`` pads only), so a network built for
  SVHN/CIFAR-10 reads it;
- ``ResizeImage``: resize to ``height × width``, area-averaged when shrinking (no aliasing) and bilinear
  when enlarging; a grey image keeps its channel axis.

For example Fashion-MNIST for a 32×32 colour network::

    transforms:
      - GreyToSVHNStyle: {size: 32}

The same operations on whole ``(N, H, W, C)`` arrays: :func:`to_grey`, :func:`grey_to_svhn_style`,
:func:`resize_images`. This module imports albumentations, so ``lightning_dl.data`` does not import it;
:func:`~lightning_dl.data.transforms.build_transforms` looks names up here after albumentations.
"""

from __future__ import annotations

from typing import Any, Sequence

import albumentations as A
import cv2
import numpy as np

from lightning_dl.errors import DataValidationError

#: The notes' luminance weights (ITU-R BT.601, as ``rgb2gray`` in the Keras colourisation example).
GREY_WEIGHTS = (0.299, 0.587, 0.114)


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[..., None] if image.ndim == 2 else image


def to_grey(images: np.ndarray, weights: Sequence[float] = GREY_WEIGHTS, channels: int = 1) -> np.ndarray:
    """``(..., H, W, 3)`` colour images as ``(..., H, W, channels)`` grey ones (the weighted sum of R, G, B,
    repeated ``channels`` times), in the input's dtype (rounded for integers)."""
    if images.shape[-1] != 3:
        raise DataValidationError(f"to_grey needs colour images with 3 channels last, got shape {images.shape}.")
    grey = images.astype(np.float32) @ np.asarray(weights, np.float32)
    if np.issubdtype(images.dtype, np.integer):
        info = np.iinfo(images.dtype)
        grey = np.clip(np.rint(grey), info.min, info.max)
    return np.repeat(grey.astype(images.dtype)[..., None], channels, axis=-1)


def grey_to_svhn_style(images: np.ndarray, size: int = 32, fill: float = 0, channels: int = 3) -> np.ndarray:
    """``(..., H, W[, 1])`` grey images as ``(..., size, size, channels)``: padded evenly with ``fill`` (an odd
    pixel goes to the bottom/right) and the grey channel repeated ``channels`` times."""
    images = np.asarray(images)
    if images.shape[-1] != 1:
        images = images[..., None]
    h, w = images.shape[-3:-1]
    if h > size or w > size:
        raise DataValidationError(f"grey_to_svhn_style pads {h}×{w} images up to {size}×{size}; they are larger. "
                                  "Resize them first (ResizeImage) or raise size.")
    top, left = (size - h) // 2, (size - w) // 2
    padding = [(0, 0)] * (images.ndim - 3) + [(top, size - h - top), (left, size - w - left), (0, 0)]
    return np.repeat(np.pad(images, padding, constant_values=fill), channels, axis=-1)


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """One ``(H, W[, C])`` image resized to ``height × width``: area averaging when shrinking, bilinear when
    enlarging; the channel axis is kept."""
    image = _as_hwc(image)
    shrinking = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return _as_hwc(resized)


def resize_images(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """``(N, H, W, C)`` images resized with :func:`resize_image`."""
    return np.stack([resize_image(image, height, width) for image in images]) if len(images) else images


class ToGrey(A.ImageOnlyTransform):
    """Colour → grey with the notes' luminance weights; ``num_output_channels`` copies of the grey channel.

    Args:
        num_output_channels: 1 for a grey image, 3 for grey in an RGB-shaped image.
        p: Probability of applying it (1 for a deterministic transform).
    """

    def __init__(self, num_output_channels: int = 1, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.num_output_channels = num_output_channels

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return to_grey(img, channels=self.num_output_channels)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("num_output_channels",)


class GreyToSVHNStyle(A.ImageOnlyTransform):
    """An MNIST-style grey image → an SVHN-style ``size × size × 3`` image (evenly zero-padded, grey repeated).

    Args:
        size: Height and width after padding (32 for SVHN/CIFAR-10 networks).
        fill: The padding's value.
        channels: 3 for an RGB-shaped image (grey repeated), 1 to pad only.
        p: Probability of applying it (1 for a deterministic transform).
    """

    def __init__(self, size: int = 32, fill: float = 0, channels: int = 3, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.size, self.fill, self.channels = size, fill, channels

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return grey_to_svhn_style(img, self.size, self.fill, self.channels)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "fill", "channels")


class ResizeImage(A.ImageOnlyTransform):
    """Resize to ``height × width``: area-averaged when shrinking, bilinear when enlarging; grey stays ``(H, W, 1)``.

    Args:
        height: Height after resizing.
        width: Width after resizing.
        p: Probability of applying it (1 for a deterministic transform).
    """

    def __init__(self, height: int, width: int, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.height, self.width = height, width

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return resize_image(img, self.height, self.width)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("height", "width")


#: The project's transforms by the name a ``transforms`` list gives them.
PROJECT_TRANSFORMS: dict[str, type[A.BasicTransform]] = {
    "ToGrey": ToGrey, "GreyToSVHNStyle": GreyToSVHNStyle, "ResizeImage": ResizeImage,
}
