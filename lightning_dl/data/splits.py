"""How a training set is divided into train and validation: one small strategy per way of doing it.

Every strategy is called with the labels (or targets) of the whole training set, or just its length, and
returns ``(train_indices, val_indices)``. The test set is never touched by any of them.

- :class:`StratifiedShuffleSplit`: shuffle, then hold out ``val_fraction`` of every class (classification);
- :class:`StratifiedKFold`: fold ``fold`` of a stratified ``num_folds``-fold split (cross-validation; the
  folds of :func:`~lightning_dl.data.folds.stratified_kfold`, written out without scikit-learn);
- :class:`ShuffledSplit`: shuffle, then hold out ``val_fraction`` (regression targets, unlabelled data);
- :class:`ShuffledKFold`: fold ``fold`` of a plain ``num_folds``-fold split;
- :class:`ChronologicalSplit`: the last ``val_fraction`` in time is validation; nothing is shuffled;
- :class:`AllData`: everything is training data and the validation set is empty (GANs).

:func:`make_split` picks one from the settings a DataModule takes (``split``, ``val_fraction``,
``num_folds``, ``fold``, ``seed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from lightning_dl.data.folds import fold_indices
from lightning_dl.errors import ConfigurationError, check_choice

#: ``auto`` stratifies when there are class labels and shuffles otherwise.
SplitKind = Literal["auto", "stratified", "shuffled", "chronological"]
Indices = tuple[np.ndarray, np.ndarray]


class SplitStrategy(Protocol):
    """``strategy(labels_or_n) -> (train_indices, val_indices)``."""

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices: ...


def _length(labels_or_n: np.ndarray | int) -> int:
    return int(labels_or_n) if np.isscalar(labels_or_n) else len(labels_or_n)


def _check_fraction(val_fraction: float) -> None:
    if not 0 < val_fraction < 1:
        raise ConfigurationError(f"val_fraction={val_fraction} must lie strictly between 0 and 1 "
                                 "(or be 0 for no validation set).")


def _class_labels(labels_or_n: np.ndarray | int, strategy: str) -> np.ndarray:
    labels = None if np.isscalar(labels_or_n) else np.asarray(labels_or_n)
    if labels is None or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigurationError(f"A {strategy} split needs integer class labels to stratify by; these targets "
                                 "are not class labels. Use split: shuffled (or chronological for series).")
    return labels


@dataclass(frozen=True)
class StratifiedShuffleSplit:
    """Shuffle (seeded), then hold out ``val_fraction`` of every class as validation."""

    val_fraction: float = 0.1
    seed: int = 42

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        from sklearn.model_selection import train_test_split

        _check_fraction(self.val_fraction)
        labels = _class_labels(labels_or_n, "stratified")
        train, val = train_test_split(np.arange(len(labels)), test_size=self.val_fraction, stratify=labels,
                                      random_state=self.seed, shuffle=True)
        return np.sort(train), np.sort(val)


@dataclass(frozen=True)
class StratifiedKFold:
    """Fold ``fold`` of a seeded, shuffled, stratified ``num_folds``-fold split is validation."""

    num_folds: int = 5
    fold: int = 0
    seed: int = 42

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        labels = _class_labels(labels_or_n, "stratified k-fold")
        return fold_indices(labels, self.num_folds, self.fold, self.seed, stratified=True)


@dataclass(frozen=True)
class ShuffledSplit:
    """Shuffle (seeded), then hold out ``val_fraction``; for regression targets, where classes do not exist."""

    val_fraction: float = 0.1
    seed: int = 42

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        _check_fraction(self.val_fraction)
        n = _length(labels_or_n)
        order = np.random.default_rng(np.random.SeedSequence(self.seed)).permutation(n)
        num_val = max(1, round(n * self.val_fraction)) if n > 1 else 0
        return np.sort(order[num_val:]), np.sort(order[:num_val])


@dataclass(frozen=True)
class ShuffledKFold:
    """Fold ``fold`` of a seeded, shuffled ``num_folds``-fold split (no stratification)."""

    num_folds: int = 5
    fold: int = 0
    seed: int = 42

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        return fold_indices(_length(labels_or_n), self.num_folds, self.fold, self.seed)


@dataclass(frozen=True)
class ChronologicalSplit:
    """The last ``val_fraction`` of the samples (in time order) is validation; nothing crosses time."""

    val_fraction: float = 0.1

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        _check_fraction(self.val_fraction)
        n = _length(labels_or_n)
        num_val = max(1, round(n * self.val_fraction)) if n > 1 else 0
        return np.arange(n - num_val), np.arange(n - num_val, n)


@dataclass(frozen=True)
class AllData:
    """Every sample trains; the validation set is empty (``val_fraction: 0``, e.g. for GANs)."""

    def __call__(self, labels_or_n: np.ndarray | int) -> Indices:
        return np.arange(_length(labels_or_n)), np.zeros(0, dtype=np.int64)


def make_split(split: SplitKind = "auto", val_fraction: float = 0.1, num_folds: int | None = None, fold: int = 0,
               seed: int = 42, stratifiable: bool = True) -> SplitStrategy:
    """The strategy a DataModule's settings ask for.

    ``auto`` means stratified where ``stratifiable`` (there are class labels) and shuffled otherwise.
    ``num_folds`` turns a stratified or shuffled split into k-fold; ``val_fraction: 0`` means all data.
    """
    check_choice("split", split, SplitKind)
    if split == "auto":
        split = "stratified" if stratifiable else "shuffled"
    if num_folds is not None:
        if split == "chronological":
            raise ConfigurationError("num_folds does not combine with a chronological split: folds would train on "
                                     "the future. Use split: shuffled or stratified for k-fold.")
        return (StratifiedKFold if split == "stratified" else ShuffledKFold)(num_folds, fold, seed)
    if val_fraction == 0:
        return AllData()
    _check_fraction(val_fraction)
    if split == "chronological":
        return ChronologicalSplit(val_fraction)
    return (StratifiedShuffleSplit if split == "stratified" else ShuffledSplit)(val_fraction, seed)


def stratified_split(labels: np.ndarray, val_fraction: float, num_folds: int | None, fold: int,
                     seed: int) -> Indices:
    """Train/validation indices of a seeded stratified split, or of fold ``fold`` with ``num_folds``."""
    return make_split("stratified", val_fraction, num_folds, fold, seed)(labels)
