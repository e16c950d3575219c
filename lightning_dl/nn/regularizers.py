"""Regularisation as the textbook names it: L1/L2 penalties on weights, biases and activations, max-norm.

Penalties are attached to a layer without wrapping it (:func:`regularize`), so a penalised network has the
same ``state_dict`` keys as a plain one and each loads the other's weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class LayerPenalties:
    """The Keras-style regularisers of one layer: on its weight, its bias and its output (activity).

    Lives in the layer's ``penalties`` attribute (a plain attribute: no parameters, buffers or submodules) and
    is the layer's forward hook when there is an activity penalty: the hook keeps the penalty of the last
    forward pass, per sample. Copies and pickles leave that out (it belongs to a computation graph).
    """

    weight: Penalty | None = None
    bias: Penalty | None = None
    activity: Penalty | None = None
    activity_loss: Tensor | None = field(default=None, repr=False, compare=False)

    def __call__(self, layer: nn.Module, inputs: Any, output: Tensor) -> None:
        self.activity_loss = self.activity(output) / len(output)  # per sample, like the data loss

    def loss(self, layer: nn.Module) -> Tensor:
        """The penalty of ``layer``'s weight and bias now, plus that of its output in the last forward pass."""
        loss = torch.zeros((), device=layer.weight.device)
        if self.weight is not None:
            loss = loss + self.weight(layer.weight)
        if self.bias is not None and layer.bias is not None:
            loss = loss + self.bias(layer.bias)
        if self.activity_loss is not None:
            loss = loss + self.activity_loss
        return loss

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "activity_loss": None}


def regularize(layer: nn.Module, weight: Penalty | None = None, bias: Penalty | None = None,
               activity: Penalty | None = None) -> nn.Module:
    """Attach penalties to ``layer`` (one with ``weight`` and ``bias``) and return the same layer.

    :func:`regularization_loss` adds them up. Nothing is attached when no penalty is given.
    """
    if weight is bias is activity is None:
        return layer
    if isinstance(getattr(layer, "penalties", None), LayerPenalties):
        raise ValueError(f"{layer} already has penalties; give all of them in one regularize call.")
    layer.penalties = LayerPenalties(weight, bias, activity)
    if activity is not None:
        layer.register_forward_hook(layer.penalties)
    return layer


def regularization_loss(network: nn.Module) -> Tensor | float:
    """The sum of the penalties of every layer in ``network`` (0.0 if there are none)."""
    return sum((m.penalties.loss(m) for m in network.modules()
                if isinstance(getattr(m, "penalties", None), LayerPenalties)), 0.0)


@torch.no_grad()
def apply_max_norm(network: nn.Module, max_norm: float) -> None:
    """Max-norm constraint: rescale each unit's incoming weight vector to an L2 norm of at most ``max_norm``."""
    for module in network.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            module.weight.copy_(torch.renorm(module.weight, p=2, dim=0, maxnorm=max_norm))
