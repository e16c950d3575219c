"""Image classification DataModules: Fashion-MNIST, MNIST, scikit-learn's digits, and your own arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from lightning_dl.data import sources
from lightning_dl.data.core import ImageDataModule
from lightning_dl.data.sources import ImageArrays


class FashionMNISTDataModule(ImageDataModule):
    """Fashion-MNIST: 28×28 grey images of 10 clothing classes (60k train, 10k test).

    Found in ``data_dir``, then in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``), then downloaded by torchvision.
    """

    image_shape = (28, 28, 1)
    num_classes = 10

    def fetch(self) -> None:
        sources.fetch_fashion_mnist(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return sources.load_fashion_mnist(self.hparams.data_dir, download=False)


class MNISTDataModule(ImageDataModule):
    """MNIST handwritten digits: 28×28 grey images (60k train, 10k test), downloaded by torchvision."""

    image_shape = (28, 28, 1)
    num_classes = 10

    def fetch(self) -> None:
        sources.fetch_mnist(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return sources.load_mnist(self.hparams.data_dir, download=False)


class DigitsDataModule(ImageDataModule):
    """scikit-learn's bundled handwritten digits: 1,797 8×8 images; a tiny real dataset for fast runs."""

    image_shape = (8, 8, 1)
    num_classes = 10

    def load_arrays(self) -> ImageArrays:
        return sources.load_digits()


class ArrayDataModule(ImageDataModule):
    """Your own images and labels, already in memory, with the same split/normalise/augment machinery.

    Images are ``(N, H, W)`` or ``(N, H, W, C)`` arrays; labels integer class indices.
    """

    # num_classes is logged by the model (Lightning refuses two different values under one name).
    not_hyperparameters = ("train_images", "train_labels", "test_images", "test_labels", "num_classes")

    def __init__(self, train_images: np.ndarray, train_labels: np.ndarray, test_images: np.ndarray,
                 test_labels: np.ndarray, num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arrays = ImageArrays(train_images, train_labels, test_images, test_labels,
                                  tuple(str(c) for c in range(num_classes or int(np.max(train_labels)) + 1)))
        self.num_classes = len(self.arrays.class_names)
        shape = np.shape(train_images)[1:]
        self.image_shape = tuple(shape) if len(shape) == 3 else (*shape, 1)

    def load_arrays(self) -> ImageArrays:
        return self.arrays
