"""Classification losses any classifier can choose: cross-entropy (optionally class-weighted and label-smoothed)
and focal loss (Lin et al. 2017; binary and categorical, as Keras's ``BinaryFocalCrossentropy`` and
``CategoricalFocalCrossentropy``).

Focal loss scales each sample's cross-entropy by ``α (1 - p_t)^γ``, where ``p_t`` is the probability the
model gives the true class: well-classified samples (``p_t`` near 1) count little, so training concentrates
on the hard ones. With γ = 0 and α = 1 it is the cross-entropy.

Every loss takes raw outputs (logits) and returns the mean over the batch; with class weights the mean is
weighted (Σ wᵢ lᵢ / Σ wᵢ, as PyTorch's ``cross_entropy(weight=...)``).
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError, check_choice

LossName = Literal["cross_entropy", "focal"]


def smooth(targets: Tensor, num_classes: int, label_smoothing: float) -> Tensor:
    """Integer labels or one-hot rows as probability rows with ``label_smoothing`` spread evenly over all classes."""
    if not targets.is_floating_point():
        targets = F.one_hot(targets, num_classes).float()
    return targets * (1 - label_smoothing) + label_smoothing / num_classes


def weighted_mean(losses: Tensor, sample_weights: Tensor | None) -> Tensor:
    """The mean of per-sample ``losses``, weighted by ``sample_weights`` when given."""
    if sample_weights is None:
        return losses.mean()
    return (losses * sample_weights).sum() / sample_weights.sum()


def categorical_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0,
                           class_weights: Tensor | None = None, label_smoothing: float = 0.0) -> Tensor:
    """``mean_i Σ_c −α · y_ic · (1 − p_ic)^γ · log p_ic`` over softmax probabilities ``p`` (Keras's
    ``CategoricalFocalCrossentropy``). ``targets``: integer labels or probability rows; ``class_weights`` weight
    each sample by its (true or, for soft labels, expected) class."""
    num_classes = logits.shape[-1]
    y = smooth(targets, num_classes, label_smoothing)
    log_p = F.log_softmax(logits.float(), dim=-1)
    losses = -(alpha * y * (1 - log_p.exp()).pow(gamma) * log_p).sum(-1)
    return weighted_mean(losses, None if class_weights is None else y @ class_weights.to(y))


def binary_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0,
                      class_weights: Tensor | None = None, label_smoothing: float = 0.0) -> Tensor:
    """``mean −α_t (1 − p_t)^γ log p_t`` over sigmoid probabilities (torchvision's ``sigmoid_focal_loss``, Keras's
    ``BinaryFocalCrossentropy(apply_class_balancing=True)``): ``α_t = α`` for positives and ``1 − α`` for
    negatives. ``class_weights`` is ``[w_negative, w_positive]``."""
    y = targets.float().view_as(logits)
    y_smooth = y * (1 - label_smoothing) + label_smoothing / 2
    cross_entropy = F.binary_cross_entropy_with_logits(logits.float(), y_smooth, reduction="none")
    p = torch.sigmoid(logits.float())
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    losses = alpha_t * (1 - p_t).pow(gamma) * cross_entropy
    return weighted_mean(losses, None if class_weights is None else class_weights.to(y)[y.long()])


def binary_cross_entropy(logits: Tensor, targets: Tensor, class_weights: Tensor | None = None,
                         label_smoothing: float = 0.0) -> Tensor:
    """Sigmoid binary cross-entropy, labels smoothed towards 0.5, samples weighted by ``[w_negative, w_positive]``."""
    y = targets.float().view_as(logits)
    losses = F.binary_cross_entropy_with_logits(logits.float(), y * (1 - label_smoothing) + label_smoothing / 2,
                                                reduction="none")
    return weighted_mean(losses, None if class_weights is None else class_weights.to(y)[y.long()])


class ClassificationLoss(nn.Module):
    """The loss of a classification head: ``cross_entropy`` or ``focal``, optionally class-weighted and
    label-smoothed. ``binary=True`` for a one-unit sigmoid head (logits ``(N,)``), else softmax over ``(N, C)``.

    Args:
        name: ``cross_entropy`` or ``focal``.
        binary: A one-unit sigmoid head (binary) rather than a softmax over classes.
        class_weights: One weight per class (two for binary: negative, positive): rare classes weigh more.
        label_smoothing: Share of each label's probability spread evenly over the classes.
        focal_alpha: Focal loss's α (0.25 in the paper and Keras).
        focal_gamma: Focal loss's γ (2 in the paper and Keras); 0 gives α × cross-entropy.
    """

    def __init__(self, name: LossName = "cross_entropy", binary: bool = False,
                 class_weights: Sequence[float] | None = None, label_smoothing: float = 0.0,
                 focal_alpha: float = 0.25, focal_gamma: float = 2.0) -> None:
        super().__init__()
        check_choice("loss", name, LossName)
        if not 0 <= label_smoothing < 1:
            raise ConfigurationError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
        if class_weights is not None and min(class_weights) < 0:
            raise ConfigurationError(f"class_weights must not be negative, got {list(class_weights)}.")
        self.name, self.binary, self.label_smoothing = name, binary, label_smoothing
        self.focal_alpha, self.focal_gamma = focal_alpha, focal_gamma
        weights = None if class_weights is None else torch.tensor([float(w) for w in class_weights])
        self.register_buffer("class_weights", weights, persistent=False)

    def check_classes(self, num_classes: int) -> None:
        """Raise unless there is one class weight per class of the head."""
        if self.class_weights is not None and len(self.class_weights) != num_classes:
            raise ConfigurationError(f"class_weights has {len(self.class_weights)} entries but the head has "
                                     f"{num_classes} classes; give one weight per class.")

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        options = {"class_weights": self.class_weights, "label_smoothing": self.label_smoothing}
        if self.name == "focal":
            focal = binary_focal_loss if self.binary else categorical_focal_loss
            return focal(logits, targets, self.focal_alpha, self.focal_gamma, **options)
        if self.binary:
            return binary_cross_entropy(logits, targets, **options)
        weight = None if self.class_weights is None else self.class_weights.to(logits.dtype)
        return F.cross_entropy(logits, targets, weight=weight, label_smoothing=self.label_smoothing)
