"""The classic classifier networks: MLP, CNN and RNN, as plain ``nn.Module``s.

Each takes ``input_shape`` (one sample, without the batch) and ``num_outputs`` first, so a
:class:`~lightning_dl.models.Classifier` can build it for the data it is given.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.init import Initializer, initialize
from lightning_dl.nn.regularizers import PenaltySpec, per_layer, regularize

ActivationName = Literal["relu", "elu", "selu", "softplus", "tanh", "sigmoid", "leaky_relu"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "elu": nn.ELU, "selu": nn.SELU, "softplus": nn.Softplus, "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU,
}


def activation_layer(name: str) -> nn.Module:
    """An activation layer by name."""
    if name not in ACTIVATIONS:
        raise ConfigurationError(f"Unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]()


def warn_if_bottleneck(widths: list[int], num_outputs: int, network: str) -> None:
    """The information-loss rule: a hidden layer narrower than the output discards what the output needs."""
    narrow = [w for w in widths if w < num_outputs]
    if narrow:
        warnings.warn(f"{network} has hidden layers of width {narrow}, narrower than its {num_outputs} outputs: "
                      "information lost there cannot be recovered by later layers. Widen them.", stacklevel=3)


def dense_stack(in_features: int, widths: list[int], num_outputs: int, act: str, dropout: float,
                batch_norm: bool, penalties: list[tuple]) -> list[nn.Module]:
    """Dense layers ``in → widths… → num_outputs``; hidden ones with [batch norm], activation, [dropout]."""
    layers: list[nn.Module] = []
    sizes = [in_features, *widths, num_outputs]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(regularize(nn.Linear(n_in, n_out), *penalties[i]))
        if i < len(widths):
            layers += [nn.BatchNorm1d(n_out)] if batch_norm else []
            layers.append(activation_layer(act))
            layers += [nn.Dropout(dropout)] if dropout else []
    return layers


def _penalties(weight: PenaltySpec, bias: PenaltySpec, activity: PenaltySpec, num_layers: int) -> list[tuple]:
    return list(zip(per_layer(weight, num_layers, "weight_penalty"), per_layer(bias, num_layers, "bias_penalty"),
                    per_layer(activity, num_layers, "activity_penalty")))


class MLP(nn.Module):
    """Multilayer perceptron: flatten, then dense layers with an activation (and dropout) between them.

    Args:
        input_shape: Shape of one sample; it is flattened.
        num_outputs: Units of the output layer (classes, 1 for binary, targets for regression).
        hidden_sizes: Widths of the hidden layers.
        activation: relu, elu, selu, softplus, tanh, sigmoid or leaky_relu.
        dropout: Dropout probability after each hidden layer.
        batch_norm: Batch normalisation before each hidden activation.
        init: Weight initialiser (he_normal, glorot_uniform, ...; default keeps PyTorch's).
        weight_penalty: L1/L2 penalty on weights: one for all layers or a list with one per layer.
        bias_penalty: The same for biases.
        activity_penalty: The same for layer outputs.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, hidden_sizes: list[int] = [256, 128],
                 activation: ActivationName = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 init: Initializer = "glorot_uniform", weight_penalty: PenaltySpec = None,
                 bias_penalty: PenaltySpec = None, activity_penalty: PenaltySpec = None) -> None:
        super().__init__()
        warn_if_bottleneck(hidden_sizes, num_outputs, "MLP")
        penalties = _penalties(weight_penalty, bias_penalty, activity_penalty, len(hidden_sizes) + 1)
        self.layers = nn.Sequential(nn.Flatten(), *dense_stack(math.prod(input_shape), hidden_sizes, num_outputs,
                                                               activation, dropout, batch_norm, penalties))
        initialize(self, init)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class CNN(nn.Module):
    """Convolutional network: conv blocks (conv, [batch norm], activation, pooling), flatten, dense layers.

    Args:
        input_shape: ``(C, H, W)``: use the data layout ``image``.
        num_outputs: Units of the output layer.
        channels: Filters of each conv block.
        kernel_size: Conv kernel size.
        stride: Conv stride.
        padding: Conv padding: ``same``, ``valid`` or a number of pixels.
        dilation: Conv dilation (dilated convolution widens the receptive field without pooling).
        pool: ``max``, ``avg`` or ``none`` pooling after each block.
        pool_size: Pooling window and stride.
        batch_norm: Batch normalisation after each conv and hidden dense layer.
        hidden_sizes: Dense layers between the flattened features and the output.
        activation: Activation after each conv and hidden dense layer.
        dropout: Dropout probability after each block and hidden dense layer.
        init: Weight initialiser.
        weight_penalty: L1/L2 penalty on weights: one for all layers, or one per conv then dense layer.
        bias_penalty: The same for biases.
        activity_penalty: The same for layer outputs.
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, channels: list[int] = [32, 64],
                 kernel_size: int = 3, stride: int = 1, padding: int | Literal["same", "valid"] = "same",
                 dilation: int = 1, pool: Literal["max", "avg", "none"] = "max", pool_size: int = 2,
                 batch_norm: bool = False, hidden_sizes: list[int] = [128], activation: ActivationName = "relu",
                 dropout: float = 0.0, init: Initializer = "he_normal", weight_penalty: PenaltySpec = None,
                 bias_penalty: PenaltySpec = None, activity_penalty: PenaltySpec = None) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ConfigurationError(f"CNN reads images of shape (C, H, W) but was given input_shape {tuple(input_shape)}; "
                                     "set the DataModule's layout to 'image'.")
        if padding == "same" and stride != 1:
            raise ConfigurationError("padding='same' needs stride=1; give padding as a number of pixels instead.")
        warn_if_bottleneck(hidden_sizes, num_outputs, "CNN")
        penalties = _penalties(weight_penalty, bias_penalty, activity_penalty, len(channels) + len(hidden_sizes) + 1)
        blocks: list[nn.Module] = []
        in_channels = input_shape[0]
        for i, out_channels in enumerate(channels):
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias=not batch_norm)
            blocks.append(regularize(conv, *penalties[i]))
            blocks += [nn.BatchNorm2d(out_channels)] if batch_norm else []
            blocks.append(activation_layer(activation))
            blocks += [{"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool](pool_size)] if pool != "none" else []
            blocks += [nn.Dropout(dropout)] if dropout else []
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        try:
            with torch.no_grad():
                feature_shape = self.features(torch.zeros(1, *input_shape)).shape[1:]
        except RuntimeError as error:  # a conv or pooling window larger than what is left of the image
            raise ConfigurationError(f"{len(channels)} conv blocks shrink a {tuple(input_shape[1:])} image to "
                                     f"nothing ({error}); use fewer blocks, padding or no pooling.") from error
        self.classifier = nn.Sequential(nn.Flatten(), *dense_stack(
            math.prod(feature_shape), hidden_sizes, num_outputs, activation, dropout, batch_norm,
            penalties[len(channels):]))
        initialize(self, init)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


class RNN(nn.Module):
    """Recurrent network over a sequence (an image read row by row); the last step's state is classified.

    Args:
        input_shape: ``(steps, features)``: use the data layout ``sequence``.
        num_outputs: Units of the output layer.
        cell: ``simple`` (Elman SimpleRNN), ``lstm`` or ``gru``.
        units: Hidden units per layer.
        num_layers: Stacked recurrent layers.
        dropout: Dropout between stacked layers and before the output layer.
        bidirectional: Read the sequence both ways.
        init: Initialiser of the input weights (recurrent weights are orthogonal).
    """

    def __init__(self, input_shape: tuple[int, ...], num_outputs: int, cell: Literal["simple", "lstm", "gru"] = "lstm",
                 units: int = 128, num_layers: int = 1, dropout: float = 0.0, bidirectional: bool = False,
                 init: Initializer = "glorot_uniform") -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ConfigurationError(f"RNN reads sequences of shape (steps, features) but was given input_shape "
                                     f"{tuple(input_shape)}; set the DataModule's layout to 'sequence'.")
        recurrent = {"simple": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.recurrent = recurrent(input_shape[1], units, num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional)
        self.directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(units * self.directions, num_outputs)
        initialize(self, init)

    def forward(self, x: Tensor) -> Tensor:
        _, state = self.recurrent(x)
        hidden = state[0] if isinstance(state, tuple) else state  # an LSTM also returns its cell state
        last_layer = hidden[-self.directions:]  # the final state of each direction of the top layer
        return self.output(self.dropout(torch.cat(list(last_layer), dim=1)))
