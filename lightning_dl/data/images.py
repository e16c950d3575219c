"""Images through the shared data core: split, transform, normalise, augment, arrange.

For every split, in this order: deterministic ``transforms`` (resize, grey→RGB, ...), then the
normalisation fitted on the transformed **train** images, then (train only) ``augmentation``, then the
layout the network reads. Transformed images are precomputed when the float copy of the whole dataset
stays under :attr:`ImageDataModule.precompute_limit_bytes` (1 GiB); bigger inputs (224×224 copies of a
large set) are held as they were loaded and transformed batch by batch.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from lightning_dl.data.batch_augmentation import BatchAugmentation, PaddingMode
from lightning_dl.data.core import InMemoryDataModule, InMemoryDataset, LabelFormat, make_targets
from lightning_dl.data.preprocessing import Normalization, NormalizationMode
from lightning_dl.data.sources import ImageArrays
from lightning_dl.data.splits import SplitKind
from lightning_dl.data.transforms import (AugmentationSpec, BatchPipeline, TransformSpec, apply_transforms,
                                          as_channels_first, build_transforms)
from lightning_dl.errors import DataValidationError, check_choice

Layout = Literal["image", "flat", "sequence"]


def arrange(images: Tensor, layout: Layout) -> Tensor:
    """Arrange ``(N, C, H, W)`` images as the network reads them: image, flat (H·W·C) or sequence (H, W·C)."""
    if layout == "image":
        return images
    if layout == "flat":
        return images.reshape(len(images), -1)
    check_choice("layout", layout, Layout)
    n, c, h, w = images.shape  # sequence: one step per row, each pixel's channels side by side
    return images.permute(0, 2, 3, 1).reshape(n, h, w * c)


class ImagePreparer:
    """Stacked ``(N, H, W, C)`` images to normalised model inputs in a layout (picklable for workers)."""

    def __init__(self, normalization: Normalization, layout: Layout) -> None:
        self.normalization, self.layout = normalization, layout

    def __call__(self, images: np.ndarray) -> Tensor:
        return arrange(self.normalization(as_channels_first(images)), self.layout)


def validate_images(images: np.ndarray, labels: np.ndarray | None, label_format: LabelFormat,
                    num_classes: int | None, name: str) -> np.ndarray:
    """Check one split before training on it; return the images as ``(N, H, W, C)``."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise DataValidationError(f"{name} images have shape {images.shape}; expected (N, H, W) or (N, H, W, C).")
    if labels is not None and len(images) != len(labels):
        raise DataValidationError(f"{name} has {len(images)} images but {len(labels)} labels.")
    if np.issubdtype(images.dtype, np.floating):
        bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
        if bad.any():
            raise DataValidationError(
                f"{name} images contain NaN or infinite values in {int(bad.sum())} samples (first at index "
                f"{int(np.argmax(bad))}); drop or impute those samples before training.")
    if labels is None or label_format in ("none", "float"):
        return images
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataValidationError(f"{name} labels must be a 1-D array of integer class indices; "
                                  f"got dtype {labels.dtype} and shape {labels.shape}. For regression "
                                  "targets use label_format: float.")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataValidationError(
            f"{name} labels range over [{labels.min()}, {labels.max()}] but num_classes is {num_classes}: "
            f"labels must lie in [0, {num_classes - 1}]. Relabel the data or raise num_classes.")
    return images


