"""Forecasting baselines and the metrics every forecaster here is judged by.

"Nothing should be worse than the baseline": a forecaster is only worth its training if it beats the simple
forecasts below on the same windows. Names and definitions follow darts (``NaiveDrift``,
``NaiveSeasonal``, ``NaiveMovingAverage``, ``ExponentialSmoothing``), computed from each window's lookback:

- ``naive``: the last value, repeated (darts' ``NaiveSeasonal(K=1)``);
- ``naive_average``: the mean of the lookback window (darts' ``NaiveMean`` over the window);
- ``moving_average``: the mean of the last ``window`` values;
- ``drift``: the line through the window's first and last value, extended (darts' ``NaiveDrift``);
- ``exponential_smoothing``: simple exponential smoothing with smoothing factor ``alpha``, a flat forecast;
- ``seasonal_naive``: the value one season earlier (darts' ``NaiveSeasonal(K=season)``).

Metrics, in the series' own units: MAE, RMSE, sMAPE (torchmetrics) and MASE, the MAE divided by the
in-sample MAE of the seasonal naive forecast on the training period (Hyndman & Koehler; darts' ``mase``).
MASE below 1 beats the seasonal naive forecast of the training period.
"""

from __future__ import annotations

from typing import Any, Callable, Literal

import torch
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, Metric, MetricCollection
from torchmetrics.regression import SymmetricMeanAbsolutePercentageError
from torchmetrics.wrappers.abstract import WrapperMetric

from lightning_dl.errors import ConfigurationError, check_choice
from lightning_dl.models.base import BaseModule, Stage

BaselineName = Literal["naive", "naive_average", "moving_average", "drift", "exponential_smoothing",
                       "seasonal_naive"]
BASELINE_NAMES: tuple[str, ...] = BaselineName.__args__  # type: ignore[attr-defined]


def naive(history: Tensor, horizon: int) -> Tensor:
    """The last value of each ``(N, lookback)`` history, for each of ``horizon`` steps."""
    return history[:, -1:].expand(-1, horizon)


def naive_average(history: Tensor, horizon: int) -> Tensor:
    """The mean of each history window."""
    return history.mean(dim=1, keepdim=True).expand(-1, horizon)


def moving_average(history: Tensor, horizon: int, window: int = 3) -> Tensor:
    """The mean of the last ``window`` values."""
    return history[:, -window:].mean(dim=1, keepdim=True).expand(-1, horizon)


def drift(history: Tensor, horizon: int) -> Tensor:
    """The last value plus the average change per step over the window, times the steps ahead."""
    slope = (history[:, -1] - history[:, 0]) / max(history.shape[1] - 1, 1)
    steps = torch.arange(1, horizon + 1, dtype=history.dtype, device=history.device)
    return history[:, -1:] + slope[:, None] * steps


def exponential_smoothing(history: Tensor, horizon: int, alpha: float = 0.5) -> Tensor:
    """Simple exponential smoothing: ``level = alpha * y + (1 - alpha) * level`` from the first value; flat."""
    level = history[:, 0]
    for t in range(1, history.shape[1]):
        level = alpha * history[:, t] + (1 - alpha) * level
    return level[:, None].expand(-1, horizon)


def seasonal_naive(history: Tensor, horizon: int, season: int = 1) -> Tensor:
    """The value one season before each step ahead: ``y[t + h - season * ceil((h + 1) / season)]``."""
    lookback = history.shape[1]
    if season > lookback:
        raise ConfigurationError(f"The seasonal naive forecast needs the lookback ({lookback}) to cover a season "
                                 f"({season}); raise lookback.")
    positions = [lookback - season + h % season for h in range(horizon)]
    return history[:, positions]


