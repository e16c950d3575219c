"""Forecasting baselines, their metrics, and the Forecaster judged next to them on the same windows, in the
series' own units."""

from __future__ import annotations

import importlib.util
from functools import partial

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from lightning_dl.cli import cli_main
from lightning_dl.data import TimeSeriesDataModule
from lightning_dl.models import BaselineForecaster, Forecaster, MeanAbsoluteScaledError, baseline_forecast
from lightning_dl.models.baselines import BASELINE_NAMES
from lightning_dl.nn import SequenceNetwork

from conftest import REPO

SERIES_CONFIGS = sorted((REPO / "configs/sequences").glob("*sunspots*.yaml")) + \
    sorted((REPO / "configs/sequences").glob("*temps*.yaml"))
HAVE_SERIES = all(importlib.util.find_spec(p) is not None for p in ("statsmodels", "vega_datasets"))



#: Small recurrent steps run many times faster on one thread than on two contended ones (a shared machine).
pytestmark = pytest.mark.usefixtures("one_thread")


def frame(n: int = 160) -> pd.DataFrame:
    t = np.arange(n)
    return pd.DataFrame({"y": 20 + 5 * np.sin(2 * np.pi * t / 12) + 0.05 * t + np.random.default_rng(0).normal(size=n)})


def trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      accelerator="cpu", **kwargs)


def test_baselines_on_a_known_history():
    history = torch.tensor([[1.0, 2.0, 3.0, 4.0, 6.0]])
    assert baseline_forecast("naive", history, 2).tolist() == [[6.0, 6.0]]
    assert baseline_forecast("naive_average", history, 1).item() == pytest.approx(3.2)
    assert baseline_forecast("moving_average", history, 1, window=2).tolist() == [[5.0]]
    assert baseline_forecast("drift", history, 2).tolist() == [[7.25, 8.5]]  # slope (6 - 1) / 4
    assert baseline_forecast("exponential_smoothing", history, 1, alpha=1.0).tolist() == [[6.0]]
    assert baseline_forecast("exponential_smoothing", torch.tensor([[0.0, 4.0, 8.0]]), 1, alpha=0.5).tolist() == [[5.0]]
    assert baseline_forecast("seasonal_naive", history, 3, season=2).tolist() == [[4.0, 6.0, 4.0]]


def test_mase_divides_the_mae_by_the_seasonal_naive_scale():
    metric = MeanAbsoluteScaledError(scale=2.0)
    metric.update(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 2.0, 6.0]))
    assert metric.compute().item() == pytest.approx((1 + 0 + 3) / 3 / 2)


class LastValue(nn.Module):
    """A 'network' that forecasts the last input value: the naive forecast, computed in scaled units."""

    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.num_outputs = num_outputs
        self.unused = nn.Linear(1, 1)

    def forward(self, x):
        return x[:, -1, :1].expand(-1, self.num_outputs) + 0 * self.unused.weight.sum()


def test_the_forecaster_and_every_baseline_use_exactly_the_same_windows_in_the_series_units():
    dm = TimeSeriesDataModule(data=frame(), target_column="y", lookback=24, horizon=2, season=12, batch_size=16)
    model = Forecaster(LastValue, (24, 1), 2)
    result = trainer().test(model, dm, verbose=False)[0]
    # the network's naive forecast, made on scaled values and reported after inverting the scaler, scores what
    # the naive baseline, computed in the series' units from the same windows, scores
    assert result["test/mae"] == pytest.approx(result["test/naive/mae"], rel=1e-5)
    values, positions = dm.values[:, 0], dm.target_positions["test"]
    expected = np.mean([np.abs(values[p:p + 2] - values[p - 1]).mean() for p in positions])
    assert result["test/mae"] == pytest.approx(expected, rel=1e-4)  # in the series' units, every test window
    for method in BASELINE_NAMES:  # each baseline on its own, as a module, scores what the forecaster reported
        alone = trainer().test(BaselineForecaster(method, moving_average_window=3, smoothing_alpha=0.5), dm,
                               verbose=False)[0]
        for metric in ("mae", "rmse", "smape", "mase"):
            assert alone[f"test/{metric}"] == pytest.approx(result[f"test/{method}/{metric}"], rel=1e-5)
    assert result["test/best_baseline_mae"] == min(result[f"test/{m}/mae"] for m in BASELINE_NAMES)
    scale = dm.mase_scale.scale
    assert result["test/mase"] == pytest.approx(result["test/mae"] / scale, rel=1e-5)


class Zero(nn.Module):
    def __init__(self, input_shape, num_outputs):
        super().__init__()
        self.layer = nn.Linear(input_shape[-1], num_outputs)

    def forward(self, x):
        return 0 * self.layer(x[:, -1])


def test_a_residual_forecaster_adds_its_network_to_the_baseline():
    dm = TimeSeriesDataModule(data=frame(), target_column="y", lookback=24, horizon=3, season=12, batch_size=16)
    model = Forecaster(Zero, (24, 1), 3, residual_baseline="seasonal_naive")
    result = trainer().test(model, dm, verbose=False)[0]
    assert result["test/mae"] == pytest.approx(result["test/seasonal_naive/mae"], rel=1e-5)  # a zero correction
    assert result["test/mae"] != pytest.approx(result["test/naive/mae"], rel=1e-3)


def test_the_forecaster_learns_and_keeps_the_series_units_in_its_checkpoint(tmp_path):
    torch.manual_seed(0)
    dm = TimeSeriesDataModule(data=frame(), target_column="y", lookback=24, horizon=1, season=12, batch_size=16)
    network = partial(SequenceNetwork, cell="lstm", units=[16, 8], bidirectional=True, recurrent_dropout=0.1,
                      conv_channels=[8])
    model = Forecaster(network, (24, 1), 1, optimizer=partial(torch.optim.Adam, lr=0.01))
    fit = pl.Trainer(max_epochs=8, logger=False, enable_progress_bar=False, enable_model_summary=False,
                     accelerator="cpu", default_root_dir=tmp_path)
    fit.fit(model, dm)
    result = fit.test(model, dm, verbose=False)[0]
    assert result["test/mae"] < result["test/naive_average/mae"]  # it learned something about the cycle
    path = tmp_path / "model.ckpt"
    fit.save_checkpoint(path)
    restored = Forecaster.load_from_checkpoint(path, network=network, weights_only=False)  # our own file
    assert restored.units.shift.item() == pytest.approx(dm.forecast_statistics()["target_shift"])
    assert restored.units.mase_scale.item() == pytest.approx(dm.mase_scale.scale)
    predictions = torch.cat(trainer().predict(restored, dm))
    assert predictions.shape == (len(dm.test_set), 1)
    assert abs(predictions.mean().item() - dm.values[dm.boundaries["test"]:, 0].mean()) < 5  # in the series' units


@pytest.mark.skipif(not HAVE_SERIES, reason="statsmodels and vega_datasets are needed (lightning-dl[series])")
@pytest.mark.parametrize("config", SERIES_CONFIGS, ids=lambda c: c.name)
def test_series_configs_run_a_fast_dev_run(config):
    cli = cli_main(["fit", "--config", str(config), "--trainer.fast_dev_run", "true", "--trainer.accelerator", "cpu",
                    "--trainer.enable_progress_bar", "false"])
    assert cli.trainer.state.finished and "test/mae" in cli.trainer.callback_metrics
    assert "test/seasonal_naive/mase" in cli.trainer.callback_metrics
