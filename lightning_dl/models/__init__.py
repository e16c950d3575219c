"""LightningModules, one file per family, all on one base (:class:`BaseModule`)."""

from lightning_dl.models.base import BaseModule, LinearWarmup
from lightning_dl.models.fewshot import Conv4, EpisodeAccuracy, PrototypicalNetwork
from lightning_dl.models.gans import ACGAN, CGAN, GAN, CycleGAN, InfoGAN, StackedGAN
from lightning_dl.models.supervised import Classifier, Regressor, SupervisedModule
from lightning_dl.models.transfer import TransferClassifier

__all__ = ["ACGAN", "BaseModule", "CGAN", "Classifier", "CycleGAN", "GAN", "InfoGAN", "LinearWarmup", "Regressor",
           "StackedGAN", "SupervisedModule",
           "Conv4", "EpisodeAccuracy", "PrototypicalNetwork", "TransferClassifier"]
