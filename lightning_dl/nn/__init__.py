"""Plain torch building blocks (no Lightning): networks, initialisers, regularisers."""

from lightning_dl.nn.init import initialize
from lightning_dl.nn.networks import CNN, MLP, RNN, activation_layer
from lightning_dl.nn.regularizers import Penalty, Regularized, apply_max_norm, regularization_loss

__all__ = ["CNN", "MLP", "RNN", "Penalty", "Regularized", "activation_layer", "apply_max_norm", "initialize",
           "regularization_loss"]
