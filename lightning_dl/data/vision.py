"""Image DataModules: Fashion-MNIST, MNIST, scikit-learn's digits, and your own arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from lightning_dl.data import sources
from lightning_dl.data.images import ImageDataModule
from lightning_dl.data.sources import DIGIT_CLASSES, FASHION_MNIST_CLASSES, ImageArrays


class FashionMNISTDataModule(ImageDataModule):
    """Fashion-MNIST: 28×28 grey images of 10 clothing classes (60k train, 10k test).

    Found in ``data_dir``, then in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``), then downloaded by torchvision. For a backbone that wants 32×32 RGB:
    ``transforms: [{Resize: {height: 32, width: 32}}, {ToRGB: {}}]``.
    """

    image_shape = (28, 28, 1)
    num_classes = 10
    class_names = FASHION_MNIST_CLASSES

    def fetch(self) -> None:
        sources.fetch_fashion_mnist(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return sources.load_fashion_mnist(self.hparams.data_dir, download=False)


class MNISTDataModule(ImageDataModule):
    """MNIST handwritten digits: 28×28 grey images (60k train, 10k test), downloaded by torchvision."""

    image_shape = (28, 28, 1)
    num_classes = 10
    class_names = DIGIT_CLASSES

    def fetch(self) -> None:
        sources.fetch_mnist(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return sources.load_mnist(self.hparams.data_dir, download=False)


class DigitsDataModule(ImageDataModule):
    """scikit-learn's bundled handwritten digits: 1,797 8×8 images (values 0..16); a tiny real set for fast runs."""

    image_shape = (8, 8, 1)
    num_classes = 10
    class_names = DIGIT_CLASSES
    max_pixel_value = 16.0

    def load_arrays(self) -> ImageArrays:
        return sources.load_digits()


class ArrayDataModule(ImageDataModule):
    """Your own images and labels, already in memory, with the same split/transform/normalise/augment machinery.

    Images are ``(N, H, W)`` or ``(N, H, W, C)`` arrays. Labels are integer class indices, float
    regression targets (with ``label_format: float``), or ``None`` for unlabelled images (``label_format:
    none``). ``max_pixel_value`` (for ``normalization: imagenet``) defaults to 255 for integer images and
    1 for float ones.
    """

    # num_classes is logged by the model (Lightning refuses two different values under one name).
    not_hyperparameters = ("train_images", "train_labels", "test_images", "test_labels", "num_classes")

    def __init__(self, train_images: np.ndarray, train_labels: np.ndarray | None, test_images: np.ndarray,
                 test_labels: np.ndarray | None, num_classes: int | None = None,
                 max_pixel_value: float | None = None, **kwargs: Any) -> None:
        if max_pixel_value is None:
            max_pixel_value = 255.0 if np.issubdtype(np.asarray(train_images).dtype, np.integer) else 1.0
        self.max_pixel_value = float(max_pixel_value)
        label_format = kwargs.get("label_format", "integer")
        if train_labels is None and "label_format" not in kwargs:
            kwargs["label_format"] = label_format = "none"
        classes = label_format in ("integer", "one_hot") or (
            train_labels is not None and np.issubdtype(np.asarray(train_labels).dtype, np.integer))
        if classes and train_labels is not None:
            count = num_classes or int(np.max(train_labels)) + 1
            self.num_classes, names = count, tuple(str(c) for c in range(count))
        else:
            self.num_classes, names = num_classes, ()
        self.class_names = names or None
        self.arrays = ImageArrays(train_images, train_labels, test_images, test_labels, names)
        shape = np.shape(train_images)[1:]
        self.image_shape = tuple(shape) if len(shape) == 3 else (*shape, 1)
        super().__init__(**kwargs)

    def load_arrays(self) -> ImageArrays:
        return self.arrays
