"""The machinery every image DataModule shares.

The order of operations is the point of this module, and it is the textbook's:

1. shuffle, then split the training set into train/validation (stratified by label, seeded) — or pick
   one fold of a stratified k-fold split; the test set is never touched;
2. fit the normalisation on the **train split only** and apply it, unchanged, to validation and test;
3. augment the train split only;
4. arrange each batch in the layout the network reads (image, flat vector, or sequence of rows) and the
   labels in the format the loss wants (integer or one-hot).

Small datasets stay in memory as tensors. A ``DataLoader`` over :class:`InMemoryDataset` fetches each
batch with one slice (through ``__getitems__``) instead of assembling it sample by sample.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lightning_dl.data.sources import ImageArrays
from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice

NormalizationMode = Literal["standardize", "unit_range", "symmetric_range", "none"]
Layout = Literal["image", "flat", "sequence"]
LabelFormat = Literal["integer", "one_hot"]
#: An albumentations pipeline as plain data: ``[{"HorizontalFlip": {"p": 0.5}}, {"Affine": {...}}]``.
AugmentationSpec = list[dict[str, dict[str, Any]]]


class Normalization:
    """Per-channel affine normalisation ``(x - shift) / scale``, fitted on training images only.

    ``standardize`` subtracts the mean and divides by the standard deviation; ``unit_range`` maps the
    train minimum/maximum to 0/1, ``symmetric_range`` to -1/1; ``none`` leaves values as they are.
    """

    def __init__(self, mode: NormalizationMode = "standardize") -> None:
        check_choice("normalization", mode, NormalizationMode)
        self.mode = mode
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.shift is not None

    def fit(self, images: np.ndarray) -> Normalization:
        """Fit on ``(N, H, W, C)`` training images."""
        pixels = images.reshape(-1, images.shape[-1])
        if self.mode == "standardize":
            shift, scale = pixels.mean(axis=0, dtype=np.float64), pixels.std(axis=0, dtype=np.float64)
        elif self.mode in ("unit_range", "symmetric_range"):
            low, high = pixels.min(axis=0).astype(np.float64), pixels.max(axis=0).astype(np.float64)
            shift, scale = (low, high - low) if self.mode == "unit_range" else ((high + low) / 2, (high - low) / 2)
        else:
            shift, scale = np.zeros(pixels.shape[1]), np.ones(pixels.shape[1])
        scale = np.where(scale > 0, scale, 1.0)  # a constant channel stays put instead of dividing by zero
        self.shift = torch.as_tensor(shift, dtype=torch.float32)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)
        return self

    def __call__(self, images: Tensor) -> Tensor:
        """Normalise ``(N, C, H, W)`` float images."""
        if not self.fitted:
            raise RuntimeError("Normalization has no statistics yet: fit it on the training images first.")
        return (images - self.shift[:, None, None]) / self.scale[:, None, None]

    def statistics(self) -> dict[str, list[float]]:
        """The fitted statistics in the textbook's terms, for logging."""
        if not self.fitted:
            raise RuntimeError("Normalization has no statistics yet: call the DataModule's setup() first.")
        if self.mode == "standardize":
            return {"mean": self.shift.tolist(), "std": self.scale.tolist()}
        if self.mode == "none":
            return {}
        low = self.shift if self.mode == "unit_range" else self.shift - self.scale  # symmetric: centre ± half-range
        return {"min": low.tolist(), "max": (self.shift + self.scale).tolist()}

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "shift": self.shift, "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mode, self.shift, self.scale = state["mode"], state["shift"], state["scale"]


