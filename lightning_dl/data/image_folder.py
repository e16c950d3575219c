"""Your own photographs: a folder of class sub-folders of JPEG/PNG files, labels from the folder names.

Every image is decoded once, converted to RGB (grey, grey+alpha, RGBA and palette images alike; transparent
pixels are laid over ``background``), resized to one ``image_size`` and held in memory; from there the data
core splits, normalises and augments it as any other image set. Decoding runs in parallel threads and its
result is cached in ``data_dir/image_folder_cache``, keyed by every file's path, size and modification time
and by the settings, so a second run (or a second process) does not decode again and a changed file is
decoded anew.

A file that cannot be decoded stops the run with an error naming it, unless ``skip_unreadable`` is set: then
such files are left out and their number (and names) reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lightning_dl.data.images import ImageDataModule
from lightning_dl.data.sources import ImageArrays
from lightning_dl.errors import DatasetNotFoundError, DataValidationError

#: The file extensions read as images (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: What cannot be decoded: PIL raises these for truncated, corrupt or foreign files.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


def scan_image_folder(root: str | Path) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """The class names (sorted sub-folder names) and every image file with its class index.

    Raises clear errors for a missing folder, a folder without class sub-folders, a class folder without
    images and a tree without any image.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"Image folder {root} does not exist; give the folder that holds one "
                                   "sub-folder of images per class.")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataValidationError(f"{root} has no class sub-folders; put each class's images in a sub-folder named "
                                  "after the class (e.g. {root}/cat/001.jpg, {root}/dog/001.jpg).")
    files, empty = [], []
    for index, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not found:
            empty.append(name)
        files += [(path, index) for path in found]
    if not files:
        raise DataValidationError(f"{root} holds no images: none of its class folders ({', '.join(classes)}) has a "
                                  f"file ending in {', '.join(IMAGE_EXTENSIONS)}.")
    if empty:
        raise DataValidationError(f"Class folder(s) {', '.join(str(root / n) for n in empty)} hold no images "
                                  f"({', '.join(IMAGE_EXTENSIONS)}); add images or remove the folder.")
    return tuple(classes), files


