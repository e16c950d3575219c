"""The machinery every DataModule shares, whatever the modality.

The order of operations is the point of this module, and it is the textbook's:

1. shuffle, then split the training set into train/validation with a split strategy
   (:mod:`lightning_dl.data.splits`: stratified, k-fold, shuffled, chronological, all data); the test set
   is never touched;
2. fit the preprocessors (:mod:`lightning_dl.data.preprocessing`) on the **train split only** and apply
   them, unchanged, to validation and test; what was fitted lives in ``state_dict()``, so a checkpoint
   carries it;
3. deterministic transforms on every split, random augmentation on the train split only (modalities that
   have them, e.g. images);
4. targets in the format the loss wants: ``integer`` classes, ``one_hot``, ``float`` (regression,
   ``(N, k)``) or ``none`` (GANs, autoencoders). Every batch is a tuple whose first element is the inputs:
   ``(inputs, targets)``, or ``(inputs,)`` with ``none``.

Small datasets stay in memory as tensors. A ``DataLoader`` over :class:`InMemoryDataset` fetches each
batch with one slice (through ``__getitems__``) instead of assembling it sample by sample. Training order
and augmentation depend only on ``(seed, epoch, rank)``; validation/test/predict are sharded across DDP
processes without padding, so every sample counts exactly once.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lightning_dl import lightning_internals
from lightning_dl.data.batch_augmentation import BatchAugmentation
from lightning_dl.data.folds import check_folds
from lightning_dl.data.preprocessing import Preprocessor
from lightning_dl.data.splits import SplitKind, make_split
from lightning_dl.data.transforms import stream_seed
from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice

LabelFormat = Literal["integer", "one_hot", "float", "none"]
Batch = tuple[Tensor, ...]


def plain_python(value: Any) -> Any:
    """``value`` with every numpy scalar as the Python value it holds (``np.str_`` as ``str``, ``np.int64`` as
    ``int``), numpy arrays as lists, inside tuples, lists and dicts too.

    What a DataModule knows travels into a model's arguments (the CLI links it), its hyperparameters and its
    checkpoints; jsonargparse cannot represent numpy scalars there (``cannot represent an object np.str_``),
    and a checkpoint loaded with ``weights_only=True`` refuses them.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return plain_python(value.tolist())
    if isinstance(value, (tuple, list)):
        return type(value)(plain_python(v) for v in value)
    if isinstance(value, dict):
        return {plain_python(k): plain_python(v) for k, v in value.items()}
    return value


def make_targets(labels: np.ndarray | None, label_format: LabelFormat, num_classes: int | None = None) -> Tensor | None:
    """Targets as the loss wants them: ``integer`` (N,) long, ``one_hot`` (N, classes) float,
    ``float`` (N, k) float (a 1-D target becomes (N, 1)), or ``None`` for ``none``."""
    check_choice("label_format", label_format, LabelFormat)
    if label_format == "none":
        return None
    if labels is None:
        raise ConfigurationError(f"label_format {label_format!r} needs targets, but this data has none; "
                                 "use label_format: none.")
    if label_format == "float":
        targets = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        return targets[:, None] if targets.dim() == 1 else targets.reshape(len(targets), -1)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if label_format == "one_hot":
        return torch.nn.functional.one_hot(targets, num_classes).float()
    return targets


