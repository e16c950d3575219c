"""Plain torch building blocks (no Lightning): networks, GAN networks, adversarial losses, initialisers,
regularisers, classification losses."""

from lightning_dl.nn.adversarial import (AdversarialLoss, HingeLoss, LeastSquaresLoss, NonSaturatingLoss,
                                         WassersteinGradientPenaltyLoss, WassersteinLoss)
from lightning_dl.nn.autoencoders import ConvDecoder, ConvEncoder, Corruption, GaussianNoise, Greyscale
from lightning_dl.nn.base import Network, NetworkFactory
from lightning_dl.nn.compact import COMPACT_VARIANTS, CompactNet
from lightning_dl.nn.densenet import DENSENET_VARIANTS, DenseNetBC
from lightning_dl.nn.discriminators import (CodeHead, CodePrediction, DCGANDiscriminator, Discriminator,
                                            DiscriminatorOutputs, PatchGANDiscriminator)
from lightning_dl.nn.efficientnet import EfficientNetLite0
from lightning_dl.nn.generators import DCGANGenerator
from lightning_dl.nn.init import initialize
from lightning_dl.nn.layers import activation_layer, output_shape
from lightning_dl.nn.losses import ClassificationLoss, binary_focal_loss, categorical_focal_loss
from lightning_dl.nn.networks import CNN, MLP, RNN
from lightning_dl.nn.embeddings import (EmbeddingReport, WordEmbedding, embedding_matrix, most_similar,
                                       read_glove_text, read_vectors, sentence_vectors)
from lightning_dl.nn.recurrent import Bidirectional, ConvFront, Recurrent, RecurrentStack
from lightning_dl.nn.sequence_networks import SequenceNetwork
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
    "output_shape",
    "regularization_loss", "regularize",
    "ConvDecoder", "ConvEncoder", "Corruption", "GaussianNoise", "Greyscale",
    "Bidirectional", "ConvFront", "EmbeddingReport", "Recurrent", "RecurrentStack", "SequenceNetwork",
    "WordEmbedding", "embedding_matrix", "most_similar", "read_glove_text", "read_vectors", "sentence_vectors",
    "ClassificationLoss", "DENSENET_VARIANTS", "DenseNetBC", "Merge", "RESNET_VARIANTS", "ResNet", "YNetwork",
    "binary_focal_loss", "categorical_focal_loss",
    "EfficientNetLite0", "TorchvisionNetwork",
]
