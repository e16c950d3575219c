"""The GAN family: one adversarial loop (:class:`AdversarialLoop`) composed with a per-variant objective
(:class:`Objective`); :class:`GAN` and the variants are that loop with their objective."""

from lightning_dl.models.gans.acgan import ACGAN, AuxiliaryClassifierObjective
from lightning_dl.models.gans.average import GeneratorAverage
from lightning_dl.models.gans.base import GAN
from lightning_dl.models.gans.cgan import CGAN, ConditionalObjective
from lightning_dl.models.gans.cyclegan import CycleGAN, CycleObjective
from lightning_dl.models.gans.infogan import InfoGAN, InformationObjective
from lightning_dl.models.gans.loop import AdversarialLoop
from lightning_dl.models.gans.objective import Draw, NoiseObjective, Objective
from lightning_dl.models.gans.stackedgan import StackedGAN, StackedObjective

__all__ = ["ACGAN", "AdversarialLoop", "AuxiliaryClassifierObjective", "CGAN", "ConditionalObjective", "CycleGAN",
           "CycleObjective", "Draw", "GAN", "GeneratorAverage", "InfoGAN", "InformationObjective", "NoiseObjective",
           "Objective", "StackedGAN", "StackedObjective"]
