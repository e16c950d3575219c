"""Dataset sources: IDX files read directly (gzipped or not), search order, clear errors when missing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from lightning_dl.data import FashionMNISTDataModule, MNISTDataModule, sources
from lightning_dl.data.sources import IDX_FILES, fetch_fashion_mnist, load_digits, load_mnist, read_idx
from lightning_dl.errors import DatasetNotFoundError, DataValidationError


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    """Write an uint8 array as an IDX file, the format of (Fashion-)MNIST."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def write_mnist_like(directory: Path, n_train: int = 30, n_test: int = 10, compress: bool = True) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for role, name in IDX_FILES.items():
        n = n_train if role.startswith("train") else n_test
        array = rng.integers(0, 256, (n, 28, 28)) if role.endswith("images") else np.arange(n) % 10
        write_idx(directory / name, array, compress)


@pytest.fixture
def no_system_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "not-installed")


@pytest.fixture
def offline(monkeypatch):
    """torchvision downloads fail as they do on a machine without internet."""
    import torchvision.datasets.mnist as tv_mnist

    def refuse(*args, **kwargs):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", refuse)


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trips(tmp_path, compress):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(np.uint8)
    write_idx(tmp_path / "x-idx3-ubyte", array, compress)
    assert np.array_equal(read_idx(next(tmp_path.iterdir())), array)


def test_truncated_idx_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((4, 28, 28)), compress=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataValidationError, match="corrupt.*Delete it"):
        read_idx(path)


def test_non_idx_file_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataValidationError, match="not a readable IDX file|IDX header"):
        read_idx(path)


def test_fashion_mnist_from_data_dir_first(tmp_path, no_system_copy):
    write_mnist_like(tmp_path / "fm")
    arrays = sources.load_fashion_mnist(tmp_path / "fm", download=False)
    assert arrays.train_images.shape == (30, 28, 28, 1) and arrays.test_labels.shape == (10,)
    assert arrays.class_names[0] == "T-shirt/top" and arrays.train_labels.dtype == np.int64


def test_fashion_mnist_falls_back_to_the_system_copy(tmp_path, monkeypatch):
    write_mnist_like(tmp_path / "system", compress=True)
    monkeypatch.setattr(sources, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "system")
    files = fetch_fashion_mnist(tmp_path / "empty", download=False)
    assert files["train_images"] == tmp_path / "system" / "train-images-idx3-ubyte.gz"


def test_missing_fashion_mnist_offline_names_files_and_places(tmp_path, no_system_copy, offline):
    with pytest.raises(DatasetNotFoundError) as error:
        FashionMNISTDataModule(data_dir=str(tmp_path / "data")).prepare_data()
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "data") in message and "apt-get install dataset-fashion-mnist" in message
    assert "name resolution" in message


def test_mnist_reads_torchvision_layout(tmp_path):
    write_mnist_like(tmp_path / "MNIST" / "raw", compress=False)
    assert load_mnist(tmp_path, download=False).train_images.shape == (30, 28, 28, 1)


def test_missing_mnist_offline(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError, match="MNIST not found"):
        MNISTDataModule(data_dir=str(tmp_path)).prepare_data()


def test_mnist_datamodule_end_to_end(tmp_path):
    write_mnist_like(tmp_path / "MNIST" / "raw", n_train=100)
    dm = MNISTDataModule(data_dir=str(tmp_path), batch_size=8, val_fraction=0.2)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.train_set) == 80 and len(dm.val_set) == 20 and dm.input_shape == (1, 28, 28)


def test_digits_have_a_fixed_stratified_test_split():
    first, second = load_digits(), load_digits()
    assert first.train_images.shape[1:] == (8, 8, 1) and len(first.train_labels) + len(first.test_labels) == 1797
    assert np.array_equal(first.test_labels, second.test_labels)
    assert np.bincount(first.test_labels).min() >= 35


def test_real_fashion_mnist_when_installed():
    if sources.find_idx_files([sources.SYSTEM_FASHION_MNIST_DIR]) is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (make test installs it where it can)")
    arrays = sources.load_fashion_mnist("data", download=False)
    assert arrays.train_images.shape == (60000, 28, 28, 1) and arrays.test_images.shape == (10000, 28, 28, 1)
    assert np.bincount(arrays.train_labels).tolist() == [6000] * 10


@pytest.mark.parametrize("name, rows, features, task, classes", [
    ("diabetes", 442, 10, "regression", None), ("breast_cancer", 569, 30, "classification", ("malignant", "benign")),
    ("wine", 178, 13, "classification", ("class_0", "class_1", "class_2"))])
def test_bundled_tables(name, rows, features, task, classes):
    table = sources.load_table(name)
    assert table.features.shape == (rows, features) and len(table.feature_names) == features
    assert table.task == task and table.class_names == classes and len(table.targets) == rows
    if name == "diabetes":  # raw units, not scikit-learn's pre-scaled copy (that scaling saw every row)
        assert table.targets.min() >= 25 and table.features[:, table.feature_names.index("age")].max() > 50


def test_unknown_bundled_table():
    with pytest.raises(DatasetNotFoundError, match="breast_cancer"):
        sources.load_table("iris")