def baseline_forecast(name: str, history: Tensor, horizon: int, window: int = 3, alpha: float = 0.5,
                      season: int = 1) -> Tensor:
    """The ``(N, horizon)`` forecast of baseline ``name`` from ``(N, lookback)`` histories."""
    check_choice("baseline", name, BaselineName)
    functions: dict[str, Callable[[], Tensor]] = {
        "naive": lambda: naive(history, horizon), "naive_average": lambda: naive_average(history, horizon),
        "moving_average": lambda: moving_average(history, horizon, window), "drift": lambda: drift(history, horizon),
        "exponential_smoothing": lambda: exponential_smoothing(history, horizon, alpha),
        "seasonal_naive": lambda: seasonal_naive(history, horizon, season)}
    return functions[name]()


class MeanAbsoluteScaledError(Metric):
    """MASE: the mean absolute error divided by ``scale``, the training period's seasonal naive MAE."""

    full_state_update = False

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = float(scale)
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, predictions: Tensor, targets: Tensor) -> None:
        self.total += (predictions - targets).abs().sum().double()
        self.count += targets.numel()

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp(min=1) / self.scale).float()


class OfColumn(WrapperMetric):
    """A metric of one forecast out of several stacked on axis 1 of the predictions: ``(N, forecasts, horizon)``."""

    def __init__(self, metric: Metric, column: int) -> None:
        super().__init__()
        self.metric, self.column = metric, column

    def update(self, predictions: Tensor, targets: Tensor) -> None:
        self.metric.update(predictions[:, self.column].reshape(-1), targets.reshape(-1))

    def compute(self) -> Tensor:
        return self.metric.compute()

    @property
    def update_called(self) -> bool:
        return self.metric.update_called

    def reset(self) -> None:
        self.metric.reset()
        super().reset()


def forecast_metrics(mase_scale: float) -> dict[str, Metric]:
    """MAE, RMSE, sMAPE and MASE of a forecast, by name."""
    return {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False),
            "smape": SymmetricMeanAbsolutePercentageError(), "mase": MeanAbsoluteScaledError(mase_scale)}


class SeriesUnits(nn.Module):
    """The target's scaling and MASE's scale, taken from the TimeSeriesDataModule when training or testing starts
    and kept in the checkpoint (buffers), so forecasts are reported in the series' units."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(0.0))
        self.register_buffer("scale", torch.tensor(1.0))
        self.register_buffer("mase_scale", torch.tensor(1.0))
        self.register_buffer("season", torch.tensor(1))

    def take(self, statistics: dict[str, float | int]) -> None:
        self.shift.fill_(statistics["target_shift"])
        self.scale.fill_(statistics["target_scale"])
        self.mase_scale.fill_(statistics["mase_scale"])
        self.season.fill_(int(statistics["season"]))

    def forward(self, scaled: Tensor) -> Tensor:
        """Scaled target values back in the series' units."""
        return scaled * self.scale + self.shift

    def scaled(self, values: Tensor) -> Tensor:
        """Values in the series' units, scaled as the model sees them."""
        return (values - self.shift) / self.scale