class InMemoryDataset(Dataset):
    """Inputs and targets held in memory; a ``DataLoader`` fetches each batch with one slice.

    With a ``transform`` the stored inputs are raw and the transform turns a raw batch into model inputs
    (used for augmentation, which must see every sample anew each epoch, and for inputs too big to hold
    preprocessed); without one the inputs are stored ready to use. ``targets=None`` gives 1-tuples
    ``(inputs,)``. Items may be plain indices or ``(epoch, rank, position, index)`` from
    :class:`EpochShuffleSampler`, whose first three name the batch's random stream.
    """

    def __init__(self, inputs: Tensor | np.ndarray, targets: Tensor | None = None,
                 transform: Callable[..., Tensor] | None = None) -> None:
        if targets is not None and len(inputs) != len(targets):
            raise DataValidationError(f"{len(inputs)} inputs but {len(targets)} targets; they must pair up.")
        self.inputs, self.targets, self.transform = inputs, targets, transform

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def random(self) -> bool:
        """Whether batches depend on a random stream (augmentation)."""
        return bool(getattr(self.transform, "random", False))

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.transform, "set_epoch"):
            self.transform.set_epoch(epoch)

    def __getitems__(self, items: list) -> Batch:
        key = None
        if items and isinstance(items[0], tuple):
            key, items = items[0][:3], [item[3] for item in items]
        inputs = self.inputs[items]
        if self.transform is not None:
            inputs = self.transform(inputs, key) if key is not None else self.transform(inputs)
        return (inputs,) if self.targets is None else (inputs, self.targets[items])

    def __getitem__(self, index: int) -> Batch:
        return tuple(part[0] for part in self.__getitems__([index]))


class ResumableSampler:
    """A sampler that can start an epoch after the samples a checkpoint taken mid-epoch had already done
    (see :class:`ResumableDataLoader`); the order, and each batch's augmentation stream, stay the epoch's."""

    _resume: tuple[int, int] | None = None

    def resume_at(self, epoch: int, samples_done: int) -> None:
        """Make the next iteration of ``epoch`` start after its first ``samples_done`` samples."""
        self._resume = (epoch, samples_done)

    def take_skip(self, epoch: int) -> int:
        """How many of ``epoch``'s first samples this iteration skips: those of the resume, once."""
        if self._resume is None:
            return 0
        (resume_epoch, skip), self._resume = self._resume, None
        return skip if resume_epoch == epoch else 0


class EpochShuffleSampler(ResumableSampler, DistributedSampler):
    """A seeded shuffle that depends only on ``(seed, epoch)``, sharded across DDP processes.

    The epoch is read when iteration starts, from ``epoch_source`` (the index of the epoch the trainer runs)
    when there is one, else from :meth:`set_epoch`. Lightning builds the first iterator of a resumed run
    before it calls ``set_epoch``, and with ``num_workers > 0`` the workers fetch indices right away, so
    without this the first resumed epoch would replay epoch 0's order.

    For a dataset with augmentation each item is ``(epoch, rank, position, index)``, so each batch's
    random stream is fixed by where it sits, whichever worker builds it; otherwise items are plain indices.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 epoch_source: Callable[[], int | None] | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)
        self.epoch_source = epoch_source

    def current_epoch(self) -> int:
        epoch = self.epoch_source() if self.epoch_source is not None else None
        return self.epoch if epoch is None else int(epoch)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __iter__(self):
        epoch = self.current_epoch()
        generator = torch.Generator()
        generator.manual_seed(stream_seed(self.seed, epoch) >> 1)  # seed + epoch would collide across seeds
        order = torch.randperm(len(self.dataset), generator=generator).tolist()
        if order:
            order += (order * (self.total_size // len(order) + 1))[:self.total_size - len(order)]  # pad to divide
        shard = order[self.rank:self.total_size:self.num_replicas]
        skip = self.take_skip(epoch)
        if getattr(self.dataset, "random", False):
            return iter([(epoch, self.rank, position, index) for position, index in enumerate(shard)][skip:])
        return iter(shard[skip:])


class EvaluationSampler(DistributedSampler):
    """Every ``num_replicas``-th sample from ``rank`` on, in order, without padding.

    Lightning's own ``DistributedSampler`` repeats samples so every process gets as many; in
    validation and test that counts them twice. Here each sample is seen by exactly one process.
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False)

    def __iter__(self):
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, len(self.dataset), self.num_replicas))


