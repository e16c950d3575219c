"""Plain torch building blocks (no Lightning): networks, initialisers, regularisers."""

from lightning_dl.nn.base import Network, NetworkFactory
from lightning_dl.nn.init import initialize
from lightning_dl.nn.networks import CNN, MLP, RNN, activation_layer
from lightning_dl.nn.regularizers import Penalty, apply_max_norm, regularization_loss, regularize

__all__ = [
    "CNN",
    "MLP",
    "RNN",
    "Network",
    "NetworkFactory",
    "Penalty",
    "activation_layer",
    "apply_max_norm",
    "initialize",
    "regularization_loss",
    "regularize",
]
