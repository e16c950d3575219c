"""The learned forecaster: a recurrent network predicting the next ``horizon`` steps of a series, judged next to
the baselines (:mod:`lightning_dl.models.baselines`) on exactly the same windows, in the series' own units."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from lightning_dl.errors import DataValidationError, check_choice
from lightning_dl.models.base import Stage
from lightning_dl.models.baselines import BASELINE_NAMES, BaselineName, ForecastModule, baseline_forecast
from lightning_dl.nn.base import NetworkFactory

ForecastLoss = Literal["mse", "mae", "huber"]


class Forecaster(ForecastModule):
    """A network (e.g. ``lightning_dl.nn.SequenceNetwork``: GRU/LSTM, stacked, bidirectional, recurrent dropout,
    Conv1D front) that reads ``(lookback, features)`` scaled windows and predicts ``horizon`` scaled target steps.

    It trains on the scaled values; it reports in the series' units (the DataModule's scaler inverted):
    ``stage/mae``, ``stage/rmse``, ``stage/smape``, ``stage/mase``, and the same for every baseline in
    ``baselines`` computed from the same windows (``stage/<baseline>/<metric>``), with
    ``stage/best_baseline_mae``. ``train/loss_step``/``train/loss_epoch``/``val/loss`` are the loss on scaled
    values. Monitors ``val/loss``. With ``residual_baseline`` the network's outputs are added to that baseline's
    (scaled) forecast: it learns what the baseline gets wrong (a network whose outputs are zero forecasts as it).

    Args:
        network: Builds the network from ``(input_shape, num_outputs)``.
        input_shape: ``(lookback, features)``; the CLI links it from the DataModule.
        num_outputs: The horizon; the CLI links it from the DataModule.
        loss: ``mse``, ``mae`` or ``huber`` on the scaled values.
        baselines: Baselines reported next to the forecaster (all by default).
        moving_average_window: Values averaged by the ``moving_average`` baseline.
        smoothing_alpha: Smoothing factor of the ``exponential_smoothing`` baseline.
        optimizer: Any ``torch.optim`` optimiser.
        lr_scheduler: Any ``torch.optim.lr_scheduler`` scheduler or ``lightning_dl.models.LinearWarmup``.
        gradient_clip: Clip the gradients' global norm to this (recurrent networks' exploding gradients); ``None``: off.
        residual_baseline: Let the network learn the correction to this baseline's forecast (e.g.
            ``seasonal_naive`` on a strongly seasonal series) instead of the whole forecast; ``None``: the whole.
    """

    def __init__(self, network: NetworkFactory, input_shape: tuple[int, int] = (24, 1), num_outputs: int = 1,
                 loss: ForecastLoss = "mse", baselines: list[BaselineName] = list(BASELINE_NAMES),
                 moving_average_window: int = 3, smoothing_alpha: float = 0.5,
                 optimizer: OptimizerCallable = torch.optim.Adam, lr_scheduler: LRSchedulerCallable | None = None,
                 gradient_clip: float | None = 1.0, residual_baseline: BaselineName | None = None) -> None:
        check_choice("loss", loss, ForecastLoss)
        if residual_baseline is not None:
            check_choice("residual_baseline", residual_baseline, BaselineName)
        super().__init__(list(baselines), moving_average_window, smoothing_alpha)
        self.save_hyperparameters()
        self.input_shape, self.num_outputs = tuple(input_shape), num_outputs
        self.network = network(self.input_shape, num_outputs)
        self.loss_function = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}[loss]
        self.optimizer, self.lr_scheduler, self.gradient_clip = optimizer, lr_scheduler, gradient_clip
        self.residual_baseline = residual_baseline

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise DataValidationError(f"Windows of shape {tuple(x.shape[1:])} reach a forecaster built for "
                                      f"{self.input_shape}; match the DataModule's lookback and columns.")
        outputs = self.network(x)
        if self.residual_baseline is None:
            return outputs
        history = self.units(x[..., 0])
        base = baseline_forecast(self.residual_baseline, history, self.num_outputs, self.moving_average_window,
                                 self.smoothing_alpha, int(self.units.season))
        return self.units.scaled(base).to(outputs.dtype) + outputs

    def own_forecast(self, x: Tensor, horizon: int) -> Tensor:
        return self(x)

    def horizon(self) -> int:
        return self.num_outputs

    def _loss(self, forecast: Tensor, y: Tensor, stage: Stage) -> Tensor:
        loss = self.loss_function(forecast, y.to(forecast.dtype))
        self.track(stage, "loss", loss, len(y))
        return loss

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        x, y = batch[0], batch[1]
        loss = self._loss(self(x), y, "train")
        self.log_step("train/loss_step", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._loss(self.evaluate(batch, "val"), batch[1], "val")

    def test_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        self._loss(self.evaluate(batch, "test"), batch[1], "test")

    def configure_gradient_clipping(self, optimizer: Any, gradient_clip_val: Any = None,
                                    gradient_clip_algorithm: Any = None) -> None:
        clip = gradient_clip_val if gradient_clip_val is not None else self.gradient_clip
        if clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def configure_optimizers(self) -> dict[str, Any]:
        return self.build_optimization(self.parameters(), self.optimizer, self.lr_scheduler)
