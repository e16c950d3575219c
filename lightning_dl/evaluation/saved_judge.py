"""Saving and loading the judge: a trained, frozen classifier plus the normalisation its inputs had.

``scripts/train_judge.py`` writes one with :func:`save_judge`; :func:`load_judge` gives it back, and
``load_judge(path).features(image_normalization)`` is the :class:`~lightning_dl.evaluation.ClassifierFeatures`
extractor that every judging function and torchmetrics' FID take.

The file is a ``torch.save`` of the whole network module (its class must be importable) with its pixel
normalisation and a few facts about how it was trained; load only judge files you made or trust
(unpickling runs code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor

from lightning_dl.errors import ConfigurationError
from lightning_dl.evaluation.judge import ClassifierFeatures, NormalizationSpec, _shift_scale
from lightning_dl.nn.base import Network

#: Bumped when the file layout changes.
JUDGE_FORMAT = 1


class Judge(NamedTuple):
    """A loaded judge: the frozen classifier and how to prepare images for it."""

    #: The classifier, frozen and in evaluation mode.
    network: Network
    #: ``(shift, scale)`` per channel, ``(C, 1, 1)`` each: the judge reads ``(pixels - shift) / scale``.
    normalization: tuple[Tensor, Tensor]
    #: ``(C, H, W)`` of the images it reads.
    image_shape: tuple[int, int, int]
    #: How it was trained: dataset, epochs, test accuracy, class names, ...
    info: dict[str, Any]

    def features(self, image_normalization: NormalizationSpec = (0.0, 1.0),
                 layer: Literal["penultimate", "features"] = "penultimate") -> ClassifierFeatures:
        """The judge as a feature extractor for images normalised by ``image_normalization`` (a tanh
        generator trained on ``symmetric_range`` 0–255 data: ``(127.5, 127.5)``)."""
        return ClassifierFeatures(self.network, self.image_shape, judge_normalization=self.normalization,
                                  image_normalization=image_normalization, layer=layer)


def save_judge(path: str | Path, network: Network, normalization: NormalizationSpec,
               image_shape: tuple[int, int, int], **info: Any) -> Path:
    """Freeze ``network`` (evaluation mode, no gradients; moved to the CPU) and write it with the
    normalisation of its training inputs and ``info`` (e.g. ``test_accuracy``) to ``path``; returns ``path``."""
    if not (hasattr(network, "features") and hasattr(network, "head")):
        raise ConfigurationError(f"A judge must be a Network with features and head; got {type(network).__name__}.")
    image_shape = tuple(int(size) for size in image_shape)
    shift, scale = _shift_scale(normalization, image_shape[0], "normalization")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    network = network.cpu().eval().requires_grad_(False)
    torch.save({"format": JUDGE_FORMAT, "network": network, "shift": shift, "scale": scale,
                "image_shape": image_shape, "info": dict(info)}, path)
    return path


def load_judge(path: str | Path) -> Judge:
    """The judge saved at ``path`` by :func:`save_judge` (on the CPU, frozen, in evaluation mode)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No judge at {path}: train one with `python scripts/train_judge.py --output {path}`.")
    saved = torch.load(path, map_location="cpu", weights_only=False)  # a whole module: a trusted file
    if not isinstance(saved, dict) or saved.get("format") != JUDGE_FORMAT:
        raise ConfigurationError(f"{path} is not a judge file of format {JUDGE_FORMAT} (made by save_judge); "
                                 "retrain it with scripts/train_judge.py.")
    network = saved["network"].eval().requires_grad_(False)
    return Judge(network, (saved["shift"], saved["scale"]), tuple(saved["image_shape"]), saved["info"])
