"""Weight initialisers under their textbook (Keras) names."""

from __future__ import annotations

from typing import Literal

from torch import nn

Initializer = Literal["default", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal",
                      "orthogonal"]

_SCHEMES = {
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "he_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "glorot_normal": nn.init.xavier_normal_,
    "glorot_uniform": nn.init.xavier_uniform_,
    "lecun_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear"),
    "orthogonal": nn.init.orthogonal_,
}


def initialize(network: nn.Module, scheme: Initializer) -> nn.Module:
    """Initialise the weights of every dense, convolutional and recurrent layer; biases start at zero.

    ``default`` keeps PyTorch's own initialisation. Recurrent layers get ``scheme`` for their input
    weights and orthogonal recurrent weights, as Keras does.
    """
    if scheme == "default":
        return network
    if scheme not in _SCHEMES:
        raise ValueError(f"Unknown initializer {scheme!r}; choose one of default, {', '.join(_SCHEMES)}.")
    for module in network.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
            _SCHEMES[scheme](module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.RNNBase):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    _SCHEMES[scheme](parameter)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(parameter)
                elif name.startswith("bias"):
                    nn.init.zeros_(parameter)
    return network