def decode_image(path: str | Path, size: tuple[int, int], background: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """One image file as a ``(height, width, 3)`` uint8 RGB array of ``size = (height, width)``.

    Grey images get their grey in all three channels; 16-bit and float grey are scaled to 8 bits; images with
    transparency (RGBA, grey+alpha, palette with a transparent colour) are laid over ``background``. Resizing
    is bilinear with PIL's antialiasing when shrinking.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
            values = np.asarray(image, np.float64)
            top = 65535.0 if image.mode != "F" and values.max() > 255 else (values.max() or 1.0)
            image = Image.fromarray(np.clip(np.rint(values / top * 255), 0, 255).astype(np.uint8), "L")
        if image.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
            rgba = image.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, (*[int(c) for c in background], 255))
            image = Image.alpha_composite(canvas, rgba)
        image = image.convert("RGB")
        if image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        return np.asarray(image, np.uint8)


def _try_decode(path: Path, size: tuple[int, int], background: Sequence[int]) -> np.ndarray | str:
    try:
        return decode_image(path, size, background)
    except DECODE_ERRORS as error:
        return f"{type(error).__name__}: {error}"


def decode_all(files: list[tuple[Path, int]], size: tuple[int, int], background: Sequence[int], workers: int,
               skip_unreadable: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``files`` in ``workers`` threads; return the images, their labels and the files skipped.

    A file that cannot be decoded raises :class:`DataValidationError` naming it, or is skipped (and listed)
    with ``skip_unreadable``."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda item: _try_decode(item[0], size, background), files))
    bad = [(path, result) for (path, _), result in zip(files, results) if isinstance(result, str)]
    if bad and not skip_unreadable:
        listed = "; ".join(f"{path} ({reason})" for path, reason in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise DataValidationError(f"{len(bad)} image file(s) cannot be read: {listed}{more}. Replace or delete them, "
                                  "or set skip_unreadable: true to leave them out.")
    kept = [(result, label) for (_, label), result in zip(files, results) if not isinstance(result, str)]
    if not kept:
        raise DataValidationError("No image in the folder could be read.")
    images = np.stack([image for image, _ in kept])
    return images, np.array([label for _, label in kept], np.int64), [str(path) for path, _ in bad]


def cache_key(files: list[tuple[Path, int]], settings: dict[str, Any]) -> str:
    """A digest of every file's path, label, size and modification time, and of the decoding settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for path, label in files:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


class ImageFolderDataModule(ImageDataModule):
    """A folder of class sub-folders of JPEG/PNG images, in memory as RGB arrays of one size, through the data core.

    ``root/<class name>/<any name>.jpg|.jpeg|.png``: the classes are the sub-folders in sorted order. The test set
    is ``test_root`` (the same class folders) when given, else a stratified ``test_fraction`` of ``root`` that
    depends only on the files (seed 0), not on the DataModule's ``seed``. The validation split, normalisation
    (fitted on the train split), deterministic transforms and train-only augmentation are the data core's.
    ``skipped`` lists the files left out with ``skip_unreadable``.

    Args:
        root: The folder of class sub-folders.
        image_size: ``[height, width]`` every image is resized to (one number for a square).
        test_root: A folder of the same class sub-folders holding the test images.
        test_fraction: Share of ``root`` held out as the test set when there is no ``test_root``.
        skip_unreadable: Leave out files that cannot be decoded (and report them) instead of stopping.
        background: RGB colour transparent pixels are laid over.
        decode_workers: Threads that decode images (default: the CPU count, at most 8).
        cache: Keep the decoded arrays in ``data_dir/image_folder_cache`` for the next run.
        data_dir: Where the cache lives.
        batch_size: Samples per batch.
        kwargs: The rest of :class:`~lightning_dl.data.ImageDataModule`'s arguments (val_fraction, normalization,
            transforms, augmentation, layout, seed, ...).
    """

    def __init__(self, root: str, image_size: int | tuple[int, int] = 64, test_root: str | None = None,
                 test_fraction: float = 0.2, skip_unreadable: bool = False,
                 background: tuple[int, int, int] = (255, 255, 255), decode_workers: int | None = None,
                 cache: bool = True, **kwargs: Any) -> None:
        height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if not 0 <= test_fraction < 1:
            raise DataValidationError(f"test_fraction must be in [0, 1), got {test_fraction}.")
        self.image_shape = (int(height), int(width), 3)
        self.class_names, self._files = scan_image_folder(root)
        self._test_files = None
        if test_root is not None:
            test_classes, self._test_files = scan_image_folder(test_root)
            if test_classes != self.class_names:
                raise DataValidationError(f"{test_root} has classes {list(test_classes)} but {root} has "
                                          f"{list(self.class_names)}; the test folder needs the same class folders.")
        self.num_classes = len(self.class_names)
        self.skipped: list[str] = []
        super().__init__(**kwargs)

    def _decode(self, files: list[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
        hp = self.hparams
        settings = {"size": self.image_shape[:2], "background": list(hp.background),
                    "skip_unreadable": hp.skip_unreadable, "version": 1}
        path = Path(hp.data_dir) / "image_folder_cache" / f"{cache_key(files, settings)}.npz"
        if hp.cache and path.is_file():
            with np.load(path) as cached:
                skipped = [str(s) for s in cached["skipped"]]
                images, labels = cached["images"], cached["labels"]
        else:
            workers = hp.decode_workers or min(8, os.cpu_count() or 1)
            images, labels, skipped = decode_all(files, self.image_shape[:2], hp.background, workers,
                                                 hp.skip_unreadable)
            if hp.cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
                np.savez(partial, images=images, labels=labels, skipped=np.array(skipped, dtype=str))
                os.replace(partial, path)  # atomic: a concurrent reader sees the whole file or none
        if skipped:
            warnings.warn(f"Skipped {len(skipped)} unreadable image file(s): {', '.join(skipped[:5])}"
                          f"{' ...' if len(skipped) > 5 else ''}", stacklevel=2)
        self.skipped += skipped
        return images, labels

    def load_arrays(self) -> ImageArrays:
        self.skipped = []
        images, labels = self._decode(self._files)
        if self._test_files is not None:
            test_images, test_labels = self._decode(self._test_files)
            return ImageArrays(images, labels, test_images, test_labels, self.class_names)
        if not self.hparams.test_fraction:
            return ImageArrays(images, labels, images[:0], labels[:0], self.class_names)
        from sklearn.model_selection import train_test_split

        try:
            train, test = train_test_split(np.arange(len(labels)), test_size=self.hparams.test_fraction,
                                           stratify=labels, random_state=0)
        except ValueError as error:
            raise DataValidationError(f"Cannot hold out a stratified test_fraction of {self.hparams.test_fraction} "
                                      f"from {len(labels)} images in {self.num_classes} classes ({error}); add images, "
                                      "change test_fraction or give a test_root.") from error
        return ImageArrays(images[train], labels[train], images[test], labels[test], self.class_names)
