"""Tables through the shared data core: a fixed test split, a train/validation split, per-feature scaling
fitted on the train rows only.

Data comes from arrays, a CSV file (read with the standard library), a pandas DataFrame (pandas is
imported only by whoever made the DataFrame), or one of scikit-learn's bundled tables.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch

from lightning_dl.data.core import InMemoryDataModule, InMemoryDataset, LabelFormat, make_targets, plain_python
from lightning_dl.data.preprocessing import FeatureNormalization, ScalingMode
from lightning_dl.data.sources import TableArrays, TableTask, load_table
from lightning_dl.data.splits import SplitKind, make_split
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError, check_choice

TableName = Literal["diabetes", "breast_cancer", "wine"]
#: Cells that mean "no value" in a CSV file.
MISSING = {"", "na", "nan", "null", "none", "n/a", "?"}


def read_columns(data: Any) -> dict[str, np.ndarray]:
    """A CSV path or a DataFrame as ``{column name: 1-D array}`` (CSV cells stay strings until converted)."""
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):  # a pandas DataFrame
        return {str(name): data[name].to_numpy() for name in data.columns}
    path = Path(data)
    if not path.is_file():
        raise DatasetNotFoundError(f"CSV file {path} does not exist (looked in {path.resolve().parent}); "
                                   "check the path, which is relative to the working directory.")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise DataValidationError(f"{path} is empty; a CSV needs a header row naming the columns.")
    header, body = rows[0], rows[1:]
    ragged = next((i for i, row in enumerate(body) if len(row) != len(header)), None)
    if ragged is not None:
        raise DataValidationError(f"{path}: row {ragged + 2} has {len(body[ragged])} cells but the header names "
                                  f"{len(header)} columns.")
    cells = np.array(body, dtype=object).reshape(len(body), len(header))
    return {name.strip(): cells[:, j] for j, name in enumerate(header)}


def as_numbers(name: str, values: np.ndarray) -> np.ndarray:
    """A column as float64, missing cells as NaN; a non-numeric cell is an error naming the column."""
    if values.dtype != object and np.issubdtype(values.dtype, np.number) or values.dtype == bool:
        return values.astype(np.float64)
    numbers = np.empty(len(values), dtype=np.float64)
    for i, cell in enumerate(values):
        if cell is None or isinstance(cell, str) and cell.strip().lower() in MISSING:
            numbers[i] = np.nan
            continue
        try:
            numbers[i] = float(cell)
        except (TypeError, ValueError):
            raise DataValidationError(
                f"Column {name!r} is not numeric: row {i} holds {cell!r}. Encode it as numbers (e.g. one-hot "
                "columns) or leave it out of feature_columns.") from None
    return numbers


def check_finite(features: np.ndarray, targets: np.ndarray, what: str) -> None:
    """NaN or infinite cells are an error saying how many rows and where the first is."""
    bad = ~np.isfinite(features).all(axis=1)
    if np.issubdtype(targets.dtype, np.floating):
        bad |= ~np.isfinite(targets.reshape(len(targets), -1)).all(axis=1)
    if bad.any():
        raise DataValidationError(f"{what} has missing (NaN) or infinite values in {int(bad.sum())} rows (first at "
                                  f"row {int(np.argmax(bad))}); drop or impute those rows before training.")


class TabularDataModule(InMemoryDataModule):
    """A table: rows of numeric features and a target column (a class or a value), with the hygiene done right.

    Give exactly one source: ``dataset`` (scikit-learn's bundled ``diabetes``, ``breast_cancer`` or
    ``wine``), ``data`` (a CSV path or a pandas DataFrame, with ``target_column``), or ``features`` and
    ``targets`` arrays. Unless a test set is given (``test_data`` or ``test_features``/``test_targets``),
    a fixed ``test_fraction`` is held out with seed 0 (stratified for classification), so it does not move
    when ``seed`` changes. Features are scaled with statistics of the train rows only. Batches are
    ``(features, targets)``: integer classes (or one-hot) for classification, ``(N, k)`` floats for
    regression.

    Args:
        dataset: A bundled table: ``diabetes`` (regression), ``breast_cancer`` or ``wine`` (classification).
        data: A CSV file (header row first) or a pandas DataFrame.
        target_column: The column(s) to predict; several columns make a multi-output regression.
        feature_columns: The columns to learn from (default: every column but the targets).
        task: ``classification`` or ``regression``; by default from the bundled table, else classification
            for integer or text targets and regression for fractional ones.
        features: Features as an ``(N, F)`` array (with ``targets``), instead of ``data``.
        targets: Targets as an ``(N,)`` or ``(N, k)`` array.
        test_data: A held-out test table in the same format as ``data``.
        test_features: Held-out test features (with ``test_targets``).
        test_targets: Held-out test targets.
        test_fraction: Share held out as the fixed test set when no test set is given.
        batch_size: Rows per batch.
        val_fraction: Share of the training rows held out for validation; 0 for none.
        split: ``auto`` (stratified for classification, shuffled for regression), ``stratified``,
            ``shuffled`` or ``chronological`` (rows in time order: the last ones validate and test).
        normalization: Per-feature ``standardize`` (default), ``unit_range``, ``symmetric_range`` or ``none``.
        target_normalization: ``standardize`` regression targets too (``preprocessors["targets"].inverse``
            gives predictions in data units), or ``none``.
        label_format: ``integer`` or ``one_hot`` for classification, ``float`` for regression (default: by task).
        num_folds: Use a k-fold split instead of ``val_fraction``.
        fold: Which fold is the validation set when ``num_folds`` is set.
        seed: Seed of the split and the shuffling.
        num_workers: DataLoader worker processes.
    """

    not_hyperparameters = ("data", "features", "targets", "test_data", "test_features", "test_targets")

    def __init__(
        self,
        dataset: TableName | None = None,
        data: Any = None,
        target_column: str | list[str] | None = None,
        feature_columns: list[str] | None = None,
        task: TableTask | None = None,
        features: np.ndarray | None = None,
        targets: np.ndarray | None = None,
        test_data: Any = None,
        test_features: np.ndarray | None = None,
        test_targets: np.ndarray | None = None,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        split: SplitKind = "auto",
        normalization: ScalingMode = "standardize",
        target_normalization: Literal["standardize", "none"] = "none",
        label_format: LabelFormat | None = None,
        num_folds: int | None = None,
        fold: int = 0,
        seed: int = 42,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, val_fraction, split, num_folds, fold, seed, num_workers)
        sources = [dataset is not None, data is not None, features is not None]
        if sum(sources) != 1:
            raise ConfigurationError("Give exactly one source of rows: dataset (a bundled table), data (a CSV path "
                                     "or a DataFrame), or features with targets.")
        if dataset is not None:
            check_choice("dataset", dataset, TableName)
        if task is not None:
            check_choice("task", task, TableTask)
        if label_format is not None:
            check_choice("label_format", label_format, LabelFormat)
        if not 0 < test_fraction < 1:
            raise ConfigurationError(f"test_fraction={test_fraction} must lie strictly between 0 and 1.")
        self._source = {"data": data, "features": features, "targets": targets, "test_data": test_data,
                        "test_features": test_features, "test_targets": test_targets}
        self.features = FeatureNormalization(normalization)
        self.preprocessors = {"features": self.features}
        if target_normalization != "none":
            self.preprocessors["targets"] = FeatureNormalization(target_normalization)
        self._tables: tuple[TableArrays, TableArrays | None] | None = None

    # --- the table and what the model is built for -------------------------------------------------
    @property
    def tables(self) -> tuple[TableArrays, TableArrays | None]:
        """The rows (and the given test rows, if any), read once."""
        if self._tables is None:
            self._tables = self._read()
        return self._tables

    @property
    def task(self) -> TableTask:
        return self.tables[0].task

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.tables[0].feature_names

    @property
    def input_shape(self) -> tuple[int]:
        return (len(self.feature_names),)

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return plain_python(self.tables[0].class_names)

    @property
    def num_classes(self) -> int | None:
        return len(self.class_names) if self.task == "classification" else None

    @property
    def num_outputs(self) -> int | None:
        """Regression outputs (number of target columns); ``None`` for classification."""
        targets = self.tables[0].targets
        return (1 if targets.ndim == 1 else int(targets.shape[1])) if self.task == "regression" else None

    @property
    def label_format(self) -> LabelFormat:
        fmt = self.hparams.label_format or ("integer" if self.task == "classification" else "float")
        if (self.task == "regression") != (fmt == "float"):
            raise ConfigurationError(f"label_format {fmt!r} does not fit a {self.task} task: use "
                                     f"{'float' if self.task == 'regression' else 'integer or one_hot'}.")
        return fmt

    # --- reading ------------------------------------------------------------------------------------
    def _read(self) -> tuple[TableArrays, TableArrays | None]:
        hp, source = self.hparams, self._source
        if hp.dataset is not None:
            table = load_table(hp.dataset)
            if hp.task is not None and hp.task != table.task:
                raise ConfigurationError(f"{hp.dataset} is a {table.task} table; task {hp.task!r} does not fit it.")
            return table, None
        if source["data"] is not None:
            table = self._from_columns(read_columns(source["data"]), "data")
            test = None if source["test_data"] is None else self._from_columns(read_columns(source["test_data"]),
                                                                                "test_data", table)
            return table, test
        if source["targets"] is None:
            raise ConfigurationError("features need targets: pass targets=... as well.")
        names = [f"x{j}" for j in range(np.shape(source["features"])[1])] if np.ndim(source["features"]) == 2 else []
        columns = {name: np.asarray(source["features"])[:, j] for j, name in enumerate(names)}
        table = self._from_columns({**columns, "target": np.asarray(source["targets"])}, "features", None,
                                   names, "target")
        test = None
        if source["test_features"] is not None:
            test_columns = {name: np.asarray(source["test_features"])[:, j] for j, name in enumerate(names)}
            test = self._from_columns({**test_columns, "target": np.asarray(source["test_targets"])}, "test_features",
                                      table, names, "target")
        return table, test

    def _from_columns(self, columns: dict[str, np.ndarray], what: str, train: TableArrays | None = None,
                      feature_columns: Sequence[str] | None = None, target_column: Any = None) -> TableArrays:
        hp = self.hparams
        target_column = target_column if target_column is not None else hp.target_column
        feature_columns = feature_columns if feature_columns is not None else hp.feature_columns
        if target_column is None:
            raise ConfigurationError(f"Name the column to predict: target_column (columns: {', '.join(columns)}).")
        target_names = [target_column] if isinstance(target_column, str) else list(target_column)
        feature_names = list(feature_columns) if feature_columns is not None else \
            [c for c in columns if c not in target_names]
        for name in [*target_names, *feature_names]:
            if name not in columns:
                raise ConfigurationError(f"{what} has no column {name!r}; its columns are: {', '.join(columns)}.")
        features = np.stack([as_numbers(c, columns[c]) for c in feature_names], axis=1).astype(np.float32) \
            if feature_names else np.zeros((len(next(iter(columns.values()))), 0), np.float32)
        raw = [columns[c] for c in target_names]
        task = hp.task or (train.task if train else self._guess_task(raw))
        if task == "regression":
            targets = np.stack([as_numbers(c, v) for c, v in zip(target_names, raw)], axis=1).astype(np.float32)
            targets, class_names = (targets[:, 0] if len(target_names) == 1 else targets), None
        else:
            if len(target_names) != 1:
                raise ConfigurationError("A classification task predicts one target column; got "
                                         f"{', '.join(target_names)}.")
            targets, class_names = self._encode_classes(raw[0], target_names[0], train)
        check_finite(features, np.asarray(targets, dtype=np.float64), what)
        return TableArrays(features, targets, tuple(feature_names), ",".join(target_names), task, class_names)

    @staticmethod
    def _guess_task(raw: list[np.ndarray]) -> TableTask:
        if len(raw) > 1:
            return "regression"
        values = raw[0]
        if values.dtype != object:
            return "classification" if np.issubdtype(values.dtype, np.integer) or values.dtype == bool else "regression"
        try:
            numbers = as_numbers("target", values)
        except DataValidationError:
            return "classification"  # text labels
        return "classification" if np.all(numbers[np.isfinite(numbers)] % 1 == 0) else "regression"

    @staticmethod
    def _encode_classes(values: np.ndarray, name: str, train: TableArrays | None) -> tuple[np.ndarray, tuple[str, ...]]:
        values = values.astype(np.int64) if values.dtype == bool else values
        missing = np.array([v is None or isinstance(v, float) and np.isnan(v) or
                            isinstance(v, str) and v.strip().lower() in MISSING for v in values])
        if missing.any():
            raise DataValidationError(f"Target column {name!r} has no value in {int(missing.sum())} rows (first at "
                                      f"row {int(np.argmax(missing))}); drop those rows before training.")
        # Plain Python strings (not numpy's np.str_): class names travel into the model's arguments, its
        # hyperparameters and checkpoints, which jsonargparse and yaml cannot represent numpy scalars in.
        texts = [str(v).strip() for v in values.tolist()]
        if values.dtype != object or all(_is_integer(t) for t in texts):  # numeric classes sort as numbers
            texts = [str(int(float(t))) for t in texts]
            classes = sorted(set(texts), key=int) if train is None else list(train.class_names)
        else:
            classes = sorted(set(texts)) if train is None else list(train.class_names)
        index = {c: i for i, c in enumerate(classes)}
        unknown = sorted(set(texts) - set(index))
        if unknown:
            raise DataValidationError(f"Test targets hold classes the training rows never show: {', '.join(unknown)}.")
        return np.array([index[t] for t in texts], dtype=np.int64), plain_python(tuple(classes))

    # --- the data core's steps ---------------------------------------------------------------------
    def load_splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        table, test = self.tables
        hp = self.hparams
        classification = self.task == "classification"
        if test is None:  # a fixed held-out test split, independent of seed
            kind = "chronological" if hp.split == "chronological" else "auto"
            rest, held = make_split(kind, hp.test_fraction, seed=0, stratifiable=classification)(table.targets)
            test = TableArrays(table.features[held], table.targets[held], table.feature_names, table.target_name,
                               table.task, table.class_names)
            table = TableArrays(table.features[rest], table.targets[rest], table.feature_names, table.target_name,
                                table.task, table.class_names)
        train, val = self.split_indices(table.targets, classification)
        return {"train": (table.features[train], table.targets[train]),
                "val": (table.features[val], table.targets[val]),
                "test": (test.features, test.targets)}

    def fit_preprocessors(self, train: tuple[np.ndarray, np.ndarray]) -> None:
        self.features.fit(train[0])
        if "targets" in self.preprocessors:
            targets = train[1].reshape(len(train[1]), -1).astype(np.float32)
            self.preprocessors["targets"].fit(targets)

    def build_dataset(self, stage: str, features: np.ndarray, labels: np.ndarray) -> InMemoryDataset:
        targets = make_targets(labels, self.label_format, self.num_classes)
        if "targets" in self.preprocessors:
            targets = self.preprocessors["targets"](targets)
        return InMemoryDataset(self.features(torch.as_tensor(features)), targets)


def _is_integer(text: str) -> bool:
    try:
        return float(text) % 1 == 0
    except ValueError:
        return False
