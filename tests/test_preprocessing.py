"""Preprocessors: fitted on the train split only, applied unchanged elsewhere, invertible, saved and restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lightning_dl.data import (ChronologicalSplit, FeatureNormalization, Normalization, SeriesScaler,
                               StratifiedShuffleSplit, Vocabulary)
from lightning_dl.errors import ConfigurationError, DataValidationError

RNG = np.random.default_rng(0)
TABLE = (RNG.normal(size=(300, 3)) * [1.0, 10.0, 0.1] + [5.0, -3.0, 0.0]).astype(np.float32)


@pytest.mark.parametrize("mode, low, high", [("unit_range", 0, 1), ("symmetric_range", -1, 1)])
def test_range_modes_map_the_train_extremes(mode, low, high):
    scaler = FeatureNormalization(mode).fit(TABLE)
    scaled = scaler(TABLE)
    assert torch.allclose(scaled.min(0).values, torch.full((3,), float(low)), atol=1e-6)
    assert torch.allclose(scaled.max(0).values, torch.full((3,), float(high)), atol=1e-6)
    assert scaler.statistics()["min"] == pytest.approx(TABLE.min(0).tolist())


@pytest.mark.parametrize("cls", [FeatureNormalization, SeriesScaler])
def test_standardization_and_its_inverse(cls):
    scaler = cls().fit(TABLE)
    scaled = scaler(TABLE)
    assert torch.allclose(scaled.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(scaled.std(0, unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.allclose(scaler.inverse(scaled), torch.as_tensor(TABLE), atol=1e-4)
    assert scaler.statistics()["std"] == pytest.approx(TABLE.std(0).tolist(), rel=1e-5)
    # one feature on its own, e.g. a forecast of feature 1 back in data units
    assert torch.allclose(scaler.inverse(scaled[:, 1:2], features=[1]), torch.as_tensor(TABLE[:, 1:2]), atol=1e-4)


def test_fitting_in_chunks_equals_fitting_at_once():
    images = RNG.integers(0, 256, size=(50, 6, 6, 3)).astype(np.uint8)
    whole = Normalization().fit(images)
    chunked = Normalization().fit(images[i:i + 7] for i in range(0, 50, 7))
    assert chunked.statistics()["mean"] == pytest.approx(whole.statistics()["mean"], rel=1e-6)
    assert chunked.statistics()["std"] == pytest.approx(whole.statistics()["std"], rel=1e-6)
    assert whole.statistics()["mean"] == pytest.approx(images.reshape(-1, 3).mean(0), rel=1e-6)


def test_image_normalization_is_per_channel_on_channels_first_tensors():
    images = np.stack([np.full((4, 4), 10.0), np.full((4, 4), 200.0)], -1)[None].repeat(2, 0)
    images[1] += 2  # a little spread per channel
    norm = Normalization().fit(images)
    out = norm(torch.as_tensor(images).permute(0, 3, 1, 2).float())
    assert out.shape == (2, 2, 4, 4) and torch.allclose(out.mean((0, 2, 3)), torch.zeros(2), atol=1e-5)
    assert torch.allclose(norm.inverse(out), torch.as_tensor(images).permute(0, 3, 1, 2).float(), atol=1e-4)


def test_constant_features_are_left_unscaled():
    scaler = FeatureNormalization().fit(np.ones((10, 2), np.float32))
    assert torch.equal(scaler(np.ones((1, 2), np.float32)), torch.zeros(1, 2))


def test_imagenet_mode_scales_pixels_then_applies_imagenet_statistics():
    images = RNG.integers(0, 256, size=(4, 5, 5, 3)).astype(np.uint8)
    norm = Normalization("imagenet").fit(images)
    white = norm(torch.full((1, 3, 1, 1), 255.0)).flatten()
    expected = (1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(white, expected, atol=1e-5)
    assert norm.statistics()["mean"] == [0.485, 0.456, 0.406]
    # fits nothing: other images give the same numbers
    assert torch.equal(Normalization("imagenet").fit(images // 2).shift, norm.shift)
    with pytest.raises(DataValidationError, match="ToRGB"):
        Normalization("imagenet").fit(images[..., :1])
    with pytest.raises(DataValidationError, match="max_pixel_value"):
        Normalization("imagenet", max_pixel_value=1.0).fit(images)


@pytest.mark.parametrize("make", [lambda: Normalization("standardize"), lambda: Normalization("imagenet"),
                                  lambda: FeatureNormalization("unit_range"), lambda: SeriesScaler("standardize")])
def test_state_dict_round_trips(make):
    fitted = make().fit(RNG.integers(0, 256, size=(8, 3, 3, 3)).astype(np.uint8))
    restored = make()
    restored.load_state_dict(fitted.state_dict())
    assert restored.statistics() == fitted.statistics()
    x = torch.rand(2, 3, 3, 3) * 255
    assert torch.equal(restored(x), fitted(x))


def test_unfitted_preprocessors_say_so():
    with pytest.raises(RuntimeError, match="fit"):
        FeatureNormalization()(TABLE)
    with pytest.raises(RuntimeError, match="fit"):
        Vocabulary().encode(["a"])
    with pytest.raises(ConfigurationError, match="standardize"):
        FeatureNormalization("zscore")


def test_series_scaler_fitted_on_the_past_only():
    """The validation part of a series (its future) may change freely: the scaling stays."""
    series = np.cumsum(RNG.normal(size=(200, 2)), axis=0).astype(np.float32)
    train, val = ChronologicalSplit(0.2)(len(series))
    before = SeriesScaler().fit(series[train]).statistics()
    changed = series.copy()
    changed[val] *= 100
    assert SeriesScaler().fit(changed[train]).statistics() == before
    assert before["mean"] != pytest.approx(SeriesScaler().fit(series).statistics()["mean"])


TEXTS = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "cat", "ran"], ["a", "cat"]]


def test_vocabulary_orders_by_frequency_and_reserves_padding_and_unknown():
    vocab = Vocabulary().fit(TEXTS)
    assert vocab.tokens[:5] == ["<pad>", "<unk>", "cat", "the", "sat"]  # ties broken alphabetically
    assert vocab.pad_index == 0 and vocab.unknown_index == 1 and len(vocab) == 8
    encoded = vocab.encode(["the", "bird", "sat"])
    assert encoded == [3, 1, 4]
    assert vocab.decode(encoded + [0, 0]) == ["the", "<unk>", "sat"]
    assert vocab.inverse(vocab([["cat", "ran"]])) == [["cat", "ran"]]


def test_vocabulary_limits():
    assert Vocabulary(min_freq=2).fit(TEXTS).tokens == ["<pad>", "<unk>", "cat", "the", "sat"]
    small = Vocabulary(max_size=4).fit(TEXTS)
    assert small.tokens == ["<pad>", "<unk>", "cat", "the"] and small.encode(["sat"]) == [1]
    assert small.statistics()["size"] == 4 and small.statistics()["train_token_coverage"] == pytest.approx(6 / 11)


def test_vocabulary_comes_from_the_train_split_only_and_round_trips():
    labels = np.arange(len(TEXTS) * 10) % 2
    texts = [[f"word{i}", "common"] for i in range(len(labels))]
    train, val = StratifiedShuffleSplit(0.2, seed=0)(labels)
    vocab = Vocabulary().fit([texts[i] for i in train])
    assert all(vocab.encode(texts[i])[0] == vocab.unknown_index for i in val)  # validation words are unknown
    assert all(vocab.encode(texts[i])[0] != vocab.unknown_index for i in train)
    restored = Vocabulary()
    restored.load_state_dict(vocab.state_dict())
    assert restored.tokens == vocab.tokens and restored.encode(["common"]) == vocab.encode(["common"])
