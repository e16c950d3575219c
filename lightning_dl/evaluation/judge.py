"""Judging generated images with our own classifier (no Inception weights can be downloaded here).

The judge is a trained, frozen classifier :class:`~lightning_dl.nn.base.Network`. :class:`ClassifierFeatures`
turns it into torchmetrics' ``FrechetInceptionDistance(feature=...)`` extractor and re-normalises the
images it is given so that the judge sees them as it was trained on them; the functions below score
samples with it: :func:`classifier_fid`, :func:`conditional_accuracy`, :func:`class_coverage` and
:func:`match_codes_to_classes` (InfoGAN's discrete code → classes).

Normalisations are given as ``(shift, scale)`` in the data core's terms — a model sees
``(pixels - shift) / scale`` per channel — or as any object with ``shift`` and ``scale`` attributes, such as
a DataModule's fitted ``normalization``. A generator trained on ``symmetric_range`` data of 0–255 pixels
produces images normalised by ``(127.5, 127.5)``; a judge trained on ``standardize`` data was fed
``(mean, std)``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from lightning_dl.errors import ConfigurationError, DataValidationError
from lightning_dl.nn.base import Network

#: A per-channel normalisation ``(pixels - shift) / scale``: a ``(shift, scale)`` pair of numbers or
#: per-channel sequences, or an object with ``shift`` and ``scale`` attributes (a fitted ``Normalization``).
NormalizationSpec = tuple[float | Sequence[float], float | Sequence[float]] | Any


def _shift_scale(spec: NormalizationSpec, channels: int, what: str) -> tuple[Tensor, Tensor]:
    shift, scale = (spec.shift, spec.scale) if hasattr(spec, "shift") else spec
    shift, scale = (torch.as_tensor(v, dtype=torch.float32).flatten().expand(channels).clone() for v in (shift, scale))
    if (scale == 0).any():
        raise ConfigurationError(f"{what} has a zero scale {scale.tolist()}; a normalisation divides by it.")
    return shift.reshape(channels, 1, 1), scale.reshape(channels, 1, 1)


class ClassifierFeatures(nn.Module):
    """A frozen classifier as a feature extractor for ``FrechetInceptionDistance(feature=...)``, and the
    judge that every function of :mod:`lightning_dl.evaluation` scores samples with.

    It holds a copy of the classifier with every parameter frozen, always runs in evaluation mode (``train()``
    cannot switch it back) and outside autocast, and declares ``num_features`` for torchmetrics. torchmetrics
    hands a custom extractor the images exactly as given to ``update`` (its ``normalize`` flag only picks the
    dtype of a dummy input used when ``num_features`` is missing), so this module does the conversion:
    float images normalised by ``image_normalization`` (uint8 images are taken as raw pixels) are mapped to
    pixels and normalised by ``judge_normalization``, as the judge's training data was.

    Args:
        judge: A trained classifier ``Network`` that reads ``(C, H, W)`` images (a CNN, an MLP).
        image_shape: ``(C, H, W)`` of the images to judge.
        judge_normalization: ``(shift, scale)`` the judge's training data was normalised with.
        image_normalization: ``(shift, scale)`` of the images this module is given (a tanh generator's
            [-1, 1] images of 0–255 pixels: ``(127.5, 127.5)``).
        layer: ``penultimate``: the input of the judge's last layer (the body and every head layer but the
            last, like Inception's pool features); ``features``: the body's output only.
    """

    def __init__(self, judge: Network, image_shape: tuple[int, int, int],
                 judge_normalization: NormalizationSpec = (0.0, 1.0),
                 image_normalization: NormalizationSpec = (0.0, 1.0),
                 layer: Literal["penultimate", "features"] = "penultimate") -> None:
        super().__init__()
        if not (hasattr(judge, "features") and hasattr(judge, "head")):
            raise ConfigurationError(f"The judge must be a Network with features and head; got {type(judge).__name__}.")
        if layer not in ("penultimate", "features"):
            raise ConfigurationError(f"Unknown layer {layer!r}; choose penultimate or features.")
        self.judge = copy.deepcopy(judge).requires_grad_(False)
        head = self.judge.head
        # a plain list: these layers are registered once, inside the judge
        self.hidden_head_layers = list(head)[:-1] if layer == "penultimate" and isinstance(head, nn.Sequential) else []
        self.image_shape = tuple(int(size) for size in image_shape)
        channels = self.image_shape[0]
        for name, spec in (("judge", judge_normalization), ("image", image_normalization)):
            shift, scale = _shift_scale(spec, channels, f"{name}_normalization")
            self.register_buffer(f"{name}_shift", shift)
            self.register_buffer(f"{name}_scale", scale)
        self.eval()
        with torch.no_grad():
            #: Size of the feature vector per image (what torchmetrics reads).
            self.num_features = int(self.extract(torch.zeros(1, *self.image_shape)).shape[1])

    def train(self, mode: bool = True) -> ClassifierFeatures:
        """Always evaluation mode: a judge's batch-norm statistics and dropout never change."""
        return super().train(False)

    def judge_inputs(self, images: Tensor) -> Tensor:
        """``images`` as the judge's training data looked: float32, normalised by ``judge_normalization``."""
        if tuple(images.shape[1:]) != self.image_shape:
            raise DataValidationError(f"The judge reads images of shape {self.image_shape} but was given "
                                      f"{tuple(images.shape[1:])}.")
        pixels = images.float() if images.dtype == torch.uint8 else images.float() * self.image_scale + self.image_shift
        return (pixels - self.judge_shift) / self.judge_scale

    def extract(self, judge_inputs: Tensor) -> Tensor:
        """The chosen layer's features of inputs already normalised for the judge."""
        features = self.judge.forward_features(judge_inputs).flatten(1)
        for layer in self.hidden_head_layers:
            features = layer(features)
        return features

    def forward(self, images: Tensor) -> Tensor:
        """Features ``(N, num_features)`` of the judge (float32)."""
        with torch.autocast(images.device.type, enabled=False):
            return self.extract(self.judge_inputs(images))

    def classify(self, images: Tensor) -> Tensor:
        """The judge's class logits ``(N, num_classes)``."""
        with torch.autocast(images.device.type, enabled=False):
            return self.judge(self.judge_inputs(images))


