"""Two unaligned image domains for translation (CycleGAN): grey ↔ colour photo patches, Fashion-MNIST ↔ a
coloured 32×32 version, MNIST ↔ SVHN.

Each batch is ``(images_a, images_b)``: two independent draws, one from each domain. The i-th A image is
not the i-th B image's partner, and the two domains are shuffled by independent seeded streams, so no
pairing can be learnt from the order either.
"""

from __future__ import annotations

import colorsys
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F
from torch.utils.data import Dataset

from lightning_dl.data import sources
from lightning_dl.data.core import EpochShuffleSampler, InMemoryDataModule
from lightning_dl.data.images import validate_images
from lightning_dl.data.preprocessing import Normalization, NormalizationMode
from lightning_dl.data.transforms import TransformSpec, apply_transforms, build_transforms, stream_seed
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, check_choice

DomainPair = Literal["grey_colour", "fashion_mnist_rgb", "mnist_svhn"]
#: scikit-image's bundled colour photographs: patches for training, and the photo held out for validation
#: (its top half) and test (its bottom half).
TRAIN_PHOTOS = ("astronaut", "coffee", "rocket")
HELD_OUT_PHOTO = "chelsea"
#: Images per domain in the validation split (the rest of the held-out data is the test split).
VALIDATION_IMAGES = 500
#: The fixed seed of what the data *is* (patch positions, which half of a set is which domain); the
#: DataModule's ``seed`` only drives the shuffling.
DATA_SEED = 0
SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}


def grey(images: np.ndarray) -> np.ndarray:
    """``(N, H, W, 3)`` uint8 colour images as ``(N, H, W, 1)`` uint8 luminance (ITU-R 709 weights, as skimage)."""
    luminance = images.astype(np.float32) @ np.array([0.2125, 0.7154, 0.0721], np.float32)
    return np.clip(np.rint(luminance), 0, 255).astype(np.uint8)[..., None]


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """``(N, H, W, C)`` uint8 images resized (bilinear) to ``size × size``."""
    if images.shape[1:3] == (size, size):
        return images
    tensor = torch.as_tensor(images).permute(0, 3, 1, 2).float()
    resized = F.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def class_tints(num_classes: int = 10) -> np.ndarray:
    """One colour per class, ``(classes, 3)`` in [0, 1]: evenly spaced hues, saturation 0.75, brightest channel 1."""
    return np.array([colorsys.hsv_to_rgb(k / num_classes, 0.75, 1.0) for k in range(num_classes)], np.float32)


