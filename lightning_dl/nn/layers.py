"""Small pieces every network family builds with: activations by name, and the shape a module produces."""

from __future__ import annotations

import torch
from torch import nn

from lightning_dl.errors import ConfigurationError

#: Activation layers by the name a config gives; ``none`` is no activation.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "elu": nn.ELU, "selu": nn.SELU, "softplus": nn.Softplus, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU, "none": nn.Identity,
}


def activation_layer(name: str, negative_slope: float = 0.01) -> nn.Module:
    """An activation layer by name; ``leaky_relu`` with ``negative_slope`` (torch's 0.01 unless given: the GAN
    blocks pass the reference code's 0.2)."""
    if name not in ACTIVATIONS:
        raise ConfigurationError(f"Unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}.")
    return nn.LeakyReLU(negative_slope) if name == "leaky_relu" else ACTIVATIONS[name]()


def output_shape(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape (without batch) that ``module`` produces from one input of ``input_shape``: a dry run in
    evaluation mode without gradients (so batch-norm statistics do not move), the module's mode restored."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return tuple(module(torch.zeros(1, *input_shape)).shape[1:])
    finally:
        module.train(was_training)
