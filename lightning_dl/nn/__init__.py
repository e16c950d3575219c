"""Plain torch building blocks (no Lightning): networks, GAN networks, adversarial losses, initialisers,
regularisers, classification losses."""

from lightning_dl.nn.adversarial import (AdversarialLoss, HingeLoss, LeastSquaresLoss, NonSaturatingLoss,
                                         WassersteinGradientPenaltyLoss, WassersteinLoss)
from lightning_dl.nn.base import Network, NetworkFactory
from lightning_dl.nn.compact import COMPACT_VARIANTS, CompactNet
from lightning_dl.nn.densenet import DENSENET_VARIANTS, DenseNetBC
from lightning_dl.nn.discriminators import (CodeHead, CodePrediction, DCGANDiscriminator, Discriminator,
                                            DiscriminatorOutputs, PatchGANDiscriminator)
from lightning_dl.nn.efficientnet import EfficientNetLite0
from lightning_dl.nn.generators import DCGANGenerator
from lightning_dl.nn.init import initialize
from lightning_dl.nn.losses import ClassificationLoss, binary_focal_loss, categorical_focal_loss
from lightning_dl.nn.networks import CNN, MLP, RNN, activation_layer
from lightning_dl.nn.regularizers import Penalty, apply_max_norm, regularization_loss, regularize
from lightning_dl.nn.resnet import RESNET_VARIANTS, ResNet
from lightning_dl.nn.stacked_gan import (StackedEncoder, StackedFeatureDiscriminator, StackedFeatureGenerator,
                                         StackedImageDiscriminator, StackedImageGenerator)
from lightning_dl.nn.transfer import TorchvisionNetwork
from lightning_dl.nn.unet import UNetGenerator
from lightning_dl.nn.ynetwork import Merge, YNetwork

__all__ = [
    "CNN", "COMPACT_VARIANTS", "MLP", "RNN", "AdversarialLoss", "CodeHead", "CodePrediction", "CompactNet",
    "DCGANDiscriminator", "DCGANGenerator",
    "Discriminator", "DiscriminatorOutputs", "HingeLoss", "LeastSquaresLoss", "Network", "NetworkFactory",
    "NonSaturatingLoss", "PatchGANDiscriminator", "Penalty", "StackedEncoder", "StackedFeatureDiscriminator",
    "StackedFeatureGenerator", "StackedImageDiscriminator", "StackedImageGenerator", "UNetGenerator",
    "WassersteinGradientPenaltyLoss", "WassersteinLoss", "activation_layer", "apply_max_norm", "initialize",
    "regularization_loss", "regularize",
    "ClassificationLoss", "DENSENET_VARIANTS", "DenseNetBC", "Merge", "RESNET_VARIANTS", "ResNet", "YNetwork",
    "binary_focal_loss", "categorical_focal_loss",
    "EfficientNetLite0", "TorchvisionNetwork",
]
