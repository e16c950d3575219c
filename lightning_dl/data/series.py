"""Time series through the shared data core: a chronological split, windows, a scaler fitted on the past only.

A series is split in time, never shuffled across it: the first part trains, the next validates, the last
tests. Shuffling points (or windows) across time would let the model train on windows that lie after the
ones it is judged on, so validation and test scores would measure interpolation, not forecasting, and
come out too good. Windows are built within each part: ``lookback`` steps of inputs predict the next
``horizon`` steps of the target. A validation or test window may read the steps just before its part
begins (that is the past it would have in deployment), but no training window reads a step after the
training period, and the scaler (and the in-sample error MASE is scaled by) see the training period only.

Real series that ship offline: statsmodels' yearly sunspot numbers (1700–2008, 309 points, an ~11-year
cycle) and vega_datasets' hourly Seattle temperatures of 2010 (8,759 points, daily period 24); install them
with ``pip install lightning-dl[series]``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from lightning_dl.data.core import InMemoryDataModule, InMemoryDataset
from lightning_dl.data.preprocessing import Preprocessor, ScalingMode, SeriesScaler
from lightning_dl.data.tabular import as_numbers, read_columns
from lightning_dl.errors import ConfigurationError, DatasetNotFoundError, DataValidationError, check_choice

SeriesName = Literal["sunspots", "seattle_temps"]
#: Bundled series: (package, target column, time column, seasonal period).
SERIES: dict[str, tuple[str, str, str, int]] = {
    "sunspots": ("statsmodels", "SUNACTIVITY", "YEAR", 11),
    "seattle_temps": ("vega_datasets", "temp", "date", 24),
}


def load_series(name: SeriesName) -> Any:
    """A bundled series as a pandas DataFrame, read from the installed package's own files (no download)."""
    check_choice("dataset", name, SeriesName)
    package = SERIES[name][0]
    try:
        if name == "sunspots":
            import statsmodels.api as sm

            return sm.datasets.sunspots.load_pandas().data
        from vega_datasets import local_data

        return local_data.seattle_temps()
    except ImportError:
        raise DatasetNotFoundError(f"The {name} series ships with the package {package}: pip install {package} "
                                   "(or lightning-dl[series]).") from None


