"""K-fold indices written out, without scikit-learn (the notes' "implement k-fold yourself"): the folds of the
data core's k-fold split strategies, and so of ``lightning-dl kfold``.

Both functions return one ``(train_indices, val_indices)`` pair per fold: every sample is validation in
exactly one fold and training in all the others, and the folds are as equal in size as the data allows
(sizes differ by at most one).
"""

from __future__ import annotations

import numpy as np

from lightning_dl.errors import ConfigurationError

Fold = tuple[np.ndarray, np.ndarray]


def _check(num_samples: int, num_folds: int) -> None:
    if not 2 <= num_folds <= num_samples:
        raise ConfigurationError(f"num_folds={num_folds} does not fit {num_samples} samples: need "
                                 "2 <= num_folds <= the number of samples.")


def _pairs(assignment: np.ndarray, num_folds: int) -> list[Fold]:
    """``(train, val)`` index pairs from each sample's fold number."""
    return [(np.flatnonzero(assignment != k), np.flatnonzero(assignment == k)) for k in range(num_folds)]


def kfold(num_samples: int, num_folds: int, seed: int = 42) -> list[Fold]:
    """Plain k-fold (regression, unlabelled data): shuffle the sample indices with ``seed``, then cut them
    into ``num_folds`` consecutive blocks; block ``k`` is fold ``k``'s validation set.

    Args:
        num_samples: Size of the training set.
        num_folds: Number of folds (at least 2).
        seed: Seed of the shuffle; the same seed gives the same folds.

    Returns:
        ``num_folds`` pairs of sorted ``(train_indices, val_indices)``.
    """
    _check(num_samples, num_folds)
    order = np.random.default_rng(seed).permutation(num_samples)
    assignment = np.empty(num_samples, dtype=np.int64)
    for k, block in enumerate(np.array_split(order, num_folds)):
        assignment[block] = k
    return _pairs(assignment, num_folds)


def stratified_kfold(labels: np.ndarray, num_folds: int, seed: int = 42) -> list[Fold]:
    """Stratified k-fold (classification): every fold holds each class in the same proportion as the whole set.

    The samples of each class are shuffled with ``seed`` and the classes are laid end to end; dealing that
    sequence out to the folds like cards (sample ``i`` to fold ``i mod num_folds``) gives every fold
    either ``floor`` or ``ceil`` of ``count / num_folds`` samples of each class, and fold sizes that differ
    by at most one. A class with fewer samples than folds is missing from some validation sets.

    Args:
        labels: Class label of every training sample, shape ``(N,)`` (integers or strings).
        num_folds: Number of folds (at least 2).
        seed: Seed of the shuffle; the same seed gives the same folds.

    Returns:
        ``num_folds`` pairs of sorted ``(train_indices, val_indices)``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ConfigurationError(f"stratified_kfold needs one class label per sample (shape (N,)), got shape "
                                 f"{labels.shape}; for one-hot labels pass labels.argmax(1).")
    _check(len(labels), num_folds)
    rng = np.random.default_rng(seed)
    _, classes = np.unique(labels, return_inverse=True)
    dealt = np.concatenate([rng.permutation(np.flatnonzero(classes == c)) for c in range(classes.max() + 1)])
    assignment = np.empty(len(labels), dtype=np.int64)
    assignment[dealt] = np.arange(len(labels)) % num_folds
    return _pairs(assignment, num_folds)
