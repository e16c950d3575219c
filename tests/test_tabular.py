"""TabularDataModule: arrays, CSV files, DataFrames and scikit-learn's bundled tables through the data core."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from data_helpers import TinyClassifier, quiet_trainer
from lightning_dl.cli import LINKED_ATTRIBUTES, cli_main
from lightning_dl.data import ArrayDataModule, DigitsDataModule, TabularDataModule
from lightning_dl.models import Classifier, Regressor
from lightning_dl.nn import MLP
from lightning_dl.workflow.command import kfold_main
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


# --- text labels through the command line; what travels from the data into the model is plain Python --------
def is_plain(value) -> bool:
    """Built of plain Python values only (``np.str_`` and ``np.int64`` subclass ``str`` and ``int``: not plain)."""
    if isinstance(value, (tuple, list)):
        return all(is_plain(v) for v in value)
    return type(value) in (str, int, float, bool, type(None))


@pytest.fixture
def text_labels_csv(tmp_path):
    """Three species named by text, separable by the two features."""
    rows = [[f"{RNG.normal() + i % 3:.4f}", f"{RNG.normal() - i % 3:.4f}", ["setosa", "versicolor", "virginica"][i % 3]]
            for i in range(90)]
    return write_csv(tmp_path / "species.csv", ["petal", "sepal", "species"], rows)


def text_label_run(path) -> list[str]:
    return ["--model", "lightning_dl.models.Classifier", "--model.network", "lightning_dl.nn.MLP",
            "--model.network.hidden_sizes", "[8]", "--data", "lightning_dl.data.TabularDataModule",
            "--data.data", str(path), "--data.target_column", "species", "--data.batch_size", "16",
            "--trainer.max_epochs", "2", "--trainer.accelerator", "cpu", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def test_a_csv_with_text_labels_trains_through_lightning_dl_fit(text_labels_csv, tmp_path):
    """jsonargparse refused the linked class names (np.str_) before training: `cannot represent an object`."""
    cli = cli_main(["fit", *text_label_run(text_labels_csv), "--checkpoint.dirpath", str(tmp_path / "checkpoints")])
    assert cli.trainer.state.finished and "test/accuracy" in cli.trainer.callback_metrics
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)  # numpy values would be refused
    names = checkpoint["hyper_parameters"]["class_names"]
    assert tuple(names) == ("setosa", "versicolor", "virginica") and is_plain(names)


def test_a_csv_with_text_labels_runs_through_lightning_dl_kfold(text_labels_csv, tmp_path):
    kfold_main([*text_label_run(text_labels_csv), "--folds", "2", "--output", str(tmp_path / "cv")])
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    assert [f["fold"] for f in summary["folds"]] == [0, 1] and summary["failed_folds"] == []
    assert summary["final"]["epochs"] >= 1 and "test/accuracy" in summary["test"]


@pytest.mark.parametrize("make", [
    lambda csv_path: TabularDataModule(data=csv_path, target_column="species"),
    lambda csv_path: TabularDataModule(data=csv_path, target_column="species", feature_columns=["petal"]),
    lambda csv_path: TabularDataModule(features=RNG.normal(size=(40, 3)), targets=np.arange(40) % 4),
    lambda csv_path: TabularDataModule(features=RNG.normal(size=(40, 3)), targets=np.array(["a", "b"] * 20, dtype=object)),
    lambda csv_path: TabularDataModule(features=RNG.normal(size=(40, 3)), targets=RNG.normal(size=(40, 2))),
    lambda csv_path: TabularDataModule(dataset="wine"),
    lambda csv_path: TabularDataModule(dataset="diabetes"),
    lambda csv_path: ArrayDataModule(RNG.integers(0, 255, (60, 8, 8), dtype=np.uint8), np.arange(60) % 3,
                                     RNG.integers(0, 255, (6, 8, 8), dtype=np.uint8), np.arange(6) % 3),
    lambda csv_path: DigitsDataModule(),
])
def test_every_value_linked_into_the_model_is_plain_python(make, text_labels_csv):
    dm = make(text_labels_csv)
    for stage in (None, "fit"):  # before setup (what the CLI links) and after
        if stage:
            dm.setup(stage)
        values = {name: getattr(dm, name, None) for name in LINKED_ATTRIBUTES}
        assert all(is_plain(v) for v in values.values()), values
        assert values["num_classes"] is not None or values["num_outputs"] is not None


def test_a_classifier_keeps_numpy_class_names_and_shapes_as_plain_python():
    model = Classifier(MLP, input_shape=np.array([4]), num_classes=2, class_names=np.array(["no", "yes"]))
    assert model.hparams["class_names"] == ("no", "yes") and is_plain(model.hparams["class_names"])
    assert model.hparams["input_shape"] == (4,) and is_plain(model.hparams["input_shape"])
    assert model.class_names == ("no", "yes") and is_plain(model.class_names)
    regressor = Regressor(MLP, input_shape=(np.int64(3),), num_outputs=np.int64(2))
    assert is_plain(regressor.hparams["input_shape"]) and is_plain(regressor.hparams["num_outputs"])
