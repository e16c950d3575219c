"""Where the datasets come from: one loader per dataset, each returning in-memory arrays.

Image loaders return an :class:`ImageArrays` with images as ``(N, H, W, C)`` arrays and integer labels;
table loaders (scikit-learn's bundled diabetes, breast cancer and wine) a :class:`TableArrays`.
Files are looked for on disk first (the user's ``data_dir``, then the system-wide copies that Debian
packages install) and downloaded with torchvision only when nothing is found. When neither works, the
error names the files and the places where putting them would help.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from lightning_dl.errors import DatasetNotFoundError, DataValidationError

#: Where Debian's ``dataset-fashion-mnist`` package installs the IDX files.
SYSTEM_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

#: The four files of an MNIST-style dataset, by role.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


@dataclass(frozen=True)
class ImageArrays:
    """An image dataset in memory: ``(N, H, W, C)`` images and ``(N,)`` integer labels (or ``None``)."""

    train_images: np.ndarray
    train_labels: np.ndarray | None
    test_images: np.ndarray
    test_labels: np.ndarray | None
    class_names: tuple[str, ...]


TableTask = Literal["classification", "regression"]
TABLE_DATASETS = ("diabetes", "breast_cancer", "wine")


@dataclass(frozen=True)
class TableArrays:
    """A table in memory: ``(N, F)`` float features, ``(N,)`` targets, and the names of both."""

    features: np.ndarray
    targets: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    task: TableTask
    class_names: tuple[str, ...] | None = None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, checking that it is complete."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise DataValidationError(f"{path} is not a readable IDX file ({error}); delete it and fetch it again.") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataValidationError(f"{path} does not start with an IDX header; the file is corrupt. "
                                  "Delete it and fetch it again.")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataValidationError(f"{path} is corrupt: its header promises shape {shape} ({expected} bytes) "
                                  f"but the file holds {len(data)} bytes. Delete it and fetch it again.")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_files(directories: list[Path]) -> dict[str, Path] | None:
    """The first directory that holds all four IDX files (plain or ``.gz``), as paths by role."""
    for directory in directories:
        found = {}
        for role, name in IDX_FILES.items():
            for candidate in (directory / name, directory / f"{name}.gz"):
                if candidate.is_file():
                    found[role] = candidate
                    break
        if len(found) == len(IDX_FILES):
            return found
    return None


def _read_idx_dataset(files: dict[str, Path], class_names: tuple[str, ...]) -> ImageArrays:
    arrays = {role: read_idx(path) for role, path in files.items()}
    return ImageArrays(
        train_images=arrays["train_images"][..., None],
        train_labels=arrays["train_labels"].astype(np.int64),
        test_images=arrays["test_images"][..., None],
        test_labels=arrays["test_labels"].astype(np.int64),
        class_names=class_names,
    )


def _fetch_idx_dataset(
    name: str, directories: list[Path], download: Callable[[], object] | None, hint: str
) -> dict[str, Path]:
    files = find_idx_files(directories)
    if files is None and download is not None:
        try:
            download()
        except Exception as error:  # torchvision raises URLError, RuntimeError, OSError... when offline
            raise _not_found(name, directories, hint, error) from error
        files = find_idx_files(directories)
    if files is None:
        raise _not_found(name, directories, hint, None)
    return files


def _not_found(name: str, directories: list[Path], hint: str, error: Exception | None) -> DatasetNotFoundError:
    wanted = ", ".join(f"{f}.gz" for f in IDX_FILES.values())
    places = "\n".join(f"  - {d}" for d in directories)
    reason = f"downloading failed ({type(error).__name__}: {error})" if error else "downloading was turned off"
    return DatasetNotFoundError(
        f"{name} not found and {reason}.\nPut the four IDX files ({wanted}; gzipped or not) in one of:\n"
        f"{places}\n{hint}"
    )


def _torchvision_download(dataset: str, data_dir: Path) -> Callable[[], object]:
    """Download ``torchvision.datasets.<dataset>`` into ``data_dir`` (its files land in ``<dataset>/raw``)."""

    def download() -> object:
        import torchvision.datasets

        return getattr(torchvision.datasets, dataset)(str(data_dir), train=True, download=True)

    return download


def fetch_fashion_mnist(data_dir: str | Path, download: bool = True) -> dict[str, Path]:
    """Locate Fashion-MNIST: ``data_dir``, then Debian's package, then a torchvision download."""
    data_dir = Path(data_dir)
    return _fetch_idx_dataset(
        "Fashion-MNIST", [data_dir, data_dir / "FashionMNIST" / "raw", SYSTEM_FASHION_MNIST_DIR],
        _torchvision_download("FashionMNIST", data_dir) if download else None,
        "On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")


def load_fashion_mnist(data_dir: str | Path, download: bool = True) -> ImageArrays:
    """Fashion-MNIST (Zalando): 60,000 train and 10,000 test 28×28 grey images of 10 clothing classes."""
    return _read_idx_dataset(fetch_fashion_mnist(data_dir, download), FASHION_MNIST_CLASSES)


def fetch_mnist(data_dir: str | Path, download: bool = True) -> dict[str, Path]:
    """Locate MNIST in ``data_dir`` (or its torchvision layout), downloading it with torchvision if missing."""
    data_dir = Path(data_dir)
    return _fetch_idx_dataset(
        "MNIST", [data_dir, data_dir / "MNIST" / "raw"],
        _torchvision_download("MNIST", data_dir) if download else None,
        "Online, torchvision downloads them into <data_dir>/MNIST/raw by itself.")


def load_mnist(data_dir: str | Path, download: bool = True) -> ImageArrays:
    """MNIST handwritten digits: 60,000 train and 10,000 test 28×28 grey images."""
    return _read_idx_dataset(fetch_mnist(data_dir, download), DIGIT_CLASSES)


def load_digits(test_fraction: float = 0.2) -> ImageArrays:
    """scikit-learn's bundled handwritten digits: 1,797 8×8 images with values 0..16.

    The set has no official test split, so a fixed, stratified ``test_fraction`` (seed 0) is held out; it
    does not move when a DataModule's seed changes.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = digits.images.astype(np.float32)[..., None]
    labels = digits.target.astype(np.int64)
    train, test = train_test_split(np.arange(len(labels)), test_size=test_fraction, stratify=labels,
                                   random_state=0, shuffle=True)
    return ImageArrays(images[train], labels[train], images[test], labels[test], DIGIT_CLASSES)


def load_table(name: str) -> TableArrays:
    """One of scikit-learn's bundled tables (no download, raw units): ``diabetes`` (442 rows, 10 features, disease
    progression after a year: regression), ``breast_cancer`` (569 rows, 30 features, malignant/benign) or
    ``wine`` (178 rows, 13 features, 3 cultivars)."""
    import sklearn.datasets

    loaders = {"diabetes": lambda: sklearn.datasets.load_diabetes(scaled=False),
               "breast_cancer": sklearn.datasets.load_breast_cancer, "wine": sklearn.datasets.load_wine}
    if name not in loaders:
        raise DatasetNotFoundError(f"No bundled table named {name!r}; choose one of {', '.join(TABLE_DATASETS)}.")
    bunch = loaders[name]()
    if name == "diabetes":
        return TableArrays(bunch.data.astype(np.float32), bunch.target.astype(np.float32),
                           tuple(bunch.feature_names), "disease_progression", "regression")
    return TableArrays(bunch.data.astype(np.float32), bunch.target.astype(np.int64), tuple(bunch.feature_names),
                       "class", "classification", tuple(str(c) for c in bunch.target_names))
