"""TabularDataModule: arrays, CSV files, DataFrames and scikit-learn's bundled tables through the data core."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from data_helpers import TinyClassifier, quiet_trainer
from lightning_dl.data import TabularDataModule
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError

RNG = np.random.default_rng(0)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture
def table_csv(tmp_path):
    rows = [[f"{RNG.normal():.4f}", f"{RNG.normal() * 10 + 3:.4f}", i % 7, ["setosa", "virginica"][i % 2]]
            for i in range(100)]
    return write_csv(tmp_path / "flowers.csv", ["petal", "sepal", "weekday", "species"], rows)


def ready(**kwargs) -> TabularDataModule:
    dm = TabularDataModule(**kwargs)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("name, task, features, classes", [
    ("diabetes", "regression", 10, None), ("breast_cancer", "classification", 30, 2),
    ("wine", "classification", 13, 3)])
def test_bundled_tables(name, task, features, classes):
    dm = ready(dataset=name, batch_size=32)
    assert dm.task == task and dm.input_shape == (features,) and len(dm.feature_names) == features
    assert dm.num_classes == classes and dm.vocab_size is None
    assert dm.num_outputs == (1 if task == "regression" else None)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (32, features) and x.dtype == torch.float32
    assert (y.shape, y.dtype) == (((32, 1), torch.float32) if task == "regression" else ((32,), torch.long))
    sizes = len(dm.train_set) + len(dm.val_set) + len(dm.test_set)
    assert sizes == {"diabetes": 442, "breast_cancer": 569, "wine": 178}[name]


def test_the_test_split_is_fixed_and_stratified():
    first, second = (ready(dataset="wine", seed=seed) for seed in (1, 2))
    assert torch.allclose(first.features.inverse(first.test_set.inputs),
                          second.features.inverse(second.test_set.inputs), atol=1e-3)  # the seed moves no test row
    assert not torch.allclose(first.features.inverse(first.val_set.inputs)[:5],
                              second.features.inverse(second.val_set.inputs)[:5])  # ...but it does move validation
    assert np.bincount(first.test_set.targets.numpy()).tolist() == [12, 14, 10]  # 59/71/48 rows: 20% of each class


def test_standardization_comes_from_the_train_rows_only():
    features = RNG.normal(size=(120, 4)).astype(np.float32)
    targets = RNG.normal(size=120).astype(np.float32)
    test = RNG.normal(size=(30, 4)).astype(np.float32)
    dm = ready(features=features, targets=targets, test_features=test, test_targets=np.zeros(30, np.float32))
    assert torch.allclose(dm.train_set.inputs.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(dm.train_set.inputs.std(0, unbiased=False), torch.ones(4), atol=1e-4)
    train_rows = dm.features.inverse(dm.train_set.inputs)
    assert dm.features.statistics()["mean"] == pytest.approx(train_rows.mean(0).tolist(), abs=1e-5)
    # validation and test rows may change freely: the statistics stay
    poisoned = features.copy()
    val_rows = [np.argmin(np.abs(features - row.numpy()).sum(1)) for row in dm.features.inverse(dm.val_set.inputs)]
    poisoned[val_rows] += 100
    other = ready(features=poisoned, targets=targets, test_features=test + 100, test_targets=np.zeros(30, np.float32))
    assert other.features.statistics() == dm.features.statistics()
    assert other.val_set.inputs.mean() > 10  # ...and they are scaled with the train statistics, not their own


def test_target_standardization_is_fitted_on_train_and_inverts():
    dm = ready(dataset="diabetes", target_normalization="standardize")
    scaler = dm.preprocessors["targets"]
    assert abs(dm.train_set.targets.mean().item()) < 1e-5
    assert 25 <= scaler.inverse(dm.test_set.targets).min().item() and scaler.inverse(dm.test_set.targets).max() <= 346
    assert "data/targets/mean" in dm.statistics() and "data/features/std" in dm.statistics()


def test_csv_with_text_classes(table_csv):
    dm = ready(data=str(table_csv), target_column="species", feature_columns=["petal", "sepal"])
    assert dm.task == "classification" and dm.class_names == ("setosa", "virginica") and dm.input_shape == (2,)
    assert dm.feature_names == ("petal", "sepal")
    everything = ready(data=table_csv, target_column="species")
    assert everything.feature_names == ("petal", "sepal", "weekday")


def test_csv_regression_with_several_targets(table_csv):
    dm = ready(data=table_csv, target_column=["petal", "sepal"], feature_columns=["weekday"], batch_size=8)
    assert dm.task == "regression" and dm.num_outputs == 2 and dm.num_classes is None
    assert next(iter(dm.train_dataloader()))[1].shape == (8, 2)


def test_integer_classes_are_renumbered(table_csv):
    dm = ready(data=table_csv, target_column="weekday", feature_columns=["petal"])
    assert dm.class_names == tuple(str(d) for d in range(7)) and dm.num_classes == 7


class FakeDataFrame:
    """Just what TabularDataModule uses of a pandas DataFrame (pandas itself is optional)."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self._columns = columns
        self.columns = list(columns)

    def __getitem__(self, name: str):
        return type("Series", (), {"to_numpy": lambda _: self._columns[name]})()

    def to_numpy(self):
        return np.stack(list(self._columns.values()), 1)


