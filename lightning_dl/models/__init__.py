"""LightningModules, one file per family, all on one base (:class:`BaseModule`)."""

from lightning_dl.models.autoencoders import Autoencoder, ClassifierAutoencoder
from lightning_dl.models.base import BaseModule, LinearWarmup
from lightning_dl.models.baselines import BaselineForecaster, MeanAbsoluteScaledError, baseline_forecast
from lightning_dl.models.fewshot import Conv4, EpisodeAccuracy, PrototypicalNetwork
from lightning_dl.models.gans import ACGAN, CGAN, GAN, CycleGAN, InfoGAN, StackedGAN
from lightning_dl.models.forecasting import Forecaster
from lightning_dl.models.supervised import Classifier, Regressor, SupervisedModule
from lightning_dl.models.vae import VariationalAutoencoder
from lightning_dl.models.text import TextClassifier
from lightning_dl.models.transfer import TransferClassifier

__all__ = ["ACGAN", "BaseModule", "CGAN", "Classifier", "CycleGAN", "GAN", "InfoGAN", "LinearWarmup", "Regressor",
           "StackedGAN", "SupervisedModule",
           "Conv4", "EpisodeAccuracy", "PrototypicalNetwork",
           "Autoencoder", "ClassifierAutoencoder", "VariationalAutoencoder",
           "BaselineForecaster", "Forecaster", "MeanAbsoluteScaledError", "TextClassifier", "baseline_forecast",
           "TransferClassifier"]
