"""Regularisation as the textbook names it: L1/L2 penalties on weights, biases and activations, max-norm."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class Penalty:
    """``l1·Σ|t| + l2·Σt²`` added to the training loss for a tensor ``t`` (a weight, bias or activation)."""

    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, tensor: Tensor) -> Tensor:
        loss = tensor.new_zeros(())
        if self.l1:
            loss = loss + self.l1 * tensor.abs().sum()
        if self.l2:
            loss = loss + self.l2 * tensor.pow(2).sum()
        return loss


#: One penalty for every layer, one per layer (``None`` for none), or no penalty.
PenaltySpec = Penalty | list[Penalty | None] | None


def per_layer(spec: PenaltySpec, num_layers: int, what: str) -> list[Penalty | None]:
    """Expand a :data:`PenaltySpec` into one entry per layer."""
    if spec is None or isinstance(spec, Penalty):
        return [spec] * num_layers
    if len(spec) != num_layers:
        raise ValueError(f"{what} lists {len(spec)} penalties but the network has {num_layers} layers that take "
                         "one; give one per layer (null for none) or a single penalty for all.")
    return list(spec)


class Regularized(nn.Module):
    """A layer with Keras-style regularisers on its weight, its bias and its output (activity).

    The penalty of the last forward pass is read by :func:`regularization_loss`.
    """

    def __init__(self, layer: nn.Module, weight: Penalty | None = None, bias: Penalty | None = None,
                 activity: Penalty | None = None) -> None:
        super().__init__()
        self.layer, self.weight_penalty, self.bias_penalty, self.activity_penalty = layer, weight, bias, activity
        self.activity_loss: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        y = self.layer(x)
        if self.activity_penalty is not None:
            self.activity_loss = self.activity_penalty(y) / len(y)  # per sample, like the data loss
        return y

    def penalty(self) -> Tensor:
        loss = torch.zeros((), device=self.layer.weight.device)
        if self.weight_penalty is not None:
            loss = loss + self.weight_penalty(self.layer.weight)
        if self.bias_penalty is not None and self.layer.bias is not None:
            loss = loss + self.bias_penalty(self.layer.bias)
        if self.activity_loss is not None:
            loss = loss + self.activity_loss
        return loss


def regularize(layer: nn.Module, weight: Penalty | None, bias: Penalty | None, activity: Penalty | None) -> nn.Module:
    """Wrap ``layer`` in :class:`Regularized` if any penalty is given, else return it unchanged."""
    return layer if weight is bias is activity is None else Regularized(layer, weight, bias, activity)


def regularization_loss(network: nn.Module) -> Tensor | float:
    """The sum of every :class:`Regularized` layer's penalty in ``network`` (0.0 if there are none)."""
    return sum((m.penalty() for m in network.modules() if isinstance(m, Regularized)), 0.0)


@torch.no_grad()
def apply_max_norm(network: nn.Module, max_norm: float) -> None:
    """Max-norm constraint: rescale each unit's incoming weight vector to an L2 norm of at most ``max_norm``."""
    for module in network.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            module.weight.copy_(torch.renorm(module.weight, p=2, dim=0, maxnorm=max_norm))
