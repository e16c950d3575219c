"""CIFAR-10 and SVHN, 32×32 colour images, for users who are online: torchvision downloads them into ``data_dir``;
offline, the error names the files to provide and where to put them. No package ships either set, so nothing
here works offline until the files are there.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from lightning_dl.data.images import ImageDataModule
from lightning_dl.data.sources import DIGIT_CLASSES, ImageArrays
from lightning_dl.data.unpaired import fetch_svhn, load_svhn
from lightning_dl.errors import DatasetNotFoundError, DataValidationError

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: The batches of the "CIFAR-10 python version" (cifar-10-python.tar.gz, extracted).
CIFAR10_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
CIFAR10_FOLDER = "cifar-10-batches-py"


def fetch_cifar10(data_dir: str | Path, download: bool = True) -> Path:
    """The folder holding CIFAR-10's python batches: ``data_dir`` or ``data_dir/cifar-10-batches-py``, downloaded
    there by torchvision when missing (and ``download``)."""
    places = [Path(data_dir), Path(data_dir) / CIFAR10_FOLDER]

    def find() -> Path | None:
        return next((p for p in places if all((p / name).is_file() for name in CIFAR10_FILES)), None)

    def not_found(reason: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f"CIFAR-10 not found and {reason}.\nPut the python batches ({', '.join(CIFAR10_FILES)}; extracted from "
            "cifar-10-python.tar.gz, www.cs.toronto.edu/~kriz/cifar.html) in one of:\n"
            + "\n".join(f"  - {p}" for p in places))

    folder = find()
    if folder is None and download:
        try:
            import torchvision.datasets

            torchvision.datasets.CIFAR10(str(data_dir), train=True, download=True)
        except Exception as error:  # URLError, OSError, RuntimeError... when offline
            raise not_found(f"downloading failed ({type(error).__name__}: {error})") from error
        folder = find()
    if folder is None:
        raise not_found("downloading was turned off" if not download else "the download left no files")
    return folder


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch as ``(N, 32, 32, 3)`` uint8 images and ``(N,)`` int64 labels."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError) as error:
        raise DataValidationError(f"{path} is not a readable CIFAR batch ({error}); delete it and fetch it "
                                  "again.") from error
    images = np.asarray(data, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(labels, np.int64)


def load_cifar10(data_dir: str | Path, download: bool = True) -> ImageArrays:
    """CIFAR-10: 50,000 train and 10,000 test 32×32 colour images of 10 classes."""
    folder = fetch_cifar10(data_dir, download)
    train = [read_cifar_batch(folder / name) for name in CIFAR10_FILES[:-1]]
    test_images, test_labels = read_cifar_batch(folder / CIFAR10_FILES[-1])
    return ImageArrays(np.concatenate([i for i, _ in train]), np.concatenate([l for _, l in train]),
                       test_images, test_labels, CIFAR10_CLASSES)


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10: 32×32 colour images of 10 classes (50k train, 10k test), downloaded by torchvision into
    ``data_dir``; offline, put the extracted python batches in ``data_dir/cifar-10-batches-py``. The standard
    augmentation is ``configs/augmentation/shift_flip.yaml``."""

    image_shape = (32, 32, 3)
    num_classes = 10
    class_names = CIFAR10_CLASSES

    def fetch(self) -> None:
        fetch_cifar10(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return load_cifar10(self.hparams.data_dir, download=False)


class SVHNDataModule(ImageDataModule):
    """SVHN house-number digits: 32×32 colour images (73,257 train, 26,032 test; label 10 is read as 0),
    downloaded by torchvision into ``data_dir/SVHN``; offline, put ``train_32x32.mat`` and ``test_32x32.mat``
    there."""

    image_shape = (32, 32, 3)
    num_classes = 10
    class_names = DIGIT_CLASSES

    def fetch(self) -> None:
        fetch_svhn(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        return load_svhn(self.hparams.data_dir, download=False)
