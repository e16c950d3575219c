"""ImageFolderDataModule with tiny image files the tests write: modes converted to RGB correctly, resized,
split by the data core, decoded once and cached; bad files and bad folders reported clearly. Also the CIFAR-10
and SVHN DataModules' offline errors and readers, without network."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lightning_dl.data import image_folder
from lightning_dl.data.colour_datasets import CIFAR10_FILES, CIFAR10DataModule, SVHNDataModule, load_cifar10
from lightning_dl.data.image_folder import ImageFolderDataModule, decode_image
from lightning_dl.errors import DatasetNotFoundError, DataValidationError

RED, WHITE = (255, 0, 0), (255, 255, 255)


def write_folder(root: Path, per_class: int = 5, size: int = 6) -> Path:
    """Two classes of small solid images: 'dark' grey PNGs and JPEGs, 'red' RGB PNGs."""
    for index in range(per_class):
        (root / "dark").mkdir(parents=True, exist_ok=True)
        (root / "red").mkdir(parents=True, exist_ok=True)
        Image.new("L", (size, size), 40 + index).save(root / "dark" / f"{index}.png")
        Image.new("RGB", (size, size), RED).save(root / "red" / f"{index}.PNG")
    Image.new("RGB", (size, size), (30, 30, 30)).save(root / "dark" / "extra.jpg", quality=95)
    (root / "red" / "notes.txt").write_text("not an image")
    return root


def test_every_mode_becomes_rgb_of_one_size(tmp_path):
    grey = tmp_path / "grey.png"
    Image.new("L", (4, 2), 77).save(grey)
    assert decode_image(grey, (2, 4)).tolist() == [[[77] * 3] * 4] * 2
    rgba = Image.new("RGBA", (2, 1), (0, 0, 255, 255))
    rgba.putpixel((1, 0), (0, 0, 255, 0))  # transparent: the background shows
    rgba.save(tmp_path / "rgba.png")
    assert decode_image(tmp_path / "rgba.png", (1, 2)).tolist() == [[[0, 0, 255], list(WHITE)]]
    assert decode_image(tmp_path / "rgba.png", (1, 2), background=(0, 0, 0)).tolist() == [[[0, 0, 255], [0, 0, 0]]]
    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 255, 0, 9, 9, 9] + [0] * 762)
    palette.putpixel((0, 0), 0)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "palette.png", transparency=1)
    assert decode_image(tmp_path / "palette.png", (1, 2)).tolist() == [[[0, 255, 0], list(WHITE)]]
    Image.new("LA", (1, 1), (10, 128)).save(tmp_path / "grey_alpha.png")  # half transparent over white
    assert decode_image(tmp_path / "grey_alpha.png", (1, 1)).tolist() == [[[132, 132, 132]]]
    sixteen = Image.fromarray(np.array([[0, 65535]], np.uint16))
    sixteen.save(tmp_path / "sixteen.png")
    assert decode_image(tmp_path / "sixteen.png", (1, 2)).tolist() == [[[0, 0, 0], [255, 255, 255]]]
    Image.new("RGB", (8, 6), RED).save(tmp_path / "big.png")
    assert decode_image(tmp_path / "big.png", (3, 4)).shape == (3, 4, 3)


def test_labels_come_from_folder_names_and_the_data_core_splits(tmp_path):
    root = write_folder(tmp_path / "photos")
    dm = ImageFolderDataModule(str(root), image_size=4, test_fraction=0.2, val_fraction=0.25, batch_size=4,
                               normalization="none", data_dir=str(tmp_path / "data"))
    assert dm.class_names == ("dark", "red") and dm.num_classes == 2 and dm.input_shape == (3, 4, 4)
    dm.setup()
    sizes = [len(dm.train_set), len(dm.val_set), len(dm.test_set)]
    assert sum(sizes) == 11 and sizes[2] == 3  # the .txt file is not an image
    images, labels = dm.train_set.inputs, dm.train_set.targets
    red = images[labels == 1]
    assert red.shape[1:] == (3, 4, 4) and np.allclose(red[:, 0], 255) and np.allclose(red[:, 1:], 0)
    dark = images[labels == 0]
    assert np.allclose(dark[:, 0], dark[:, 1]) and np.allclose(dark[:, 0], dark[:, 2])  # grey in all three channels
    assert 25 <= float(dark.min()) and float(dark.max()) <= 45


def test_a_second_run_reads_the_cache_and_a_changed_file_is_decoded_again(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "photos")
    settings = {"root": str(root), "image_size": 4, "val_fraction": 0.25, "data_dir": str(tmp_path / "data")}
    calls = []
    real = image_folder.decode_image
    monkeypatch.setattr(image_folder, "decode_image", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    first = ImageFolderDataModule(**settings)
    first.setup()
    assert len(calls) == 11
    calls.clear()
    second = ImageFolderDataModule(**settings)
    second.setup()
    assert calls == []
    assert np.array_equal(first.test_set.inputs, second.test_set.inputs)
    Image.new("RGB", (6, 6), (0, 0, 200)).save(root / "red" / "0.PNG")  # one file changes: decode again
    ImageFolderDataModule(**settings).setup()
    assert len(calls) == 11
    calls.clear()
    ImageFolderDataModule(**settings, cache=False).setup()
    assert len(calls) == 11


def test_a_corrupt_file_is_named_or_skipped_and_counted(tmp_path):
    root = write_folder(tmp_path / "photos")
    (root / "red" / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (root / "dark" / "empty.png").write_bytes(b"")
    with pytest.raises(DataValidationError, match=r"2 image file\(s\) cannot be read: .*broken\.jpg|empty\.png"):
        ImageFolderDataModule(str(root), image_size=4, data_dir=str(tmp_path / "data")).setup()
    dm = ImageFolderDataModule(str(root), image_size=4, skip_unreadable=True, val_fraction=0.25,
                               data_dir=str(tmp_path / "data"))
    with pytest.warns(UserWarning, match="Skipped 2 unreadable"):
        dm.setup()
    assert sorted(Path(s).name for s in dm.skipped) == ["broken.jpg", "empty.png"]
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 11
    again = ImageFolderDataModule(str(root), image_size=4, skip_unreadable=True, val_fraction=0.25,
                                  data_dir=str(tmp_path / "data"))
    with pytest.warns(UserWarning, match="Skipped 2"):  # from the cache, still reported
        again.setup()
    assert len(again.skipped) == 2


def test_empty_class_folder_no_images_and_missing_folder_are_clear_errors(tmp_path):
    root = write_folder(tmp_path / "photos")
    (root / "empty_class").mkdir()
    with pytest.raises(DataValidationError, match="empty_class hold no images"):
        ImageFolderDataModule(str(root))
    nothing = tmp_path / "nothing"
    (nothing / "a").mkdir(parents=True)
    (nothing / "a" / "readme.txt").write_text("x")
    with pytest.raises(DataValidationError, match="holds no images"):
        ImageFolderDataModule(str(nothing))
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (2, 2)).save(flat / "a.png")
    with pytest.raises(DataValidationError, match="no class sub-folders"):
        ImageFolderDataModule(str(flat))
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ImageFolderDataModule(str(tmp_path / "missing"))


def test_a_test_folder_needs_the_same_classes(tmp_path):
    root = write_folder(tmp_path / "train")
    test = write_folder(tmp_path / "test", per_class=2)
    dm = ImageFolderDataModule(str(root), image_size=4, test_root=str(test), val_fraction=0.25,
                               data_dir=str(tmp_path / "data"))
    dm.setup()
    assert len(dm.test_set) == 5 and len(dm.train_set) + len(dm.val_set) == 11
    (test / "cats").mkdir()
    Image.new("RGB", (2, 2)).save(test / "cats" / "a.png")
    with pytest.raises(DataValidationError, match="same class folders"):
        ImageFolderDataModule(str(root), test_root=str(test))


def write_cifar(folder: Path, per_batch: int = 2) -> None:
    folder.mkdir(parents=True)
    for index, name in enumerate(CIFAR10_FILES):
        data = np.full((per_batch, 3072), index, np.uint8)
        data[:, :1024] = 200  # the red plane
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [index % 10] * per_batch}, f)


def test_cifar10_reads_the_python_batches_channels_last(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    arrays = load_cifar10(tmp_path, download=False)
    assert arrays.train_images.shape == (10, 32, 32, 3) and arrays.test_images.shape == (2, 32, 32, 3)
    assert (arrays.train_images[..., 0] == 200).all() and (arrays.test_images[..., 1] == 5).all()
    assert arrays.train_labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4] and arrays.class_names[0] == "airplane"
    dm = CIFAR10DataModule(data_dir=str(tmp_path), val_fraction=0.0)
    dm.setup()
    assert dm.input_shape == (3, 32, 32) and len(dm.train_set) == 10


@pytest.mark.parametrize("module, files", [(CIFAR10DataModule, "data_batch_1"), (SVHNDataModule, "train_32x32.mat")])
def test_offline_the_error_names_the_files_and_where(tmp_path, monkeypatch, module, files):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    monkeypatch.setattr(torchvision.datasets, "SVHN", offline)
    dm = module(data_dir=str(tmp_path / "data"))
    with pytest.raises(DatasetNotFoundError, match=f"(?s)downloading failed.*{files}.*{tmp_path / 'data'}"):
        dm.prepare_data()
    with pytest.raises(DatasetNotFoundError, match="turned off"):
        dm.setup()
