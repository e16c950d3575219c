"""The GAN family: one adversarial loop (:class:`GAN`) and the variants that change its networks and losses."""

from lightning_dl.models.gans.acgan import ACGAN
from lightning_dl.models.gans.base import GAN, Draw
from lightning_dl.models.gans.cgan import CGAN
from lightning_dl.models.gans.cyclegan import CycleGAN
from lightning_dl.models.gans.infogan import InfoGAN
from lightning_dl.models.gans.stackedgan import StackedGAN

__all__ = ["ACGAN", "CGAN", "CycleGAN", "Draw", "GAN", "InfoGAN", "StackedGAN"]