class SeasonalNaiveScale(Preprocessor):
    """The mean absolute error of the seasonal naive forecast ``y[t - season]`` over the training period: the
    denominator of MASE (mean absolute scaled error; Hyndman & Koehler, as darts' ``mase``)."""

    def __init__(self, season: int = 1) -> None:
        self.season = season
        self.scale: float | None = None

    @property
    def fitted(self) -> bool:
        return self.scale is not None

    def fit(self, train: np.ndarray) -> SeasonalNaiveScale:
        values = np.asarray(train, dtype=np.float64)
        if len(values) <= self.season:
            raise DataValidationError(f"The training period has {len(values)} points; MASE with season {self.season} "
                                      "needs more. Lower the season or give more data.")
        scale = float(np.abs(values[self.season:] - values[:-self.season]).mean())
        self.scale = scale if scale > 0 else 1.0
        return self

    def __call__(self, errors: Any) -> Any:
        self._require_fitted()
        return errors / self.scale

    def inverse(self, scaled: Any) -> Any:
        self._require_fitted()
        return scaled * self.scale

    def statistics(self) -> dict[str, Any]:
        self._require_fitted()
        return {"season": self.season, "seasonal_naive_mae": self.scale}

    def state_dict(self) -> dict[str, Any]:
        return {"season": self.season, "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.season, self.scale = state["season"], state["scale"]


def gaps(values: np.ndarray, times: np.ndarray | None) -> str:
    """Where a series has missing values: a readable list of the first few positions (and times)."""
    rows = np.flatnonzero(~np.isfinite(values).all(axis=1))
    shown = [f"row {r}" + (f" ({times[r]})" if times is not None else "") for r in rows[:5]]
    return ", ".join(shown) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


class TimeSeriesDataModule(InMemoryDataModule):
    """A univariate or multivariate series, split in time, cut into windows of ``lookback`` steps that predict
    the next ``horizon`` steps of one target column; scaled with statistics of the training period only.

    Give ``dataset`` (``sunspots`` or ``seattle_temps``) or ``data`` (a CSV path or a DataFrame whose rows are
    in time order, with ``target_column``). Batches are ``(inputs, targets)``: ``(N, lookback, features)``
    scaled inputs (the target first, then ``feature_columns``) and ``(N, horizon)`` scaled targets;
    ``target_units`` turns scaled forecasts back into the series' units.

    Args:
        dataset: A bundled series: ``sunspots`` (yearly, statsmodels) or ``seattle_temps`` (hourly, vega_datasets).
        data: A CSV file or a pandas DataFrame, rows in time order.
        target_column: The column to forecast (default: the bundled series' one).
        feature_columns: Further input columns (a multivariate series); the target is always an input too.
        time_column: A column of time stamps, used only to say where a gap is and to label plots.
        lookback: Input steps per window.
        horizon: Steps ahead each window predicts.
        val_fraction: Share of the points before the test period that validates (the latest of them).
        test_fraction: Share of the points, the latest, that tests.
        season: The seasonal period (seasonal naive baseline and MASE); default the bundled series' or 1.
        normalization: ``standardize`` (default), ``unit_range`` (min-max) or ``none``, per feature.
        batch_size: Windows per batch.
        seed: Seed of the training windows' shuffling (windows shuffle within the training period only).
        num_workers: DataLoader worker processes.
    """

    not_hyperparameters = ("data",)

    def __init__(self, dataset: SeriesName | None = None, data: Any = None, target_column: str | None = None,
                 feature_columns: list[str] | None = None, time_column: str | None = None, lookback: int = 24,
                 horizon: int = 1, val_fraction: float = 0.15, test_fraction: float = 0.15,
                 season: int | None = None, normalization: ScalingMode = "standardize", batch_size: int = 64,
                 seed: int = 42, num_workers: int = 0) -> None:
        super().__init__(batch_size, val_fraction, "chronological", None, 0, seed, num_workers)
        if (dataset is None) == (data is None):
            raise ConfigurationError("Give exactly one series: dataset (sunspots or seattle_temps) or data (a CSV "
                                     "path or a DataFrame).")
        if dataset is not None:
            check_choice("dataset", dataset, SeriesName)
        if lookback < 1 or horizon < 1:
            raise ConfigurationError(f"lookback={lookback} and horizon={horizon} must both be at least 1.")
        if not 0 < test_fraction < 1 or not 0 < val_fraction < 1:
            raise ConfigurationError(f"val_fraction={val_fraction} and test_fraction={test_fraction} must lie strictly "
                                     "between 0 and 1.")
        self._data = data
        bundled = SERIES.get(dataset or "", (None, None, None, 1))
        self.target_column = target_column or bundled[1]
        self.time_column = time_column or bundled[2]
        if self.target_column is None:
            raise ConfigurationError("Name the column to forecast: target_column.")
        self.feature_columns = list(feature_columns or [])
        self.season = int(season or bundled[3])
        if self.season < 1:
            raise ConfigurationError(f"season={season} must be at least 1.")
        self.scaler = SeriesScaler(normalization)
        self.mase_scale = SeasonalNaiveScale(self.season)
        self.preprocessors = {"series": self.scaler, "mase_scale": self.mase_scale}
        #: Per stage, the position in the series of each window's first target step.
        self.target_positions: dict[str, np.ndarray] = {}
        #: Where each part of time begins: ``{"train": 0, "val": ..., "test": ..., "end": len(series)}``.
        self.boundaries: dict[str, int] = {}
        self.values: np.ndarray | None = None
        self.times: np.ndarray | None = None

    # --- what a model is built for ------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.hparams.lookback, 1 + len(self.feature_columns))

    @property
    def num_outputs(self) -> int:
        return self.hparams.horizon

    def target_units(self, scaled: torch.Tensor) -> torch.Tensor:
        """Scaled target values (any shape) back in the series' units."""
        return self.scaler.inverse(scaled, features=[0])

    def forecast_statistics(self) -> dict[str, float | int]:
        """What a forecaster needs to report in the series' units: the target's scaling, the season and MASE's scale."""
        return {"target_shift": float(self.scaler.shift[0]), "target_scale": float(self.scaler.scale[0]),
                "season": self.season, "mase_scale": float(self.mase_scale.scale)}

    # --- the data core's steps ----------------------------------------------------------------------
    def read(self) -> np.ndarray:
        """The series as ``(T, features)`` float64, the target first; gaps and short series are errors."""
        hp = self.hparams
        frame = load_series(hp.dataset) if hp.dataset is not None else self._data
        columns = read_columns(frame)
        names = [self.target_column, *self.feature_columns]
        for name in names:
            if name not in columns:
                raise ConfigurationError(f"The series has no column {name!r}; its columns are: {', '.join(columns)}.")
        values = np.stack([as_numbers(name, columns[name]) for name in names], axis=1)
        times = np.asarray(columns[self.time_column]) if self.time_column in columns else None
        if not np.isfinite(values).all():
            raise DataValidationError(f"The series has gaps (missing or infinite values) at {gaps(values, times)}; "
                                      "fill them (interpolate) or cut the series before training.")
        self.values, self.times = values, times
        return values

    def load_splits(self) -> dict[str, tuple[np.ndarray, int]]:
        hp = self.hparams
        values = self.read()
        n = len(values)
        test_start = n - max(1, round(n * hp.test_fraction))
        val_start = test_start - max(1, round(test_start * hp.val_fraction))
        self.boundaries = {"train": 0, "val": val_start, "test": test_start, "end": n}
        window = hp.lookback + hp.horizon
        if val_start < window:
            raise DataValidationError(
                f"The training period has {val_start} of the series' {n} points, too few for one window of "
                f"lookback {hp.lookback} + horizon {hp.horizon} = {window} steps; give a longer series, a shorter "
                "lookback or horizon, or smaller val/test fractions.")
        splits = {}
        for stage, start, end in (("train", 0, val_start), ("val", val_start, test_start), ("test", test_start, n)):
            if end - start < hp.horizon:
                raise DataValidationError(f"The {stage} period has {end - start} points, fewer than the horizon "
                                          f"{hp.horizon}; give a longer series or a larger {stage} fraction.")
            context = min(start, hp.lookback)  # val/test windows may read the steps just before their period
            splits[stage] = (values[start - context:end], context)
        return splits

    def fit_preprocessors(self, train: tuple[np.ndarray, int]) -> None:
        self.scaler.fit(train[0])
        self.mase_scale.fit(train[0][:, 0])

    def build_dataset(self, stage: str, segment: np.ndarray, context: int) -> InMemoryDataset:
        hp = self.hparams
        first = max(context, hp.lookback)  # the first target step of the period that has a whole lookback
        starts = np.arange(first, len(segment) - hp.horizon + 1)
        offset = self.boundaries[stage] - context
        self.target_positions[stage] = starts + offset
        scaled = self.scaler(torch.as_tensor(segment, dtype=torch.float32))
        steps = torch.as_tensor(starts)[:, None]
        inputs = scaled[steps - hp.lookback + torch.arange(hp.lookback)]
        targets = scaled[steps + torch.arange(hp.horizon), 0]
        return InMemoryDataset(inputs, targets)
