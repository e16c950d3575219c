"""Image transforms as plain data: deterministic ones for every split, random augmentation for train only.

Both are albumentations pipelines written as ``[{"TransformName": {argument: value}}, ...]`` and built by
one strict builder (:func:`build_transforms`): unknown transforms and unknown or renamed arguments are
errors, because albumentations itself only warns and a silently ignored argument trains a different model
than the config says.

The augmentation's random stream is derived from ``(seed, epoch, rank, position of the batch)`` with
``numpy.random.SeedSequence``, so no two processes, epochs, seeds or batches share one, and a batch is
augmented the same way whichever DataLoader worker builds it (resuming is exact with any ``num_workers``).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from lightning_dl.errors import ConfigurationError

#: An albumentations pipeline as plain data: ``[{"HorizontalFlip": {"p": 0.5}}, {"Affine": {...}}]``.
AugmentationSpec = list[dict[str, dict[str, Any]]]
TransformSpec = AugmentationSpec
#: Where a batch sits in the training stream: (epoch, rank, position of its first sample in the rank's shard).
StreamKey = tuple[int, int, int]


def build_transforms(spec: TransformSpec | None, seed: int | None = None, what: str = "augmentation") -> Any:
    """An albumentations ``Compose`` from ``[{"TransformName": {arg: value}}, ...]``, or ``None`` if empty."""
    if not spec:
        return None
    import albumentations as A

    transforms = []
    for entry in spec:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigurationError(f"Each {what} is one {{TransformName: {{arguments}}}} mapping; got {entry!r}.")
        (name, kwargs), = entry.items()
        transform_class = getattr(A, name, None)
        if transform_class is None:  # the notes' transforms (ToGrey, GreyToSVHNStyle, ResizeImage)
            from lightning_dl.data.image_transforms import PROJECT_TRANSFORMS

            transform_class = PROJECT_TRANSFORMS.get(name)
        if not (isinstance(transform_class, type) and issubclass(transform_class, A.BasicTransform)):
            raise ConfigurationError(f"Unknown {what} {name!r}: it is not an albumentations transform "
                                     "(names are case-sensitive, e.g. HorizontalFlip, Affine, Resize, ToRGB) "
                                     "nor one of the project's (ToGrey, GreyToSVHNStyle, ResizeImage).")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                transforms.append(transform_class(**(kwargs or {})))
            except (TypeError, ValueError) as error:
                raise ConfigurationError(f"Bad arguments for {what} {name}: {error}") from error
        problems = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        if problems:
            raise ConfigurationError(f"Bad arguments for {what} {name}: {' '.join(problems)}")
    return A.Compose(transforms, seed=seed)


def build_augmentation(spec: AugmentationSpec | None, seed: int | None = None) -> Any:
    """The train-only augmentation pipeline (see :func:`build_transforms`)."""
    return build_transforms(spec, seed, "augmentation")


def stream_seed(seed: int, *key: int) -> int:
    """A 64-bit seed for the random stream of ``key`` under ``seed``; distinct seeds and keys never collide
    the way ``seed + epoch`` does (seed 42 at epoch 1 is not seed 43 at epoch 0)."""
    sequence = np.random.SeedSequence(seed % (1 << 64), spawn_key=tuple(int(k) for k in key))
    return int(sequence.generate_state(1, np.uint64)[0])


class BatchPipeline:
    """Raw ``(N, H, W, C)`` images of one batch to model inputs: deterministic transforms, augmentation, prepare.

    ``transforms`` (every split) and ``augment`` (train only) are albumentations pipelines applied image
    by image; ``prepare`` turns the stacked images into the model's input tensor. Before a keyed batch the
    augmentation is reseeded from ``(seed, *key)``; batches without a key continue the stream that
    :meth:`set_epoch` seeded from ``(seed, epoch)``.
    """

    def __init__(self, prepare: Callable[[np.ndarray], Tensor], transforms: Any = None, augment: Any = None,
                 seed: int = 0) -> None:
        self.prepare, self.transforms, self.augment, self.seed = prepare, transforms, augment, seed

    @property
    def random(self) -> bool:
        """Whether the output depends on a random stream (and so wants a :data:`StreamKey` per batch)."""
        return self.augment is not None

    def set_epoch(self, epoch: int) -> None:
        if self.augment is not None:
            self.augment.set_random_seed(stream_seed(self.seed, epoch))

    def __call__(self, raw: np.ndarray, key: StreamKey | None = None) -> Tensor:
        if self.augment is not None and key is not None:
            self.augment.set_random_seed(stream_seed(self.seed, *key))
        images = apply_transforms(self.transforms, raw)
        if self.augment is not None:
            images = np.stack([self.augment(image=image)["image"] for image in images])
        return self.prepare(images)


def apply_transforms(transforms: Any, images: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Apply deterministic ``transforms`` to every ``(H, W, C)`` image of ``(N, H, W, C)`` ``images``.

    albumentations transforms a stack of images at once (``images=``), several times faster than image by
    image; a transform that cannot is applied image by image.
    """
    if transforms is None or not len(images):
        return images
    try:
        return np.concatenate([transforms(images=images[i:i + chunk])["images"] for i in range(0, len(images), chunk)])
    except Exception:  # noqa: BLE001 - not every transform takes a stack; the slow path gives the same result
        return np.stack([transforms(image=image)["image"] for image in images])


def as_channels_first(images: np.ndarray) -> Tensor:
    """``(N, H, W, C)`` images as a contiguous float ``(N, C, H, W)`` tensor (converted and laid out in one pass)."""
    channels_last = torch.as_tensor(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    return torch.empty(channels_last.shape, dtype=torch.float32).copy_(channels_last)
