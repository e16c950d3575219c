"""TimeSeriesDataModule: bundled series, a split in time, windows that never read the future of their period,
a scaler that sees the training period only, and errors that say where the problem is."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
import torch

from lightning_dl.data import TimeSeriesDataModule
from lightning_dl.errors import ConfigurationError, DataValidationError

needs_statsmodels = pytest.mark.skipif(importlib.util.find_spec("statsmodels") is None,
                                       reason="statsmodels is not installed (pip install lightning-dl[series])")
needs_vega = pytest.mark.skipif(importlib.util.find_spec("vega_datasets") is None,
                                reason="vega_datasets is not installed (pip install lightning-dl[series])")


def series_frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"time": t, "y": np.sin(t / 4) * 10 + 50 + rng.normal(size=n),
                         "x1": rng.normal(size=n), "x2": t * 0.1})


def ready(**kwargs) -> TimeSeriesDataModule:
    dm = TimeSeriesDataModule(**kwargs)
    dm.setup("fit")
    return dm


@needs_statsmodels
def test_sunspots_from_statsmodels():
    dm = ready(dataset="sunspots", lookback=22, horizon=3, batch_size=16)
    assert dm.boundaries["end"] == 309 and dm.season == 11 and dm.input_shape == (22, 1) and dm.num_outputs == 3
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (16, 22, 1) and y.shape == (16, 3) and x.dtype == y.dtype == torch.float32
    assert dm.values[0, 0] == 5.0 and dm.times[0] == 1700.0


@needs_vega
def test_hourly_seattle_temperatures_load_offline_from_the_wheel(monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    dm = ready(dataset="seattle_temps", lookback=48, horizon=24)
    assert dm.boundaries["end"] == 8759 and dm.season == 24 and dm.input_shape == (48, 1)
    assert dm.train_set.targets.shape[1] == 24


def test_the_split_follows_time_and_no_window_reads_past_its_period():
    dm = ready(data=series_frame(200), target_column="y", time_column="time", lookback=10, horizon=3)
    b, hp = dm.boundaries, dm.hparams
    assert b == {"train": 0, "val": 144, "test": 170, "end": 200}  # 15% test, then 15% of the rest validates
    train = dm.target_positions["train"]
    assert (train + hp.horizon <= b["val"]).all()  # training targets (and so inputs) end before validation
    assert train[0] == hp.lookback and train[-1] == b["val"] - hp.horizon  # ...and every training step is used
    for stage, end in (("val", "test"), ("test", "end")):
        positions = dm.target_positions[stage]
        assert positions[0] == b[stage] and positions[-1] == b[end] - hp.horizon  # every target in its period
    # the windows hold what the series holds there: inputs strictly before the targets
    values = dm.values[:, 0]
    for stage in ("train", "val", "test"):
        dataset, positions = getattr(dm, f"{stage}_set"), dm.target_positions[stage]
        inputs = dm.target_units(dataset.inputs[..., 0])
        targets = dm.target_units(dataset.targets)
        for i in (0, len(positions) - 1):
            p = positions[i]
            assert np.allclose(inputs[i].numpy(), values[p - hp.lookback:p], atol=1e-3)
            assert np.allclose(targets[i].numpy(), values[p:p + hp.horizon], atol=1e-3)
    # training windows are shuffled among themselves, never across time
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[0] == 64


def test_training_windows_and_the_scaler_see_only_the_training_period():
    frame = series_frame(200)
    dm = ready(data=frame, target_column="y", lookback=10, horizon=3, feature_columns=["x1"])
    poisoned = frame.copy()
    poisoned.loc[dm.boundaries["val"]:, ["y", "x1"]] += 1000.0  # change everything after the training period
    other = ready(data=poisoned, target_column="y", lookback=10, horizon=3, feature_columns=["x1"])
    assert other.scaler.statistics() == dm.scaler.statistics()
    assert other.mase_scale.scale == dm.mase_scale.scale
    assert torch.equal(other.train_set.inputs, dm.train_set.inputs)
    assert torch.equal(other.train_set.targets, dm.train_set.targets)
    assert not torch.equal(other.test_set.inputs, dm.test_set.inputs)
    train_values = frame["y"].to_numpy()[:dm.boundaries["val"]]
    assert dm.scaler.statistics()["mean"][0] == pytest.approx(train_values.mean(), rel=1e-5)
    assert dm.mase_scale.scale == pytest.approx(np.abs(train_values[1:] - train_values[:-1]).mean())  # season 1


def test_multivariate_series_from_a_csv(tmp_path):
    path = tmp_path / "series.csv"
    series_frame(120).to_csv(path, index=False)
    dm = ready(data=str(path), target_column="y", feature_columns=["x1", "x2"], lookback=8, horizon=2, season=4)
    assert dm.input_shape == (8, 3) and dm.train_set.inputs.shape[1:] == (8, 3)
    assert dm.forecast_statistics()["season"] == 4


def test_the_fitted_scaler_travels_in_the_state_dict():
    dm = ready(data=series_frame(), target_column="y", lookback=10)
    fresh = TimeSeriesDataModule(data=series_frame(), target_column="y", lookback=10)
    fresh.load_state_dict(dm.state_dict())
    assert fresh.scaler.statistics() == dm.scaler.statistics() and fresh.mase_scale.scale == dm.mase_scale.scale


def test_too_few_points_for_one_window():
    with pytest.raises(DataValidationError, match=r"too few for one window of lookback 30 \+ horizon 5 = 35"):
        ready(data=series_frame(40), target_column="y", lookback=30, horizon=5)


def test_gaps_say_where_they_are():
    frame = series_frame(100)
    frame.loc[37, "y"] = np.nan
    frame.loc[60, "y"] = np.nan
    with pytest.raises(DataValidationError, match=r"row 37 \(37\), row 60 \(60\)"):
        ready(data=frame, target_column="y", time_column="time", lookback=5)


def test_configuration_mistakes_are_named():
    with pytest.raises(ConfigurationError, match="exactly one series"):
        TimeSeriesDataModule()
    with pytest.raises(ConfigurationError, match="no column 'temp'"):
        ready(data=series_frame(), target_column="temp")
    with pytest.raises(ConfigurationError, match="lookback=0"):
        TimeSeriesDataModule(data=series_frame(), target_column="y", lookback=0)
