"""Weight initialisers under their textbook (Keras) names."""

from __future__ import annotations

import math
from typing import Literal

from torch import Tensor, nn

Initializer = Literal["default", "he_normal", "he_uniform", "glorot_normal", "glorot_uniform", "lecun_normal",
                      "orthogonal"]

#: Each scheme's distribution and standard deviation as a function of (fan_in, fan_out).
_SCHEMES = {
    "he_normal": ("normal", lambda fan_in, fan_out: math.sqrt(2.0) / math.sqrt(fan_in)),
    "he_uniform": ("uniform", lambda fan_in, fan_out: math.sqrt(2.0) / math.sqrt(fan_in)),
    "glorot_normal": ("normal", lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    "glorot_uniform": ("uniform", lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    "lecun_normal": ("normal", lambda fan_in, fan_out: 1.0 / math.sqrt(fan_in)),
}
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
             nn.ConvTranspose3d, nn.Embedding)


def fans(module: nn.Module, weight: Tensor) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of ``weight`` in ``module``: how many inputs each output sums in the forward pass,
    and how many outputs each input feeds.

    A transposed convolution's weight is ``(in, out / groups, *kernel)`` and, with stride ``s``, each output
    sums ``in / groups · kernel / s`` inputs (PyTorch and Keras swap the two fans there). An embedding is a
    dense layer on a one-hot vocabulary: ``fan_in`` is the vocabulary size, as in Keras.
    """
    kernel = weight[0][0].numel()  # 1 for dense, recurrent and embedding weights
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        return weight.size(0) / module.groups * kernel / math.prod(module.stride), weight.size(1) * kernel
    if isinstance(module, nn.Embedding):
        return weight.size(0), weight.size(1)
    return weight.size(1) * kernel, weight.size(0) * kernel


def _init(module: nn.Module, weight: Tensor, scheme: str) -> None:
    if scheme == "orthogonal":
        nn.init.orthogonal_(weight)
        return
    distribution, std = _SCHEMES[scheme]
    std = std(*fans(module, weight))
    if distribution == "normal":
        nn.init.normal_(weight, 0.0, std)
    else:
        nn.init.uniform_(weight, -math.sqrt(3.0) * std, math.sqrt(3.0) * std)


def initialize(network: nn.Module, scheme: Initializer) -> nn.Module:
    """Initialise the weights of every dense, (transposed) convolutional, embedding and recurrent layer;
    biases start at zero, an embedding's padding row stays zero.

    ``default`` keeps PyTorch's own initialisation. Recurrent layers get ``scheme`` for their input
    weights and orthogonal recurrent weights, as Keras does.
    """
    if scheme == "default":
        return network
    if scheme not in (*_SCHEMES, "orthogonal"):
        raise ValueError(f"Unknown initializer {scheme!r}; choose one of default, {', '.join(_SCHEMES)}, orthogonal.")
    for module in network.modules():
        if isinstance(module, _WEIGHTED):
            _init(module, module.weight, scheme)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.RNNBase):
            for name, parameter in module.named_parameters():
                if name.startswith("weight_ih"):
                    _init(module, parameter, scheme)
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(parameter)
                elif name.startswith("bias"):
                    nn.init.zeros_(parameter)
    return network
