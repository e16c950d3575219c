"""The classic classifier networks: MLP, CNN and RNN, each a :class:`~lightning_dl.nn.Network`.

Each takes ``input_shape`` (one sample, without the batch) and ``num_outputs`` first, so a
:class:`~lightning_dl.models.Classifier` can build it for the data it is given. Each body (``features``)
returns a flat representation of ``num_features`` values per sample.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
from torch import Tensor, nn

from lightning_dl.errors import ConfigurationError
from lightning_dl.nn.base import Network
from lightning_dl.nn.layers import activation_layer, output_shape
from lightning_dl.nn.init import Initializer, initialize
from lightning_dl.nn.regularizers import Penalty, PenaltySpec, per_layer, regularize

ActivationName = Literal["relu", "elu", "selu", "softplus", "tanh", "sigmoid", "leaky_relu"]


#: The weight, bias and activity penalty of one layer.
LayerPenaltySpec = tuple[Penalty | None, Penalty | None, Penalty | None]


class NarrowLayerWarning(UserWarning):
    """A network has a hidden layer narrower than its outputs (e.g. 4 units before 10 classes): what that
    layer drops, no later layer can recover (the learning notes' "avoid hidden layers narrower than the
    number of classes"). Silence it with ``warnings.filterwarnings("ignore", category=NarrowLayerWarning)``."""


def warn_if_bottleneck(widths: list[int], num_outputs: int, network: str, what: str = "hidden layers") -> None:
    """The information-loss rule: a hidden layer narrower than the output discards what the output needs;
    warns with :class:`NarrowLayerWarning` (pointing at the code that built the network)."""
    narrow = [w for w in widths if w < num_outputs]
    if narrow:
        warnings.warn(f"{network} has {what} of width {narrow}, narrower than its {num_outputs} outputs: "
                      "information lost there cannot be recovered by later layers. Widen them.",
                      NarrowLayerWarning, stacklevel=3)


def hidden_layers(in_features: int, widths: list[int], activation: str, dropout: float, batch_norm: bool,
                  penalties: list[LayerPenaltySpec]) -> list[nn.Module]:
    """Dense layers ``in → widths…``, each followed by [batch norm], activation, [dropout]."""
    layers: list[nn.Module] = []
    for n_in, n_out, layer_penalties in zip([in_features, *widths], widths, penalties):
        layers.append(regularize(nn.Linear(n_in, n_out), *layer_penalties))
        layers += [nn.BatchNorm1d(n_out)] if batch_norm else []
        layers.append(activation_layer(activation))
        layers += [nn.Dropout(dropout)] if dropout else []
    return layers


def _penalties(weight: PenaltySpec, bias: PenaltySpec, activity: PenaltySpec,
               num_layers: int) -> list[LayerPenaltySpec]:
    return list(zip(per_layer(weight, num_layers, "weight_penalty"), per_layer(bias, num_layers, "bias_penalty"),
                    per_layer(activity, num_layers, "activity_penalty")))


class MLP(Network):
    """Multilayer perceptron: flatten, then dense layers with an activation (and dropout) between them.

    Body (``features``): flatten and the hidden layers; ``num_features`` is the last hidden width (the input
    size without hidden layers). Head: the output layer.

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
        in_features = math.prod(input_shape)
        self.features = nn.Sequential(nn.Flatten(), *hidden_layers(in_features, hidden_sizes, activation, dropout,
                                                                   batch_norm, penalties))
        self.num_features = hidden_sizes[-1] if hidden_sizes else in_features
        self.num_outputs, self.initializer, self._head_penalties = num_outputs, init, penalties[-1]
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return regularize(nn.Linear(self.num_features, num_outputs), *self._head_penalties)


class CNN(Network):
    """Convolutional network: conv blocks (conv, [batch norm], activation, pooling), flatten, dense layers.

    Body (``features``): the conv blocks and flatten, the convolutional base of the Keras fine-tuning recipe;
    ``num_features`` is the size of the flattened feature maps (the conv maps themselves are
    ``features[:-1](x)``). Head: the densely connected classifier (hidden dense layers and the output layer),
    which is specific to the classes, so ``reset_head`` replaces all of it.

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
            raise ConfigurationError(f"CNN reads images of shape (C, H, W) but was given input_shape "
                                     f"{tuple(input_shape)}; set the DataModule's layout to 'image'.")
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
        self.features = nn.Sequential(*blocks, nn.Flatten())
        try:
            self.num_features = output_shape(self.features, input_shape)[0]
        except RuntimeError as error:  # a conv or pooling window larger than what is left of the image
            raise ConfigurationError(f"{len(channels)} conv blocks shrink a {tuple(input_shape[1:])} image to "
                                     f"nothing ({error}); use fewer blocks, padding or no pooling.") from error
        self.features.train()
        self.num_outputs, self.initializer = num_outputs, init
        self._head_config = (list(hidden_sizes), activation, dropout, batch_norm, penalties[len(channels):])
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        widths, activation, dropout, batch_norm, penalties = self._head_config
        hidden = hidden_layers(self.num_features, widths, activation, dropout, batch_norm, penalties)
        output = nn.Linear(widths[-1] if widths else self.num_features, num_outputs)
        return nn.Sequential(*hidden, regularize(output, *penalties[-1]))


class FinalState(nn.Module):
    """Runs a recurrent layer stack over a sequence and returns the final hidden state of its top layer (both
    directions side by side when it is bidirectional)."""

    def __init__(self, recurrent: nn.RNNBase) -> None:
        super().__init__()
        self.recurrent = recurrent

    def forward(self, x: Tensor) -> Tensor:
        _, state = self.recurrent(x)
        hidden = state[0] if isinstance(state, tuple) else state  # an LSTM also returns its cell state
        directions = 2 if self.recurrent.bidirectional else 1
        return torch.cat(list(hidden[-directions:]), dim=1)


class RNN(Network):
    """Recurrent network over a sequence (an image read row by row); the last step's state is classified.

    Body (``features``): the recurrent layers, returning the final state of the top layer (``num_features`` =
    ``units``, twice that when bidirectional). Head: dropout and the output layer.

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
        warn_if_bottleneck([units * (2 if bidirectional else 1)], num_outputs, "RNN", what="a final state")
        recurrent = {"simple": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
        self.features = FinalState(recurrent(input_shape[1], units, num_layers, batch_first=True,
                                             dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional))
        self.num_features = units * (2 if bidirectional else 1)
        self.num_outputs, self.initializer, self._dropout = num_outputs, init, dropout
        self.head = self.build_head(num_outputs)
        initialize(self, init)

    def build_head(self, num_outputs: int) -> nn.Module:
        return nn.Sequential(nn.Dropout(self._dropout), nn.Linear(self.num_features, num_outputs))