def build_augmentation(spec: AugmentationSpec | None, seed: int | None = None) -> Callable | None:
    """An albumentations ``Compose`` from ``[{"TransformName": {arg: value}}, ...]``.

    albumentations only warns about unknown or renamed arguments; here they are errors, because a
    silently ignored augmentation argument trains a different model than the config says.
    """
    if not spec:
        return None
    import albumentations as A

    transforms = []
    for entry in spec:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigurationError(f"Each augmentation is one {{TransformName: {{arguments}}}} mapping; got {entry!r}.")
        (name, kwargs), = entry.items()
        transform_class = getattr(A, name, None)
        if not (isinstance(transform_class, type) and issubclass(transform_class, A.BasicTransform)):
            raise ConfigurationError(f"Unknown augmentation {name!r}: it is not an albumentations transform "
                                     "(names are case-sensitive, e.g. HorizontalFlip, Affine, RandomCrop).")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                transforms.append(transform_class(**(kwargs or {})))
            except (TypeError, ValueError) as error:
                raise ConfigurationError(f"Bad arguments for augmentation {name}: {error}") from error
        problems = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if problems:
            raise ConfigurationError(f"Bad arguments for augmentation {name}: {' '.join(problems)}")
    return A.Compose(transforms, seed=seed)


def arrange(images: Tensor, layout: Layout) -> Tensor:
    """Arrange ``(N, C, H, W)`` images as the network reads them: image, flat (H·W·C) or sequence (H, W·C)."""
    if layout == "image":
        return images
    if layout == "flat":
        return images.reshape(len(images), -1)
    check_choice("layout", layout, Layout)
    n, c, h, w = images.shape  # sequence: one step per row, each pixel's channels side by side
    return images.permute(0, 2, 3, 1).reshape(n, h, w * c)


class InMemoryDataset(Dataset):
    """Inputs and targets held in memory; a ``DataLoader`` fetches each batch with one slice.

    With a ``transform`` the stored inputs are raw ``(N, H, W, C)`` arrays and the transform turns a raw
    batch into model inputs (used for augmentation, which must see every sample anew each epoch);
    without one the inputs are stored ready to use.
    """

    def __init__(self, inputs: Tensor | np.ndarray, targets: Tensor,
                 transform: Callable[[np.ndarray], Tensor] | None = None) -> None:
        if len(inputs) != len(targets):
            raise DataValidationError(f"{len(inputs)} inputs but {len(targets)} targets; they must pair up.")
        self.inputs, self.targets, self.transform = inputs, targets, transform

    def __len__(self) -> int:
        return len(self.targets)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(epoch)

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor]:
        inputs = self.inputs[indices]
        if self.transform is not None:
            inputs = self.transform(inputs)
        return inputs, self.targets[indices]

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        inputs, targets = self.__getitems__([index])
        return inputs[0], targets[0]


class AugmentThenPrepare:
    """Augment each raw image of a batch anew, then prepare the batch as model inputs.

    The augmentation's random generators are reseeded from ``(seed, epoch)`` at every epoch, so a run
    resumed from a checkpoint sees exactly the augmentations the uninterrupted run saw.
    """

    def __init__(self, augment: Any, prepare: Callable[[np.ndarray], Tensor], seed: int) -> None:
        self.augment, self.prepare, self.seed = augment, prepare, seed

    def set_epoch(self, epoch: int) -> None:
        self.augment.set_random_seed(self.seed + epoch)

    def __call__(self, raw: np.ndarray) -> Tensor:
        return self.prepare(np.stack([self.augment(image=image)["image"] for image in raw]))


class EpochShuffleSampler(DistributedSampler):
    """A seeded shuffle that depends only on ``(seed, epoch)``, sharded across DDP processes.

    Lightning calls ``set_epoch`` before each epoch; the dataset hears of it too (to reseed its
    augmentation). Nothing depends on the global random state, so resuming replays the same order.
    """

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """``collate_fn`` for :class:`InMemoryDataset`: its ``__getitems__`` already returns a whole batch."""
    return batch