class ImageDataModule(InMemoryDataModule):
    """Image data with the hygiene done right: split, transform, normalise, augment, arrange.

    Subclasses say where the arrays come from (:meth:`load_arrays`) and what they look like
    (``image_shape`` as (H, W, C), ``num_classes``); everything else is shared. Batches are
    ``(images, targets)``, or ``(images,)`` with ``label_format: none``.

    Args:
        data_dir: Folder to look for (and download) dataset files in.
        batch_size: Samples per batch.
        val_fraction: Share of the training set held out for validation (ignored with ``num_folds``);
            0 trains on everything and leaves the validation set empty (validation is then skipped).
        split: ``auto`` (stratified by class when there are class labels, else shuffled), ``stratified``,
            ``shuffled`` or ``chronological``.
        normalization: ``standardize`` (per-channel mean/std), ``unit_range`` ([0, 1]),
            ``symmetric_range`` ([-1, 1]), ``none``, all fitted on the train split only; or ``imagenet``
            (pixels scaled to [0, 1], then ImageNet's mean/std, for pretrained backbones; needs RGB).
        transforms: deterministic albumentations transforms for every split, applied before the
            normalisation is fitted, e.g. ``[{"Resize": {"height": 32, "width": 32}}, {"ToRGB": {}}]``.
        augmentation: albumentations transforms for the train split only, e.g. ``[{"HorizontalFlip": {"p": 0.5}}]``.
        random_crop_padding: Pad training batches by this many pixels and crop them back at a random offset per
            image, whole batches at a time on the device; 0 is off (:mod:`lightning_dl.data.batch_augmentation`).
        padding_mode: ``reflect`` or ``zeros``: how the random crop pads.
        random_flip: Mirror each training image left to right with probability 0.5, whole batches on the device.
        label_format: ``integer`` class indices, ``one_hot`` vectors, ``float`` regression targets (N, k),
            or ``none`` (batches are ``(images,)``: GANs, autoencoders).
        layout: ``image`` (C, H, W) for CNNs, ``flat`` (H·W·C) for MLPs, ``sequence`` (H, W·C) for RNNs.
        num_folds: Use a k-fold split (stratified by class) instead of ``val_fraction``.
        fold: Which fold is the validation set when ``num_folds`` is set.
        seed: Seed of the split, the shuffling and the augmentation.
        num_workers: DataLoader worker processes; 0 keeps in-memory data on the fastest path.
    """

    image_shape: tuple[int, int, int]
    #: The largest value a pixel can take in the loaded arrays (``imagenet`` divides by it).
    max_pixel_value: float = 255.0
    #: Above this size a float copy of the transformed dataset is not precomputed; batches are transformed on the fly.
    precompute_limit_bytes: int = 1 << 30

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 128,
        val_fraction: float = 0.1,
        split: SplitKind = "auto",
        normalization: NormalizationMode = "standardize",
        transforms: TransformSpec | None = None,
        augmentation: AugmentationSpec | None = None,
        random_crop_padding: int = 0,
        padding_mode: PaddingMode = "reflect",
        random_flip: bool = False,
        label_format: LabelFormat = "integer",
        layout: Layout = "image",
        num_folds: int | None = None,
        fold: int = 0,
        seed: int = 42,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, val_fraction, split, num_folds, fold, seed, num_workers)
        check_choice("label_format", label_format, LabelFormat)
        check_choice("layout", layout, Layout)
        self.normalization = Normalization(normalization, self.max_pixel_value)
        self.preprocessors = {"normalization": self.normalization}
        self.transforms = build_transforms(transforms, what="transform")  # fail early on a bad pipeline
        self.augment = build_transforms(augmentation, seed, "augmentation")
        self.batch_augmentation = BatchAugmentation(random_crop_padding, padding_mode, random_flip)
        self._precomputed = True

    # --- what subclasses provide -------------------------------------------------------------------
    def load_arrays(self) -> ImageArrays:
        """The whole dataset in memory."""
        raise NotImplementedError(f"{type(self).__name__} must say where its arrays come from (load_arrays).")

    # --- shapes the model is built for -------------------------------------------------------------
    @property
    def transformed_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image after the deterministic transforms."""
        if self.transforms is None:
            return tuple(self.image_shape)
        return tuple(self.transforms(image=np.zeros(self.image_shape, np.uint8))["image"].shape)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one model input in the chosen layout, after the transforms."""
        h, w, c = self.transformed_shape
        return {"image": (c, h, w), "flat": (h * w * c,), "sequence": (h, w * c)}[self.hparams.layout]

    @property
    def num_outputs(self) -> int | None:
        """Regression outputs per sample (``label_format: float``); ``None`` otherwise."""
        if self.hparams.label_format != "float":
            return None
        labels = self._splits["train"][1] if self._splits else self.load_arrays().train_labels
        return 1 if np.ndim(labels) == 1 else int(np.prod(np.shape(labels)[1:]))

    # --- the data core's steps ---------------------------------------------------------------------
    def load_splits(self) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        arrays = self.load_arrays()
        self.class_names = tuple(arrays.class_names) or None
        hp = self.hparams
        train_images = validate_images(arrays.train_images, arrays.train_labels, hp.label_format, self.num_classes,
                                       "training")
        test_images = validate_images(arrays.test_images, arrays.test_labels, hp.label_format, self.num_classes, "test")
        for name, images in (("training", train_images), ("test", test_images)):
            if tuple(images.shape[1:]) != tuple(self.image_shape):
                raise DataValidationError(f"{name} images are {images.shape[1:]} (H, W, C) but "
                                          f"{type(self).__name__} expects {tuple(self.image_shape)}.")
        labels = arrays.train_labels
        stratifiable = (labels is not None and hp.label_format != "float" and np.ndim(labels) == 1
                        and np.issubdtype(np.asarray(labels).dtype, np.integer))
        train, val = self.split_indices(labels if labels is not None else len(train_images), stratifiable)
        total = (len(train_images) + len(test_images)) * int(np.prod(self.transformed_shape)) * 4
        self._precomputed = total <= self.precompute_limit_bytes
        if self._precomputed:  # small enough: transform once; the per-batch path then only augments
            train_images = apply_transforms(self.transforms, train_images)
            test_images = apply_transforms(self.transforms, test_images)
        pick = (lambda values, idx: None if values is None else np.asarray(values)[idx])
        return {"train": (train_images[train], pick(labels, train)), "val": (train_images[val], pick(labels, val)),
                "test": (test_images, arrays.test_labels)}

    def fit_preprocessors(self, train: tuple[np.ndarray, Any]) -> None:
        images = train[0]
        if self._precomputed:
            self.normalization.fit(images)
        else:  # statistics of the transformed train images, a chunk at a time
            chunks = (apply_transforms(self.transforms, images[i:i + 1024]) for i in range(0, len(images), 1024))
            self.normalization.fit(chunks)

    def build_dataset(self, stage: str, images: np.ndarray, labels: Any) -> InMemoryDataset:
        targets = make_targets(labels, self.hparams.label_format, self.num_classes)
        prepare = ImagePreparer(self.normalization, self.hparams.layout)
        transforms = None if self._precomputed else self.transforms
        augment = self.augment if stage == "train" else None
        if transforms is None and augment is None:
            return InMemoryDataset(prepare(images) if len(images) else torch.zeros(0, *self.input_shape), targets)
        return InMemoryDataset(images, targets, BatchPipeline(prepare, transforms, augment, self.hparams.seed))

    def to_inputs(self, images: np.ndarray) -> Tensor:
        """Raw ``(N, H, W, C)`` images (as loaded) to model inputs: transformed, normalised, arranged."""
        return ImagePreparer(self.normalization, self.hparams.layout)(apply_transforms(self.transforms, images))
