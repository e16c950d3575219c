"""Real colour images that work offline: random crops of the photographs scikit-image and scikit-learn ship,
with train, validation and test cut from different photographs (CIFAR-10, for users who are online, is
:class:`lightning_dl.data.CIFAR10DataModule`).

Which photographs load offline was checked (scikit-image 0.26): ``astronaut``, ``coffee``, ``chelsea``,
``rocket``, ``immunohistochemistry``, ``hubble_deep_field``, ``retina`` and the left view of
``stereo_motorcycle`` are in the wheel (``cat`` is ``chelsea`` again, ``colorwheel`` and ``logo`` are drawings,
``skin``, ``lily`` and ``kidney`` download); scikit-learn ships ``china`` and ``flower``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from lightning_dl.data.core import LabelFormat
from lightning_dl.data.images import ImageDataModule, Layout, validate_images
from lightning_dl.data.preprocessing import NormalizationMode
from lightning_dl.data.sources import ImageArrays
from lightning_dl.data.transforms import AugmentationSpec, TransformSpec, apply_transforms
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)
    return load


#: Every bundled colour photograph, by name: each loads without a network.
PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"), "coffee": _skimage("coffee"), "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"), "motorcycle": _skimage("stereo_motorcycle"),
    "immunohistochemistry": _skimage("immunohistochemistry"), "hubble_deep_field": _skimage("hubble_deep_field"),
    "retina": _skimage("retina"), "china": _sklearn("china.jpg"), "flower": _sklearn("flower.jpg"),
}
#: The default photographs of each split: no photograph is in two.
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "china", "immunohistochemistry", "hubble_deep_field")
VALIDATION_PHOTOS = ("motorcycle",)
TEST_PHOTOS = ("chelsea", "flower")
#: The fixed seed of what the crops *are* (their positions); the DataModule's ``seed`` only drives the shuffling.
CROP_SEED = 0


def load_photo(name: str, scale: int = 1) -> np.ndarray:
    """A bundled photograph as ``(H, W, 3)`` uint8, downscaled by ``scale`` (means of ``scale × scale`` blocks)."""
    if name not in PHOTOS:
        raise DatasetNotFoundError(f"No bundled photograph named {name!r}; choose among {', '.join(PHOTOS)}.")
    try:
        photo = np.asarray(PHOTOS[name]())[..., :3]
    except ImportError as error:
        raise DatasetNotFoundError(f"The photograph {name!r} comes with scikit-image or scikit-learn: "
                                   "pip install scikit-image scikit-learn") from error
    if scale > 1:
        h, w = photo.shape[0] // scale * scale, photo.shape[1] // scale * scale
        photo = np.rint(photo[:h, :w].reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3)))
    return photo.astype(np.uint8)


def photo_crops(names: Sequence[str], count: int, size: int, seed: int = CROP_SEED, scale: int = 2
                ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random ``size × size`` crops of the named photographs (each downscaled by ``scale``), photos drawn
    in proportion to their crop positions; returns the crops ``(count, size, size, 3)`` uint8 and, per crop, the
    index in :data:`PHOTOS` of the photograph it was cut from."""
    rng = np.random.default_rng(seed)
    photos = [load_photo(name, scale) for name in names]
    positions = np.array([max(0, p.shape[0] - size + 1) * max(0, p.shape[1] - size + 1) for p in photos], np.float64)
    if (positions <= 0).any():
        small = [name for name, p in zip(names, photos) if min(p.shape[:2]) < size]
        raise ConfigurationError(f"crop_size {size} is larger than the photographs {small} downscaled by {scale}; "
                                 "choose a smaller crop_size or scale.")
    chosen = rng.choice(len(photos), size=count, p=positions / positions.sum())
    crops = np.empty((count, size, size, 3), np.uint8)
    for i, k in enumerate(chosen):
        y, x = rng.integers(photos[k].shape[0] - size + 1), rng.integers(photos[k].shape[1] - size + 1)
        crops[i] = photos[k][y:y + size, x:x + size]
    index = {name: i for i, name in enumerate(PHOTOS)}
    return crops, np.array([index[names[k]] for k in chosen], np.int64)


