"""LightningDataModules and the sources of their data."""

from lightning_dl.data.core import ImageDataModule, InMemoryDataset, Normalization, build_augmentation
from lightning_dl.data.sources import ImageArrays, load_digits, load_fashion_mnist, load_mnist, read_idx
from lightning_dl.data.vision import ArrayDataModule, DigitsDataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "ArrayDataModule", "DigitsDataModule", "FashionMNISTDataModule", "ImageArrays", "ImageDataModule",
    "InMemoryDataset", "MNISTDataModule", "Normalization", "build_augmentation", "load_digits",
    "load_fashion_mnist", "load_mnist", "read_idx",
]
