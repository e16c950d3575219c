"""Few-shot learning data: N-way K-shot episodes whose test classes were never seen in training.

An episode is one batch: ``(support_images, support_labels, query_images, query_labels)`` with ``ways × shots``
support and ``ways × queries`` query images of ``ways`` classes drawn at random, support and query disjoint,
labels re-indexed ``0..ways-1`` within the episode (class-major: ``support_labels = [0]*shots + [1]*shots …``).

Data hygiene, in the data core's order:

- the **training classes** (``train_classes``) give the training episodes. Their official training images are
  split by the data core's split strategy (stratified ``val_fraction``, or a fold with ``num_folds``) into
  images to train on and **held-out images of the same classes**, from which the validation episodes come
  (the official test images of the training classes are not used);
- the **test classes** (``test_classes``, disjoint from the training classes) give the test episodes, from all
  their images (official train and test splits): no image of theirs is seen before testing;
- the image normalisation is fitted on the images the embedding trains on (training classes, train part) only,
  and saved in ``state_dict()``, so a checkpoint restores it.

Validation from held-out images of the training classes (not a class split) because Fashion-MNIST has only ten
classes: taking two of the six training classes away for validation would cost the embedding a third of its
classes. It measures how well new images of known classes are told apart. That overestimates the accuracy on
new classes and does not see the embedding overfit to its training classes: on Fashion-MNIST, training longer
raised it while the accuracy on new classes fell, so keep the training budget short. The test classes stay
untouched for the final estimate.

Episodes are drawn by :class:`EpisodeSampler`: episode ``i`` of epoch ``e`` depends only on ``(seed, stage,
e, i)``; under DDP process ``r`` takes episodes ``r, r + world, …``. Validation and test episodes are the same
every time (epoch 0), so validation scores are comparable across epochs. Images sit in memory, normalised;
an episode is built with one slice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lightning_dl.data import sources
from lightning_dl.data.core import InMemoryDataModule, ResumableSampler
from lightning_dl.data.preprocessing import Normalization, NormalizationMode
from lightning_dl.data.sources import DIGIT_CLASSES, FASHION_MNIST_CLASSES, ImageArrays
from lightning_dl.data.splits import SplitKind
from lightning_dl.data.transforms import as_channels_first, stream_seed
from lightning_dl.errors import ConfigurationError, check_choice

FewShotDataset = Literal["fashion_mnist", "digits"]
Episode = tuple[Tensor, Tensor, Tensor, Tensor]
#: Per dataset: (H, W, C) of an image, the largest pixel value, the class names.
DATASETS: dict[str, tuple[tuple[int, int, int], float, tuple[str, ...]]] = {
    "fashion_mnist": ((28, 28, 1), 255.0, FASHION_MNIST_CLASSES),
    "digits": ((8, 8, 1), 16.0, DIGIT_CLASSES),
}
#: The random stream of each stage's episodes (part of every episode's seed).
STREAMS = {"train": 0, "val": 1, "test": 2, "predict": 2}


class EpisodeDataset(Dataset):
    """Normalised ``(N, C, H, W)`` images of some classes in memory; an item is a whole episode.

    The item key is a pair of index tensors, ``(ways, shots)`` for the support and ``(ways, queries)`` for the
    query set, row ``j`` holding class ``j``'s images; the episode's labels follow from those shapes.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[Tensor, Tensor]) -> Episode:
        support, query = key
        ways = len(support)
        images = self.images[torch.cat([support.flatten(), query.flatten()])]
        split = support.numel()
        return (images[:split], torch.arange(ways).repeat_interleave(support.shape[1]),
                images[split:], torch.arange(ways).repeat_interleave(query.shape[1]))


