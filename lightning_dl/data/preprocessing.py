"""Preprocessors: fitted on the train split only, then applied unchanged to every split.

All share one interface (:class:`Preprocessor`): ``fit(train) -> self``, apply with ``__call__``,
``inverse`` (back to data units, to show outputs), ``statistics()`` for logging, and
``state_dict()``/``load_state_dict()`` so a checkpoint carries what was fitted.

- :class:`Normalization`: per-channel image normalisation (``standardize``, ``unit_range``,
  ``symmetric_range``, ``none``) or the fixed ImageNet mean/std (``imagenet``, for pretrained backbones);
- :class:`FeatureNormalization`: per-feature (per-column) scaling of tables, standardisation by default;
- :class:`SeriesScaler`: per-feature scaling of time series (standard or min-max);
- :class:`Vocabulary`: the token-to-index table of a text corpus.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable, Literal, Sequence

import numpy as np
import torch
from torch import Tensor

from lightning_dl.errors import DataValidationError, check_choice

ScalingMode = Literal["standardize", "unit_range", "symmetric_range", "none"]
NormalizationMode = Literal["standardize", "unit_range", "symmetric_range", "none", "imagenet"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Preprocessor:
    """Fitted on the train split only; applied to every split; invertible; saved in checkpoints."""

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def fit(self, train: Any) -> Preprocessor:
        raise NotImplementedError

    def __call__(self, data: Any) -> Any:
        raise NotImplementedError

    def inverse(self, data: Any) -> Any:
        raise NotImplementedError

    def statistics(self) -> dict[str, Any]:
        """What was fitted, in the textbook's terms, for logging."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} has not been fitted yet: fit it on the train split "
                               "(a DataModule does this in setup()).")


class RunningMoments:
    """Per-feature count, mean, sum of squared deviations, min and max, combined chunk by chunk (Chan et al.)."""

    def __init__(self) -> None:
        self.count, self.mean, self.m2, self.low, self.high = 0, None, None, None, None

    def update(self, chunk: np.ndarray) -> None:
        """Add ``(..., F)`` values; every axis but the last is a sample axis."""
        values = np.asarray(chunk).reshape(-1, np.shape(chunk)[-1])
        block = max(1, (1 << 22) // values.shape[1])  # rows at a time: bounds the float64 temporaries
        if len(values) > block:
            for start in range(0, len(values), block):
                self.update(values[start:start + block])
            return
        if len(values) == 0:
            return
        by_feature = np.ascontiguousarray(values.T)  # reductions along contiguous rows are many times faster
        low, high = by_feature.min(axis=1).astype(np.float64), by_feature.max(axis=1).astype(np.float64)
        centred = by_feature.astype(np.float64)
        mean = centred.mean(axis=1)
        centred -= mean[:, None]
        m2 = np.einsum("ij,ij->i", centred, centred)
        if self.count == 0:
            self.count, self.mean, self.m2, self.low, self.high = len(values), mean, m2, low, high
            return
        total = self.count + len(values)
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * len(values) / total
        self.mean = self.mean + delta * len(values) / total
        self.count, self.low, self.high = total, np.minimum(self.low, low), np.maximum(self.high, high)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / max(self.count, 1))