def test_dataframes(tmp_path):
    columns = {"a": RNG.normal(size=50), "b": RNG.normal(size=50), "y": np.arange(50) % 2}
    dm = ready(data=FakeDataFrame(columns), target_column="y")
    assert dm.feature_names == ("a", "b") and dm.num_classes == 2
    pandas = pytest.importorskip("pandas")
    real = ready(data=pandas.DataFrame(columns), target_column="y")
    assert torch.equal(real.train_set.inputs, dm.train_set.inputs)


def test_chronological_rows_keep_their_order():
    features = np.arange(100, dtype=np.float32)[:, None]
    dm = ready(features=features, targets=features[:, 0] * 2, split="chronological", val_fraction=0.25,
               normalization="none")
    train, val, test = (s.inputs[:, 0] for s in (dm.train_set, dm.val_set, dm.test_set))
    assert train.max() < val.min() and val.max() < test.min()  # the future validates and tests


def test_a_classifier_trains_on_wine():
    dm = TabularDataModule(dataset="wine", batch_size=16)
    torch.manual_seed(0)
    model = TinyClassifier(*dm.input_shape, dm.num_classes)
    trainer = quiet_trainer(max_epochs=15)
    trainer.fit(model, dm)
    trainer.test(model, dm, verbose=False)
    assert trainer.callback_metrics["test/accuracy"] > 0.85


# --- mistakes ---------------------------------------------------------------------------------------
def test_missing_column_names_it_and_lists_the_columns(table_csv):
    with pytest.raises(ConfigurationError, match=r"no column 'colour'; its columns are: petal, sepal, weekday, spec"):
        ready(data=table_csv, target_column="species", feature_columns=["petal", "colour"])
    with pytest.raises(ConfigurationError, match="target_column"):
        ready(data=table_csv)


def test_non_numeric_feature_names_the_column(table_csv):
    with pytest.raises(DataValidationError, match=r"Column 'species' is not numeric: row 0 holds 'setosa'"):
        ready(data=table_csv, target_column="weekday")


def test_missing_values_say_how_many_rows_and_where(tmp_path):
    rows = [[i, i * 2, i % 2] for i in range(20)]
    rows[5][1], rows[12][0] = "", "NaN"
    path = write_csv(tmp_path / "gaps.csv", ["a", "b", "y"], rows)
    with pytest.raises(DataValidationError, match=r"NaN\) or infinite values in 2 rows \(first at row 5\)"):
        ready(data=path, target_column="y")
    features = np.ones((10, 2), np.float32)
    features[3, 1] = np.nan
    with pytest.raises(DataValidationError, match=r"1 rows \(first at row 3\)"):
        ready(features=features, targets=np.arange(10) % 2)


def test_a_csv_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nowhere.csv does not exist"):
        ready(data=str(tmp_path / "nowhere.csv"), target_column="y")


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one source"), ({"dataset": "wine", "features": np.ones((3, 2))}, "exactly one source"),
    ({"dataset": "iris"}, "Unknown dataset"), ({"dataset": "wine", "task": "regression"}, "classification table"),
    ({"dataset": "diabetes", "label_format": "integer"}, "float"),
    ({"dataset": "wine", "test_fraction": 1}, "test_fraction"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        ready(**kwargs)


def test_fitted_scalers_travel_in_the_state_dict_and_data_stays_out_of_hyperparameters():
    features = RNG.normal(size=(80, 3)).astype(np.float32)
    targets = (features[:, 0] * 3).astype(np.float32)
    source = ready(features=features, targets=targets, target_normalization="standardize")
    assert "features" not in source.hparams and "targets" not in source.hparams and source.hparams.seed == 42
    other = ready(features=features * 5 + 1, targets=targets * 2, target_normalization="standardize")
    other.load_state_dict(source.state_dict())
    assert other.statistics() == source.statistics()
    # the datasets were rebuilt with the restored statistics: test rows are scaled by the source's
    raw_test_rows = torch.as_tensor(other.load_splits()["test"][0])
    assert torch.allclose(other.test_set.inputs, (raw_test_rows - source.features.shift) / source.features.scale)
    assert not torch.allclose(other.test_set.inputs, (raw_test_rows - raw_test_rows.mean(0)) / raw_test_rows.std(0))