class EpisodeSampler(ResumableSampler, DistributedSampler):
    """N-way K-shot episodes (support and query indices) drawn from the classes of ``labels``.

    Episode ``i`` picks ``ways`` classes at random, then ``shots + queries`` distinct images of each (the first
    ``shots`` are the support), from a generator seeded by ``(seed, stream, epoch, i)`` only. The epoch is read
    when iteration starts, from ``epoch_source`` (the trainer's count of epochs begun) when there is one, else
    from :meth:`set_epoch`; ``fixed=True`` (validation, test) always draws epoch 0's episodes. Under DDP
    process ``rank`` takes episodes ``rank, rank + num_replicas, …``; with ``pad`` (training) the episode count
    is rounded up so every process gets as many. A run resumed from a checkpoint taken in the middle of an
    epoch goes on with that epoch's next episode.
    """

    def __init__(self, dataset: EpisodeDataset, ways: int, shots: int, queries: int, episodes: int, seed: int = 0,
                 stream: int = 0, num_replicas: int = 1, rank: int = 0, fixed: bool = False, pad: bool = True,
                 epoch_source: Callable[[], int | None] | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, seed=seed)
        self.ways, self.shots, self.queries, self.stream = ways, shots, queries, stream
        self.fixed, self.epoch_source = fixed, epoch_source
        labels = dataset.labels
        self.classes = torch.unique(labels).tolist()
        self.pools = [torch.nonzero(labels == c).flatten() for c in self.classes]
        self.total_size = -(-episodes // num_replicas) * num_replicas if pad else episodes
        self.num_samples = len(range(rank, self.total_size, num_replicas))
        if episodes > 0:
            check_episode_fits(self.classes, [len(p) for p in self.pools], ways, shots + queries)

    def current_epoch(self) -> int:
        if self.fixed:
            return 0
        epoch = self.epoch_source() if self.epoch_source is not None else None
        return self.epoch if epoch is None else int(epoch)

    def episode(self, epoch: int, index: int) -> tuple[Tensor, Tensor]:
        """The support ``(ways, shots)`` and query ``(ways, queries)`` indices of episode ``index`` of ``epoch``."""
        generator = torch.Generator().manual_seed(stream_seed(self.seed, self.stream, epoch, index) >> 1)
        chosen = torch.randperm(len(self.pools), generator=generator)[:self.ways].tolist()
        per_class = self.shots + self.queries
        rows = [self.pools[c][torch.randperm(len(self.pools[c]), generator=generator)[:per_class]] for c in chosen]
        indices = torch.stack(rows)
        return indices[:, :self.shots], indices[:, self.shots:]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        epoch = self.current_epoch()
        mine = range(self.rank, self.total_size, self.num_replicas)
        return (self.episode(epoch, i) for i in mine[self.take_skip(epoch):])

    def __len__(self) -> int:
        return self.num_samples


def check_episode_fits(classes: Sequence[int], sizes: Sequence[int], ways: int, per_class: int) -> None:
    """Raise :class:`ConfigurationError` unless every class has ``per_class`` images and there are ``ways`` classes."""
    if ways > len(classes):
        raise ConfigurationError(f"{ways}-way episodes need {ways} classes but this split has {len(classes)} "
                                 f"({list(classes)}); lower ways or add classes.")
    small = {c: n for c, n in zip(classes, sizes) if n < per_class}
    if small:
        raise ConfigurationError(f"Each class of an episode needs shots + queries = {per_class} images, but classes "
                                 f"{small} (class: images) have fewer; lower shots/queries or raise val_fraction.")


class EpisodicDataModule(InMemoryDataModule):
    """N-way K-shot episodes for few-shot learning, with test classes disjoint from the training classes.

    Each batch is one episode ``(support_images, support_labels, query_images, query_labels)``: ``ways × shots``
    support and ``ways × queries`` query images (disjoint) of ``ways`` random classes, labels re-indexed
    ``0..ways-1``. Training episodes come from ``train_classes``; validation episodes from held-out images of
    the same classes (``val_fraction`` or a fold of their training images); test episodes from all images of
    ``test_classes``. The normalisation is fitted on the training images of the training classes only.
    Validation and test episodes have the test shape (``test_ways``/``test_shots``/``test_queries``);
    ``episode_shapes`` holds ``(ways, shots, queries)`` per stage: set ``episode_shapes["test"]`` to test one
    trained embedding in other settings on the same data.

    Args:
        dataset: ``fashion_mnist`` (28×28) or ``digits`` (scikit-learn's 8×8 digits).
        data_dir: Folder to look for (and download) Fashion-MNIST files in.
        train_classes: Classes to train (and validate) on.
        test_classes: Classes to test on; must not overlap ``train_classes``.
        ways: Classes per training episode (N).
        shots: Support images per class in a training episode (K).
        queries: Query images per class in a training episode.
        test_ways: Classes per validation/test episode; ``None``: ``ways``.
        test_shots: Support images per class in a validation/test episode; ``None``: ``shots``.
        test_queries: Query images per class in a validation/test episode; ``None``: ``queries``.
        episodes_per_epoch: Training episodes per epoch (one optimiser step each).
        val_episodes: Validation episodes (the same ones every epoch).
        test_episodes: Test episodes, over which the accuracy and its 95 % confidence interval are computed.
        val_fraction: Share of the training classes' images held out for validation episodes (0: no validation).
        split: How the held-out images are chosen (``auto``: stratified by class).
        num_folds: Hold out one of ``num_folds`` folds instead of ``val_fraction`` (k-fold).
        fold: Which fold is held out.
        normalization: ``standardize``, ``unit_range``, ``symmetric_range`` or ``none``, fitted on training images.
        seed: Seed of the split and of every episode.
        num_workers: DataLoader worker processes; 0 keeps in-memory episodes on the fastest path.
    """

    def __init__(
        self,
        dataset: FewShotDataset = "fashion_mnist",
        data_dir: str = "data",
        train_classes: Sequence[int] = (0, 1, 2, 3, 4, 5),
        test_classes: Sequence[int] = (6, 7, 8, 9),
        ways: int = 4,
        shots: int = 5,
        queries: int = 10,
        test_ways: int | None = None,
        test_shots: int | None = None,
        test_queries: int | None = None,
        episodes_per_epoch: int = 100,
        val_episodes: int = 100,
        test_episodes: int = 600,
        val_fraction: float = 0.1,
        split: SplitKind = "auto",
        num_folds: int | None = None,
        fold: int = 0,
        normalization: NormalizationMode = "standardize",
        seed: int = 42,
        num_workers: int = 0,
    ) -> None:
        super().__init__(1, val_fraction, split, num_folds, fold, seed, num_workers)
        check_choice("dataset", dataset, FewShotDataset)
        self.train_classes = tuple(int(c) for c in train_classes)
        self.test_classes = tuple(int(c) for c in test_classes)
        self.image_shape, max_pixel_value, self.all_class_names = DATASETS[dataset]
        self.episode_shapes = {"train": (ways, shots, queries),
                               "test": (test_ways or ways, test_shots or shots, test_queries or queries)}
        self.episode_shapes["val"] = self.episode_shapes["predict"] = self.episode_shapes["test"]
        self._check_settings()
        self.normalization = Normalization(normalization, max_pixel_value)
        self.preprocessors = {"normalization": self.normalization}

    def _check_settings(self) -> None:
        known = range(len(self.all_class_names))
        for name, classes in (("train_classes", self.train_classes), ("test_classes", self.test_classes)):
            if not classes or any(c not in known for c in classes) or len(set(classes)) != len(classes):
                raise ConfigurationError(f"{name} must list distinct classes in 0..{len(known) - 1}; "
                                         f"got {list(classes)}.")
        shared = sorted(set(self.train_classes) & set(self.test_classes))
        if shared:
            raise ConfigurationError(f"Classes {shared} are both training and test classes; few-shot test classes "
                                     "must be new to the model.")
        for stage, shape in self.episode_shapes.items():
            if min(shape) < 1 or shape[0] < 2:
                raise ConfigurationError(f"{stage} episodes need ways >= 2, shots >= 1 and queries >= 1; got "
                                         f"(ways, shots, queries) = {shape}.")
        hp = self.hparams
        if min(hp.episodes_per_epoch, hp.test_episodes) < 1 or hp.val_episodes < 0:
            raise ConfigurationError("episodes_per_epoch and test_episodes must be >= 1 and val_episodes >= 0.")

    # --- what a model is built for -----------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one image as the embedding reads it: (C, H, W)."""
        h, w, c = self.image_shape
        return (c, h, w)

    @property
    def ways(self) -> int:
        """Classes per training episode."""
        return self.episode_shapes["train"][0]

    @property
    def train_class_names(self) -> tuple[str, ...]:
        return tuple(self.all_class_names[c] for c in self.train_classes)

    @property
    def test_class_names(self) -> tuple[str, ...]:
        return tuple(self.all_class_names[c] for c in self.test_classes)

    # --- the data core's steps ---------------------------------------------------------------------
    def fetch(self) -> None:
        if self.hparams.dataset == "fashion_mnist":
            sources.fetch_fashion_mnist(self.hparams.data_dir)

    def load_arrays(self) -> ImageArrays:
        """The whole dataset in memory, official splits as loaded."""
        if self.hparams.dataset == "digits":
            return sources.load_digits()
        return sources.load_fashion_mnist(self.hparams.data_dir, download=False)

    def load_splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        arrays = self.load_arrays()
        train_images, train_labels = np.asarray(arrays.train_images), np.asarray(arrays.train_labels)
        if train_images.ndim == 3:
            train_images = train_images[..., None]
        test_images = np.asarray(arrays.test_images).reshape(-1, *train_images.shape[1:])
        seen = np.isin(train_labels, self.train_classes)
        images, labels = train_images[seen], train_labels[seen]
        train, val = self.split_indices(labels, stratifiable=True)
        new = np.concatenate([train_images[np.isin(train_labels, self.test_classes)],
                              test_images[np.isin(arrays.test_labels, self.test_classes)]])
        new_labels = np.concatenate([train_labels[np.isin(train_labels, self.test_classes)],
                                     np.asarray(arrays.test_labels)[np.isin(arrays.test_labels, self.test_classes)]])
        return {"train": (images[train], labels[train]), "val": (images[val], labels[val]), "test": (new, new_labels)}

    def build_dataset(self, stage: str, images: np.ndarray, labels: np.ndarray) -> EpisodeDataset:
        inputs = self.normalization(as_channels_first(images)) if len(images) else torch.zeros(0, *self.input_shape)
        return EpisodeDataset(inputs, torch.as_tensor(labels, dtype=torch.long))

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for name in ("train", "val", "test"):  # fail at setup, not in the middle of a run
            dataset = getattr(self, f"{name}_set")
            ways, shots, queries = self.episode_shapes[name]
            if len(dataset) or name != "val":
                classes, counts = torch.unique(dataset.labels, return_counts=True)
                check_episode_fits(classes.tolist(), counts.tolist(), ways, shots + queries)

    # --- episodes ----------------------------------------------------------------------------------
    def episode_loader(self, stage: Literal["train", "val", "test", "predict"]) -> DataLoader:
        """The episodes of one stage; a batch is one episode (the loader's ``batch_size`` is ``None``)."""
        dataset = getattr(self, f"{'test' if stage == 'predict' else stage}_set")
        if dataset is None:
            raise RuntimeError("Call setup() before asking for a dataloader.")
        self._log_statistics()
        world, rank = self._world()
        hp = self.hparams
        count = {"train": hp.episodes_per_epoch, "val": hp.val_episodes if len(dataset) else 0}.get(stage,
                                                                                                  hp.test_episodes)
        training = stage == "train"
        sampler = EpisodeSampler(dataset, *self.episode_shapes[stage], episodes=count, seed=hp.seed,
                                 stream=STREAMS[stage], num_replicas=world, rank=rank, fixed=not training,
                                 pad=training, epoch_source=self._training_epoch if training else None)
        settings = self.loader_settings(batch_size=None)  # the sampler yields whole episodes
        return self.resumable_loader(dataset, sampler, **settings) if training else \
            DataLoader(dataset, sampler=sampler, **settings)

    def train_dataloader(self) -> DataLoader:
        return self.episode_loader("train")

    def val_dataloader(self) -> DataLoader:
        return self.episode_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.episode_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.episode_loader("predict")

    def example_episode(self, stage: Literal["train", "val", "test"] = "test", index: int = 0) -> Episode:
        """One episode of a stage (epoch 0), e.g. to show it; call :meth:`setup` first."""
        loader = self.episode_loader(stage)
        return loader.dataset[loader.sampler.episode(0, index)]