class AffineScaler(Preprocessor):
    """``(x - shift) / scale`` per feature (the last axis of the data it is fitted on).

    ``standardize``: mean 0, standard deviation 1; ``unit_range``: train min/max to 0/1 (min-max scaling);
    ``symmetric_range``: to -1/1; ``none``: unchanged. A constant feature is left unscaled.
    """

    modes: Any = ScalingMode

    def __init__(self, mode: str = "standardize") -> None:
        check_choice("normalization", mode, self.modes)
        self.mode = mode
        self.shift: Tensor | None = None
        self.scale: Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.shift is not None

    def fit(self, train: np.ndarray | Tensor | Iterable[np.ndarray]) -> AffineScaler:
        """Fit on ``(..., F)`` training values, or on an iterable of such chunks (too big to hold at once)."""
        moments = RunningMoments()
        chunks = [train] if isinstance(train, (np.ndarray, Tensor)) else train
        for chunk in chunks:
            moments.update(chunk.numpy() if isinstance(chunk, Tensor) else chunk)
        if moments.count == 0:
            raise DataValidationError(f"{type(self).__name__} cannot be fitted on an empty train split.")
        self._fit_moments(moments)
        return self

    def _fit_moments(self, moments: RunningMoments) -> None:
        if self.mode == "standardize":
            shift, scale = moments.mean, moments.std
        elif self.mode == "unit_range":
            shift, scale = moments.low, moments.high - moments.low
        elif self.mode == "symmetric_range":
            shift, scale = (moments.high + moments.low) / 2, (moments.high - moments.low) / 2
        else:
            shift, scale = np.zeros_like(moments.mean), np.ones_like(moments.mean)
        scale = np.where(scale > 0, scale, 1.0)  # a constant feature stays put instead of dividing by zero
        self.shift = torch.as_tensor(shift, dtype=torch.float32)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)

    def _view(self, values: Tensor, feature_axis: int, features: Sequence[int] | None) -> tuple[Tensor, Tensor]:
        self._require_fitted()
        shift, scale = (self.shift, self.scale) if features is None else (self.shift[list(features)],
                                                                         self.scale[list(features)])
        shape = [1] * values.dim()
        shape[feature_axis] = -1
        return shift.view(shape), scale.view(shape)

    def __call__(self, values: Tensor | np.ndarray, feature_axis: int = -1,
                 features: Sequence[int] | None = None) -> Tensor:
        """Scale float values whose ``feature_axis`` holds the features (``features`` picks some of them)."""
        values = torch.as_tensor(values).float()
        shift, scale = self._view(values, feature_axis, features)
        return (values - shift).div_(scale)

    def inverse(self, values: Tensor | np.ndarray, feature_axis: int = -1,
                features: Sequence[int] | None = None) -> Tensor:
        """Back to data units: ``values * scale + shift``."""
        values = torch.as_tensor(values).float()
        shift, scale = self._view(values, feature_axis, features)
        return (values * scale).add_(shift)

    def statistics(self) -> dict[str, list[float]]:
        self._require_fitted()
        if self.mode == "standardize":
            return {"mean": self.shift.tolist(), "std": self.scale.tolist()}
        if self.mode in ("unit_range", "symmetric_range"):
            low = self.shift if self.mode == "unit_range" else self.shift - self.scale
            return {"min": low.tolist(), "max": (self.shift + self.scale).tolist()}
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "shift": self.shift, "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mode, self.shift, self.scale = state["mode"], state["shift"], state["scale"]


class Normalization(AffineScaler):
    """Per-channel image normalisation, fitted on the training images only.

    Fitted on ``(N, H, W, C)`` images; applied to ``(N, C, H, W)`` float tensors. ``standardize``
    subtracts the per-channel mean and divides by the standard deviation; ``unit_range`` maps the train
    minimum/maximum to 0/1, ``symmetric_range`` to -1/1; ``none`` leaves values as they are.
    ``imagenet`` fits nothing: it scales pixels to [0, 1] by ``max_pixel_value`` and then applies the
    ImageNet mean/std that pretrained backbones were trained with (3 channels needed: add ``ToRGB`` to
    the transforms for grey images).
    """

    modes = NormalizationMode

    def __init__(self, mode: NormalizationMode = "standardize", max_pixel_value: float = 255.0) -> None:
        super().__init__(mode)
        self.max_pixel_value = float(max_pixel_value)

    def fit(self, train: np.ndarray | Tensor | Iterable[np.ndarray]) -> Normalization:
        if self.mode != "imagenet":
            return super().fit(train)
        moments = RunningMoments()
        for chunk in [train] if isinstance(train, (np.ndarray, Tensor)) else train:
            moments.update(np.asarray(chunk))
        if moments.mean is None or len(moments.mean) != 3:
            channels = None if moments.mean is None else len(moments.mean)
            raise DataValidationError(f"normalization: imagenet needs 3-channel (RGB) images; these have {channels}. "
                                      "Add {ToRGB: {}} to the DataModule's transforms.")
        if moments.low.min() < 0 or moments.high.max() > self.max_pixel_value:
            raise DataValidationError(
                f"normalization: imagenet scales pixels to [0, 1] by dividing by {self.max_pixel_value:g}, but the "
                f"train images range over [{moments.low.min():g}, {moments.high.max():g}]; "
                "set max_pixel_value to the largest value a pixel can take.")
        self.shift = torch.tensor(IMAGENET_MEAN) * self.max_pixel_value
        self.scale = torch.tensor(IMAGENET_STD) * self.max_pixel_value
        return self

    def __call__(self, images: Tensor | np.ndarray, feature_axis: int = 1,
                 features: Sequence[int] | None = None) -> Tensor:
        """Normalise ``(N, C, H, W)`` float images."""
        return super().__call__(images, feature_axis, features)

    def inverse(self, images: Tensor | np.ndarray, feature_axis: int = 1,
                features: Sequence[int] | None = None) -> Tensor:
        """``(N, C, H, W)`` model inputs back to pixel values."""
        return super().inverse(images, feature_axis, features)

    def statistics(self) -> dict[str, list[float]]:
        if self.mode == "imagenet":
            self._require_fitted()
            return {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "max_pixel_value": [self.max_pixel_value]}
        return super().statistics()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "max_pixel_value": self.max_pixel_value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.max_pixel_value = state.get("max_pixel_value", self.max_pixel_value)


