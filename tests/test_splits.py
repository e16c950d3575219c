"""Split strategies: each divides the training set into disjoint train/validation parts the way it promises."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_dl.data import (AllData, ChronologicalSplit, ShuffledKFold, ShuffledSplit, StratifiedKFold,
                               StratifiedShuffleSplit, make_split)
from lightning_dl.errors import ConfigurationError

LABELS = np.repeat(np.arange(4), 50)  # sorted by class: an unshuffled tail would be all class 3


def assert_partition(train: np.ndarray, val: np.ndarray, n: int) -> None:
    assert len(np.intersect1d(train, val)) == 0 and sorted(np.concatenate([train, val]).tolist()) == list(range(n))


def test_stratified_shuffle_keeps_class_shares_and_is_seeded():
    train, val = StratifiedShuffleSplit(0.2, seed=1)(LABELS)
    assert_partition(train, val, 200)
    assert np.bincount(LABELS[val]).tolist() == [10, 10, 10, 10]
    assert np.array_equal(val, StratifiedShuffleSplit(0.2, seed=1)(LABELS)[1])
    assert not np.array_equal(val, StratifiedShuffleSplit(0.2, seed=2)(LABELS)[1])


def test_shuffled_split_shuffles_before_it_splits():
    train, val = ShuffledSplit(0.1, seed=0)(200)
    assert_partition(train, val, 200)
    assert len(val) == 20 and val.max() - val.min() > 100  # spread over the set, not its tail
    assert len(np.unique(LABELS[val])) == 4
    assert np.array_equal(val, ShuffledSplit(0.1, seed=0)(np.zeros(200))[1])  # targets or a length alike
    assert not np.array_equal(val, ShuffledSplit(0.1, seed=1)(200)[1])


@pytest.mark.parametrize("strategy, stratified", [(StratifiedKFold, True), (ShuffledKFold, False)])
def test_folds_partition_the_training_set(strategy, stratified):
    folds = [strategy(5, k, seed=0)(LABELS)[1] for k in range(5)]
    assert sorted(np.concatenate(folds).tolist()) == list(range(200))
    if stratified:
        assert all(np.bincount(LABELS[f]).tolist() == [10, 10, 10, 10] for f in folds)
    for k in range(5):
        assert_partition(*strategy(5, k, seed=0)(LABELS), 200)


def test_chronological_split_validates_on_the_latest_samples():
    train, val = ChronologicalSplit(0.25)(100)
    assert train.tolist() == list(range(75)) and val.tolist() == list(range(75, 100))


def test_all_data_leaves_validation_empty():
    train, val = AllData()(LABELS)
    assert train.tolist() == list(range(200)) and len(val) == 0


@pytest.mark.parametrize("settings, expected", [
    ({}, StratifiedShuffleSplit), ({"stratifiable": False}, ShuffledSplit), ({"split": "shuffled"}, ShuffledSplit),
    ({"split": "chronological"}, ChronologicalSplit), ({"val_fraction": 0}, AllData),
    ({"num_folds": 3}, StratifiedKFold), ({"num_folds": 3, "split": "shuffled"}, ShuffledKFold),
])
def test_make_split_picks_the_strategy(settings, expected):
    assert isinstance(make_split(**settings), expected)


@pytest.mark.parametrize("settings, message", [
    ({"val_fraction": 1.5}, "val_fraction"), ({"val_fraction": -0.1}, "val_fraction"),
    ({"num_folds": 5, "fold": 5}, "fold"), ({"num_folds": 1}, "num_folds"),
    ({"split": "chronological", "num_folds": 3}, "future"), ({"split": "random"}, "Unknown split"),
])
def test_bad_split_settings(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        make_split(**settings)(LABELS)


def test_regression_targets_cannot_be_stratified():
    with pytest.raises(ConfigurationError, match="split: shuffled"):
        StratifiedShuffleSplit(0.1)(np.linspace(0, 1, 50))
