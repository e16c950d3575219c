"""Small-data tasks for transfer learning, and the feature cache of the feature-extraction method.

- :class:`FashionMNISTClassesDataModule`: some Fashion-MNIST classes (relabelled 0..k−1) with only a few
  labelled training images per class: the notes' "a few hundred labelled images" case, offline.
- :class:`FacesDataModule`: scikit-image's bundled ``lfw_subset`` (100 faces, 100 non-faces, 25×25 grey), a
  real photo task that ships offline.
- :class:`CachedFeaturesDataModule`: wraps an image DataModule; at ``setup`` it runs the model's frozen base
  once over every split (evaluation mode, no gradients) and serves the cached features instead of images,
  so training the head costs no forward pass through the base.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor

from lightning_dl.data.core import InMemoryDataset, keep_batch
from lightning_dl.data.images import ImageDataModule
from lightning_dl.data.sources import ImageArrays
from lightning_dl.data.vision import FashionMNISTDataModule
from lightning_dl.errors import ConfigurationError


def take_per_class(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of ``per_class`` randomly chosen samples of every class (all of them for ``None``), sorted."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if per_class is not None and per_class > len(members):
            raise ConfigurationError(f"per_class {per_class} but class {label} has only {len(members)} images.")
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


class FashionMNISTClassesDataModule(FashionMNISTDataModule):
    """Fashion-MNIST restricted to ``classes`` (relabelled 0..k−1 in the order given), with ``per_class``
    labelled training images per class (validation is cut from those) and the classes' whole test set.

    Args:
        classes: Fashion-MNIST class indices to keep, e.g. ``[5, 6, 7, 8, 9]``.
        per_class: Training images per class (before the validation split); ``None`` keeps all 6000.
        test_per_class: Test images per class; ``None`` keeps all 1000.
        **kwargs: The :class:`~lightning_dl.data.ImageDataModule` arguments (``batch_size``, ``transforms``, ...).
    """

    def __init__(self, classes: Sequence[int] = (5, 6, 7, 8, 9), per_class: int | None = 100,
                 test_per_class: int | None = None, **kwargs: Any) -> None:
        self.classes = [int(c) for c in classes]
        if len(set(self.classes)) != len(self.classes) or not all(0 <= c < 10 for c in self.classes):
            raise ConfigurationError(f"classes must be distinct Fashion-MNIST classes 0-9, got {list(classes)}.")
        self.num_classes = len(self.classes)
        self.class_names = tuple(FashionMNISTDataModule.class_names[c] for c in self.classes)
        self.per_class, self.test_per_class = per_class, test_per_class
        super().__init__(**kwargs)

    def load_arrays(self) -> ImageArrays:
        arrays = super().load_arrays()
        relabel = np.full(10, -1)
        relabel[self.classes] = np.arange(len(self.classes))
        parts = []
        for images, labels, count in ((arrays.train_images, arrays.train_labels, self.per_class),
                                      (arrays.test_images, arrays.test_labels, self.test_per_class)):
            kept = np.flatnonzero(relabel[labels] >= 0)
            kept = kept[take_per_class(labels[kept], count, self.hparams.seed)]
            parts += [images[kept], relabel[labels[kept]].astype(np.int64)]
        return ImageArrays(*parts, self.class_names)


class FacesDataModule(ImageDataModule):
    """scikit-image's ``lfw_subset``: 100 faces (label 1) and 100 non-faces (label 0), 25×25 grey in [0, 1];
    ``test_fraction`` of each class is held out as the test set (the same images for every ``seed``).

    Args:
        test_fraction: Share of each class held out for testing.
        **kwargs: The :class:`~lightning_dl.data.ImageDataModule` arguments (``batch_size``, ``transforms``, ...).
    """

    image_shape = (25, 25, 1)
    num_classes = 2
    class_names = ("non-face", "face")
    max_pixel_value = 1.0

    def __init__(self, test_fraction: float = 0.25, **kwargs: Any) -> None:
        self.test_fraction = test_fraction
        super().__init__(**kwargs)

    def load_arrays(self) -> ImageArrays:
        from skimage.data import lfw_subset

        images = lfw_subset().astype(np.float32)[..., None]
        labels = np.repeat([1, 0], 100).astype(np.int64)  # the first 100 are faces
        rng = np.random.default_rng(0)
        test = np.zeros(len(labels), bool)
        for label in (0, 1):
            members = rng.permutation(np.flatnonzero(labels == label))
            test[members[:round(self.test_fraction * len(members))]] = True
        return ImageArrays(images[~test], labels[~test], images[test], labels[test], self.class_names)


class CachedFeaturesDataModule(pl.LightningDataModule):
    """The feature-extraction method's data: the wrapped image DataModule's splits run once through the model's
    frozen base (``network.forward_features`` in evaluation mode, no gradients), then served as ``(features,
    labels)`` batches for the head, every epoch, from the cache.

    The wrapped DataModule must have no augmentation (a cache holds one view of each image: train a frozen
    base with augmentation instead). The model is the trainer's (its ``network`` attribute).

    Args:
        data: The image DataModule whose splits are turned into features.
        batch_size: Samples per batch of cached features (the wrapped DataModule's when ``None``).
    """

    def __init__(self, data: ImageDataModule, batch_size: int | None = None) -> None:
        super().__init__()
        if getattr(data, "augment", None) is not None:
            raise ConfigurationError("Feature extraction caches one view of each image, so the data cannot be "
                                     "augmented: drop the augmentation, or use the frozen_base method.")
        self.data, self.batch_size = data, batch_size or data.hparams.batch_size
        self.cached: dict[str, InMemoryDataset] = {}
        #: How many times the base has been run over the data (1 after setup, whatever the epochs).
        self.extractions = 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The wrapped data's image shape (what the model's network is built for)."""
        return self.data.input_shape

    @property
    def num_classes(self) -> int | None:
        return self.data.num_classes

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return self.data.class_names

    def prepare_data(self) -> None:
        self.data.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        if self.cached:
            return
        self.data.trainer = self.trainer
        self.data.setup(stage)
        network = self.trainer.lightning_module.network
        device = self.trainer.strategy.root_device
        self.cached = {split: self.extract(network, getattr(self.data, f"{split}_set"), device)
                       for split in ("train", "val", "test")}
        self.extractions += 1

    @torch.no_grad()
    def extract(self, network: Any, dataset: InMemoryDataset, device: torch.device) -> InMemoryDataset:
        """The base's features of every sample of ``dataset`` (evaluation mode, no gradients)."""
        was_training = network.training
        network.eval().to(device)
        features: list[Tensor] = []
        for start in range(0, len(dataset), self.batch_size):
            inputs = dataset.__getitems__(list(range(start, min(start + self.batch_size, len(dataset)))))[0]
            features.append(network.forward_features(inputs.to(device)).float().cpu())
        network.train(was_training)
        empty = torch.zeros(0, network.num_features)
        return InMemoryDataset(torch.cat(features) if features else empty, dataset.targets)

    def _loader(self, split: str, shuffle: bool) -> torch.utils.data.DataLoader:
        dataset = self.cached[split]
        generator = torch.Generator().manual_seed(self.data.hparams.seed)
        return torch.utils.data.DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, generator=generator,
                                           collate_fn=keep_batch)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> torch.utils.data.DataLoader:
        return self._loader("test", False)

    def state_dict(self) -> dict[str, Any]:
        return self.data.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.data.load_state_dict(state_dict)

