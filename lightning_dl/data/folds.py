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


def check_folds(num_folds: int, fold: int | None = None, num_samples: int | None = None) -> None:
    """The one check of a k-fold setting, wherever it is given (a DataModule's ``num_folds``/``fold``, a split
    strategy, ``lightning-dl kfold --folds``): at least 2 folds, no more than samples, ``0 <= fold < num_folds``.

    Raises:
        ConfigurationError: Saying which value is wrong and what would fit.
    """
    if isinstance(num_folds, bool) or not isinstance(num_folds, (int, np.integer)) or num_folds < 2:
        raise ConfigurationError(f"num_folds={num_folds!r}: k-fold cross-validation needs an integer num_folds >= 2.")
    if num_samples is not None and num_folds > num_samples:
        raise ConfigurationError(f"num_folds={num_folds} does not fit {num_samples} samples: need "
                                 "2 <= num_folds <= the number of samples.")
    if fold is not None and not 0 <= fold < num_folds:
        raise ConfigurationError(f"fold={fold} does not exist with num_folds={num_folds}: the folds are numbered "
                                 f"0 to {num_folds - 1}.")


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
    check_folds(num_folds, num_samples=num_samples)
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
    check_folds(num_folds, num_samples=len(labels))
    rng = np.random.default_rng(seed)
    _, classes = np.unique(labels, return_inverse=True)
    dealt = np.concatenate([rng.permutation(np.flatnonzero(classes == c)) for c in range(classes.max() + 1)])
    assignment = np.empty(len(labels), dtype=np.int64)
    assignment[dealt] = np.arange(len(labels)) % num_folds
    return _pairs(assignment, num_folds)


def fold_indices(labels_or_n: np.ndarray | int, num_folds: int, fold: int, seed: int = 42,
                 stratified: bool = False) -> Fold:
    """Fold ``fold`` of :func:`stratified_kfold` (``stratified``, from class labels) or of :func:`kfold` (from the
    labels or the number of samples): the ``(train_indices, val_indices)`` the data core's k-fold splits use."""
    check_folds(num_folds, fold)
    if stratified:
        return stratified_kfold(labels_or_n, num_folds, seed)[fold]
    return kfold(int(labels_or_n) if np.isscalar(labels_or_n) else len(labels_or_n), num_folds, seed)[fold]