class FeatureNormalization(AffineScaler):
    """Per-feature (per-column) scaling of a table, fitted on the train rows only; standardisation by default.

    Fitted on ``(N, F)`` features; applied to ``(..., F)`` values.
    """


class SeriesScaler(AffineScaler):
    """Per-feature scaling of a time series, fitted on the train part of time only.

    ``standardize`` (standard scaling) or ``unit_range`` (min-max scaling to [0, 1]); fitted on ``(T, F)``
    or ``(N, T, F)`` values. ``inverse(..., features=[j])`` returns forecasts of feature ``j`` in data units.
    """

    def __init__(self, mode: ScalingMode = "standardize") -> None:
        super().__init__(mode)


class Vocabulary(Preprocessor):
    """The tokens of the training texts, most frequent first, as indices.

    Index 0 is padding (``pad_token``) and 1 stands for any unknown token (``unknown_token``). Only tokens
    seen at least ``min_freq`` times in the train split are kept, at most ``max_size`` of them (the special
    tokens included). Ties in frequency are broken alphabetically, so the same texts give the same indices.
    """

    def __init__(self, max_size: int | None = None, min_freq: int = 1, pad_token: str = "<pad>",
                 unknown_token: str = "<unk>") -> None:
        self.max_size, self.min_freq = max_size, min_freq
        self.pad_token, self.unknown_token = pad_token, unknown_token
        self.tokens: list[str] | None = None
        self.index: dict[str, int] = {}
        self.coverage: float | None = None

    pad_index = 0
    unknown_index = 1

    @property
    def fitted(self) -> bool:
        return self.tokens is not None

    def __len__(self) -> int:
        self._require_fitted()
        return len(self.tokens)

    def fit(self, train: Iterable[Sequence[str]]) -> Vocabulary:
        """Count the tokens of the training texts (each a list of tokens)."""
        counts = Counter(token for text in train for token in text)
        special = [self.pad_token, self.unknown_token]
        kept = sorted((t for t, c in counts.items() if c >= self.min_freq and t not in special),
                      key=lambda t: (-counts[t], t))
        if self.max_size is not None:
            kept = kept[:max(self.max_size - len(special), 0)]
        self._set_tokens(special + kept)
        total = sum(counts.values())
        self.coverage = sum(counts[t] for t in kept) / total if total else 0.0
        return self

    def _set_tokens(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token indices; tokens outside the vocabulary become ``unknown_index``."""
        self._require_fitted()
        return [self.index.get(token, self.unknown_index) for token in tokens]

    def decode(self, indices: Sequence[int] | Tensor, skip_padding: bool = True) -> list[str]:
        """Tokens of ``indices``; padding is dropped unless ``skip_padding`` is false."""
        self._require_fitted()
        values = indices.tolist() if isinstance(indices, Tensor) else indices
        return [self.tokens[i] for i in values if not (skip_padding and i == self.pad_index)]

    def __call__(self, texts: Iterable[Sequence[str]]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def inverse(self, encoded: Iterable[Sequence[int]]) -> list[list[str]]:
        return [self.decode(indices) for indices in encoded]

    def statistics(self) -> dict[str, Any]:
        self._require_fitted()
        return {"size": len(self.tokens), "train_token_coverage": self.coverage, "min_freq": self.min_freq}

    def state_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "coverage": self.coverage, "max_size": self.max_size,
                "min_freq": self.min_freq, "pad_token": self.pad_token, "unknown_token": self.unknown_token}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.max_size, self.min_freq = state["max_size"], state["min_freq"]
        self.pad_token, self.unknown_token = state["pad_token"], state["unknown_token"]
        self.coverage = state["coverage"]
        self._set_tokens(state["tokens"])