class PhotoCropsDataModule(ImageDataModule):
    """Random crops of real colour photographs, offline: train, validation and test crops come from different
    photographs (an error if one is named in two splits), so a test score is on photographs never seen.

    Each crop's label is the index (in :data:`PHOTOS`) of the photograph it was cut from (``label_format:
    integer``; ``photo_names`` of a split name them); ``label_format: none`` (the default) gives ``(images,)``
    batches, for autoencoders. The crops are fixed (seed ``CROP_SEED``); ``seed`` only shuffles.

    Args:
        train_photos: Photographs of the training crops (names of :data:`PHOTOS`).
        val_photos: Photographs of the validation crops (may be empty: no validation).
        test_photos: Photographs of the test crops.
        crop_size: Side of the square crops.
        scale: Each photograph is first downscaled by this factor (block means), so a crop holds more of it.
        train_crops: Crops in the training split.
        val_crops: Crops in the validation split.
        test_crops: Crops in the test split.
        data_dir: Unused (the photographs are in the installed packages); kept for a uniform interface.
        batch_size: Crops per batch.
        normalization: ``unit_range`` ([0, 1], for a sigmoid decoder), ``standardize``, ... fitted on train only.
        transforms: Deterministic albumentations transforms for every split.
        augmentation: albumentations transforms for the train split only.
        label_format: ``none`` (default) or ``integer`` (the photograph's index).
        layout: ``image``, ``flat`` or ``sequence``.
        seed: Seed of the shuffling and the augmentation.
        num_workers: DataLoader worker processes.
    """

    num_classes = len(PHOTOS)
    class_names = tuple(PHOTOS)

    def __init__(self, train_photos: Sequence[str] = TRAIN_PHOTOS, val_photos: Sequence[str] = VALIDATION_PHOTOS,
                 test_photos: Sequence[str] = TEST_PHOTOS, crop_size: int = 32, scale: int = 2,
                 train_crops: int = 8000, val_crops: int = 500, test_crops: int = 1000, data_dir: str = "data",
                 batch_size: int = 64, normalization: NormalizationMode = "unit_range",
                 transforms: TransformSpec | None = None, augmentation: AugmentationSpec | None = None,
                 label_format: LabelFormat = "none", layout: Layout = "image", seed: int = 42,
                 num_workers: int = 0) -> None:
        splits = {"train": tuple(train_photos), "val": tuple(val_photos), "test": tuple(test_photos)}
        for stage, names in splits.items():
            unknown = [name for name in names if name not in PHOTOS]
            if unknown:
                raise ConfigurationError(f"Unknown {stage} photographs {unknown}; choose among {', '.join(PHOTOS)}.")
        if not splits["train"] or not splits["test"]:
            raise ConfigurationError("PhotoCropsDataModule needs at least one training and one test photograph.")
        for first, second in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = set(splits[first]) & set(splits[second])
            if shared:
                raise ConfigurationError(f"The photographs {sorted(shared)} are in both the {first} and the {second} "
                                         "split; a photograph may serve one split only.")
        if min(train_crops, test_crops) < 1 or val_crops < 0 or crop_size < 1 or scale < 1:
            raise ConfigurationError("train_crops and test_crops must be at least 1, val_crops at least 0, "
                                     "crop_size and scale at least 1.")
        self.photo_splits = splits
        self.image_shape = (crop_size, crop_size, 3)
        self.photo_names: dict[str, tuple[str, ...]] = {}
        super().__init__(data_dir=data_dir, batch_size=batch_size, val_fraction=0.0, normalization=normalization,
                         transforms=transforms, augmentation=augmentation, label_format=label_format, layout=layout,
                         seed=seed, num_workers=num_workers)

    def load_arrays(self) -> ImageArrays:
        """The training and test crops (validation comes from :meth:`load_splits`)."""
        train, test = (self.crops("train"), self.crops("test"))
        return ImageArrays(*train, *test, self.class_names)

    def crops(self, stage: str) -> tuple[np.ndarray, np.ndarray]:
        """One split's crops and the index of each one's photograph (an empty split without photographs)."""
        hp = self.hparams
        names, count = self.photo_splits[stage], {"train": hp.train_crops, "val": hp.val_crops, "test": hp.test_crops}[stage]
        if not names or not count:
            return np.zeros((0, *self.image_shape), np.uint8), np.zeros(0, np.int64)
        seed = CROP_SEED + ("train", "val", "test").index(stage)  # each split its own positions
        return photo_crops(names, count, hp.crop_size, seed, hp.scale)

    def load_splits(self) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        hp, splits = self.hparams, {}
        for stage in ("train", "val", "test"):
            images, photos = self.crops(stage)
            validate_images(images, photos, "integer", self.num_classes, stage)
            self.photo_names[stage] = tuple(sorted({self.class_names[p] for p in photos}))
            splits[stage] = (apply_transforms(self.transforms, images), photos if hp.label_format != "none" else None)
        self._precomputed = True
        return splits