def validate_arrays(images: np.ndarray, labels: np.ndarray, num_classes: int, name: str) -> np.ndarray:
    """Check one split before training on it; return the images as ``(N, H, W, C)``."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise DataValidationError(f"{name} images have shape {images.shape}; expected (N, H, W) or (N, H, W, C).")
    if len(images) != len(labels):
        raise DataValidationError(f"{name} has {len(images)} images but {len(labels)} labels.")
    if np.issubdtype(images.dtype, np.floating):
        bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
        if bad.any():
            raise DataValidationError(
                f"{name} images contain NaN or infinite values in {int(bad.sum())} samples (first at index "
                f"{int(np.argmax(bad))}); drop or impute those samples before training.")
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataValidationError(f"{name} labels must be a 1-D array of integer class indices; "
                                  f"got dtype {labels.dtype} and shape {labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataValidationError(
            f"{name} labels range over [{labels.min()}, {labels.max()}] but num_classes is {num_classes}: "
            f"labels must lie in [0, {num_classes - 1}]. Relabel the data or raise num_classes.")
    return images


def stratified_split(labels: np.ndarray, val_fraction: float, num_folds: int | None, fold: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the train and validation samples: shuffled, stratified by label, seeded.

    With ``num_folds`` the validation samples are fold ``fold`` of a stratified k-fold split.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    indices = np.arange(len(labels))
    if num_folds is not None:
        if num_folds < 2 or not 0 <= fold < num_folds:
            raise ConfigurationError(f"num_folds={num_folds}, fold={fold}: need num_folds >= 2 and "
                                     f"0 <= fold < num_folds.")
        folds = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed).split(indices, labels)
        return list(folds)[fold]
    if not 0 < val_fraction < 1:
        raise ConfigurationError(f"val_fraction={val_fraction} must lie strictly between 0 and 1.")
    train, val = train_test_split(indices, test_size=val_fraction, stratify=labels, random_state=seed, shuffle=True)
    return np.sort(train), np.sort(val)


class ImageDataModule(pl.LightningDataModule):
    """Image classification data with the hygiene done right: split, normalise, augment, arrange.

    Subclasses say where the arrays come from (:meth:`load_arrays`) and what they look like
    (``image_shape`` as (H, W, C), ``num_classes``); everything else is shared.

    Args:
        data_dir: Folder to look for (and download) dataset files in.
        batch_size: Samples per batch.
        val_fraction: Share of the training set held out for validation (ignored with ``num_folds``).
        normalization: ``standardize`` (per-channel mean/std), ``unit_range`` ([0, 1]),
            ``symmetric_range`` ([-1, 1]) or ``none``; always fitted on the train split only.
        augmentation: albumentations transforms for the train split, e.g. ``[{"HorizontalFlip": {"p": 0.5}}]``.
        label_format: ``integer`` class indices or ``one_hot`` vectors.
        layout: ``image`` (C, H, W) for CNNs, ``flat`` (H·W·C) for MLPs, ``sequence`` (H, W·C) for RNNs.
        num_folds: Use a stratified k-fold split instead of ``val_fraction``.
        fold: Which fold is the validation set when ``num_folds`` is set.
        seed: Seed of the split, the shuffling and the augmentation.
        num_workers: DataLoader worker processes; 0 keeps in-memory data on the fastest path.
    """

    image_shape: tuple[int, int, int]
    num_classes: int
    #: Constructor arguments that are data, not settings, and so stay out of the logged hyperparameters.
    not_hyperparameters: tuple[str, ...] = ()

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 128,
        val_fraction: float = 0.1,
        normalization: NormalizationMode = "standardize",
        augmentation: AugmentationSpec | None = None,
        label_format: LabelFormat = "integer",
        layout: Layout = "image",
        num_folds: int | None = None,
        fold: int = 0,
        seed: int = 42,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=list(self.not_hyperparameters))
        check_choice("label_format", label_format, LabelFormat)
        check_choice("layout", layout, Layout)
        self.normalization = Normalization(normalization)
        self.augment = build_augmentation(augmentation, seed)  # fails early on a bad pipeline
        self.class_names: tuple[str, ...] = ()
        self._split: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
        self.train_set = self.val_set = self.test_set = None

    # --- what subclasses provide -------------------------------------------------------------------
    def load_arrays(self) -> ImageArrays:
        """The whole dataset in memory."""
        raise NotImplementedError(f"{type(self).__name__} must say where its arrays come from (load_arrays).")

    def fetch(self) -> None:
        """Make sure the files are on disk (download if need be); runs once per machine."""

    # --- shapes the model is built for -------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one model input in the chosen layout."""
        h, w, c = self.image_shape
        return {"image": (c, h, w), "flat": (h * w * c,), "sequence": (h, w * c)}[self.hparams.layout]

    # --- LightningDataModule hooks -----------------------------------------------------------------
    def prepare_data(self) -> None:
        self.fetch()

    def setup(self, stage: str | None = None) -> None:
        if self._split is None:
            self._split = self._load_and_split()
        if not self.normalization.fitted:
            self.normalization.fit(self._split["train"][0])
            self._log_statistics()
        if self.train_set is None:  # setup runs once per stage; the data is prepared once
            self._build_datasets()

    def _load_and_split(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        arrays = self.load_arrays()
        self.class_names = arrays.class_names
        train_images = validate_arrays(arrays.train_images, arrays.train_labels, self.num_classes, "training")
        test_images = validate_arrays(arrays.test_images, arrays.test_labels, self.num_classes, "test")
        for name, images in (("training", train_images), ("test", test_images)):
            if tuple(images.shape[1:]) != tuple(self.image_shape):
                raise DataValidationError(f"{name} images are {images.shape[1:]} (H, W, C) but "
                                          f"{type(self).__name__} expects {tuple(self.image_shape)}.")
        hp = self.hparams
        train, val = stratified_split(arrays.train_labels, hp.val_fraction, hp.num_folds, hp.fold, hp.seed)
        return {"train": (train_images[train], arrays.train_labels[train]),
                "val": (train_images[val], arrays.train_labels[val]),
                "test": (test_images, arrays.test_labels)}

    def _build_datasets(self) -> None:
        self.train_set = self._dataset(*self._split["train"], augment=self.augment)
        self.val_set = self._dataset(*self._split["val"])
        self.test_set = self._dataset(*self._split["test"])

    def _dataset(self, images: np.ndarray, labels: np.ndarray, augment: Callable | None = None) -> InMemoryDataset:
        targets = torch.as_tensor(labels, dtype=torch.long)
        if self.hparams.label_format == "one_hot":
            targets = torch.nn.functional.one_hot(targets, self.num_classes).float()
        if augment is None:
            return InMemoryDataset(self.to_inputs(images), targets)
        return InMemoryDataset(images, targets, transform=AugmentThenPrepare(augment, self.to_inputs, self.hparams.seed))

    def to_inputs(self, images: np.ndarray) -> Tensor:
        """Raw ``(N, H, W, C)`` images to normalised model inputs in the chosen layout."""
        tensor = torch.as_tensor(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        return arrange(self.normalization(tensor), self.hparams.layout)

    def _log_statistics(self) -> None:
        trainer = self.trainer
        if trainer is not None and trainer.logger is not None:
            stats = self.normalization.statistics()
            trainer.logger.log_hyperparams({f"data/normalization/{k}": v for k, v in stats.items()})

    # --- loaders -----------------------------------------------------------------------------------
    def _loader(self, dataset: InMemoryDataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("Call setup() before asking for a dataloader.")
        sampler = None
        if shuffle:
            trainer = self.trainer
            world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
            sampler = EpochShuffleSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=self.hparams.seed)
        # Workers are re-created each epoch (not persistent) so they pick up the reseeded augmentation.
        return DataLoader(dataset, batch_size=self.hparams.batch_size, sampler=sampler, collate_fn=keep_batch,
                          num_workers=self.hparams.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    # --- checkpointing: the fitted statistics travel with the model --------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"normalization": self.normalization.state_dict()} if self.normalization.fitted else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "normalization" in state_dict:
            self.normalization.load_state_dict(state_dict["normalization"])
            if self._split is not None:  # Lightning restores after setup(): rebuild with the restored statistics
                self._build_datasets()