def tint(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Grey ``(N, H, W, 1)`` images coloured by their class: pixel × the class's tint, so the brightest channel
    keeps the grey value and the grey image is ``max`` over the channels."""
    colours = class_tints()[labels][:, None, None, :]
    return np.clip(np.rint(images.astype(np.float32) * colours), 0, 255).astype(np.uint8)


def tint_classes(images: Tensor | np.ndarray) -> Tensor:
    """The class whose tint colours each ``(N, H, W, 3)`` or ``(N, 3, H, W)`` image of pixel values: the tint
    closest in direction (cosine) to the image's summed colour. Inverts :func:`tint`; judges how well a
    translation into the tinted domain picked the garment's colour."""
    images = torch.as_tensor(images).float()
    colour = images.sum(dim=(1, 2)) if images.shape[-1] == 3 else images.sum(dim=(2, 3))  # (N, 3)
    tints = torch.as_tensor(class_tints())
    return (F.normalize(colour, dim=1) @ F.normalize(tints, dim=1).T).argmax(dim=1)


class Domains(NamedTuple):
    """One split of the two domains: raw ``(N, H, W, C)`` uint8 images, and their classes where known."""

    images_a: np.ndarray
    images_b: np.ndarray
    labels_a: np.ndarray | None = None
    labels_b: np.ndarray | None = None


def photo_patches(names: tuple[str, ...], count: int, size: int, rng: np.random.Generator,
                  part: Literal["whole", "top", "bottom"] = "whole", scale: int = 2) -> np.ndarray:
    """``count`` colour ``size × size`` patches at random positions of scikit-image photos (each downscaled by
    ``scale``; the whole photo or its top or bottom half), photos drawn in proportion to their positions."""
    try:
        import skimage.data
    except ImportError as error:
        raise DatasetNotFoundError("The grey_colour pair cuts patches from scikit-image's bundled photographs: "
                                   "pip install scikit-image") from error
    photos = []
    for name in names:
        photo = getattr(skimage.data, name)()[..., :3]
        h, w = photo.shape[0] // scale * scale, photo.shape[1] // scale * scale  # block means: a clean downscale
        photo = photo[:h, :w].reshape(h // scale, scale, w // scale, scale, 3).mean(axis=(1, 3))
        rows = {"whole": slice(None), "top": slice(None, len(photo) // 2), "bottom": slice(len(photo) // 2, None)}
        photos.append(np.rint(photo[rows[part]]).astype(np.uint8))
    positions = np.array([(p.shape[0] - size + 1) * (p.shape[1] - size + 1) for p in photos], np.float64)
    if (positions <= 0).any():
        raise ConfigurationError(f"patch_size {size} is larger than a (downscaled) photo; choose at most 64.")
    chosen = rng.choice(len(photos), size=count, p=positions / positions.sum())
    patches = np.empty((count, size, size, 3), np.uint8)
    for i, k in enumerate(chosen):
        y = rng.integers(photos[k].shape[0] - size + 1)
        x = rng.integers(photos[k].shape[1] - size + 1)
        patches[i] = photos[k][y:y + size, x:x + size]
    return patches


def fetch_svhn(data_dir: str | Path, download: bool = True) -> dict[str, Path]:
    """Locate SVHN's ``train_32x32.mat`` and ``test_32x32.mat`` in ``data_dir`` or ``data_dir/SVHN``, else download
    them there with torchvision."""
    root = Path(data_dir) / "SVHN"
    places = [Path(data_dir), root]

    def find() -> dict[str, Path] | None:
        for place in places:
            if all((place / name).is_file() for name in SVHN_FILES.values()):
                return {split: place / name for split, name in SVHN_FILES.items()}
        return None

    def not_found(reason: str) -> DatasetNotFoundError:
        return DatasetNotFoundError(
            f"SVHN not found and {reason}.\nPut {' and '.join(SVHN_FILES.values())} (the 'cropped digits' format "
            "from ufldl.stanford.edu/housenumbers) in one of:\n" + "\n".join(f"  - {p}" for p in places))

    files = find()
    if files is None and download:
        try:
            import torchvision.datasets

            for split in SVHN_FILES:
                torchvision.datasets.SVHN(str(root), split=split, download=True)
        except Exception as error:  # URLError, OSError, RuntimeError... when offline
            raise not_found(f"downloading failed ({type(error).__name__}: {error})") from error
        files = find()
    if files is None:
        raise not_found("downloading was turned off" if not download else "the download left no files")
    return files


def load_svhn(data_dir: str | Path, download: bool = True) -> sources.ImageArrays:
    """SVHN house-number digits: 73,257 train and 26,032 test 32×32 colour images (label 10 means 0)."""
    from scipy.io import loadmat

    arrays = {}
    for split, path in fetch_svhn(data_dir, download).items():
        mat = loadmat(path)
        images = np.ascontiguousarray(mat["X"].transpose(3, 0, 1, 2))  # stored (H, W, C, N)
        arrays[split] = (images, mat["y"].reshape(-1).astype(np.int64) % 10)
    return sources.ImageArrays(*arrays["train"], *arrays["test"], sources.DIGIT_CLASSES)


class UnpairedDataset(Dataset):
    """Two domains' images in memory; an item is ``(index_a, index_b)`` (training) or a position ``i`` that
    reads ``(A[i mod |A|], B[i mod |B|])`` (evaluation). A batch is fetched with one slice per domain and
    normalised as a whole. ``labels_a``/``labels_b``: each image's class where the pair has them (never in a
    batch: translation is learnt without them; they are for judging it)."""

    def __init__(self, images_a: Tensor, images_b: Tensor, prepare_a: Normalization, prepare_b: Normalization,
                 length: int | None = None, labels_a: Tensor | None = None, labels_b: Tensor | None = None) -> None:
        self.images_a, self.images_b, self.prepare_a, self.prepare_b = images_a, images_b, prepare_a, prepare_b
        self.labels_a, self.labels_b = labels_a, labels_b
        self.length = max(len(images_a), len(images_b)) if length is None else length

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, items: list) -> tuple[Tensor, Tensor]:
        if items and isinstance(items[0], tuple):
            index_a, index_b = (list(column) for column in zip(*items))
        else:
            index_a = [i % len(self.images_a) for i in items]
            index_b = [i % len(self.images_b) for i in items]
        return self.prepare_a(self.images_a[index_a]), self.prepare_b(self.images_b[index_b])

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return tuple(part[0] for part in self.__getitems__([index]))


class UnpairedSampler(EpochShuffleSampler):
    """Two independent seeded shuffles, one per domain, read ``len(dataset)`` items at a time.

    Each domain's stream is a sequence of permutations of its images (one per pass through it), seeded by
    ``(seed, domain, pass)``; epoch ``e`` takes the stream's items ``e·L … (e+1)·L - 1``. So the smaller domain
    cycles, a ``samples_per_epoch`` below a domain's size still walks through all of it over the epochs, and
    the order depends only on ``(seed, epoch)``: resumes are exact, from a checkpoint taken mid-epoch at the
    next batch. Items are ``(index_a, index_b)``, sharded across DDP processes like :class:`EpochShuffleSampler`.
    """

    def stream(self, domain: int, size: int, start: int, length: int) -> list[int]:
        """Items ``start … start + length - 1`` of one domain's stream of permutations."""
        order = []
        for cycle in range(start // size, (start + length - 1) // size + 1):
            generator = torch.Generator().manual_seed(stream_seed(self.seed, domain, cycle) >> 1)
            order.append(torch.randperm(size, generator=generator))
        offset = start - (start // size) * size
        return torch.cat(order)[offset:offset + length].tolist()

    def __iter__(self):
        length = len(self.dataset)
        if not length:
            return iter([])
        epoch = self.current_epoch()
        start = epoch * length
        pairs = list(zip(*(self.stream(domain, len(images), start, length)
                           for domain, images in enumerate((self.dataset.images_a, self.dataset.images_b)))))
        pairs += (pairs * (self.total_size // length + 1))[:self.total_size - length]  # pad to divide
        return iter(pairs[self.rank:self.total_size:self.num_replicas][self.take_skip(epoch):])


class UnpairedDataModule(InMemoryDataModule):
    """Two unaligned image domains A and B for translation (CycleGAN); batches are ``(images_a, images_b)``.

    The domains are drawn independently: each has its own seeded shuffle, so the i-th A image of a batch
    is not the i-th B image's partner. An epoch is as long as the larger domain (the smaller one cycles), or
    ``samples_per_epoch``. Each domain is normalised per channel (to [-1, 1], the generators' tanh range, by
    default) with statistics fitted on its train split only; deterministic ``transforms_a``/``transforms_b``
    apply to every split. The pairs (``pair``):

    - ``grey_colour``: A grey, B colour ``patch_size`` patches cut at random positions of scikit-image's
      bundled photographs astronaut, coffee and rocket (downscaled by 2). A and B come from independent
      positions, so they are unaligned. Validation: patches of the held-out photo chelsea's top half; test:
      its bottom half. ``train_images`` patches per domain (default 4,000).
    - ``fashion_mnist_rgb``: A Fashion-MNIST resized to 32×32 grey; B the *other* half of the images,
      resized to 32×32×3 and tinted by class (pixel × one of 10 hues, brightest channel = the grey value):
      translating A→B means recognising the garment and colouring it, B→A is taking the brightest channel.
    - ``mnist_svhn``: A MNIST resized to 32×32 grey, B SVHN's 32×32 colour digits (downloaded by
      torchvision; offline, put ``train_32x32.mat`` and ``test_32x32.mat`` in ``data_dir/SVHN``).

    For the Fashion-MNIST and MNIST/SVHN pairs, validation is the first 500 test images of each domain and
    test the rest; ``train_images`` caps the training images per domain.

    Args:
        pair: Which two domains.
        data_dir: Folder to look for (and download) dataset files in.
        batch_size: Images per domain in a batch.
        samples_per_epoch: Batches × batch size of an epoch; default the larger domain's size.
        train_images: Training images per domain (see the pairs); None for the default.
        patch_size: Side of the grey_colour patches.
        normalization: ``symmetric_range`` ([-1, 1], for tanh generators), ``unit_range``, ``standardize`` or
            ``none``; fitted per domain and channel on the train split only.
        transforms_a: Deterministic albumentations transforms for domain A, every split (e.g. a Resize).
        transforms_b: The same for domain B.
        seed: Seed of the shuffling of both domains.
        num_workers: DataLoader worker processes; 0 keeps in-memory data on the fastest path.
    """

    #: (H, W, C) of each domain before the transforms.
    domain_shapes: ClassVar[dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]]] = {
        "fashion_mnist_rgb": ((32, 32, 1), (32, 32, 3)), "mnist_svhn": ((32, 32, 1), (32, 32, 3))}

    def __init__(self, pair: DomainPair = "grey_colour", data_dir: str = "data", batch_size: int = 64,
                 samples_per_epoch: int | None = None, train_images: int | None = None, patch_size: int = 32,
                 normalization: NormalizationMode = "symmetric_range", transforms_a: TransformSpec | None = None,
                 transforms_b: TransformSpec | None = None, seed: int = 42, num_workers: int = 0) -> None:
        super().__init__(batch_size=batch_size, val_fraction=0.0, seed=seed, num_workers=num_workers)  # saves hparams
        check_choice("pair", pair, DomainPair)
        if samples_per_epoch is not None and samples_per_epoch < 1:
            raise ConfigurationError(f"samples_per_epoch={samples_per_epoch} must be at least 1 (or null).")
        self.normalization_a = Normalization(normalization)
        self.normalization_b = Normalization(normalization)
        self.preprocessors = {"normalization_a": self.normalization_a, "normalization_b": self.normalization_b}
        self.transforms_a = build_transforms(transforms_a, what="transform")
        self.transforms_b = build_transforms(transforms_b, what="transform")

    # --- shapes the model is built for -------------------------------------------------------------
    def raw_shapes(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """(H, W, C) of A and B before the transforms."""
        size = self.hparams.patch_size
        return self.domain_shapes.get(self.hparams.pair, ((size, size, 1), (size, size, 3)))

    def _shape(self, transforms: Any, shape: tuple[int, int, int]) -> tuple[int, int, int]:
        if transforms is not None:
            shape = transforms(image=np.zeros(shape, np.uint8))["image"].shape
        h, w, c = shape
        return (c, h, w)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of domain A, what the A→B generator reads."""
        return self._shape(self.transforms_a, self.raw_shapes()[0])

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of domain B, what the A→B generator writes."""
        return self._shape(self.transforms_b, self.raw_shapes()[1])

    # --- the data core's steps ---------------------------------------------------------------------
    def fetch(self) -> None:
        hp = self.hparams
        if hp.pair == "fashion_mnist_rgb":
            sources.fetch_fashion_mnist(hp.data_dir)
        elif hp.pair == "mnist_svhn":
            fetch_svhn(hp.data_dir)
            sources.fetch_mnist(hp.data_dir)

    def load_domains(self) -> dict[str, tuple[np.ndarray, ...]]:
        """``{"train", "val", "test"}`` as :class:`Domains` (or plain ``(A, B)``): raw ``(N, H, W, C)`` uint8
        images, with their classes for the Fashion-MNIST and MNIST/SVHN pairs."""
        hp, rng = self.hparams, np.random.default_rng(DATA_SEED)
        if hp.pair == "grey_colour":
            size, count = hp.patch_size, hp.train_images or 4000
            splits = {"train": [photo_patches(TRAIN_PHOTOS, count, size, rng) for _ in "ab"]}
            for stage, half in (("val", "top"), ("test", "bottom")):  # the held-out photo's two halves
                splits[stage] = [photo_patches((HELD_OUT_PHOTO,), VALIDATION_IMAGES, size, rng, half) for _ in "ab"]
            return {stage: Domains(grey(a), b) for stage, (a, b) in splits.items()}
        if hp.pair == "fashion_mnist_rgb":
            arrays = sources.load_fashion_mnist(hp.data_dir, download=False)
            domains = []
            for images, labels in ((arrays.train_images, arrays.train_labels),
                                   (arrays.test_images, arrays.test_labels)):
                order = rng.permutation(len(images))
                half_a, half_b = order[:len(order) // 2], order[len(order) // 2:]  # no image in both domains
                domains.append(Domains(resize(images[half_a], 32), tint(resize(images[half_b], 32), labels[half_b]),
                                       labels[half_a], labels[half_b]))
        else:
            mnist, svhn = sources.load_mnist(hp.data_dir, download=False), load_svhn(hp.data_dir, download=False)
            domains = [Domains(resize(mnist.train_images, 32), svhn.train_images, mnist.train_labels, svhn.train_labels),
                       Domains(resize(mnist.test_images, 32), svhn.test_images, mnist.test_labels, svhn.test_labels)]
        train, test = domains
        cut = {"train": slice(hp.train_images), "val": slice(VALIDATION_IMAGES), "test": slice(VALIDATION_IMAGES, None)}
        return {stage: Domains(*(part[cut[stage]] for part in (train if stage == "train" else test)))
                for stage in cut}

    def load_splits(self) -> dict[str, tuple[tuple[np.ndarray, np.ndarray], tuple[Any, Any]]]:
        splits = {}
        for stage, split in self.load_domains().items():
            a, b, labels_a, labels_b = Domains(*split)
            a, b = apply_transforms(self.transforms_a, a), apply_transforms(self.transforms_b, b)
            splits[stage] = ((validate_images(a, None, "none", None, f"{stage} domain A"),
                              validate_images(b, None, "none", None, f"{stage} domain B")), (labels_a, labels_b))
        return splits

    def fit_preprocessors(self, train: tuple[tuple[np.ndarray, np.ndarray], tuple[Any, Any]]) -> None:
        (images_a, images_b), _ = train
        self.normalization_a.fit(images_a)
        self.normalization_b.fit(images_b)

    def build_dataset(self, stage: str, inputs: tuple[np.ndarray, np.ndarray], labels: tuple[Any, Any]
                      ) -> UnpairedDataset:
        a, b = (torch.as_tensor(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous() for images in inputs)
        labels_a, labels_b = (None if classes is None else torch.as_tensor(classes).long() for classes in labels)
        length = self.hparams.samples_per_epoch if stage == "train" else None
        return UnpairedDataset(a, b, self.normalization_a, self.normalization_b, length, labels_a, labels_b)

    def training_sampler(self, dataset: UnpairedDataset, num_replicas: int, rank: int) -> UnpairedSampler:
        """Each domain shuffled by its own seeded stream (see :class:`UnpairedSampler`)."""
        return UnpairedSampler(dataset, num_replicas=num_replicas, rank=rank, seed=self.hparams.seed,
                               epoch_source=self._training_epoch)