class ResumableDataLoader(DataLoader):
    """The training loader: a checkpoint taken in the middle of an epoch resumes at the next batch.

    Lightning stores the ``state_dict()`` of every loader that has one in its checkpoints and hands it back
    to ``load_state_dict()`` when it resumes mid-epoch. The state is the epoch and how many of its batches
    the trainer has finished (``progress``, set by the DataModule); the sampler then skips those samples,
    so the resumed run sees the rest of the epoch in the same order with the same augmentation, instead of
    replaying the epoch's first batches.
    """

    #: ``() -> (epoch, batches of it the trainer has finished)``; set by the DataModule.
    progress: Callable[[], tuple[int, int]] | None = None

    def state_dict(self) -> dict[str, int]:
        epoch, batches = self.progress() if self.progress is not None else (0, 0)
        return {"epoch": epoch, "samples_done": batches * (self.batch_size or 1)}  # no batch_size: an item a batch

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        if hasattr(self.sampler, "resume_at"):
            self.sampler.resume_at(state_dict["epoch"], state_dict["samples_done"])


def keep_batch(batch: Batch) -> Batch:
    """``collate_fn`` for :class:`InMemoryDataset`: its ``__getitems__`` already returns a whole batch."""
    return batch


class InMemoryDataModule(pl.LightningDataModule):
    """The shared machinery: split, fit preprocessors on the train split, in-memory datasets, loaders, state.

    Subclasses load and split their data (:meth:`load_splits`, using :meth:`split_indices`), fit their
    :attr:`preprocessors` on the train split (:meth:`fit_preprocessors`) and build a dataset per stage
    (:meth:`build_dataset`). Everything in :attr:`preprocessors` is saved in ``state_dict()`` (so in
    checkpoints), logged as ``data/<name>/<statistic>`` hyperparameters, and restored by
    ``load_state_dict()``, which rebuilds the datasets with what it restores.

    Attributes a model can be built from (absent or ``None`` where they do not apply): ``input_shape``,
    ``num_classes``, ``num_outputs``, ``class_names``, ``vocab_size``.
    """

    #: Constructor arguments that are data, not settings, and so stay out of the logged hyperparameters.
    not_hyperparameters: tuple[str, ...] = ()
    #: Validation/test shards may legitimately be empty on some processes (no padding).
    allow_zero_length_dataloader_with_multiple_devices = True

    num_classes: int | None = None
    num_outputs: int | None = None
    class_names: tuple[str, ...] | None = None
    vocab_size: int | None = None
    #: Augmentation of whole training batches on the device (random crop and flip), set by a subclass from its
    #: settings; ``None`` is none. See :meth:`on_after_batch_transfer`.
    batch_augmentation: BatchAugmentation | None = None
    #: The seed of the run (``seed_everything``), read when training is set up; it seeds the batch augmentation.
    _run_seed: int | None = None

    def __init__(self, batch_size: int = 128, val_fraction: float = 0.1, split: SplitKind = "auto",
                 num_folds: int | None = None, fold: int = 0, seed: int = 42, num_workers: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=list(self.not_hyperparameters))  # subclasses' arguments too
        check_choice("split", split, SplitKind)
        if batch_size < 1:
            raise ConfigurationError(f"batch_size={batch_size} must be at least 1 (samples per batch).")
        if num_folds is not None:
            check_folds(num_folds, fold)
        self.preprocessors: dict[str, Preprocessor] = {}
        self.train_set: InMemoryDataset | None = None
        self.val_set: InMemoryDataset | None = None
        self.test_set: InMemoryDataset | None = None
        self._splits: dict[str, tuple[Any, Any]] | None = None
        self._logged_statistics: tuple[tuple[int, ...], str] | None = None

    # --- what subclasses provide -------------------------------------------------------------------
    def fetch(self) -> None:
        """Make sure the files are on disk (download if need be); runs once per machine."""

    def load_splits(self) -> dict[str, tuple[Any, Any]]:
        """Load and validate the data; return ``{"train", "val", "test"}`` as ``(inputs, labels)`` pairs."""
        raise NotImplementedError(f"{type(self).__name__} must say where its data comes from (load_splits).")

    def fit_preprocessors(self, train: tuple[Any, Any]) -> None:
        """Fit every preprocessor on the train split's ``(inputs, labels)``."""
        for preprocessor in self.preprocessors.values():
            preprocessor.fit(train[0])

    def build_dataset(self, stage: str, inputs: Any, labels: Any) -> InMemoryDataset:
        """The dataset of one stage (``train``, ``val`` or ``test``) from its raw inputs and labels."""
        raise NotImplementedError

    # --- the split: settable on a DataModule that is not set up yet (k-fold sets each fold this way) ----
    @property
    def num_folds(self) -> int | None:
        """Number of folds of a k-fold split (``None``: split by ``val_fraction``)."""
        return self.hparams.num_folds

    @num_folds.setter
    def num_folds(self, value: int | None) -> None:
        self.change_split(num_folds=value)

    @property
    def fold(self) -> int:
        """Which fold of the k-fold split is the validation set."""
        return self.hparams.fold

    @fold.setter
    def fold(self, value: int) -> None:
        self.change_split(fold=value)

    @property
    def val_fraction(self) -> float:
        """Share of the training set held out for validation when there are no folds (0: none)."""
        return self.hparams.val_fraction

    @val_fraction.setter
    def val_fraction(self, value: float) -> None:
        self.change_split(val_fraction=value)

    def change_split(self, **settings: Any) -> None:
        """Set several of ``num_folds``, ``fold`` and ``val_fraction`` at once (``dm.change_split(num_folds=5,
        fold=2)``), checked together, before :meth:`setup`. They stay hyperparameters, so loggers and
        checkpoints record the split that was used.

        Raises:
            ConfigurationError: An unknown setting, a value that does not fit, or a DataModule already set up.
        """
        unknown = set(settings) - {"num_folds", "fold", "val_fraction"}
        if unknown:
            raise ConfigurationError(f"change_split takes num_folds, fold and val_fraction, not {', '.join(unknown)}.")
        if self._splits is not None:
            raise ConfigurationError(f"{type(self).__name__} is already set up with its split: change "
                                     f"{', '.join(settings)} on a new DataModule, before setup().")
        hp = {**self.hparams, **settings}
        make_split(hp["split"], hp["val_fraction"], hp["num_folds"], hp["fold"], hp["seed"])  # checks the fraction
        if hp["num_folds"] is not None:
            check_folds(hp["num_folds"], hp["fold"])
        elif "fold" in settings:
            raise ConfigurationError(f"fold={settings['fold']} needs a k-fold split: set num_folds too.")
        self.hparams.update(settings)

    # --- the shared machinery ----------------------------------------------------------------------
    def split_indices(self, labels_or_n: np.ndarray | int, stratifiable: bool) -> tuple[np.ndarray, np.ndarray]:
        """Train/validation indices by the configured split strategy."""
        hp = self.hparams
        return make_split(hp.split, hp.val_fraction, hp.num_folds, hp.fold, hp.seed, stratifiable)(labels_or_n)

    def prepare_data(self) -> None:
        self.fetch()

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit"):
            self._run_seed = torch.initial_seed()  # the seed_everything of this run, before anything reseeds
        if self._splits is None:
            self._splits = self.load_splits()
        if not all(p.fitted for p in self.preprocessors.values()):
            self.fit_preprocessors(self._splits["train"])
        if self.train_set is None:  # setup runs once per stage; the data is prepared once
            self._build_datasets()

    def _build_datasets(self) -> None:
        for stage in ("train", "val", "test"):
            setattr(self, f"{stage}_set", self.build_dataset(stage, *self._splits[stage]))

    def statistics(self) -> dict[str, Any]:
        """What the preprocessors fitted, as ``data/<name>/<statistic>``."""
        return {f"data/{name}/{key}": value for name, p in self.preprocessors.items() if p.fitted
                for key, value in p.statistics().items()}

    def _log_statistics(self) -> None:
        """Log the statistics in use. Called when a dataloader is built, which is after Lightning has restored a
        checkpoint's state, so ``test --ckpt_path`` logs the checkpoint's statistics, not freshly fitted ones."""
        trainer = self.trainer
        if trainer is None or not trainer.loggers:
            return
        statistics = self.statistics()
        stamp = (tuple(id(logger) for logger in trainer.loggers), repr(statistics))
        if statistics and stamp != self._logged_statistics:
            for logger in trainer.loggers:
                logger.log_hyperparams(statistics)
            self._logged_statistics = stamp

    def _training_epoch(self) -> int | None:
        trainer = self.trainer
        return None if trainer is None else lightning_internals.training_epochs_processed(trainer)

    def _world(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def training_sampler(self, dataset: Dataset, num_replicas: int, rank: int) -> ResumableSampler:
        """The training sampler: a seeded shuffle that depends only on ``(seed, epoch)``. A DataModule that draws
        its training items another way (two unpaired domains) overrides this and keeps the loader and its
        mid-epoch resumes."""
        return EpochShuffleSampler(dataset, num_replicas=num_replicas, rank=rank, seed=self.hparams.seed,
                                   epoch_source=self._training_epoch)

    def loader_settings(self, batch_size: int | None) -> dict[str, Any]:
        """The DataLoader arguments every loader here shares (``batch_size=None``: the sampler yields batches).

        Workers are re-created each epoch (not persistent); the augmentation stream travels in the indices.
        Each iterator draws a seed for its workers from a generator of the loader's own, not torch's global
        one, so building an iterator (which a resumed run does at other moments) leaves the run's draws alone.
        """
        return {"batch_size": batch_size, "collate_fn": keep_batch, "num_workers": self.hparams.num_workers,
                "generator": torch.Generator().manual_seed(self.hparams.seed)}

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError("Call setup() before asking for a dataloader.")
        self._log_statistics()
        world, rank = self._world()
        settings = self.loader_settings(self.hparams.batch_size)
        if not shuffle:
            return DataLoader(dataset, sampler=EvaluationSampler(dataset, num_replicas=world, rank=rank), **settings)
        return self.resumable_loader(dataset, self.training_sampler(dataset, world, rank), **settings)

    def resumable_loader(self, dataset: Dataset, sampler: ResumableSampler, **settings: Any) -> ResumableDataLoader:
        """A training loader whose checkpoints resume mid-epoch at the next batch."""
        loader = ResumableDataLoader(dataset, sampler=sampler, **settings)
        loader.progress = self._training_progress
        return loader

    # --- device-side augmentation of training batches -------------------------------------------------
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Apply :attr:`batch_augmentation` to the inputs of training batches, on the device they reached;
        validation, test and predict batches (and training batches outside a fit) are left as they are."""
        augmentation, trainer = self.batch_augmentation, self.trainer
        if augmentation is None or not augmentation.active or trainer is None or not trainer.training \
                or not isinstance(batch, (tuple, list)):
            return batch
        images, *rest = batch
        images = augmentation(images, self.batch_seed())
        return [images, *rest] if isinstance(batch, list) else (images, *rest)

    def batch_seed(self) -> int:
        """The seed of the training batch being transferred: the run's seed, this process's rank and the number of
        training batches fetched in the run up to this one (the loop's progress, which a checkpoint restores)."""
        trainer = self.trainer
        fetched = lightning_internals.training_batches_fetched(trainer)
        seed = torch.initial_seed() if self._run_seed is None else self._run_seed
        return stream_seed(seed, trainer.global_rank, fetched) >> 1

    def _training_progress(self) -> tuple[int, int]:
        """The training epoch and how many of its batches the trainer has finished."""
        trainer = self.trainer
        return (lightning_internals.training_epochs_processed(trainer),
                lightning_internals.training_batches_processed_this_epoch(trainer))

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    # --- checkpointing: what was fitted travels with the model -------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {name: p.state_dict() for name, p in self.preprocessors.items() if p.fitted}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restored = False
        for name, state in state_dict.items():
            if name in self.preprocessors:
                self.preprocessors[name].load_state_dict(state)
                restored = True
        if restored and self._splits is not None:  # Lightning restores after setup(): rebuild with what it restored
            self._build_datasets()
