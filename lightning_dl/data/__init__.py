"""LightningDataModules, the data core they share, and the sources of their data.

One data core serves every modality: split strategies (:mod:`~lightning_dl.data.splits`), preprocessors
fitted on the train split only (:mod:`~lightning_dl.data.preprocessing`), deterministic transforms on every
split and train-only augmentation (:mod:`~lightning_dl.data.transforms`), in-memory datasets and samplers
(:mod:`~lightning_dl.data.core`).
"""

from lightning_dl.data.batch_augmentation import BatchAugmentation
from lightning_dl.data.colour_datasets import CIFAR10DataModule, SVHNDataModule, load_cifar10
from lightning_dl.data.core import (EpochShuffleSampler, EvaluationSampler, InMemoryDataModule, InMemoryDataset,
                                    make_targets)
from lightning_dl.data.episodes import EpisodeDataset, EpisodeSampler, EpisodicDataModule
from lightning_dl.data.image_folder import ImageFolderDataModule
from lightning_dl.data.images import ImageDataModule, arrange
from lightning_dl.data.photos import PhotoCropsDataModule, load_photo, photo_crops
from lightning_dl.data.preprocessing import (FeatureNormalization, Normalization, Preprocessor, SeriesScaler,
                                             Vocabulary)
from lightning_dl.data.series import SeasonalNaiveScale, TimeSeriesDataModule, load_series
from lightning_dl.data.sources import (ImageArrays, TableArrays, load_digits, load_fashion_mnist, load_mnist,
                                       load_table, read_idx)
from lightning_dl.data.splits import (AllData, ChronologicalSplit, ShuffledKFold, ShuffledSplit, StratifiedKFold,
                                      StratifiedShuffleSplit, make_split, stratified_split)
from lightning_dl.data.tabular import TabularDataModule
from lightning_dl.data.text import (STOP_WORDS, HashingVocabulary, multi_hot, one_hot_characters, one_hot_words,
                                    pad_sequences, tokenize)
from lightning_dl.data.text_datamodule import TextDataModule
from lightning_dl.data.text_sources import LabelledTexts, load_imdb, load_rotten_tomatoes
from lightning_dl.data.transforms import build_augmentation, build_transforms
from lightning_dl.data.unpaired import UnpairedDataModule, load_svhn
from lightning_dl.data.vision import ArrayDataModule, DigitsDataModule, FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "AllData", "ArrayDataModule", "BatchAugmentation", "ChronologicalSplit", "DigitsDataModule", "EpochShuffleSampler",
    "EvaluationSampler", "FashionMNISTDataModule", "FeatureNormalization", "ImageArrays", "ImageDataModule",
    "InMemoryDataModule", "InMemoryDataset", "MNISTDataModule", "Normalization", "Preprocessor", "SeriesScaler",
    "ShuffledKFold", "ShuffledSplit", "StratifiedKFold", "StratifiedShuffleSplit", "TableArrays",
    "TabularDataModule", "Vocabulary", "arrange", "build_augmentation", "build_transforms", "load_digits",
    "load_fashion_mnist", "load_mnist", "load_table", "make_split", "make_targets", "read_idx", "stratified_split",
    "UnpairedDataModule", "load_svhn", "EpisodeDataset", "EpisodeSampler", "EpisodicDataModule",
    "CIFAR10DataModule", "PhotoCropsDataModule", "load_cifar10", "load_photo", "photo_crops",
    "SeasonalNaiveScale", "TimeSeriesDataModule", "load_series",
    "STOP_WORDS", "HashingVocabulary", "LabelledTexts", "TextDataModule", "load_imdb", "load_rotten_tomatoes",
    "multi_hot", "one_hot_characters", "one_hot_words", "pad_sequences", "tokenize",
    "ImageFolderDataModule", "SVHNDataModule",
]