class ForecastModule(BaseModule):
    """What a learned forecaster and a baseline share: the series' units, the metrics, the baselines' forecasts.

    Per stage it logs ``stage/mae``, ``stage/rmse``, ``stage/smape``, ``stage/mase`` of its own forecast and, for
    every baseline in ``baselines`` (computed from exactly the same windows), ``stage/<baseline>/<metric>``,
    plus ``stage/best_baseline_mae``; all in the series' units.
    """

    def __init__(self, baselines: list[BaselineName], moving_average_window: int, smoothing_alpha: float) -> None:
        super().__init__()
        for name in baselines:
            check_choice("baseline", name, BaselineName)
        if not 0 < smoothing_alpha <= 1 or moving_average_window < 1:
            raise ConfigurationError(f"smoothing_alpha={smoothing_alpha} must lie in (0, 1] and "
                                     f"moving_average_window={moving_average_window} be at least 1.")
        self.baselines = list(baselines)
        self.moving_average_window, self.smoothing_alpha = moving_average_window, smoothing_alpha
        self.units = SeriesUnits()

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.attached_trainer(), "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "forecast_statistics"):
            self.units.take(datamodule.forecast_statistics())

    def own_forecast(self, x: Tensor, horizon: int) -> Tensor:
        """The module's scaled ``(N, horizon)`` forecast of scaled ``(N, lookback, features)`` windows."""
        raise NotImplementedError

    def baseline_forecasts(self, x: Tensor, horizon: int) -> Tensor:
        """``(N, baselines, horizon)`` forecasts, in the series' units, from the windows' target history."""
        history = self.units(x[..., 0].float())
        season = int(self.units.season)
        if not self.baselines:
            return history.new_zeros(len(history), 0, horizon)
        return torch.stack([baseline_forecast(name, history, horizon, self.moving_average_window,
                                              self.smoothing_alpha, season) for name in self.baselines], dim=1)

    def configure_metrics(self, stage: Stage) -> MetricCollection:
        scale = float(self.units.mase_scale)
        metrics = {name: OfColumn(metric, 0) for name, metric in forecast_metrics(scale).items()}
        for column, baseline in enumerate(self.baselines, 1):
            metrics.update({f"{baseline}/{name}": OfColumn(metric, column)
                            for name, metric in forecast_metrics(scale).items()})
        return MetricCollection(metrics, prefix=f"{stage}/", compute_groups=False)

    def evaluate(self, batch: tuple[Tensor, ...], stage: Stage) -> Tensor:
        """Queue the batch's forecasts (own first, then the baselines') for the metrics; the scaled own forecast."""
        x, y = batch[0], batch[1]
        forecast = self.own_forecast(x, y.shape[1])
        stacked = torch.cat([self.units(forecast.float())[:, None], self.baseline_forecasts(x, y.shape[1])], dim=1)
        self.update_metrics(stage, stacked, self.units(y.float()))
        return forecast

    def epoch_values(self, stage: Stage) -> dict[str, Tensor]:
        values = super().epoch_values(stage)
        baseline_maes = [values[f"{stage}/{name}/mae"] for name in self.baselines if f"{stage}/{name}/mae" in values]
        if baseline_maes:
            values[f"{stage}/best_baseline_mae"] = torch.stack(baseline_maes).min()
        return values

    def horizon(self) -> int:
        """Steps ahead: the DataModule's horizon (the network's outputs for a learned forecaster)."""
        datamodule = getattr(self.attached_trainer(), "datamodule", None)
        return int(datamodule.num_outputs) if datamodule is not None else 1

    def predict_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        """Forecasts in the series' units, ``(N, horizon)``."""
        return self.units(self.own_forecast(batch[0], self.horizon()).float())


class BaselineForecaster(ForecastModule):
    """One baseline as a module with the forecasters' metrics; nothing to train: run ``trainer.test`` or
    ``trainer.validate`` on a TimeSeriesDataModule. It logs its own metrics and, like the learned forecaster,
    every baseline in ``baselines`` on the same windows.

    Args:
        method: ``naive``, ``naive_average``, ``moving_average``, ``drift``, ``exponential_smoothing`` or
            ``seasonal_naive``.
        moving_average_window: Values averaged by ``moving_average``.
        smoothing_alpha: Smoothing factor of ``exponential_smoothing``.
        baselines: Baselines reported next to it.
    """

    monitor = None

    def __init__(self, method: BaselineName = "naive", moving_average_window: int = 3, smoothing_alpha: float = 0.5,
                 baselines: list[BaselineName] = []) -> None:
        check_choice("baseline", method, BaselineName)
        super().__init__(baselines, moving_average_window, smoothing_alpha)
        self.save_hyperparameters()
        self.method = method

    def own_forecast(self, x: Tensor, horizon: int) -> Tensor:
        history = self.units(x[..., 0].float())
        forecast = baseline_forecast(self.method, history, horizon, self.moving_average_window, self.smoothing_alpha,
                                     int(self.units.season))
        return self.units.scaled(forecast)

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self.evaluate(batch, "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self.evaluate(batch, "test")

    def configure_optimizers(self) -> Any:
        return None