def as_judge(judge: ClassifierFeatures | Network, image_shape: Sequence[int]) -> ClassifierFeatures:
    """``judge`` itself, or a bare classifier wrapped with no re-normalisation (images already as it reads them)."""
    return judge if isinstance(judge, ClassifierFeatures) else ClassifierFeatures(judge, tuple(image_shape))


def classifier_fid_metric(judge: ClassifierFeatures, **fid_arguments: Any) -> FrechetInceptionDistance:
    """A torchmetrics ``FrechetInceptionDistance`` that measures with ``judge``'s features, for streaming
    ``update(images, real=...)`` calls (e.g. in a validation loop; it syncs across DDP processes)."""
    return FrechetInceptionDistance(feature=judge, normalize=True, **fid_arguments)


@torch.no_grad()
def classifier_fid(judge: ClassifierFeatures | Network, real: Tensor, fake: Tensor, batch_size: int = 500) -> Tensor:
    """Fréchet distance between the judge's features of ``real`` and of ``fake`` images (0: same distribution).

    Needs at least two images of each; with ``n`` images a ``num_features``-dim covariance has rank < n, so
    compare FIDs computed from the same number of images."""
    judge = as_judge(judge, real.shape[1:]).to(real.device)
    metric = classifier_fid_metric(judge).to(real.device)
    for images, is_real in ((real, True), (fake, False)):
        for chunk in images.split(batch_size):
            metric.update(chunk.to(real.device), real=is_real)
    return metric.compute()


@torch.no_grad()
def predict_classes(judge: ClassifierFeatures | Network, images: Tensor, batch_size: int = 500) -> Tensor:
    """The judge's predicted class of each image ``(N,)``."""
    judge = as_judge(judge, images.shape[1:]).to(images.device)
    return torch.cat([judge.classify(chunk).argmax(dim=1) for chunk in images.split(batch_size)])


def _class_indices(labels: Tensor) -> Tensor:
    return labels.argmax(dim=1) if labels.dim() == 2 else labels.long()


class ConditionalAccuracy(NamedTuple):
    """How often the judge recognises the requested class in samples generated for it."""

    #: Over all samples.
    accuracy: Tensor
    #: Per requested class ``(num_classes,)``; NaN for a class that was never requested.
    per_class: Tensor


def conditional_accuracy(judge: ClassifierFeatures | Network, images: Tensor, requested_labels: Tensor,
                         num_classes: int | None = None, batch_size: int = 500) -> ConditionalAccuracy:
    """The judge's accuracy on samples generated for ``requested_labels`` (class indices ``(N,)`` or one-hot
    ``(N, K)``): CGAN/ACGAN's "does it draw what was asked", overall and per requested class."""
    requested = _class_indices(requested_labels).to(images.device)
    if requested.shape[0] != images.shape[0]:
        raise DataValidationError(f"{images.shape[0]} images but {requested.shape[0]} requested labels.")
    correct = (predict_classes(judge, images, batch_size) == requested).float()
    num_classes = num_classes or int(requested.max()) + 1
    totals = torch.bincount(requested, minlength=num_classes).float()
    hits = torch.bincount(requested, weights=correct, minlength=num_classes)
    per_class = torch.where(totals > 0, hits / totals.clamp(min=1), torch.full_like(totals, float("nan")))
    return ConditionalAccuracy(correct.mean(), per_class)


def class_coverage(judge: ClassifierFeatures | Network, images: Tensor, num_classes: int,
                   batch_size: int = 500) -> Tensor:
    """Each class's share ``(num_classes,)`` among the judge's predictions for unconditional samples (sums to 1).
    Mode collapse shows as a class with (almost) no share; a uniform generator gives ``1 / num_classes`` each."""
    predictions = predict_classes(judge, images, batch_size)
    return torch.bincount(predictions, minlength=num_classes)[:num_classes].float() / predictions.numel()


def match_codes_to_classes(judge: ClassifierFeatures | Network, images: Tensor, codes: Tensor, num_classes: int,
                           batch_size: int = 500) -> Tensor:
    """Which class each value of InfoGAN's discrete code draws: the one-to-one matching of codes to classes
    that agrees most with the judge (Hungarian algorithm on the code × predicted-class counts).

    Returns ``mapping`` ``(num_codes,)`` with ``mapping[code]`` its class (-1 for codes left unmatched when
    there are more codes than classes); then ``conditional_accuracy(judge, images, mapping[codes])``."""
    from scipy.optimize import linear_sum_assignment  # imported here: scipy is slow to import

    codes = _class_indices(codes).to(images.device)
    num_codes = int(codes.max()) + 1
    predictions = predict_classes(judge, images, batch_size)
    counts = torch.zeros(num_codes, num_classes)
    counts.index_put_((codes.cpu(), predictions.cpu()), torch.ones(codes.numel()), accumulate=True)
    code_rows, class_columns = linear_sum_assignment(counts.numpy(), maximize=True)
    mapping = torch.full((num_codes,), -1, dtype=torch.long)
    mapping[torch.as_tensor(code_rows)] = torch.as_tensor(class_columns)
    return mapping.to(images.device)
